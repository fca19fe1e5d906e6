#include "plugin/dashboard/view.h"

#include <gtest/gtest.h>

#include "api/time.h"

namespace agentrollout::plugin::dashboard {
namespace {

using Json = nlohmann::json;

const api::Timestamp kNow = api::ParseTime("2026-01-01T12:00:00Z").value();

Json RolloutObject(const std::string& name, Json status = Json::object()) {
  return {{"apiVersion", "rollouts.agentops.dev/v1alpha1"},
          {"kind", "AgentRollout"},
          {"metadata",
           {{"name", name}, {"namespace", "voice"}, {"creationTimestamp", "2026-01-01T11:00:00Z"}}},
          {"spec",
           {{"revision", "2.0.0"},
            {"flag", {{"key", "voice_v2"}, {"configMap", {{"name", "flags"}}}}},
            {"traffic",
             {{"gatewayAPI",
               {{"httpRoute", "route"},
                {"stableBackend", "agent-v1"},
                {"canaryBackend", "agent-v2"}}}}},
            {"analysis",
             {{"prometheus",
               {{"address", "http://prom:9090"},
                {"headers", {{"X-Scope-OrgID", "tenant-SECRET-HEADER"}}},
                {"bearerTokenSecretRef", {{"name", "prom-token"}, {"key", "token"}}}}},
              {"interval", "30s"},
              {"metrics",
               {{{"name", "error-rate"},
                 {"query", R"(sum(rate(errors{version="{{canary}}"}[5m])))"},
                 {"go", "< 0.02"},
                 {"noGo", "> 0.05"}},
                {{"name", "breaker"},
                 {"query", "sum(breaker_open)"},
                 {"go", "== 0"},
                 {"noGo", "> 2"}}}}}},
            {"phases",
             {{{"name", "canary"}, {"flagPercent", 5}, {"trafficWeight", 5}, {"duration", "1h"}},
              {{"name", "all"}, {"flagPercent", 100}, {"trafficWeight", 100}, {"approval", true}}}},
            {"notifications", {{{"url", "https://hooks.example/services/SECRET-WEBHOOK"}}}}}},
          {"status", std::move(status)}};
}

Json Status(const std::string& phase, const std::string& verdict = "Go") {
  return {{"phase", phase},
          {"verdict", verdict},
          {"message", "holding in canary"},
          {"currentPhase",
           {{"index", 0},
            {"name", "canary"},
            {"startedAt", "2026-01-01T11:40:00Z"},
            {"flagPercent", 5},
            {"trafficWeight", 5}}}};
}

RolloutRecord Record(const Json& object) {
  Result<RolloutRecord> record = DecodeRecord(object);
  EXPECT_TRUE(record.ok()) << record.error().message();
  return record.ok() ? *record : RolloutRecord{};
}

TEST(SummaryJson, ShowsPhaseBarFlagWeightAndBakeLeft) {
  const Json row = SummaryJson(Record(RolloutObject("a", Status("Progressing"))), kNow);
  EXPECT_EQ(row["phase"], "Progressing");
  EXPECT_EQ(row["verdict"], "Go");
  EXPECT_EQ(row["step"]["index"], 0);
  EXPECT_EQ(row["phases"].size(), 2u);
  EXPECT_EQ(row["flagPercent"], 5);
  EXPECT_EQ(row["trafficWeight"], 5);
  EXPECT_EQ(row["bakeLeftSeconds"], 40 * 60);  // 1h bake, started 20m ago
  EXPECT_EQ(row["ageSeconds"], 3600);
  EXPECT_EQ(row["rank"], 2);
}

TEST(SummaryJson, NoBakeTimeLeftOnceRolledBack) {
  const Json row = SummaryJson(Record(RolloutObject("a", Status("RolledBack", "NoGo"))), kNow);
  EXPECT_TRUE(row["bakeLeftSeconds"].is_null());
  EXPECT_EQ(row["rank"], 0);
}

TEST(DecodeRecord, MalformedStatusIsUnknownNotAnError) {
  Json status = Status("Progressing");
  status["currentPhase"] = "not an object";
  const RolloutRecord record = Record(RolloutObject("a", status));
  EXPECT_FALSE(record.status_known);
  EXPECT_TRUE(record.spec_known);
  const Json row = SummaryJson(record, kNow);
  EXPECT_EQ(row["phase"], "unknown");
  EXPECT_EQ(row["verdict"], "unknown");
  EXPECT_EQ(row["revision"], "2.0.0");
  EXPECT_TRUE(row["flagPercent"].is_null());
}

TEST(DecodeRecord, MalformedSpecStillShowsStatus) {
  Json object = RolloutObject("a", Status("Failed"));
  object["spec"]["phases"] = "nope";
  const RolloutRecord record = Record(object);
  EXPECT_FALSE(record.spec_known);
  EXPECT_EQ(SummaryJson(record, kNow)["phase"], "Failed");
  EXPECT_EQ(SummaryJson(record, kNow)["revision"], "unknown");
}

TEST(DecodeRecord, ObjectWithoutNameIsAnError) {
  EXPECT_FALSE(DecodeRecord(Json{{"metadata", {{"namespace", "x"}}}}).ok());
  EXPECT_FALSE(DecodeRecord(Json("text")).ok());
}

TEST(OverviewJson, RollbacksAndHoldsFirst) {
  const RolloutRecord done = Record(RolloutObject("a-done", Status("Succeeded")));
  const RolloutRecord moving = Record(RolloutObject("b-moving", Status("Progressing")));
  const RolloutRecord holding = Record(RolloutObject("c-holding", Status("Progressing", "Hold")));
  const RolloutRecord back = Record(RolloutObject("d-back", Status("RolledBack", "NoGo")));
  const Json overview = OverviewJson({&done, &moving, &holding, &back}, kNow);
  std::vector<std::string> names;
  for (const Json& row : overview["rollouts"]) names.push_back(row["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"d-back", "c-holding", "b-moving", "a-done"}));
}

TEST(DetailJson, CarriesNoCredentialOrNotificationUrl) {
  const Json detail = DetailJson(Record(RolloutObject("a", Status("Progressing"))), Json::array(),
                                 {true, ""}, kNow);
  const std::string text = detail.dump();
  EXPECT_EQ(text.find("SECRET"), std::string::npos) << text;
  EXPECT_EQ(text.find("prom-token"), std::string::npos);
  EXPECT_EQ(detail["analysis"]["prometheus"], "http://prom:9090");
  EXPECT_EQ(detail["metrics"].size(), 2u);
  EXPECT_EQ(detail["metrics"][0]["go"], "< 0.02");
}

TEST(ActionsJson, PhaseAndRbacDecide) {
  const RolloutRecord record = Record(RolloutObject("a", Status("Progressing")));
  std::map<std::string, Json> allowed;
  for (const Json& action : ActionsJson(record.rollout, {true, ""})) {
    allowed[action["name"]] = action;
  }
  EXPECT_TRUE(allowed["promote"]["allowed"]);
  EXPECT_TRUE(allowed["abort"]["allowed"]);
  EXPECT_NE(allowed["abort"]["confirm"].get<std::string>().find("flag off, all traffic to stable"),
            std::string::npos);
  EXPECT_FALSE(allowed["retry"]["allowed"]);
  EXPECT_NE(allowed["retry"]["reason"].get<std::string>().find("RolledBack"), std::string::npos);
  for (const Json& action : ActionsJson(record.rollout, {false, "RBAC: no patch"})) {
    EXPECT_FALSE(action["allowed"]) << action.dump();
  }
  EXPECT_EQ(ActionsJson(record.rollout, {false, "RBAC: no patch"})[1]["reason"], "RBAC: no patch");
}

TEST(ComparisonsJson, ReadsIntervalsFromStatus) {
  const Json status = {{"analysis",
                        {{"metrics", {{{"name", "plain"}, {"value", "1"}}}},
                         {"comparisons",
                          {{{"name", "errors-vs-stable"},
                            {"verdict", "Hold"},
                            {"interval", {"-0.01", 0.02}},
                            {"canary", {{"events", 3}, {"total", 200}}},
                            {"stable", {{"events", "1"}, {"total", "210"}}}}}}}}};
  const Json comparisons = ComparisonsJson(status);
  ASSERT_EQ(comparisons.size(), 1u);
  EXPECT_EQ(comparisons[0]["name"], "errors-vs-stable");
  EXPECT_EQ(comparisons[0]["low"], -0.01);
  EXPECT_EQ(comparisons[0]["high"], 0.02);
  EXPECT_EQ(comparisons[0]["stable"]["total"], 210);
  EXPECT_TRUE(ComparisonsJson(Json("garbage")).empty());
}

TEST(ChartQueries, StableSideWhereTheQueryUsesCanary) {
  const Json charts = ChartQueries(Record(RolloutObject("a", Status("Progressing"))).rollout);
  ASSERT_EQ(charts.size(), 2u);
  EXPECT_EQ(charts[0]["canary"], R"(sum(rate(errors{version="agent-v2"}[5m])))");
  EXPECT_EQ(charts[0]["stable"], R"(sum(rate(errors{version="agent-v1"}[5m])))");
  EXPECT_TRUE(charts[1]["stable"].is_null());
}

TEST(EventsJson, NewestFirstAndCut) {
  std::vector<Json> items;
  for (int i = 0; i < 5; ++i) {
    items.push_back({{"type", "Normal"},
                     {"reason", "PhaseAdvanced"},
                     {"message", std::string(2000, 'x')},
                     {"lastTimestamp", "2026-01-01T11:0" + std::to_string(i) + ":00Z"}});
  }
  const Json events = EventsJson(items, 3);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0]["last"], "2026-01-01T11:04:00Z");
  EXPECT_EQ(events[0]["message"].get<std::string>().size(), 1000u);
}

}  // namespace
}  // namespace agentrollout::plugin::dashboard
