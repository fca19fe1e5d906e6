#include "plugin/commands.h"

#include <agentrollout/flag_client.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <future>
#include <sstream>
#include <thread>

#include "analysis/template.h"
#include "api/codec.h"
#include "api/names.h"
#include "api/test_manifest.h"
#include "api/time.h"
#include "kube/fake_client.h"

namespace agentrollout::plugin {
namespace {

// A BucketState with these pins (designated initializers would have to name every field).
BucketState Pins(std::optional<int> percent, std::vector<std::string> on = {},
                 std::vector<std::string> off = {}) {
  BucketState state;
  state.percent = percent;
  state.enabled_tenants = std::move(on);
  state.disabled_tenants = std::move(off);
  return state;
}

using nlohmann::json;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

api::Timestamp At(const char* text) { return *api::ParseTime(text); }

api::AgentRollout VoiceAgent() {
  Result<api::AgentRollout> rollout = api::DecodeAgentRollout(api::testing::VoiceAgentManifest());
  EXPECT_TRUE(rollout.ok()) << rollout.error().ToString();
  return rollout.ok() ? *rollout : api::AgentRollout{};
}

api::AgentRollout WithPhase(api::RolloutPhase phase, std::string pause_reason = "") {
  api::AgentRollout rollout = VoiceAgent();
  rollout.status.phase = phase;
  rollout.status.pause_reason = std::move(pause_reason);
  return rollout;
}

TEST(HumanDuration, MatchesKubectl) {
  EXPECT_EQ(HumanDuration(seconds(-5)), "<invalid>");
  EXPECT_EQ(HumanDuration(seconds(-1)), "0s");
  EXPECT_EQ(HumanDuration(seconds(0)), "0s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(seconds(120)), "2m");
  EXPECT_EQ(HumanDuration(seconds(200)), "3m20s");
  EXPECT_EQ(HumanDuration(minutes(12)), "12m");
  EXPECT_EQ(HumanDuration(minutes(179)), "179m");
  EXPECT_EQ(HumanDuration(hours(3)), "3h");
  EXPECT_EQ(HumanDuration(hours(5) + minutes(10)), "5h10m");
  EXPECT_EQ(HumanDuration(hours(36)), "36h");
  EXPECT_EQ(HumanDuration(hours(76)), "3d4h");
  EXPECT_EQ(HumanDuration(hours(24 * 120)), "120d");
  EXPECT_EQ(HumanDuration(hours(24 * (365 * 2 + 30))), "2y30d");
  EXPECT_EQ(HumanDuration(hours(24 * 365 * 9)), "9y");
}

TEST(FormatTable, PadsColumnsThreeSpacesApartWithoutTrailingSpaces) {
  EXPECT_EQ(FormatTable({{"NAME", "PHASE"}, {"a-long-name", "Go"}, {"b", ""}}, "  "),
            "  NAME          PHASE\n"
            "  a-long-name   Go\n"
            "  b\n");
}

TEST(FormatList, ShowsTheColumnsOfTheContract) {
  api::AgentRollout voice = VoiceAgent();
  api::AgentRollout fresh;  // not reconciled, flag-only
  fresh.metadata.name = "support-agent";
  fresh.metadata.namespace_ = "support";
  fresh.metadata.creation_timestamp = At("2026-11-22T10:58:00Z");
  fresh.spec.flag = api::FlagSpec{};
  fresh.spec.phases.resize(3);
  const api::Timestamp now = At("2026-11-22T11:00:00Z");
  EXPECT_EQ(FormatList({voice, fresh}, false, now),
            "NAME             PHASE         STEP            FLAG%   WEIGHT   VERDICT   AGE\n"
            "voice-agent-v2   Progressing   3/5 expansion   25%     25%      Hold      2d1h\n"
            "support-agent    -             -               -       -        -         2m\n");
  EXPECT_EQ(FormatList({voice}, true, now),
            "NAMESPACE   NAME             PHASE         STEP            FLAG%   WEIGHT   VERDICT   "
            "AGE\n"
            "voice       voice-agent-v2   Progressing   3/5 expansion   25%     25%      Hold      "
            "2d1h\n");
}

TEST(FormatStatus, ShowsEverythingAPersonAsksAbout) {
  const std::string text = FormatStatus(VoiceAgent(), At("2026-11-22T11:00:00Z"));
  EXPECT_EQ(text,
            "Name:       voice-agent-v2\n"
            "Namespace:  voice\n"
            "Revision:   2.0.0\n"
            "Phase:      Progressing\n"
            "Step:       3/5 expansion (for 60m)\n"
            "Flag:       voice_agent_v2 at 25%\n"
            "Weight:     25%\n"
            "Verdict:    Hold\n"
            "Message:    holding in expansion: latency-p95-ms 912 is not < 800 (go); 3h12m of bake "
            "left\n"
            "Action:     promote (requested, not yet acted on)\n"
            "Age:        2d1h\n"
            "\n"
            "Go/No-Go (evaluated 12m ago; consecutive NoGo 0, errors 1):\n"
            "  METRIC                     VALUE    VERDICT   GO       NO-GO    ABORT   MESSAGE\n"
            "  error-rate                 0.0131   Go        < 0.02   > 0.05   > 0.5\n"
            "  latency-p95-ms (dry run)   912      Hold      < 800    > 1200   -       912 is "
            "between the lines\n"
            "  circuit-breaker-opens      -        -         == 0     > 2      -\n"
            "\n"
            "Rollback:\n"
            "  At:           2026-11-21T08:00:00Z (27h ago)\n"
            "  From phase:   majority\n"
            "  Metric:       error-rate = 0.071, crossed > 0.05\n"
            "  Reason:       error-rate 0.071 crossed noGo > 0.05\n"
            "\n"
            "History:\n"
            "  AGE   FROM             TO               REASON\n"
            "  25h   canary           early-adopters   PhaseAdvanced\n"
            "  60m   early-adopters   expansion        PhaseAdvanced\n"
            "\n"
            "Conditions:\n"
            "  TYPE          STATUS    REASON        AGE    MESSAGE\n"
            "  Ready         False     Progressing   2d1h   in expansion\n"
            "  Reconciling   True      Progressing   2d1h\n"
            "  Stalled       False     Progressing   2d1h\n"
            "  Healthy       Unknown   Hold          12m\n");
}

TEST(IntervalBar, DrawsTheIntervalAgainstTheLines) {
  // Scale [0.002, 0.038] (the interval and both lines, 10 % margins) over 31 columns.
  EXPECT_EQ(IntervalBar(0.012, 0.035, 0.005, 0.02), "...G....[======N============]..");
  EXPECT_EQ(IntervalBar(-0.002, 0.003, 0.005, 0.02), "...[====].G.................N..");
  // A point interval is one mark; a line over the interval wins.
  EXPECT_EQ(IntervalBar(0.01, 0.01, 0.005, 0.02).find('G') != std::string::npos, true);
  EXPECT_EQ(IntervalBar(-1, 1, 0.005, 0.02).size(), 31u);
}

TEST(FormatStatus, ShowsComparisonsWithCountsRatesAndTheIntervalBar) {
  api::AgentRollout rollout = VoiceAgent();
  rollout.spec.analysis.comparisons = {
      api::ComparisonSpec{"error-rate-vs-stable", "e", "t",
                          api::Threshold{api::CompareOp::kLess, 0.005},
                          api::Threshold{api::CompareOp::kGreater, 0.02}, 0.95, 100},
      api::ComparisonSpec{"slow-calls-vs-stable", "e", "t",
                          api::Threshold{api::CompareOp::kLess, 0.01},
                          api::Threshold{api::CompareOp::kGreater, 0.05}, 0.95, 100}};
  api::MetricStatus judged;
  judged.name = "error-rate-vs-stable";
  judged.verdict = api::Verdict::kNoGo;
  judged.value = "0.0235";
  judged.message = "canary is worse by 1.2–3.5 points (No-Go above 2)";
  judged.comparison = api::ComparisonStatus{"0.012", "0.035", {"52", "2000"}, {"50", "20000"}};
  rollout.status.analysis.metrics.push_back(judged);
  const std::string text = FormatStatus(rollout, At("2026-11-22T11:00:00Z"));
  EXPECT_THAT(text,
              HasSubstr("\nCanary vs stable (events/calls in this phase; interval of canary - "
                        "stable):\n"
                        "  COMPARISON             CANARY           STABLE             "
                        "CANARY-STABLE    INTERVAL (G go, N no-go)          VERDICT   MESSAGE\n"
                        "  error-rate-vs-stable   52/2000 (2.6%)   50/20000 (0.25%)   "
                        "+1.2..+3.5 pts   ...G....[======N============]..   NoGo      canary "
                        "is worse by 1.2–3.5 points (No-Go above 2)\n"
                        "  slow-calls-vs-stable   -                -                  -        "
                        "        -                                 -\n"))
      << text;
  // The comparison's status entry is not listed again among the metrics.
  EXPECT_THAT(text, Not(HasSubstr("  error-rate-vs-stable   0.0235")));
}

TEST(FormatStatus, SaysWhatIsMissing) {
  api::AgentRollout rollout;
  rollout.metadata.name = "new";
  rollout.metadata.namespace_ = "ns";
  rollout.spec.phases.resize(2);
  const std::string text = FormatStatus(rollout, At("2026-11-22T11:00:00Z"));
  EXPECT_THAT(text, HasSubstr("Phase:      - (not reconciled yet)\n"));
  EXPECT_THAT(text, HasSubstr("Step:       -\n"));
  EXPECT_THAT(text, HasSubstr("Go/No-Go:\n  no metrics: phases advance on time alone\n"));
  EXPECT_THAT(text, HasSubstr("Rollback: none\n"));
  EXPECT_THAT(text, HasSubstr("History: none\n"));
  EXPECT_THAT(text, HasSubstr("Conditions: none\n"));
  EXPECT_THAT(text, HasSubstr("Age:        <unknown>\n"));
  EXPECT_THAT(text, Not(HasSubstr("Flag:")));
  EXPECT_THAT(text, Not(HasSubstr("Weight:")));
}

TEST(FormatStatus, ShowsSpecLinesBeforeTheFirstEvaluationAndPauses) {
  api::AgentRollout rollout = VoiceAgent();
  rollout.status.analysis = {};
  rollout.status.pause_reason = "SteppedBack";
  rollout.metadata.annotations.clear();
  const std::string text = FormatStatus(rollout, At("2026-11-22T11:00:00Z"));
  EXPECT_THAT(text, HasSubstr("Go/No-Go:\n"));
  EXPECT_THAT(text,
              HasSubstr("  error-rate              -       -         < 0.02   > 0.05   > 0.5\n"));
  EXPECT_THAT(text, HasSubstr("Paused:     by SteppedBack\n"));
  EXPECT_THAT(text, Not(HasSubstr("Action:")));
}

TEST(FormatBuckets, MatchesTheFlagClientHeader) {
  const std::vector<std::string> tenants = {"t-1", "t-2", "tenant-42", "+4915112345678"};
  EXPECT_THAT(FormatBuckets("voice_agent_v2", tenants, {}),
              StartsWith("TENANT           BUCKET\n"));
  const std::string with = FormatBuckets("voice_agent_v2", tenants, Pins(60));
  std::istringstream lines(with);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "TENANT           BUCKET   IN (bucket < 60)");
  const flag::FlagState state{"voice_agent_v2", true, 60, {}, {}};
  int in = 0;
  for (const std::string& tenant : tenants) {
    ASSERT_TRUE(std::getline(lines, line)) << tenant;
    std::istringstream cells(line);
    std::string name, bucket, verdict;
    cells >> name >> bucket >> verdict;
    EXPECT_EQ(name, tenant);
    EXPECT_EQ(bucket, std::to_string(flag::bucket("voice_agent_v2", tenant))) << tenant;
    EXPECT_EQ(verdict, flag::isOn(state, tenant) ? "yes" : "no") << tenant;
    in += verdict == "yes" ? 1 : 0;
  }
  EXPECT_GT(in, 0) << "the sample has tenants on both sides";
  EXPECT_LT(in, 4) << "the sample has tenants on both sides";
}

// The cells of one tenant's row of FormatBuckets.
std::vector<std::string> RowOf(const std::string& table, const std::string& tenant) {
  std::istringstream lines(table);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream cells(line);
    std::vector<std::string> row;
    for (std::string cell; cells >> cell;) row.push_back(cell);
    if (!row.empty() && row.front() == tenant) return row;
  }
  return {};
}

TEST(FormatBuckets, HonoursPinnedTenantsAndSaysSo) {
  // t-out is out at 10 % by its bucket; pinned on, it is in. Pinned off wins over on.
  const std::string flag = "voice_agent_v2";
  std::string out_tenant;
  for (int i = 0; out_tenant.empty(); ++i) {
    if (flag::bucket(flag, "t-" + std::to_string(i)) >= 10) out_tenant = "t-" + std::to_string(i);
  }
  BucketState state = Pins(10, {out_tenant, "t-both"}, {"t-both", "t-vip"});
  const std::string table = FormatBuckets(flag, {out_tenant, "t-both", "t-vip", "t-other"}, state);
  EXPECT_THAT(table, StartsWith("TENANT    BUCKET   PINNED   IN (pinned, else bucket < 10)\n"));
  EXPECT_EQ(RowOf(table, out_tenant),
            (std::vector<std::string>{out_tenant, std::to_string(flag::bucket(flag, out_tenant)),
                                      "on", "yes"}));
  EXPECT_EQ(RowOf(table, "t-both")[2], "off");
  EXPECT_EQ(RowOf(table, "t-both")[3], "no");
  EXPECT_EQ(RowOf(table, "t-vip")[2], "off");
  EXPECT_EQ(RowOf(table, "t-other")[2], "-");
  // Every verdict is the header's.
  const flag::FlagState header{flag, true, 10, state.enabled_tenants, state.disabled_tenants};
  for (const std::string& tenant : {out_tenant, std::string("t-both"), std::string("t-other")}) {
    EXPECT_EQ(RowOf(table, tenant)[3], flag::isOn(header, tenant) ? "yes" : "no") << tenant;
  }
  // Pins without a percentage still say who is pinned.
  EXPECT_EQ(
      RowOf(FormatBuckets(flag, {"t-vip"}, Pins(std::nullopt, {}, {"t-vip"})), "t-vip").back(),
      "off");
  // A disabled flag is off for everyone, pinned or not.
  state.enabled = false;
  state.source = "flag voice_agent_v2 in ConfigMap voice/flags key flags.json: disabled";
  const std::string off = FormatBuckets(flag, {out_tenant}, state);
  EXPECT_THAT(off, StartsWith(state.source + "\nTENANT"));
  EXPECT_THAT(off, HasSubstr("IN (flag disabled)"));
  EXPECT_EQ(RowOf(off, out_tenant).back(), "no");
}

TEST(FormatQueries, RendersEachMetricAsTheOperatorDoes) {
  api::AgentRollout rollout = VoiceAgent();
  ASSERT_FALSE(rollout.spec.analysis.metrics.empty());
  rollout.spec.analysis.metrics.push_back(
      {"broken", "rate(x{a=\"{{nope}}\"}[5m])", false, {}, {}, std::nullopt});
  const std::string phase = rollout.status.current_phase ? rollout.status.current_phase->name
                                                         : rollout.spec.phases.front().name;
  const std::string text = FormatQueries(rollout, At("2026-11-22T11:00:00Z"));
  EXPECT_THAT(text, HasSubstr("Queries (phase " + phase));
  const analysis::TemplateVars vars = analysis::BuildTemplateVars(rollout, phase);
  const api::MetricSpec& first = rollout.spec.analysis.metrics.front();
  auto rendered = analysis::Render(first.query, vars);
  ASSERT_TRUE(rendered.ok()) << rendered.error().ToString();
  EXPECT_NE(*rendered, first.query) << "the sample query uses template variables";
  EXPECT_THAT(text, HasSubstr("  " + first.name));
  EXPECT_THAT(text, HasSubstr("    " + rendered->substr(0, rendered->find('\n'))));
  EXPECT_THAT(text, Not(HasSubstr("{{name}}")));
  EXPECT_THAT(text, HasSubstr("  broken: does not render: "));
  EXPECT_THAT(text, HasSubstr("{{nope}}"));

  rollout.spec.analysis.metrics.clear();
  EXPECT_THAT(FormatQueries(rollout, At("2026-11-22T11:00:00Z")), HasSubstr("none (no metrics"));
}

TEST(FormatQueries, RendersEachComparisonForBothVersionsWithTheWindowSoFar) {
  api::AgentRollout rollout = VoiceAgent();
  rollout.spec.analysis.metrics.clear();
  rollout.spec.analysis.comparisons = {
      api::ComparisonSpec{"errors-vs-stable", R"(sum(increase(e{v="{{version}}"}[{{window}}])))",
                          R"(sum(increase(t{v="{{version}}"}[{{window}}])))",
                          api::Threshold{api::CompareOp::kLess, 0.005},
                          api::Threshold{api::CompareOp::kGreater, 0.02}, 0.95, 100}};
  // The example's phase started 60m before.
  const std::string text = FormatQueries(rollout, At("2026-11-22T11:00:00Z"));
  EXPECT_THAT(text, HasSubstr("  errors-vs-stable (events, canary \"voice-agent-v2\"):\n"
                              "    sum(increase(e{v=\"voice-agent-v2\"}[3600s]))\n"));
  EXPECT_THAT(text, HasSubstr("  errors-vs-stable (total, stable \"voice-agent-v1\"):\n"
                              "    sum(increase(t{v=\"voice-agent-v1\"}[3600s]))\n"));
}

TEST(CheckAction, FollowsTheOperatorsRules) {
  using P = api::RolloutPhase;
  struct Case {
    Action action;
    api::AgentRollout rollout;
    std::string error;  // "" = allowed
  };
  api::AgentRollout spec_paused = WithPhase(P::kProgressing);
  spec_paused.spec.paused = true;
  const std::vector<Case> cases = {
      {Action::kPromote, WithPhase(P::kProgressing), ""},
      {Action::kPromote, WithPhase(P::kAwaitingApproval), ""},
      {Action::kPromote, WithPhase(P::kPaused, "SteppedBack"), ""},
      {Action::kPromote, WithPhase(P::kNone), ""},
      {Action::kPromote, WithPhase(P::kSucceeded),
       "cannot promote voice/voice-agent-v2: nothing to promote while it is Succeeded"},
      {Action::kPromote, WithPhase(P::kRolledBack),
       "cannot promote voice/voice-agent-v2: nothing to promote while it is RolledBack"},
      {Action::kAbort, WithPhase(P::kProgressing), ""},
      {Action::kAbort, WithPhase(P::kSucceeded), ""},
      {Action::kAbort, WithPhase(P::kRolledBack),
       "cannot abort voice/voice-agent-v2: it is already RolledBack; `retry` starts it again"},
      {Action::kAbort, WithPhase(P::kRollingBack),
       "cannot abort voice/voice-agent-v2: it is already rolling back fully"},
      {Action::kPause, WithPhase(P::kProgressing), ""},
      {Action::kPause, WithPhase(P::kPaused, "PauseAction"),
       "cannot pause voice/voice-agent-v2: it is already paused (PauseAction)"},
      {Action::kPause, WithPhase(P::kSucceeded),
       "cannot pause voice/voice-agent-v2: nothing to pause while it is Succeeded"},
      {Action::kResume, WithPhase(P::kPaused, "SteppedBack"), ""},
      {Action::kResume, WithPhase(P::kProgressing),
       "cannot resume voice/voice-agent-v2: it is not paused (it is Progressing)"},
      {Action::kResume, spec_paused,
       "cannot resume voice/voice-agent-v2: it is paused by spec.paused; set spec.paused to "
       "false to resume"},
      {Action::kRetry, WithPhase(P::kRolledBack), ""},
      {Action::kRetry, WithPhase(P::kProgressing),
       "cannot retry voice/voice-agent-v2: retry restarts a RolledBack rollout, and it is "
       "Progressing"},
      {Action::kRetry, WithPhase(P::kSucceeded),
       "cannot retry voice/voice-agent-v2: retry restarts a RolledBack rollout, and it is "
       "Succeeded"},
      {Action::kPromote, WithPhase(P::kFailed),
       "cannot promote voice/voice-agent-v2: its spec is invalid (Failed: holding in expansion: "
       "latency-p95-ms 912 is not < 800 (go); 3h12m of bake left); fix the spec first"},
  };
  for (const Case& c : cases) {
    const Status status = CheckAction(c.action, c.rollout);
    const std::string context =
        std::string(ActionName(c.action)) + " in " + std::string(api::Name(c.rollout.status.phase));
    if (c.error.empty()) {
      EXPECT_TRUE(status.ok()) << context << ": " << status.error().ToString();
    } else {
      ASSERT_FALSE(status.ok()) << context;
      EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition) << context;
      EXPECT_EQ(status.error().message(), c.error) << context;
    }
  }
}

