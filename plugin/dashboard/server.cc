#include "plugin/dashboard/server.h"

#include <httplib.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "api/names.h"
#include "api/time.h"
#include "kube/secret_data.h"
#include "plugin/commands.h"
#include "plugin/dashboard/assets.h"

namespace agentrollout::plugin::dashboard {
namespace {

using Json = nlohmann::json;
using std::chrono::duration_cast;
using std::chrono::seconds;

const kube::ResourceRef kSelfSubjectAccessReviews{"authorization.k8s.io", "v1",
                                                  "selfsubjectaccessreviews", false};

// DNS-1123 names (namespaces and AgentRollouts): the only path segments the API accepts.
constexpr char kName[] = "([a-z0-9][a-z0-9.-]{0,252})";

std::string Dump(const Json& json) {
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

int HttpStatus(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
    case ErrorCode::kConflict:
    case ErrorCode::kFailedPrecondition:
      return 409;
    case ErrorCode::kUnavailable:
    case ErrorCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

void Reply(httplib::Response& res, int status, const Json& body) {
  res.status = status;
  // With the charset, cpp-httplib does not brotli-compress the body (it compresses exactly
  // "application/json", at quality 11: half a second for the overview of 1,000 rollouts).
  res.set_content(Dump(body), "application/json; charset=utf-8");
}

void ReplyError(httplib::Response& res, const Error& error) {
  Reply(res, HttpStatus(error), {{"error", error.message()}});
}

std::optional<Action> ParseAction(std::string_view name) {
  for (Action action : kActions) {
    if (ActionName(action) == name) return action;
  }
  return std::nullopt;
}

Json Points(const std::vector<std::pair<double, double>>& points) {
  Json out = Json::array();
  for (const auto& [at, value] : points) {
    out.push_back({at, std::isfinite(value) ? Json(value) : Json()});
  }
  return out;
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1" || host == "[::1]" ||
         host.starts_with("127.");
}

}  // namespace

// ------------------------------------------------------------------ ChangeFeed

void ChangeFeed::Publish(const std::string& event, const std::string& data) {
  {
    std::lock_guard lock(mu_);
    frames_.push_back("event: " + event + "\ndata: " + data + "\n\n");
    while (frames_.size() > capacity_) {
      frames_.pop_front();
      ++first_;
    }
  }
  cv_.notify_all();
}

ChangeFeed::Batch ChangeFeed::Wait(std::uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  const auto next = [this] { return first_ + frames_.size(); };  // number of the next frame
  cv_.wait_for(lock, timeout, [&] { return closed_ || next() > after + 1; });
  Batch batch;
  batch.closed = closed_;
  batch.last = next() - 1;
  if (after + 1 < first_) {
    batch.resync = true;
    return batch;
  }
  for (std::uint64_t n = after + 1; n < next(); ++n) batch.frames += frames_[n - first_];
  return batch;
}

std::uint64_t ChangeFeed::Last() const {
  std::lock_guard lock(mu_);
  return first_ + frames_.size() - 1;
}

void ChangeFeed::Close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
  }
  cv_.notify_all();
}

// ------------------------------------------------------------------ Dashboard

Dashboard::Dashboard(kube::ClientPtr client, DashboardOptions options)
    : client_(std::move(client)), options_(std::move(options)) {}

Dashboard::~Dashboard() { Stop(); }

std::string Dashboard::url() const {
  const std::string host = options_.host.find(':') != std::string::npos && options_.host[0] != '['
                               ? "[" + options_.host + "]"
                               : options_.host;
  return "http://" + host + ":" + std::to_string(port_) + "/";
}

Status Dashboard::Start(std::chrono::milliseconds sync_timeout) {
  // The informer retries forever; a user without `list` should hear why at once.
  kube::ListOptions probe;
  probe.limit = 1;
  if (auto listed = client_->List(kAgentRollouts, options_.namespace_, probe); !listed.ok()) {
    return listed.error().WithContext("listing agentrollouts");
  }
  kube::InformerOptions informer_options;
  informer_options.reflector.resource = kAgentRollouts;
  informer_options.reflector.namespace_ = options_.namespace_;
  informer_ = std::make_unique<Informer>(client_, informer_options, DecodeRecord);
  kube::EventHandlers<RolloutRecord> handlers;
  handlers.on_add = [this](const auto& record) { OnChange(record); };
  handlers.on_update = [this](const auto&, const auto& record) { OnChange(record); };
  handlers.on_delete = [this](const auto& record) {
    const auto& meta = record->rollout.metadata;
    {
      std::lock_guard lock(mu_);
      series_.erase(meta.namespace_ + "/" + meta.name);
      comparisons_.erase(meta.namespace_ + "/" + meta.name);
    }
    feed_.Publish("deleted", Dump({{"namespace", meta.namespace_}, {"name", meta.name}}));
  };
  informer_->AddEventHandlers(std::move(handlers));
  informer_->Start();
  if (!informer_->WaitForSync(sync_timeout)) {
    informer_->Stop();
    return Error(ErrorCode::kDeadlineExceeded, "the AgentRollout watch did not sync in time");
  }

  server_ = std::make_unique<httplib::Server>();
  const std::size_t threads = options_.max_streams + 8;
  server_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server_->set_payload_max_length(64 * 1024);
  server_->set_default_headers({
      {"Content-Security-Policy",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Referrer-Policy", "no-referrer"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Cache-Control", "no-store"},
  });
  const std::string bind_host = options_.host.starts_with("[")
                                    ? options_.host.substr(1, options_.host.size() - 2)
                                    : options_.host;
  if (options_.port == 0) {
    port_ = server_->bind_to_any_port(bind_host);
  } else {
    port_ = server_->bind_to_port(bind_host, options_.port) ? options_.port : -1;
  }
  if (port_ <= 0) {
    informer_->Stop();
    return Error(ErrorCode::kUnavailable, "cannot listen on " + options_.host + ":" +
                                              std::to_string(options_.port) +
                                              " (in use? try --address 127.0.0.1:0)");
  }
  std::vector<std::string> hosts;
  const bool wildcard =
      options_.host == "0.0.0.0" || options_.host == "::" || options_.host.empty();
  if (wildcard) {
    hosts.push_back("*");
  } else if (!IsLoopback(options_.host)) {
    hosts.push_back(options_.host.find(':') != std::string::npos ? "[" + options_.host + "]"
                                                                 : options_.host);
  }
  guard_ = std::make_unique<RequestGuard>(NewToken(), port_, std::move(hosts));
  Routes();
  serve_thread_ = std::thread([this] { server_->listen_after_bind(); });
  return OkStatus();
}

void Dashboard::Stop() {
  feed_.Close();
  if (server_) server_->stop();
  if (serve_thread_.joinable()) serve_thread_.join();
  if (informer_) informer_->Stop();
}

void Dashboard::OnChange(const std::shared_ptr<const RolloutRecord>& record) {
  const api::AgentRollout& rollout = record->rollout;
  const std::string key = rollout.metadata.namespace_ + "/" + rollout.metadata.name;
  const Json comparisons = ComparisonsJson(record->raw_status);
  if (!comparisons.empty() && rollout.status.analysis.last_evaluated) {
    const double at = static_cast<double>(
        duration_cast<seconds>(rollout.status.analysis.last_evaluated->time_since_epoch()).count());
    std::lock_guard lock(mu_);
    for (const Json& comparison : comparisons) {
      auto& points = comparisons_[key][comparison["name"].get<std::string>()];
      if (!points.empty() && points.back().at >= at) continue;
      points.push_back({at, comparison["low"], comparison["high"], comparison["value"]});
      constexpr std::size_t kMaxPoints = 720;
      if (points.size() > kMaxPoints) points.pop_front();
    }
  }
  feed_.Publish("rollout", Dump(SummaryJson(*record, options_.now())));
}

Permission Dashboard::PermissionFor(const std::string& ns) {
  const api::Timestamp now = options_.now();
  {
    std::lock_guard lock(mu_);
    const auto found = permissions_.find(ns);
    if (found != permissions_.end() && now - found->second.at < options_.permission_ttl) {
      return found->second.permission;
    }
  }
  const Json review = {{"apiVersion", "authorization.k8s.io/v1"},
                       {"kind", "SelfSubjectAccessReview"},
                       {"spec",
                        {{"resourceAttributes",
                          {{"namespace", ns},
                           {"verb", "patch"},
                           {"group", api::kGroup},
                           {"resource", api::kPlural}}}}}};
  Permission permission;
  auto answer = client_->Create(kSelfSubjectAccessReviews, "", review);
  if (!answer.ok()) {
    // Unknown is not forbidden: the API server still decides when the button is pressed.
    permission.can_patch = true;
  } else {
    const Json status = answer->value("status", Json::object());
    permission.can_patch = status.is_object() && status.value("allowed", false) == true;
    if (!permission.can_patch) {
      permission.reason =
          "RBAC: you may not patch agentrollouts in namespace " + ns + " (ask for the edit role)";
    }
  }
  std::lock_guard lock(mu_);
  permissions_[ns] = {permission, now};
  return permission;
}

Json Dashboard::Events(const std::string& ns, const std::string& name) {
  kube::ListOptions options;
  options.field_selector = "involvedObject.kind=AgentRollout,involvedObject.name=" + name;
  options.limit = 500;
  auto listed = client_->List(kube::kEvents, ns, options);
  if (!listed.ok()) return {{"error", listed.error().message()}, {"items", Json::array()}};
  return {{"error", nullptr}, {"items", EventsJson(listed->items)}};
}

Result<analysis::PrometheusCredentials> Dashboard::Credentials(const api::AgentRollout& rollout) {
  analysis::PrometheusCredentials credentials;
  const api::PrometheusSpec& spec = *rollout.spec.analysis.prometheus;
  const std::string& ns = rollout.metadata.namespace_;
  // Read with the user's own access, and only Secrets that opted in (API.md §2), as the
  // operator does. The values stay in this process: never in a response or a message.
  const auto read = [&](const std::string& field, const std::string& secret,
                        const std::string& key) -> Result<std::string> {
    auto object = client_->Get(kube::kSecrets, ns, secret);
    if (!object.ok()) return object.error().WithContext("analysis.prometheus." + field);
    auto value = kube::LabelledSecretData(*object, key);
    if (!value.ok()) return value.error().WithContext("analysis.prometheus." + field);
    return value;
  };
  if (const auto& ref = spec.bearer_token_secret_ref) {
    auto token = read("bearerTokenSecretRef", ref->name, ref->key);
    if (!token.ok()) return token.error();
    credentials.bearer_token = std::move(*token);
  }
  if (const auto& ref = spec.basic_auth_secret_ref) {
    auto username = read("basicAuthSecretRef", ref->name, "username");
    if (!username.ok()) return username.error();
    auto password = read("basicAuthSecretRef", ref->name, "password");
    if (!password.ok()) return password.error();
    credentials.basic_auth = analysis::BasicAuth{std::move(*username), std::move(*password)};
  }
  if (const auto& ref = spec.ca_secret_ref) {
    auto ca = read("caSecretRef", ref->name, ref->key);
    if (!ca.ok()) return ca.error();
    credentials.ca_pem = std::move(*ca);
  }
  return credentials;
}

Json Dashboard::MetricSeries(const RolloutRecord& record) {
  const api::AgentRollout& rollout = record.rollout;
  const std::string key = rollout.metadata.namespace_ + "/" + rollout.metadata.name;
  const api::Timestamp now = options_.now();
  const api::AnalysisSpec& analysis = rollout.spec.analysis;
  const seconds interval =
      std::clamp(duration_cast<seconds>(analysis.interval), seconds(5), seconds(60));
  const std::string spec_key =
      std::to_string(rollout.metadata.generation) + "/" +
      (rollout.status.current_phase ? rollout.status.current_phase->name : std::string());
  Json out;
  {
    std::lock_guard lock(mu_);
    const auto cached = series_.find(key);
    if (cached != series_.end() && cached->second.spec_key == spec_key &&
        now - cached->second.at < interval) {
      out = cached->second.series;
    }
  }
  if (out.is_null()) {
    out = {{"refreshSeconds", interval.count()},
           {"prometheus", analysis.prometheus ? Json(analysis.prometheus->address) : Json()},
           {"error", nullptr},
           {"charts", Json::array()}};
    const auto fail = [&](const std::string& message) { out["error"] = message; };
    if (!record.spec_known) {
      fail("the spec could not be read");
    } else if (!analysis.metrics.empty() && !analysis.prometheus) {
      fail("analysis.prometheus is not set");
    } else if (!analysis.metrics.empty()) {
      Result<analysis::PrometheusCredentials> credentials = Credentials(rollout);
      analysis::PrometheusTarget target;
      target.address = analysis.prometheus->address;
      target.headers = analysis.prometheus->headers;
      target.insecure_skip_verify = analysis.prometheus->insecure_skip_verify;
      if (credentials.ok()) target.credentials = *credentials;
      Result<analysis::PrometheusClientPtr> prometheus =
          credentials.ok() ? options_.connect_prometheus(target)
                           : Result<analysis::PrometheusClientPtr>(credentials.error());
      if (!prometheus.ok()) {
        fail(prometheus.error().message());
      } else {
        // The rollout's life, at most the last 6 hours, in about 240 steps.
        api::Timestamp start =
            rollout.metadata.creation_timestamp.value_or(now - std::chrono::hours(1));
        start = std::max(start, now - std::chrono::hours(6));
        start = std::min(start, now - std::chrono::minutes(2));
        const auto span = duration_cast<seconds>(now - start);
        analysis::PrometheusClient::Range range{
            start, now,
            std::max({seconds(1), duration_cast<seconds>(analysis.interval),
                      seconds(span.count() / 240)})};
        const auto timeout = duration_cast<std::chrono::milliseconds>(analysis.prometheus->timeout);
        const auto series = [&](const Json& query) -> Json {
          if (!query.is_string()) return nullptr;
          auto answer = (*prometheus)->QueryRange(query.get<std::string>(), range, timeout);
          if (!answer.ok()) return {{"error", answer.error().message()}};
          if (answer->size() > 1) {
            return {{"error", "the query returned " + std::to_string(answer->size()) +
                                  " series; it must return one"}};
          }
          return {{"points", answer->empty() ? Json::array() : Points(answer->front().points)}};
        };
        for (Json& chart : ChartQueries(rollout)) {
          if (!chart.contains("error")) {
            chart["canary"] = series(chart["canary"]);
            chart["stable"] = series(chart["stable"]);
            // An unreachable server fails every query alike: say it once and stop.
            const Json& canary = chart["canary"];
            if (canary.contains("error") && out["charts"].empty() &&
                canary["error"].get<std::string>().find("unreachable") != std::string::npos) {
              fail(canary["error"].get<std::string>());
              break;
            }
          }
          out["charts"].push_back(std::move(chart));
        }
      }
    }
    std::lock_guard lock(mu_);
    series_[key] = {out, spec_key, now};
  }
  Json comparisons = Json::array();
  std::lock_guard lock(mu_);
  for (const auto& [name, points] : comparisons_[key]) {
    Json list = Json::array();
    for (const ComparisonPoint& point : points) {
      list.push_back({point.at, point.value, point.low, point.high});
    }
    comparisons.push_back({{"name", name}, {"points", std::move(list)}});
  }
  out["comparisons"] = std::move(comparisons);
  return out;
}

void Dashboard::Routes() {
  httplib::Server& server = *server_;
  server.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    Status allowed =
        guard_->CheckRead(req.get_header_value("Host"), req.get_header_value("Origin"));
    if (allowed.ok()) return httplib::Server::HandlerResponse::Unhandled;
    ReplyError(res, allowed.error());
    return httplib::Server::HandlerResponse::Handled;
  });

  const Asset* index = FindAsset("/assets/index.html");
  const auto page = [index](httplib::Response& res, int status) {
    res.status = status;
    res.set_content(std::string(index->body), std::string(index->content_type));
  };
  server.Get("/", [page](const httplib::Request&, httplib::Response& res) { page(res, 200); });
  server.Get(std::string("/rollouts/") + kName + "/" + kName,
             [this, page](const httplib::Request& req, httplib::Response& res) {
               page(res, informer_->Get(req.matches[1].str(), req.matches[2].str()) ? 200 : 404);
             });
  server.Get("/favicon.ico",
             [](const httplib::Request&, httplib::Response& res) { res.status = 204; });
  server.Get("/assets/(.+)", [](const httplib::Request& req, httplib::Response& res) {
    const Asset* asset = FindAsset(req.path);
    if (asset == nullptr) {
      res.status = 404;
      res.set_content("not found", "text/plain");
      return;
    }
    res.set_content(std::string(asset->body), std::string(asset->content_type));
  });
  server.Get("/api/session", [this](const httplib::Request&, httplib::Response& res) {
    Reply(res, 200,
          {{"token", guard_->token()},
           {"namespace", options_.namespace_},
           {"allNamespaces", options_.namespace_.empty()}});
  });
  server.Get("/api/overview", [this](const httplib::Request&, httplib::Response& res) {
    const std::vector<std::shared_ptr<const RolloutRecord>> records = informer_->List();
    std::vector<const RolloutRecord*> pointers;
    pointers.reserve(records.size());
    for (const auto& record : records) pointers.push_back(record.get());
    Reply(res, 200, OverviewJson(pointers, options_.now()));
  });
  server.Get(
      std::string("/api/rollouts/") + kName + "/" + kName,
      [this](const httplib::Request& req, httplib::Response& res) {
        const std::string ns = req.matches[1].str();
        const std::string name = req.matches[2].str();
        const auto record = informer_->Get(ns, name);
        if (!record) {
          Reply(res, 404,
                {{"error", "agentrollout \"" + name + "\" not found in namespace \"" + ns + "\""}});
          return;
        }
        Json events = Events(ns, name);
        Json detail = DetailJson(*record, events["items"], PermissionFor(ns), options_.now());
        detail["eventsError"] = events["error"];
        Reply(res, 200, detail);
      });
  server.Get(std::string("/api/rollouts/") + kName + "/" + kName + "/metrics",
             [this](const httplib::Request& req, httplib::Response& res) {
               const auto record = informer_->Get(req.matches[1].str(), req.matches[2].str());
               if (!record) {
                 Reply(res, 404, {{"error", "no such agentrollout"}});
                 return;
               }
               Reply(res, 200, MetricSeries(*record));
             });
  server.Post(std::string("/api/rollouts/") + kName + "/" + kName + "/actions/([a-z]+)",
              [this](const httplib::Request& req, httplib::Response& res) {
                Status allowed =
                    guard_->CheckWrite(req.get_header_value("Host"), req.get_header_value("Origin"),
                                       req.get_header_value("X-Agentrollout-Token"));
                if (!allowed.ok()) return ReplyError(res, allowed.error());
                const std::optional<Action> action = ParseAction(req.matches[3].str());
                if (!action) {
                  return Reply(res, 400,
                               {{"error",
                                 "unknown action; expected promote, abort, pause, "
                                 "resume or retry"}});
                }
                Result<std::string> done =
                    RequestAction(*client_, req.matches[1].str(), req.matches[2].str(), *action);
                if (!done.ok()) return ReplyError(res, done.error());
                Reply(res, 200, {{"message", *done}});
              });
  server.Get("/api/events", [this](const httplib::Request&, httplib::Response& res) {
    if (streams_.fetch_add(1) >= options_.max_streams) {
      streams_.fetch_sub(1);
      return Reply(res, 503, {{"error", "too many open dashboard pages"}});
    }
    auto last = std::make_shared<std::uint64_t>(feed_.Last());
    auto greeted = std::make_shared<bool>(false);
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, last, greeted](std::size_t, httplib::DataSink& sink) {
          if (!*greeted) {
            *greeted = true;
            const std::string hello = "retry: 1000\nevent: hello\ndata: {}\n\n";
            return sink.write(hello.data(), hello.size());
          }
          ChangeFeed::Batch batch = feed_.Wait(*last, options_.keepalive);
          if (batch.closed) return false;
          *last = batch.last;
          std::string frames = batch.resync ? "event: resync\ndata: {}\n\n" : batch.frames;
          if (frames.empty()) frames = ": keepalive\n\n";
          return sink.write(frames.data(), frames.size());
        },
        [this](bool) { streams_.fetch_sub(1); });
  });
}

const Asset* FindAsset(std::string_view path) {
  for (const Asset& asset : EmbeddedAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace agentrollout::plugin::dashboard
