#include "tests/chaos/invariants.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/codec.h"

namespace agentrollout::chaos {
namespace {

using api::RolloutPhase;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const api::Timestamp kT0 = api::Timestamp(std::chrono::seconds(1'800'000'000));

RolloutPlan Plan() {
  return {"r", "r_flag", "flags", "route", "stable", "canary", {{10, 10}, {50, 50}, {100, 100}}};
}

// Replays writes in commit order, numbering resourceVersions.
class History {
 public:
  History()
      : checker_({Plan()}, {{"flags", {{{"other.txt", "keep"}}, {{"theirs", {{"on", 1}}}}}}}) {}

  void Status(RolloutPhase phase, int index, int started_s, std::optional<int> evaluated_s) {
    api::AgentRolloutStatus status;
    status.phase = phase;
    api::CurrentPhaseStatus current;
    current.index = index;
    current.name = "p" + std::to_string(index);
    current.started_at = kT0 + std::chrono::seconds(started_s);
    status.current_phase = current;
    if (evaluated_s) status.analysis.last_evaluated = kT0 + std::chrono::seconds(*evaluated_s);
    checker_.OnRollout({{"metadata", Meta("r")}, {"status", api::EncodeStatus(status)}});
  }
  void Route(int canary) {
    checker_.OnRoute({{"metadata", Meta("route")},
                      {"spec",
                       {{"rules",
                         {{{"backendRefs",
                            {{{"name", "stable"}, {"weight", 100 - canary}},
                             {{"name", "canary"}, {"weight", canary}}}}}}}}}});
  }
  void Flag(int percent, bool enabled = true, bool keep_theirs = true) {
    json flags = {{"r_flag", {{"percentage", percent}, {"enabled", enabled}}}};
    if (keep_theirs) flags["theirs"] = {{"on", 1}};
    checker_.OnConfigMap({{"metadata", Meta("flags")},
                          {"data", {{"flags.json", flags.dump()}, {"other.txt", "keep"}}}});
  }
  const std::vector<std::string>& violations() const { return checker_.violations(); }

 private:
  json Meta(const std::string& name) {
    return {{"name", name}, {"resourceVersion", std::to_string(++rv_)}};
  }
  InvariantChecker checker_;
  int rv_ = 100;
};

TEST(InvariantCheckerTest, AStartThenAdvancesWrittenFlagTrafficStatusAreClean) {
  History h;
  h.Flag(10);  // start: flag and traffic of phase 0 before any status
  h.Route(10);
  h.Status(RolloutPhase::kProgressing, 0, 0, std::nullopt);
  h.Status(RolloutPhase::kProgressing, 0, 0, 2);
  h.Flag(50);  // advance in flight: the next phase's values out, status still in phase 0
  h.Route(50);
  h.Status(RolloutPhase::kProgressing, 1, 3, 2);
  h.Status(RolloutPhase::kProgressing, 1, 3, 5);
  h.Flag(100);
  h.Route(100);
  h.Status(RolloutPhase::kProgressing, 2, 6, 5);
  h.Status(RolloutPhase::kSucceeded, 2, 6, 8);
  EXPECT_THAT(h.violations(), IsEmpty());
}

TEST(InvariantCheckerTest, TotalRollbackTakingFlagAndTrafficDownFirstIsClean) {
  History h;
  h.Flag(10);
  h.Route(10);
  h.Status(RolloutPhase::kProgressing, 0, 0, 2);
  h.Flag(50);  // an advance cut short by a crash before its status write ...
  h.Route(50);
  h.Status(RolloutPhase::kRollingBack, 0, 0, 3);  // ... then a rollback whose route write failed
  h.Flag(0, false);
  h.Route(0);
  h.Status(RolloutPhase::kRolledBack, 0, 0, 3);
  EXPECT_THAT(h.violations(), IsEmpty());
}

TEST(InvariantCheckerTest, TrafficAboveTheNextPhaseIsCaught) {
  History h;
  h.Flag(10);
  h.Route(10);
  h.Status(RolloutPhase::kProgressing, 0, 0, std::nullopt);
  h.Route(100);
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("canary weight 100 above the bound 50")));
}

TEST(InvariantCheckerTest, TrafficRaisedWhileHeldIsCaught) {
  History h;
  h.Flag(10);
  h.Route(10);
  h.Status(RolloutPhase::kPaused, 0, 0, 2);
  h.Flag(50);
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("flag at 50 % above the bound 10")));
}