TEST(ActionPatch, SetsTheAnnotation) {
  EXPECT_EQ(
      ActionPatch(Action::kRetry),
      json::parse(R"({"metadata":{"annotations":{"rollouts.agentops.dev/action":"retry"}}})"));
}

class PluginCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override { client_.EnableStatusSubresource(kAgentRollouts); }

  json Create(const std::string& ns, const std::string& name, const json& status = nullptr) {
    json object = api::testing::VoiceAgentManifest();
    object["metadata"] = {{"name", name}};
    object.erase("status");
    auto created = client_.Create(kAgentRollouts, ns, object);
    EXPECT_TRUE(created.ok()) << created.error().ToString();
    if (status.is_null() || !created.ok()) return created.ok() ? *created : json();
    json with_status = *created;
    with_status["status"] = status;
    auto updated = client_.UpdateStatus(kAgentRollouts, ns, with_status);
    EXPECT_TRUE(updated.ok()) << updated.error().ToString();
    return updated.ok() ? *updated : json();
  }

  kube::FakeClient client_;
};

TEST_F(PluginCommandsTest, ListsOneNamespaceOrAllSorted) {
  Create("voice", "b");
  Create("voice", "a");
  Create("chat", "c");
  auto voice = ListRollouts(client_, "voice");
  ASSERT_TRUE(voice.ok()) << voice.error().ToString();
  ASSERT_EQ(voice->size(), 2u);
  EXPECT_EQ((*voice)[0].metadata.name, "a");
  EXPECT_EQ((*voice)[1].metadata.name, "b");
  auto all = ListRollouts(client_, "");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].metadata.namespace_, "chat");
}

