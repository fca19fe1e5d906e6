#include "bench/reaction.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <map>
#include <mutex>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "api/duration.h"
#include "bench/flag_table.h"
#include "bench/measure.h"
#include "bench/populate.h"
#include "bench/proc_stats.h"
#include "bench/rawput.h"
#include "bench/watcher.h"
#include "bench/workload.h"
#include "http/test_server.h"
#include "http/transport.h"
#include "kube/config.h"
#include "tests/harness/process.h"

namespace agentrollout::bench {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

double MsBetween(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

// application/x-www-form-urlencoded value decoding.
std::string FormDecode(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size()) {
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Percent-encodes everything but letters and digits.
std::string FormEncode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else {
      char hex[4];
      std::snprintf(hex, sizeof(hex), "%%%02X", static_cast<unsigned char>(c));
      out += hex;
    }
  }
  return out;
}

// The `query` parameter of a GET target or a POST form body.
std::string QueryParam(const http::testing::ReceivedRequest& request) {
  std::string_view form = request.body;
  if (request.method == "GET") {
    const std::size_t q = request.target.find('?');
    form = q == std::string::npos ? std::string_view()
                                  : std::string_view(request.target).substr(q + 1);
  }
  while (!form.empty()) {
    const std::size_t amp = std::min(form.find('&'), form.size());
    const std::string_view pair = form.substr(0, amp);
    form.remove_prefix(std::min(amp + 1, form.size()));
    if (pair.substr(0, 6) == "query=") return FormDecode(pair.substr(6));
  }
  return "";
}

// The canary weight of an HTTPRoute (first backendRef named `canary`), or -1.
int CanaryWeight(const json& route, const std::string& canary) {
  for (const json& rule : route["spec"].value("rules", json::array())) {
    for (const json& ref : rule.value("backendRefs", json::array())) {
      if (ref.value("name", "") == canary) return ref.value("weight", 1);
    }
  }
  return -1;
}

// Transitions of a value observed by a watch: the last value, and when it last became
// `target` from something else.
struct Transition {
  int last = -1;
  std::optional<Clock::time_point> became_target;
};

// Per-rollout state of the reaction benchmark.
struct Track {
  bool flipped = false;
  int queries = 0;
  std::optional<Clock::time_point> no_go_answered;  // t0
  // Answers since t0: the rest of the No-Go evaluation (the next one is an interval away,
  // and a rolled-back rollout is no longer analysed).
  std::vector<Clock::time_point> answers_after_no_go;
  Transition flag;   // 1 = enabled at > 0 %, 0 = disabled at 0 %
  Transition route;  // canary weight
};

// The number in `agent-<i>-v2` inside `text`, or -1.
int AgentIndex(const std::string& text) {
  static const std::regex kAgent("agent-([0-9]+)-v2");
  std::smatch match;
  if (!std::regex_search(text, match, kAgent)) return -1;
  return std::stoi(match[1].str());
}

// Calls `on(i, enabled)` for each flag entry of rollout i in a flag ConfigMap (flag keys
// are agent_<i>_v2, workload.cc); enabled = on at a percentage above 0.
void ForEachFlag(const json& config_map, const std::function<void(int, bool)>& on) {
  const std::string text = config_map.value("data", json::object()).value("flags.json", "{}");
  const json flags = json::parse(text, nullptr, false);
  if (!flags.is_object()) return;
  for (const auto& [key, entry] : flags.items()) {
    if (key.rfind("agent_", 0) != 0 || !entry.is_object()) continue;
    on(std::atoi(key.c_str() + 6),
       entry.value("enabled", false) && entry.value("percentage", 0) > 0);
  }
}

json Vector(double value) {
  char text[32];
  std::snprintf(text, sizeof(text), "%g", value);
  return {{"status", "success"},
          {"data",
           {{"resultType", "vector"},
            {"result", {{{"metric", json::object()}, {"value", {1.7e9, text}}}}}}}};
}

}  // namespace

json Percentiles(std::vector<double> values) {
  json out{{"count", values.size()}};
  if (values.empty()) return out;
  std::sort(values.begin(), values.end());
  auto rank = [&](double p) {
    const auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(values.size())));
    return values[std::clamp<std::size_t>(index, 1, values.size()) - 1];
  };
  out["min"] = values.front();
  out["p50"] = rank(0.50);
  out["p90"] = rank(0.90);
  out["p99"] = rank(0.99);
  out["max"] = values.back();
  return out;
}

