// The dashboard's HTTP handlers over a FakeClient and a fake Prometheus, through a real
// HTTP client: security checks, JSON shaping, actions, live events.
#include "plugin/dashboard/server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <thread>

#include "kube/fake_client.h"
#include "plugin/commands.h"

namespace agentrollout::plugin::dashboard {
namespace {

using Json = nlohmann::json;

Json Rollout(const std::string& name) {
  return {
      {"apiVersion", "rollouts.agentops.dev/v1alpha1"},
      {"kind", "AgentRollout"},
      {"metadata", {{"name", name}, {"namespace", "voice"}}},
      {"spec",
       {{"flag", {{"key", "voice_v2"}, {"configMap", {{"name", "flags"}}}}},
        {"traffic",
         {{"gatewayAPI",
           {{"httpRoute", "r"}, {"stableBackend", "agent-v1"}, {"canaryBackend", "agent-v2"}}}}},
        {"analysis",
         {{"prometheus",
           {{"address", "http://prom:9090"},
            {"bearerTokenSecretRef", {{"name", "prom"}, {"key", "token"}}}}},
          {"interval", "10s"},
          {"metrics",
           {{{"name", "errors"},
             {"query", R"(sum(errors{version="{{canary}}"}))"},
             {"go", "< 1"},
             {"noGo", "> 5"}}}}}},
        {"phases", {{{"name", "canary"}, {"flagPercent", 5}, {"trafficWeight", 5}}}}}},
      {"status", {{"phase", "Progressing"}, {"verdict", "Go"}}}};
}

// A Prometheus answering every range query with one series; remembers what it was given.
class FakePrometheus final : public analysis::PrometheusClient {
 public:
  Result<analysis::QueryResult> Query(std::string_view, std::chrono::milliseconds) override {
    return Internal("instant queries are not used");
  }
  Result<std::vector<analysis::Series>> QueryRange(std::string_view promql, const Range&,
                                                   std::chrono::milliseconds) override {
    queries.emplace_back(promql);
    return std::vector<analysis::Series>{{{}, {{100, 0.5}, {110, 0.7}}}};
  }
  std::vector<std::string> queries;
};

class DashboardServer : public ::testing::Test {
 protected:
  void SetUp() override {
    client_ = std::make_shared<kube::FakeClient>();
    ASSERT_TRUE(client_->Create(kAgentRollouts, "voice", Rollout("voice-v2")).ok());
    Json secret = {
        {"apiVersion", "v1"},
        {"kind", "Secret"},
        {"metadata", {{"name", "prom"}, {"labels", {{"rollouts.agentops.dev/use", "true"}}}}},
        {"data", {{"token", "dG9rLVNFQ1JFVA=="}}}};  // "tok-SECRET"
    ASSERT_TRUE(client_->Create(kube::kSecrets, "voice", secret).ok());
    client_->AddReactor(
        [this](const kube::FakeClient::Action& action) -> std::optional<kube::ApiResult<Json>> {
          if (action.verb == "create" && action.resource.resource == "selfsubjectaccessreviews") {
            return kube::ApiResult<Json>(Json{{"status", {{"allowed", may_patch_.load()}}}});
          }
          return std::nullopt;
        });
    prometheus_ = std::make_shared<FakePrometheus>();
    DashboardOptions options;
    options.port = 0;
    options.keepalive = std::chrono::milliseconds(200);
    options.connect_prometheus =
        [this](const analysis::PrometheusTarget& target) -> Result<analysis::PrometheusClientPtr> {
      token_seen_ = target.credentials.bearer_token;
      if (prometheus_down_) {
        return Error(ErrorCode::kUnavailable, "Prometheus at http://prom:9090 is unreachable");
      }
      return analysis::PrometheusClientPtr(prometheus_);
    };
    dashboard_ = std::make_unique<Dashboard>(client_, options);
    ASSERT_TRUE(dashboard_->Start().ok());
    http_ = std::make_unique<httplib::Client>("127.0.0.1", dashboard_->port());
    http_->set_read_timeout(5, 0);
  }
  void TearDown() override { dashboard_->Stop(); }