TEST_F(PluginCommandsTest, ShowsObjectsWhoseSpecDoesNotDecode) {
  Create("voice", "broken", {{"phase", "Failed"}, {"message", "invalid spec"}});
  json object = *client_.Get(kAgentRollouts, "voice", "broken");
  object["spec"]["phases"][0]["flagPercent"] = 140;
  ASSERT_TRUE(client_.Update(kAgentRollouts, "voice", object).ok());
  auto rollout = GetRollout(client_, "voice", "broken");
  ASSERT_TRUE(rollout.ok()) << rollout.error().ToString();
  EXPECT_EQ(rollout->status.phase, api::RolloutPhase::kFailed);
  EXPECT_THAT(FormatStatus(*rollout, At("2026-11-22T11:00:00Z")), HasSubstr("Step:       -\n"));
}

TEST_F(PluginCommandsTest, BucketStateComesFromTheRolloutsConfigMap) {
  Create("voice", "voice-agent-v2");
  const api::AgentRollout rollout = *GetRollout(client_, "voice", "voice-agent-v2");
  ASSERT_TRUE(rollout.spec.flag && rollout.spec.flag->config_map);
  const std::string key = rollout.spec.flag->key;
  const api::ConfigMapFlagStore& store = *rollout.spec.flag->config_map;

  // Not written yet: every tenant is off.
  auto state = BucketStateOfRollout(client_, "voice", "voice-agent-v2", key);
  ASSERT_TRUE(state.ok()) << state.error().ToString();
  EXPECT_FALSE(state->enabled);
  EXPECT_THAT(state->source, HasSubstr("no entry in ConfigMap voice/" + store.name));

  json entry = {{"enabled", true},
                {"percentage", 10},
                {"enabledTenants", {"t-internal-1"}},
                {"disabledTenants", {"t-vip-bank"}}};
  json configmap = {{"apiVersion", "v1"},
                    {"kind", "ConfigMap"},
                    {"metadata", {{"name", store.name}}},
                    {"data", {{store.key, json{{key, entry}}.dump()}}}};
  ASSERT_TRUE(client_.Create(kube::kConfigMaps, "voice", configmap).ok());
  state = BucketStateOfRollout(client_, "voice", "voice-agent-v2", key);
  ASSERT_TRUE(state.ok()) << state.error().ToString();
  EXPECT_TRUE(state->enabled);
  EXPECT_EQ(state->percent, 10);
  EXPECT_EQ(state->enabled_tenants, std::vector<std::string>{"t-internal-1"});
  EXPECT_EQ(state->disabled_tenants, std::vector<std::string>{"t-vip-bank"});
  EXPECT_EQ(state->source, "flag " + key + " in ConfigMap voice/" + store.name + " key " +
                               store.key + ": enabled at 10%, 1 pinned on, 1 pinned off");

  auto other = BucketStateOfRollout(client_, "voice", "voice-agent-v2", "other_flag");
  ASSERT_FALSE(other.ok());
  EXPECT_THAT(other.error().message(),
              HasSubstr("voice/voice-agent-v2 switches flag \"" + key + "\", not \"other_flag\""));
}