Result<json> RunReaction(const ReactionOptions& o) {
  auto config = kube::LoadKubeconfig({o.kubeconfig, ""});
  if (!config.ok()) return config.error();

  std::mutex mu;
  std::condition_variable changed;
  std::vector<Track> tracks(static_cast<std::size_t>(o.n));

  // The stand-in Prometheus: Go values (error rate 0, p95 100 ms) until a rollout is
  // flipped, then an error rate of 0.5 (No-Go: "> 0.05").
  auto server = http::testing::StartTestServer([&](http::testing::Exchange& exchange) {
    const std::string query = QueryParam(exchange.request());
    const int i = AgentIndex(query);
    double value = query.find("histogram_quantile") != std::string::npos ? 100 : 0;
    if (i >= 0 && i < o.n) {
      std::lock_guard lock(mu);
      Track& t = tracks[static_cast<std::size_t>(i)];
      ++t.queries;
      const bool error_rate = query.find("agent_requests_total") != std::string::npos &&
                              query.find("outcome=\"error\"") != std::string::npos;
      if (t.flipped && error_rate) {
        value = 0.5;
        if (!t.no_go_answered) t.no_go_answered = Clock::now();
      }
      if (t.no_go_answered) t.answers_after_no_go.push_back(Clock::now());
      changed.notify_all();
    }
    exchange.Respond(200, {{"Content-Type", "application/json"}}, Vector(value).dump());
  });
  if (!server.ok()) return server.error();

  Workload w;
  w.namespace_ = o.namespace_;
  w.prometheus = (*server)->url();
  w.interval = o.interval;
  w.first_phase_duration = "1h";
  w.progressing_share = 1.0;
  w.query_groups = 0;  // every rollout its own agent: the stand-in tells them apart
  w.rollouts_per_config_map = o.rollouts_per_config_map;

  auto on_route = [&](const json& route, Clock::time_point at) {
    const int i = AgentIndex(route.dump());
    if (i < 0 || i >= o.n) return;
    const int weight = CanaryWeight(route, CanaryBackend(w, i));
    std::lock_guard lock(mu);
    Transition& r = tracks[static_cast<std::size_t>(i)].route;
    if (weight == 0 && r.last != 0 && r.last != -1) r.became_target = at;
    r.last = weight;
    changed.notify_all();
  };
  auto on_config_map = [&](const json& config_map, Clock::time_point at) {
    std::lock_guard lock(mu);
    ForEachFlag(config_map, [&](int i, bool enabled) {
      if (i < 0 || i >= o.n) return;
      const int on = enabled ? 1 : 0;
      Transition& f = tracks[static_cast<std::size_t>(i)].flag;
      if (on == 0 && f.last == 1) f.became_target = at;
      f.last = on;
    });
    changed.notify_all();
  };
  Watcher routes(*config, kHttpRoutes, o.namespace_, on_route);
  std::optional<Watcher> config_maps;
  std::unique_ptr<FlagTable> flag_table;
  if (o.postgres_uri.empty()) {
    config_maps.emplace(*config, kube::kConfigMaps, o.namespace_, on_config_map);
  } else {
    auto table =
        FlagTable::Start(o.postgres_uri, o.n, [&](int i, bool enabled, Clock::time_point at) {
          if (i < 0 || i >= o.n) return;
          std::lock_guard lock(mu);
          Transition& f = tracks[static_cast<std::size_t>(i)].flag;
          const int on = enabled ? 1 : 0;
          if (on == 0 && f.last == 1) f.became_target = at;
          f.last = on;
          changed.notify_all();
        });
    if (!table.ok()) return table.error();
    flag_table = std::move(*table);
    w.postgres_secret = "bench-flags-db";
    auto client = kube::NewClient(*config);
    if (!client.ok()) return client.error();
    if (Status ns = EnsureNamespace(**client, o.namespace_); !ns.ok()) return ns.error();
    const json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata",
         {{"name", w.postgres_secret}, {"labels", {{"rollouts.agentops.dev/use", "true"}}}}},
        {"stringData", {{"url", o.postgres_uri}}}};
    if (auto created = (*client)->Create(kube::kSecrets, o.namespace_, secret); !created.ok()) {
      return created.error().WithContext("bench Secret " + w.postgres_secret);
    }
  }

  auto interval = api::ParseDuration(o.interval);
  if (!interval.ok()) return interval.error().WithContext("--interval");
  // Started and ready (its cache synced): rollouts created from then on are registered with
  // the scheduler one by one as they come.
  auto start_operator = [&]() -> Result<testing::BackgroundProcess> {
    auto metrics_port = FreePort();
    auto health_port = FreePort();
    if (!metrics_port.ok() || !health_port.ok()) return Internal("no free port");
    auto started = testing::BackgroundProcess::Start(
        {o.operator_binary, "--kubeconfig=" + o.kubeconfig, "--namespace=" + o.namespace_,
         "--concurrency=" + std::to_string(o.concurrency),
         "--metrics-addr=127.0.0.1:" + std::to_string(*metrics_port),
         "--health-addr=127.0.0.1:" + std::to_string(*health_port), "--log-format=json"},
        o.log_file);
    if (!started.ok()) return started.error();
    const std::string ready = "http://127.0.0.1:" + std::to_string(*health_port) + "/readyz";
    if (Status s = WaitForHttp200(ready, std::chrono::seconds(60)); !s.ok()) return s.error();
    return started;
  };
  // Burst: every rollout exists before the operator starts, so all are registered with
  // the scheduler during its first pass and fall due within moments of each other;
  // flipped ones then roll back together. Otherwise the fleet is created over one interval once the
  // operator is ready, so due times (and rollbacks) are spread out, as for rollouts created over
  // time (those created while it started would be registered together, a small burst).
  std::optional<testing::BackgroundProcess> process;
  if (!o.burst) {
    auto client = kube::NewClient(*config);
    if (!client.ok()) return client.error();
    if (Status ns = EnsureNamespace(**client, o.namespace_); !ns.ok()) return ns.error();
    auto started = start_operator();
    if (!started.ok()) return started.error();
    process = std::move(*started);
  }
  auto populated = PopulateAgentRollouts(*config, w, o.n, o.burst ? o.workers : 1,
                                         o.burst ? api::Duration{} : *interval / o.n);
  if (!populated.ok()) return populated.error().WithContext("populate");
  if (o.burst) {
    auto started = start_operator();
    if (!started.ok()) return started.error();
    process = std::move(*started);
  }

  // Warm: every rollout started (flag on, canary weight 5) and analysed at least once
  // after `since` (queries counted per rollout).
  auto wait_warm = [&](const std::vector<int>& since) -> Status {
    const auto deadline = Clock::now() + std::chrono::seconds(120 + o.n / 10);
    const auto warm = [&](std::size_t i) {
      const Track& t = tracks[i];
      return t.queries > since[i] && t.flag.last == 1 && t.route.last > 0;
    };
    std::unique_lock lock(mu);
    const bool all = changed.wait_until(lock, deadline, [&] {
      for (std::size_t i = 0; i < tracks.size(); ++i) {
        if (!warm(i)) return false;
      }
      return true;
    });
    if (all) return OkStatus();
    std::size_t cold = 0;
    for (std::size_t i = 0; i < tracks.size(); ++i) cold += warm(i) ? 0 : 1;
    return Error(ErrorCode::kDeadlineExceeded,
                 std::to_string(cold) + " of " + std::to_string(o.n) +
                     " rollouts did not start within the warm-up time; see " + o.log_file.string());
  };
  if (Status warm = wait_warm(std::vector<int>(tracks.size(), 0)); !warm.ok()) return warm.error();
  // Simultaneous burst: a rollout is due at once when the operator starts, and on a place
  // in the interval of its own after that (analysis/scheduler.h), so the start is the one
  // moment a whole fleet's verdicts come in one round. The fleet is flipped while the
  // operator is down, and its start (which writes nothing else: the first pass wrote every
  // flag, route and status) brings every No-Go verdict together: the burst measures the
  // rollback writes, not how the rounds spread. Flips spaced in time are taken as they come.
  const bool simultaneous = o.burst && o.spacing.count() == 0;
  if (simultaneous) process->Stop();
  // The bill of the rollbacks: read just before the flip and once the last is seen.
  std::optional<ControlPlane> plane;
  if (o.control_plane) {
    auto connected = ControlPlane::Connect(*o.control_plane);
    if (!connected.ok()) return connected.error().WithContext("control plane");
    plane.emplace(std::move(*connected));
  }
  const auto bill_started = Clock::now();
  // The operator's part: its CPU since the flip, all of it when it starts after the flip.
  const auto read_bill =
      [&](bool operator_running) -> Result<std::pair<ControlPlaneReading, ProcSample>> {
    const std::chrono::duration<double> t = Clock::now() - bill_started;
    auto reading = plane->Read(t.count());
    if (!reading.ok()) return reading.error().WithContext("control plane");
    if (!operator_running) return std::make_pair(std::move(*reading), ProcSample{});
    auto operator_sample = SampleProcess(process->pid());
    if (!operator_sample.ok()) return operator_sample.error().WithContext("operator");
    return std::make_pair(std::move(*reading), *operator_sample);
  };
  std::optional<std::pair<ControlPlaneReading, ProcSample>> bill_before;
  if (plane) {
    auto read = read_bill(!simultaneous);
    if (!read.ok()) return read.error();
    bill_before = std::move(*read);
  }
  if (o.spacing.count() == 0) {
    std::lock_guard lock(mu);
    for (Track& t : tracks) t.flipped = true;
  } else {
    for (int i = 0; i < o.n; ++i) {
      {
        std::lock_guard lock(mu);
        tracks[static_cast<std::size_t>(i)].flipped = true;
      }
      std::this_thread::sleep_for(o.spacing);
    }
  }
  if (simultaneous) {
    auto restarted = start_operator();
    if (!restarted.ok()) return restarted.error().WithContext("restart");
    process = std::move(*restarted);
  }
  {
    std::unique_lock lock(mu);
    changed.wait_until(lock, Clock::now() + std::chrono::seconds(60), [&] {
      return std::all_of(tracks.begin(), tracks.end(), [](const Track& t) {
        return t.flag.became_target && t.route.became_target;
      });
    });
  }
  json bill;
  if (bill_before) {
    auto after = read_bill(true);
    if (!after.ok()) return after.error();
    bill = ControlPlaneDelta(bill_before->first, after->first);
    // Counts, not rates: the burst is a few seconds.
    json requests = json::object();
    for (const auto& [key, count] : after->first.requests) {
      const auto was = bill_before->first.requests.find(key);
      const double moved = count - (was == bill_before->first.requests.end() ? 0.0 : was->second);
      if (moved > 0) requests[key] = moved;
    }
    bill["requests"] = std::move(requests);
    bill["operator_cpu_seconds"] = after->second.cpu_seconds - bill_before->second.cpu_seconds;
  }
  process->Stop();

  std::vector<double> both, flag, route, from_verdict, verdict_to_flag;
  int missing = 0;
  std::optional<Clock::time_point> first_t0, last_t0, last_t1;
  {
    std::lock_guard lock(mu);
    for (const Track& t : tracks) {
      if (!t.no_go_answered || !t.flag.became_target || !t.route.became_target) {
        ++missing;
        continue;
      }
      const Clock::time_point t1 = std::max(*t.flag.became_target, *t.route.became_target);
      first_t0 = std::min(first_t0.value_or(*t.no_go_answered), *t.no_go_answered);
      last_t0 = std::max(last_t0.value_or(*t.no_go_answered), *t.no_go_answered);
      last_t1 = std::max(last_t1.value_or(t1), t1);
      both.push_back(MsBetween(*t.no_go_answered, t1));
      // The verdict was known once the evaluation's last query was answered.
      Clock::time_point verdict = *t.no_go_answered;
      for (const auto& at : t.answers_after_no_go) {
        if (at <= t1) verdict = std::max(verdict, at);
      }
      from_verdict.push_back(MsBetween(verdict, t1));
      Clock::time_point flag_verdict = *t.no_go_answered;
      for (const auto& at : t.answers_after_no_go) {
        if (at <= *t.flag.became_target) flag_verdict = std::max(flag_verdict, at);
      }
      verdict_to_flag.push_back(MsBetween(flag_verdict, *t.flag.became_target));
      flag.push_back(MsBetween(*t.no_go_answered, *t.flag.became_target));
      route.push_back(MsBetween(*t.no_go_answered, *t.route.became_target));
    }
  }
  json out{{"n", o.n},
           {"rollbacks_measured", both.size()},
           {"rollbacks_missing", missing},
           {"spacing_ms", o.spacing.count()},
           {"simultaneous", o.spacing.count() == 0},
           {"analysis_interval", o.interval},
           {"burst", o.burst},
           {"rollouts_per_config_map", o.rollouts_per_config_map},
           {"flag_store", o.postgres_uri.empty() ? "configMap" : "postgres"},
           {"concurrency", o.concurrency},
           {"flag_and_route_ms", Percentiles(both)},
           {"verdict_to_flag_and_route_ms", Percentiles(from_verdict)},
           {"verdict_to_flag_ms", Percentiles(verdict_to_flag)},
           {"flag_ms", Percentiles(flag)},
           {"route_ms", Percentiles(route)}};
  if (!bill.is_null()) out["control_plane"] = std::move(bill);
  if (first_t0 && last_t1) {
    // The fleet's rollback rate: from the first No-Go answer to the last rollback written
    // and seen (evaluating the round is part of it, as in an incident).
    const std::chrono::duration<double> span = *last_t1 - *first_t0;
    out["first_t0_to_last_t1_ms"] = span.count() * 1000;
    // How long the round took to answer the N No-Go values (the scheduler's share).
    out["first_t0_to_last_t0_ms"] = MsBetween(*first_t0, *last_t0);
    out["throughput_rollbacks_per_s"] = PerSecond(both.size(), span);
  }
  return out;
}