TEST(InvariantCheckerTest, RolledBackBeforeTrafficWentDownIsCaught) {
  History h;
  h.Flag(10);
  h.Route(10);
  h.Status(RolloutPhase::kProgressing, 0, 0, 2);
  h.Flag(0, false);
  h.Status(RolloutPhase::kRolledBack, 0, 0, 3);
  EXPECT_THAT(h.violations(),
              ElementsAre(HasSubstr("canary weight 10 above the bound 0 when status became "
                                    "RolledBack")));
}

TEST(InvariantCheckerTest, ARollingBackRolloutRaisingTrafficIsCaught) {
  History h;
  h.Flag(10);
  h.Route(10);
  h.Status(RolloutPhase::kRollingBack, 0, 0, 2);
  h.Route(50);
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("above the bound 10")));
}

TEST(InvariantCheckerTest, ADoubleAdvanceIsCaught) {
  History h;
  h.Status(RolloutPhase::kProgressing, 0, 0, 2);
  h.Status(RolloutPhase::kProgressing, 2, 4, 3);
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("double advance: phase index 0 -> 2")));
}

TEST(InvariantCheckerTest, AnAdvanceWithoutAnEvaluationInThePhaseIsCaught) {
  History h;
  h.Status(RolloutPhase::kProgressing, 0, 0, 2);
  h.Status(RolloutPhase::kProgressing, 1, 3, 2);  // fine: evaluated at 2 > 0
  h.Status(RolloutPhase::kProgressing, 2, 6, 3);  // evaluated at 3, phase 1 began at 3
  h.Status(RolloutPhase::kSucceeded, 2, 6, 5);    // evaluated at 5, phase 2 began at 6
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("left phase p1 without an evaluation"),
                                          HasSubstr("left phase p2 without an evaluation")));
}

TEST(InvariantCheckerTest, AFirstPhaseOtherThanZeroIsCaught) {
  History h;
  h.Status(RolloutPhase::kProgressing, 1, 0, 2);
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("first phase seen is index 1")));
}

TEST(InvariantCheckerTest, LostEntriesAndOthersContentAreCaught) {
  History h;
  h.Flag(10);
  h.Flag(10, true, false);  // someone else's flag gone
  EXPECT_THAT(h.violations(), ElementsAre(HasSubstr("flag theirs of someone else lost")));
}

TEST(InvariantCheckerTest, ARolloutsEntryVanishingIsCaught) {
  InvariantChecker checker({Plan()}, {});
  checker.OnConfigMap(
      {{"metadata", {{"name", "flags"}, {"resourceVersion", "1"}}},
       {"data", {{"flags.json", R"({"r_flag":{"percentage":10,"enabled":true}})"}}}});
  checker.OnConfigMap({{"metadata", {{"name", "flags"}, {"resourceVersion", "2"}}},
                       {"data", {{"flags.json", "{}"}}}});
  checker.OnConfigMap({{"metadata", {{"name", "flags"}, {"resourceVersion", "3"}}},
                       {"data", {{"flags.json", "{\"r_flag\":"}}}});
  EXPECT_THAT(checker.violations(),
              ElementsAre(HasSubstr("rv 2, r: flag entry r_flag lost"),
                          HasSubstr("rv 3, ConfigMap flags: flags.json is not a JSON object")));
}

}  // namespace
}  // namespace agentrollout::chaos