TEST_F(PluginCommandsTest, UnknownRolloutIsNamed) {
  auto rollout = GetRollout(client_, "voice", "nope");
  ASSERT_FALSE(rollout.ok());
  EXPECT_EQ(rollout.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(rollout.error().message(), "agentrollout \"nope\" not found in namespace \"voice\"");
  auto action = RequestAction(client_, "voice", "nope", Action::kPromote);
  ASSERT_FALSE(action.ok());
  EXPECT_EQ(action.error().message(), "agentrollout \"nope\" not found in namespace \"voice\"");
}

TEST_F(PluginCommandsTest, RequestActionSetsTheAnnotationOnlyWhenValid) {
  Create("voice", "v2", {{"phase", "Progressing"}});
  auto done = RequestAction(client_, "voice", "v2", Action::kPromote);
  ASSERT_TRUE(done.ok()) << done.error().ToString();
  EXPECT_THAT(*done, HasSubstr("voice/v2: promote requested"));
  json object = *client_.Get(kAgentRollouts, "voice", "v2");
  EXPECT_EQ(object["metadata"]["annotations"][api::kActionAnnotation], "promote");

  auto refused = RequestAction(client_, "voice", "v2", Action::kRetry);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kFailedPrecondition);
  object = *client_.Get(kAgentRollouts, "voice", "v2");
  EXPECT_EQ(object["metadata"]["annotations"][api::kActionAnnotation], "promote")
      << "a refused action writes nothing";
}