Result<json> RunEndToEnd(const EndToEndOptions& o) {
  auto config = kube::LoadKubeconfig({o.kubeconfig, ""});
  if (!config.ok()) return config.error();
  auto client = kube::NewClient(*config);
  if (!client.ok()) return client.error();
  auto exporter = http::NewClient({o.exporter, {}, std::chrono::milliseconds(5000)});
  if (!exporter.ok()) return exporter.error();
  auto prometheus = http::NewClient({o.prometheus, {}, std::chrono::milliseconds(5000)});
  if (!prometheus.ok()) return prometheus.error();
  auto set_error_ratio = [&](const char* ratio) -> Status {
    http::Request request;
    request.method = "POST";
    request.target = std::string("/control?errorRatio=") + ratio;
    auto response = (*exporter)->Send(request);
    if (!response.ok()) return response.error();
    if (response->status != 200)
      return Internal("exporter /control answered " + std::to_string(response->status));
    return OkStatus();
  };

  Workload w;
  w.namespace_ = o.namespace_;
  w.prometheus = o.prometheus;
  w.interval = "1s";
  w.first_phase_duration = "1h";
  w.progressing_share = 1.0;
  w.rollouts_per_config_map = 1;
  // The go/no-go table with 10 s ranges instead of 5 m, so that one scrape with errors
  // crosses the error-rate line (a 5 m range needs ~15 s of errors to reach 5 %).
  const std::string prom_probe =
      "sum(rate(agent_requests_total{agent=\"voice\",version=\"" + o.exporter_version +
      "\",outcome=\"error\"}[10s])) / sum(rate(agent_requests_total{agent=\"voice\",version=\"" +
      o.exporter_version + "\"}[10s]))";

  std::mutex mu;
  std::condition_variable changed;
  std::map<std::string, int> weights;  // route name -> canary weight
  std::map<std::string, Clock::time_point> zeroed;
  std::map<int, bool> flag_on;                   // rollout index -> flag on
  std::map<int, Clock::time_point> flag_zeroed;  // rollout index -> flag seen off after on
  Watcher routes(*config, kHttpRoutes, o.namespace_, [&](const json& route, Clock::time_point at) {
    const std::string name = route["metadata"].value("name", "");
    const int weight = CanaryWeight(route, o.exporter_version);
    std::lock_guard lock(mu);
    if (weight == 0 && weights[name] > 0 && !zeroed.count(name)) zeroed[name] = at;
    weights[name] = weight;
    changed.notify_all();
  });
  Watcher flags(*config, kube::kConfigMaps, o.namespace_,
                [&](const json& config_map, Clock::time_point at) {
                  std::lock_guard lock(mu);
                  ForEachFlag(config_map, [&](int i, bool on) {
                    if (!on && flag_on[i] && !flag_zeroed.count(i)) flag_zeroed[i] = at;
                    flag_on[i] = on;
                  });
                  changed.notify_all();
                });

  if (Status ns = EnsureNamespace(**client, o.namespace_); !ns.ok()) return ns.error();
  auto metrics_port = FreePort();
  auto health_port = FreePort();
  if (!metrics_port.ok() || !health_port.ok()) return Internal("no free port");
  auto process = testing::BackgroundProcess::Start(
      {o.operator_binary, "--kubeconfig=" + o.kubeconfig, "--namespace=" + o.namespace_,
       "--metrics-addr=127.0.0.1:" + std::to_string(*metrics_port),
       "--health-addr=127.0.0.1:" + std::to_string(*health_port), "--log-format=json"},
      o.log_file);
  if (!process.ok()) return process.error();

  // Servers that read a query and never answer, one per hung rollout; each rollout asks
  // 20 queries with a 60 s timeout and tolerates its errors (errorLimit), so it stays
  // analysed for the whole run.
  std::vector<http::testing::TestServerPtr> hung_servers;
  std::set<int> hung_asked;  // servers that have received a query
  for (int j = 0; j < o.hung_rollouts; ++j) {
    auto server = http::testing::StartTestServer([&, j](http::testing::Exchange& exchange) {
      {
        std::lock_guard lock(mu);
        hung_asked.insert(j);
      }
      changed.notify_all();
      while (exchange.Wait(std::chrono::hours(1))) {
      }
    });
    if (!server.ok()) return server.error().WithContext("hung server");
    Workload hung = w;
    hung.prometheus = (*server)->url();
    hung.interval = "10s";
    hung.timeout = "60s";
    hung.error_limit = 1000;   // the CRD's maximum: 1000 timeouts of 60 s
    const int i = 200000 + j;  // names apart from the trials' rollouts
    json rollout = AgentRolloutObject(hung, i);
    json& metrics = rollout["spec"]["analysis"]["metrics"];
    const json five = metrics;
    for (int copy = 1; metrics.size() < 20; ++copy) {
      for (json m : five) {
        m["name"] = m["name"].get<std::string>() + "-" + std::to_string(copy);
        m["query"] = m["query"].get<std::string>() + " + " + std::to_string(copy);
        metrics.push_back(std::move(m));
      }
    }
    hung_servers.push_back(std::move(*server));
    if (Status s = CreateIfMissing(**client, kube::kConfigMaps, FlagConfigMapObject(hung, i));
        !s.ok())
      return s.error();
    if (Status s = CreateIfMissing(**client, kHttpRoutes, HttpRouteObject(hung, i)); !s.ok())
      return s.error();
    if (Status s = CreateIfMissing(**client, kAgentRollouts, rollout); !s.ok()) return s.error();
  }
  if (o.hung_rollouts > 0) {
    // Every hung rollout is being analysed (and its first queries hang) before the trials.
    std::unique_lock lock(mu);
    if (!changed.wait_for(lock, std::chrono::seconds(120),
                          [&] { return static_cast<int>(hung_asked.size()) == o.hung_rollouts; })) {
      return Error(ErrorCode::kDeadlineExceeded,
                   std::to_string(hung_asked.size()) + " of " + std::to_string(o.hung_rollouts) +
                       " hung rollouts were analysed within 120 s; see " + o.log_file.string());
    }
  }

  std::vector<double> to_route, to_prometheus, to_flag_and_route;
  json trials = json::array();
  for (int k = 0; k < o.trials; ++k) {
    if (Status s = set_error_ratio("0"); !s.ok()) return s.error().WithContext("exporter");
    // Let the 10 s range forget the previous trial's errors.
    std::this_thread::sleep_for(std::chrono::seconds(k == 0 ? 2 : 12));
    const int i = 100000 + k;  // names apart from other benchmarks' rollouts
    json rollout = AgentRolloutObject(w, i);
    json& traffic = rollout["spec"]["traffic"]["gatewayAPI"];
    traffic["canaryBackend"] = o.exporter_version;
    for (json& m : rollout["spec"]["analysis"]["metrics"]) {
      std::string q = m["query"];
      for (std::size_t at; (at = q.find("[5m]")) != std::string::npos;) q.replace(at, 4, "[10s]");
      m["query"] = q;
    }
    json route = HttpRouteObject(w, i);
    route["spec"]["rules"][0]["backendRefs"][1]["name"] = o.exporter_version;
    if (Status s = CreateIfMissing(**client, kube::kConfigMaps, FlagConfigMapObject(w, i)); !s.ok())
      return s.error();
    if (Status s = CreateIfMissing(**client, kHttpRoutes, route); !s.ok()) return s.error();
    if (Status s = CreateIfMissing(**client, kAgentRollouts, rollout); !s.ok()) return s.error();

    // Wait for phase 0 written and a Go verdict.
    const std::string name = RouteName(i);
    const auto ready_deadline = Clock::now() + std::chrono::seconds(60);
    bool go = false;
    while (Clock::now() < ready_deadline && !go) {
      auto current = (*client)->Get(kAgentRollouts, o.namespace_, RolloutName(i));
      go = current.ok() && current->contains("status") &&
           (*current)["status"].value("verdict", "") == "Go";
      std::lock_guard lock(mu);
      go = go && weights[name] > 0;
      if (!go) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!go)
      return Error(
          ErrorCode::kDeadlineExceeded,
          "rollout " + RolloutName(i) + " never reached a Go verdict; see " + o.log_file.string());

    const auto t0 = Clock::now();
    if (Status s = set_error_ratio("1"); !s.ok()) return s.error().WithContext("exporter");
    std::optional<Clock::time_point> prom_seen;
    const auto deadline = t0 + std::chrono::seconds(30);
    while (Clock::now() < deadline) {
      {
        std::unique_lock lock(mu);
        if (changed.wait_for(lock, std::chrono::milliseconds(100),
                             [&] { return zeroed.count(name) > 0 && flag_zeroed.count(i) > 0; }))
          break;
      }
      if (!prom_seen) {
        http::Request request;
        request.target = "/api/v1/query?query=" + FormEncode(prom_probe);
        auto answer = (*prometheus)->Send(request);
        if (answer.ok() && answer->status == 200) {
          const json body = json::parse(answer->body, nullptr, false);
          const json result =
              body.is_object() ? body["data"].value("result", json::array()) : json::array();
          if (!result.empty() && std::stod(result[0]["value"][1].get<std::string>()) > 0.05) {
            prom_seen = Clock::now();
          }
        }
      }
    }
    json trial{{"rollout", RolloutName(i)}};
    std::lock_guard lock(mu);
    if (zeroed.count(name)) {
      trial["to_route_weight_0_ms"] = MsBetween(t0, zeroed[name]);
      to_route.push_back(MsBetween(t0, zeroed[name]));
      if (flag_zeroed.count(i)) {
        const double both = MsBetween(t0, std::max(zeroed[name], flag_zeroed[i]));
        trial["to_flag_and_route_0_ms"] = both;
        to_flag_and_route.push_back(both);
      }
    }
    if (prom_seen) {
      trial["to_prometheus_above_line_ms"] = MsBetween(t0, *prom_seen);
      to_prometheus.push_back(MsBetween(t0, *prom_seen));
    }
    trials.push_back(trial);
  }
  (void)set_error_ratio("0");
  process->Stop();
  for (const auto& server : hung_servers) server->Stop();
  return json{{"trials", trials},
              {"scrape_interval_s", 1},
              {"analysis_interval_s", 1},
              {"hung_rollouts", o.hung_rollouts},
              {"to_route_weight_0_ms", Percentiles(to_route)},
              {"to_flag_and_route_0_ms", Percentiles(to_flag_and_route)},
              {"to_prometheus_above_line_ms", Percentiles(to_prometheus)}};
}

}  // namespace agentrollout::bench