  std::string Origin() const { return "http://127.0.0.1:" + std::to_string(dashboard_->port()); }

  httplib::Result Action(const std::string& action, httplib::Headers headers) {
    return http_->Post("/api/rollouts/voice/voice-v2/actions/" + action, headers, "",
                       "application/json");
  }

  bool Patched() const {
    for (const auto& action : client_->Actions()) {
      if (action.verb == "patch") return true;
    }
    return false;
  }

  std::shared_ptr<kube::FakeClient> client_;
  std::shared_ptr<FakePrometheus> prometheus_;
  std::unique_ptr<Dashboard> dashboard_;
  std::unique_ptr<httplib::Client> http_;
  std::atomic<bool> may_patch_{true};
  std::atomic<bool> prometheus_down_{false};
  std::string token_seen_;
};

TEST_F(DashboardServer, PagesCarryAStrictContentSecurityPolicy) {
  auto page = http_->Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  const std::string csp = page->get_header_value("Content-Security-Policy");
  EXPECT_NE(csp.find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(page->body.find("<script>"), std::string::npos) << "no inline script";
  auto js = http_->Get("/assets/uPlot.iife.min.js");
  ASSERT_TRUE(js);
  EXPECT_EQ(js->status, 200);
  EXPECT_EQ(js->get_header_value("Content-Type"), "application/javascript; charset=utf-8");
  EXPECT_EQ(http_->Get("/assets/nothing.js")->status, 404);
}

TEST_F(DashboardServer, OverviewAndRollout) {
  auto overview = http_->Get("/api/overview");
  ASSERT_TRUE(overview);
  const Json rows = Json::parse(overview->body)["rollouts"];
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["name"], "voice-v2");
  EXPECT_EQ(rows[0]["phase"], "Progressing");
  auto detail = http_->Get("/api/rollouts/voice/voice-v2");
  ASSERT_TRUE(detail);
  EXPECT_EQ(detail->status, 200);
  EXPECT_EQ(Json::parse(detail->body)["canPatch"], true);
}

TEST_F(DashboardServer, UnknownRolloutIsA404) {
  EXPECT_EQ(http_->Get("/api/rollouts/voice/nope")->status, 404);
  auto page = http_->Get("/rollouts/voice/nope");
  EXPECT_EQ(page->status, 404);
  EXPECT_NE(page->body.find("<html"), std::string::npos) << "a page, not a crash";
  EXPECT_EQ(http_->Get("/api/rollouts/voice/UPPER..bad")->status, 404);
}

TEST_F(DashboardServer, ForeignHostOrOriginIsRefused) {
  auto rebound = http_->Get("/api/overview", {{"Host", "rebound.example:80"}});
  ASSERT_TRUE(rebound);
  EXPECT_EQ(rebound->status, 403);
  auto foreign = http_->Get("/api/session", {{"Origin", "http://evil.example"}});
  EXPECT_EQ(foreign->status, 403);
  EXPECT_EQ(foreign->body.find(dashboard_->guard().token()), std::string::npos);
}

TEST_F(DashboardServer, ActionNeedsTokenAndOrigin) {
  const std::string token = dashboard_->guard().token();
  EXPECT_EQ(Action("abort", {{"Origin", Origin()}})->status, 403);
  EXPECT_EQ(Action("abort", {{"X-Agentrollout-Token", token}})->status, 403);
  EXPECT_EQ(
      Action("abort", {{"Origin", "http://evil.example"}, {"X-Agentrollout-Token", token}})->status,
      403);
  EXPECT_FALSE(Patched());
  EXPECT_EQ(Action("explode", {{"Origin", Origin()}, {"X-Agentrollout-Token", token}})->status,
            400);
  auto done = Action("abort", {{"Origin", Origin()}, {"X-Agentrollout-Token", token}});
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 200) << done->body;
  auto object = client_->Get(kAgentRollouts, "voice", "voice-v2");
  EXPECT_EQ(object->at("metadata").at("annotations").at("rollouts.agentops.dev/action"), "abort");
}

TEST_F(DashboardServer, ActionThatMakesNoSenseIsRefused) {
  auto refused = Action(
      "retry", {{"Origin", Origin()}, {"X-Agentrollout-Token", dashboard_->guard().token()}});
  EXPECT_EQ(refused->status, 409);
  EXPECT_NE(refused->body.find("RolledBack"), std::string::npos);
  EXPECT_FALSE(Patched());
}

TEST_F(DashboardServer, RbacThatForbidsPatchDisablesEveryAction) {
  may_patch_ = false;
  const Json detail = Json::parse(http_->Get("/api/rollouts/voice/voice-v2")->body);
  EXPECT_EQ(detail["canPatch"], false);
  for (const Json& action : detail["actions"]) EXPECT_FALSE(action["allowed"]) << action.dump();
}

TEST_F(DashboardServer, MetricsUseTheSecretButNeverShowIt) {
  auto metrics = http_->Get("/api/rollouts/voice/voice-v2/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(token_seen_, "tok-SECRET");
  EXPECT_EQ(metrics->body.find("tok-SECRET"), std::string::npos);
  const Json body = Json::parse(metrics->body);
  ASSERT_EQ(body["charts"].size(), 1u);
  EXPECT_EQ(body["charts"][0]["canary"]["points"].size(), 2u);
  EXPECT_EQ(body["charts"][0]["stable"]["points"].size(), 2u);
  EXPECT_EQ(prometheus_->queries, (std::vector<std::string>{R"(sum(errors{version="agent-v2"}))",
                                                            R"(sum(errors{version="agent-v1"}))"}));
  EXPECT_EQ(body["refreshSeconds"], 10);
}

TEST_F(DashboardServer, UnreachablePrometheusIsSaidForThatRolloutOnly) {
  prometheus_down_ = true;
  auto metrics = http_->Get("/api/rollouts/voice/voice-v2/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  const Json body = Json::parse(metrics->body);
  EXPECT_NE(body["error"].get<std::string>().find("unreachable"), std::string::npos);
  EXPECT_TRUE(body["charts"].empty());
  EXPECT_EQ(http_->Get("/api/rollouts/voice/voice-v2")->status, 200) << "the page still loads";
}

TEST_F(DashboardServer, UnlabelledSecretIsNotRead) {
  ASSERT_TRUE(client_
                  ->Patch(kube::kSecrets, "voice", "prom", kube::PatchType::kMerge,
                          {{"metadata", {{"labels", {{"rollouts.agentops.dev/use", nullptr}}}}}})
                  .ok());
  const Json body = Json::parse(http_->Get("/api/rollouts/voice/voice-v2/metrics")->body);
  EXPECT_NE(body["error"].get<std::string>().find("lacks the label"), std::string::npos);
  EXPECT_TRUE(token_seen_.empty());
}

TEST_F(DashboardServer, ChangesArePushedWithinASecond) {
  std::string received;
  std::mutex mu;
  std::atomic<bool> done{false};
  std::thread reader([&] {
    httplib::Client stream("127.0.0.1", dashboard_->port());
    stream.set_read_timeout(5, 0);
    stream.Get("/api/events", [&](const char* data, std::size_t size) {
      std::lock_guard lock(mu);
      received.append(data, size);
      return !done.load();
    });
  });
  const auto contains = [&](const std::string& text) {
    std::lock_guard lock(mu);
    return received.find(text) != std::string::npos;
  };
  for (int i = 0; i < 50 && !contains("event: hello"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(contains("event: hello"));
  const auto changed = std::chrono::steady_clock::now();
  EXPECT_TRUE(client_
                  ->Patch(kAgentRollouts, "voice", "voice-v2", kube::PatchType::kMerge,
                          {{"status", {{"phase", "RolledBack"}, {"verdict", "NoGo"}}}})
                  .ok());
  while (!contains(R"("phase":"RolledBack")") &&
         std::chrono::steady_clock::now() - changed < std::chrono::seconds(1)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(contains("event: rollout")) << received;
  EXPECT_TRUE(contains(R"("phase":"RolledBack")")) << received;
  done = true;
  reader.join();
}

}  // namespace
}  // namespace agentrollout::plugin::dashboard