TEST_F(PluginCommandsTest, WatchReportsChangesUntilStopped) {
  Create("voice", "v2", {{"phase", "Progressing"}});
  WatchStop stop;
  std::mutex mu;
  std::vector<std::vector<api::AgentRollout>> seen;
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return seen.size();
  };
  auto watching = std::async(std::launch::async, [&] {
    return WatchRollouts(client_, "voice", "v2", stop,
                         [&](const std::vector<api::AgentRollout>& rollouts) {
                           std::lock_guard<std::mutex> lock(mu);
                           seen.push_back(rollouts);
                         });
  });
  auto wait_for = [&](std::size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (count() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return count() >= n;
  };
  ASSERT_TRUE(wait_for(1));
  Create("voice", "other");  // filtered out by name
  kube::PatchOptions status;
  status.subresource = "status";
  ASSERT_TRUE(client_
                  .Patch(kAgentRollouts, "voice", "v2", kube::PatchType::kMerge,
                         {{"status", {{"phase", "Succeeded"}}}}, status)
                  .ok());
  ASSERT_TRUE(wait_for(2));
  ASSERT_TRUE(client_.Delete(kAgentRollouts, "voice", "v2").ok());
  ASSERT_TRUE(wait_for(3));
  EXPECT_TRUE(stop.Stop()) << "a watch was running";
  ASSERT_EQ(watching.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(watching.get().ok());

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(seen.size(), 3u);
  ASSERT_EQ(seen[0].size(), 1u);
  EXPECT_EQ(seen[0][0].status.phase, api::RolloutPhase::kProgressing);
  ASSERT_EQ(seen[1].size(), 1u);
  EXPECT_EQ(seen[1][0].status.phase, api::RolloutPhase::kSucceeded);
  EXPECT_TRUE(seen[2].empty()) << "deleted";
}

TEST(ObjectKey, NamesObjectsAndSkipsThoseWithoutMetadata) {
  EXPECT_EQ(ObjectKey({{"metadata", {{"namespace", "voice"}, {"name", "v2"}}}}), "voice/v2");
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", "cluster-wide"}}}}), "/cluster-wide");
  EXPECT_EQ(ObjectKey({{"metadata", {{"name", "a"}, {"namespace", 3}}}}), "/a");
  for (const json& broken : {json::object(), json::array(), json("x"), json{{"metadata", 5}},
                             json{{"metadata", json::object()}}, json{{"metadata", {{"name", 7}}}},
                             json{{"metadata", {{"name", ""}, {"namespace", "voice"}}}}}) {
    EXPECT_EQ(ObjectKey(broken), std::nullopt) << broken.dump();
  }
}

TEST(WatchStop, StopBeforeAnyWatchSaysSo) {
  WatchStop stop;
  EXPECT_FALSE(stop.Stop());
  EXPECT_TRUE(stop.stopped());
  kube::FakeClient client;
  int calls = 0;
  EXPECT_TRUE(WatchRollouts(client, "", "", stop, [&](const auto&) { ++calls; }).ok());
  EXPECT_EQ(calls, 0) << "a stopped watch does not start";
}

}  // namespace
}  // namespace agentrollout::plugin
