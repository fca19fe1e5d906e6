#include "bench/measure.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <thread>

#include "http/transport.h"
#include "kube/files.h"
#include "tests/harness/process.h"

namespace agentrollout::bench {
namespace {

using Clock = std::chrono::steady_clock;

// GET base+path; the response, or nullopt when the server is not answering (yet).
class Probe {
 public:
  explicit Probe(const std::string& url) {
    const std::size_t scheme = url.find("://");
    const std::size_t path = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    base_ = url.substr(0, path);
    path_ = path == std::string::npos ? "/" : url.substr(path);
  }
  std::optional<http::Response> Get() {
    if (!client_) {
      auto client = http::NewClient({base_, {}, std::chrono::milliseconds(2000)});
      if (!client.ok()) return std::nullopt;
      client_ = std::move(*client);
    }
    http::Request request;
    request.target = path_;
    request.timeout = std::chrono::milliseconds(2000);
    auto response = client_->Send(request);
    if (!response.ok()) return std::nullopt;
    return *response;
  }

 private:
  std::string base_;
  std::string path_;
  http::ClientPtr client_;
};

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

double Mib(std::int64_t kib) { return static_cast<double>(kib) / 1024.0; }

}  // namespace

double SumSeries(std::string_view exposition, std::string_view name, std::string_view label) {
  double sum = 0;
  while (!exposition.empty()) {
    const std::size_t eol = std::min(exposition.find('\n'), exposition.size());
    std::string_view line = exposition.substr(0, eol);
    exposition.remove_prefix(std::min(eol + 1, exposition.size()));
    if (line.size() <= name.size() || line.substr(0, name.size()) != name) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    if (!label.empty() && line.find(label) == std::string_view::npos) continue;
    // The value follows the last '}' (labels may contain spaces) or the name.
    std::size_t at = next == '{' ? line.rfind('}') + 1 : name.size();
    while (at < line.size() && line[at] == ' ') ++at;
    const std::size_t end = std::min(line.find(' ', at), line.size());
    double value = 0;
    const auto [ptr, ec] = std::from_chars(line.data() + at, line.data() + end, value);
    if (ec == std::errc()) sum += value;
  }
  return sum;
}

double LoadAverage() {
  auto text = kube::ReadFileToString("/proc/loadavg");
  if (!text.ok()) return 0;
  double load = 0;
  std::from_chars(text->data(), text->data() + text->size(), load);
  return load;
}

Result<int> FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Internal("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) return Internal("could not bind a free port on 127.0.0.1");
  return static_cast<int>(ntohs(address.sin_port));
}

Status WaitForHttp200(const std::string& url, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  Probe probe(url);
  while (Clock::now() < deadline) {
    auto response = probe.Get();
    if (response && response->status == 200) return OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return Error(ErrorCode::kDeadlineExceeded,
               url + " did not answer 200 within " + std::to_string(timeout.count()) + " ms");
}

Result<RunResult> RunController(const ControllerSpec& spec, const std::filesystem::path& log_file,
                                const RunOptions& options) {
  const auto start = Clock::now();
  auto process = testing::BackgroundProcess::Start(spec.argv, log_file);
  if (!process.ok()) return process.error().WithContext("start " + spec.name);
  const pid_t pid = process->pid();
  auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  RunResult result;
  result.load_before = LoadAverage();
  Probe ready(spec.ready_url);
  Probe metrics(spec.metrics_url);
  const double window = static_cast<double>(options.window.count());
  const double period = std::chrono::duration<double>(options.period).count();
  const double metrics_period = std::chrono::duration<double>(options.metrics_period).count();
  double next_sample = 0;
  double next_scrape = 0;
  while (elapsed() < window) {
    if (!process->Running()) {
      result.exited_early = true;
      break;
    }
    if (!result.ready_s) {
      auto response = ready.Get();
      if (response && response->status == 200) result.ready_s = elapsed();
    }
    if (elapsed() >= next_sample) {
      Sample sample;
      sample.t = elapsed();
      auto proc = SampleProcess(pid);
      if (proc.ok()) {
        sample.proc = *proc;
        if (!result.samples.empty()) sample.reconciles = result.samples.back().reconciles;
        const bool syncing = options.steady.count() > 0 ? !result.steady_from_s
                             : options.sync_target > 0  ? !result.synced_s
                                                        : !result.ready_s;
        if (syncing || sample.t >= next_scrape) {
          if (auto body = metrics.Get(); body && body->status == 200) {
            sample.reconciles = SumSeries(body->body, spec.reconcile_metric);
            if (!spec.queue_depth_metric.empty()) {
              sample.queue_depth = SumSeries(body->body, spec.queue_depth_metric);
            }
            sample.scraped = true;
            next_scrape = sample.t + metrics_period;
          }
        }
        if (!result.synced_s && options.sync_target > 0 &&
            sample.reconciles >= options.sync_target) {
          result.synced_s = sample.t;
        }
        result.samples.push_back(sample);
        if (options.on_sample) options.on_sample(sample);
        const bool queue_drained =
            spec.queue_depth_metric.empty() || (sample.queue_depth && *sample.queue_depth == 0);
        if (options.steady.count() > 0 && !result.steady_from_s &&
            (options.started_up ? options.started_up(sample)
                                : result.synced_s.has_value() && queue_drained)) {
          result.steady_from_s = sample.t;
          if (options.on_steady) options.on_steady(pid);
        }
      }
      next_sample += period;
    }
    if (result.steady_from_s &&
        elapsed() >= *result.steady_from_s + static_cast<double>(options.steady.count())) {
      if (options.on_steady_end) options.on_steady_end();
      break;
    }
    // Readiness is polled finely until it answers; then only samples are due.
    std::this_thread::sleep_for(result.ready_s ? std::chrono::milliseconds(50)
                                               : std::chrono::milliseconds(10));
  }
  result.load_after = LoadAverage();
  process->Stop();
  return result;
}

nlohmann::json Summarize(const RunResult& run, const RunOptions& options) {
  nlohmann::json out;
  out["ready_s"] = run.ready_s ? nlohmann::json(*run.ready_s) : nlohmann::json();
  out["synced_s"] = run.synced_s ? nlohmann::json(*run.synced_s) : nlohmann::json();
  out["sync_target"] = options.sync_target;
  out["exited_early"] = run.exited_early;
  out["window_s"] = options.window.count();
  out["load_before"] = run.load_before;
  out["load_after"] = run.load_after;
  if (run.samples.empty()) return out;
  const Sample& first = run.samples.front();
  const Sample& last = run.samples.back();
  // Without a steady window: the second half of the window. With one: from the end of the
  // start-up work, and nothing (end()) when it never ended.
  const double steady_from =
      options.steady.count() == 0
          ? static_cast<double>(options.window.count()) / 2
          : run.steady_from_s.value_or(std::numeric_limits<double>::infinity());
  const auto steady_begin = std::find_if(run.samples.begin(), run.samples.end(),
                                         [&](const Sample& s) { return s.t >= steady_from; });
  out["steady_from_s"] = run.steady_from_s ? nlohmann::json(*run.steady_from_s) : nlohmann::json();
  std::vector<double> steady_rss;
  int threads_max = 0;
  std::int64_t peak = 0;
  for (const Sample& s : run.samples) {
    peak = std::max(peak, s.proc.peak_rss_kib);
    threads_max = std::max(threads_max, s.proc.threads);
  }
  for (auto it = steady_begin; it != run.samples.end(); ++it)
    steady_rss.push_back(Mib(it->proc.rss_kib));
  out["peak_rss_mib"] = Mib(peak);
  out["steady_rss_mib"] =
      steady_rss.empty() ? nlohmann::json() : nlohmann::json(Median(steady_rss));
  out["end_rss_mib"] = Mib(last.proc.rss_kib);
  out["threads_max"] = threads_max;
  out["threads_end"] = last.proc.threads;
  out["cpu_seconds"] = last.proc.cpu_seconds;
  if (last.t > first.t) out["cpu_cores_window"] = last.proc.cpu_seconds / last.t;
  if (steady_begin != run.samples.end() && last.t > steady_begin->t) {
    const double dt = last.t - steady_begin->t;
    out["steady_s"] = dt;
    out["cpu_cores_steady"] = (last.proc.cpu_seconds - steady_begin->proc.cpu_seconds) / dt;
    // The rate between the first and last /metrics reads of the steady half.
    auto first_read =
        std::find_if(steady_begin, run.samples.end(), [](const Sample& s) { return s.scraped; });
    auto last_read = std::find_if(run.samples.rbegin(), run.samples.rend(),
                                  [](const Sample& s) { return s.scraped; });
    if (first_read != run.samples.end() && last_read->t > first_read->t) {
      out["reconciles_per_s_steady"] =
          (last_read->reconciles - first_read->reconciles) / (last_read->t - first_read->t);
    }
  }
  out["metrics_period_s"] = std::chrono::duration<double>(options.metrics_period).count();
  out["reconciles"] = last.reconciles;
  if (run.synced_s && *run.synced_s > 0)
    out["sync_reconciles_per_s"] = options.sync_target / *run.synced_s;
  nlohmann::json samples = nlohmann::json::array();
  for (const Sample& s : run.samples) {
    samples.push_back({std::round(s.t * 10) / 10, s.proc.rss_kib, s.proc.peak_rss_kib,
                       s.proc.threads, s.proc.cpu_seconds, s.reconciles});
  }
  out["samples_columns"] = {"t_s", "rss_kib", "peak_rss_kib", "threads", "cpu_s", "reconciles"};
  out["samples"] = std::move(samples);
  return out;
}

}  // namespace agentrollout::bench
