// The body builders of the notification kinds (channel.h), without a network.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/time.h"
#include "controllers/notify/alertmanager_channel.h"
#include "controllers/notify/pagerduty_channel.h"
#include "controllers/notify/slack_channel.h"
#include "controllers/notify/webhook_channel.h"

namespace agentrollout::controllers {
namespace {

using api::EventReason;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

api::Timestamp At(const char* text) { return *api::ParseTime(text); }

Notification Event(EventReason reason) {
  Notification n;
  n.namespace_ = "voice";
  n.name = "voice-agent-v2";
  n.reason = reason;
  n.at = At("2026-12-06T10:00:00Z");
  n.text = "rolled back in majority: error-rate 0.071 is > 0.05 (noGo)";
  n.rollout = {{"namespace", "voice"},  {"name", "voice-agent-v2"}, {"revision", "2.0.0"},
               {"phase", "RolledBack"}, {"step", "majority"},       {"flagPercent", 0},
               {"trafficWeight", 0},    {"verdict", "NoGo"},        {"reason", "RolledBack"}};
  n.metric = DecidingMetric{"error-rate", "0.071", "> 0.05"};
  return n;
}

api::NotificationSpec Target(std::vector<EventReason> events = {}) {
  api::NotificationSpec target;
  target.url = "https://receiver.example/x";
  target.events = std::move(events);
  return target;
}

// ---------------------------------------------------------------- shared

TEST(JoinPath, AppendsUnderTheReceiversPathKeepingItsQuery) {
  EXPECT_EQ(JoinPath("/", "/api/v2/alerts"), "/api/v2/alerts");
  EXPECT_EQ(JoinPath("", "/api/v2/alerts"), "/api/v2/alerts");
  EXPECT_EQ(JoinPath("/am/", "/api/v2/alerts"), "/am/api/v2/alerts");
  EXPECT_EQ(JoinPath("/am?tenant=a", "/api/v2/alerts"), "/am/api/v2/alerts?tenant=a");
}

TEST(FieldsOf, EveryTargetGetsTheSameFields) {
  const RolloutFields f = FieldsOf(Event(EventReason::kRolledBack));
  EXPECT_EQ(f.namespace_, "voice");
  EXPECT_EQ(f.name, "voice-agent-v2");
  EXPECT_EQ(f.revision, "2.0.0");
  EXPECT_EQ(f.phase, "RolledBack");
  EXPECT_EQ(f.step, "majority");
  EXPECT_EQ(f.flag_percent, 0);
  EXPECT_EQ(f.verdict, "NoGo");
  EXPECT_EQ(f.reason, "RolledBack");
  EXPECT_EQ(f.message, "rolled back in majority: error-rate 0.071 is > 0.05 (noGo)");
  Notification hostile = Event(EventReason::kRolledBack);
  hostile.text = "line one\nline two\x01" + std::string(5000, 'x');
  const RolloutFields cleaned = FieldsOf(hostile);
  EXPECT_THAT(cleaned.message, Not(HasSubstr("\n")));
  EXPECT_LE(cleaned.message.size(), 1024u + 3) << "an Event message: 1 KiB and \"...\"";
}

TEST(AlertActionOf, OpensOnRollbacksAndNoGoAndResolvesWhenTheRolloutMovesOn) {
  const api::NotificationSpec all = Target();
  EXPECT_EQ(AlertActionOf(Event(EventReason::kRollingBack), all), AlertAction::kOpen);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kRolledBack), all), AlertAction::kOpen);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kAnalysisNoGo), all), AlertAction::kOpen);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kSucceeded), all), AlertAction::kResolveAll);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kPhaseAdvanced), all), AlertAction::kResolveNoGo);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kPhaseStarted), all), AlertAction::kNone)
      << "a first start has nothing to resolve";
  Notification retry = Event(EventReason::kPhaseStarted);
  retry.previous_revision = "2.0.0";
  EXPECT_EQ(AlertActionOf(retry, all), AlertAction::kResolveAll);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kAwaitingApproval), all), AlertAction::kNone);
  // `events` chooses what opens; a target that may open gets the resolves.
  const api::NotificationSpec rolled_back = Target({EventReason::kRolledBack});
  EXPECT_EQ(AlertActionOf(Event(EventReason::kAnalysisNoGo), rolled_back), AlertAction::kNone);
  EXPECT_EQ(AlertActionOf(Event(EventReason::kSucceeded), rolled_back), AlertAction::kResolveAll);
  const api::NotificationSpec approvals = Target({EventReason::kAwaitingApproval});
  EXPECT_EQ(AlertActionOf(Event(EventReason::kSucceeded), approvals), AlertAction::kNone);
}

// ---------------------------------------------------------------- slack

TEST(SlackBody, ShowsPhaseVerdictAndTheDecidingMetric) {
  const json body = SlackBody(Event(EventReason::kRolledBack));
  EXPECT_EQ(body["text"],
            "voice/voice-agent-v2: rolled back in majority: error-rate 0.071 is &gt; 0.05 (noGo)");
  const json& blocks = body["blocks"];
  ASSERT_EQ(blocks.size(), 4u);
  EXPECT_EQ(blocks[0]["type"], "section");
  EXPECT_EQ(blocks[0]["text"]["type"], "mrkdwn");
  EXPECT_EQ(blocks[0]["text"]["text"],
            "*voice/voice-agent-v2* RolledBack\nrolled back in majority: error-rate 0.071 is "
            "&gt; 0.05 (noGo)");
  std::vector<std::string> fields;
  for (const json& field : blocks[1]["fields"]) fields.push_back(field["text"]);
  EXPECT_THAT(fields, ElementsAre("*Phase*\nRolledBack", "*Step*\nmajority", "*Flag*\n0%",
                                  "*Weight*\n0%", "*Verdict*\nNoGo", "*Revision*\n2.0.0"));
  EXPECT_EQ(blocks[2]["text"]["text"],
            "*Deciding metric* `error-rate` = `0.071`, line `&gt; 0.05`");
  EXPECT_EQ(blocks[3]["type"], "context");
  EXPECT_EQ(blocks[3]["elements"][0]["text"],
            "AgentRollout voice/voice-agent-v2 | reason RolledBack");
}

TEST(SlackBody, WithoutADecidingMetricHasNoMetricBlock) {
  Notification n = Event(EventReason::kPhaseAdvanced);
  n.metric.reset();
  n.rollout["verdict"] = "";
  const json body = SlackBody(n);
  ASSERT_EQ(body["blocks"].size(), 3u);
  EXPECT_EQ(body["blocks"][1]["fields"][4]["text"], "*Verdict*\n-");
}

TEST(SlackEscape, EscapesControlCharactersAndNeverCutsAnEscape) {
  EXPECT_EQ(SlackEscape("<@U123> & <!channel>", 100), "&lt;@U123&gt; &amp; &lt;!channel&gt;");
  EXPECT_EQ(SlackEscape("ab&", 5), "ab");  // "ab&am" would end inside "&amp;"
  EXPECT_EQ(SlackEscape("ab&", 7), "ab&amp;");
  EXPECT_EQ(SlackEscape("\xc3\xa9\xc3\xa9", 3), "\xc3\xa9");  // never half a character
  EXPECT_EQ(SlackEscape(std::string(4000, '<'), kSlackMaxTextChars).size(), 3000u);
}

TEST(SlackChannel, TellsOnlySubscribedTargets) {
  SlackChannel slack;
  EXPECT_TRUE(slack.Message(Event(EventReason::kRolledBack), Target()));
  EXPECT_FALSE(slack.Message(Event(EventReason::kRolledBack), Target({EventReason::kSucceeded})));
}

// ---------------------------------------------------------------- webhook

TEST(WebhookChannel, PostsTheGenericBodyWithTheMetric) {
  const auto body = WebhookChannel().Message(Event(EventReason::kRolledBack), Target());
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["text"], "rolled back in majority: error-rate 0.071 is > 0.05 (noGo)");
  EXPECT_EQ((*body)["rollout"]["revision"], "2.0.0");
  EXPECT_EQ((*body)["rollout"]["metric"],
            json({{"name", "error-rate"}, {"value", "0.071"}, {"line", "> 0.05"}}));
}

// ---------------------------------------------------------------- pagerduty

TEST(PagerDutyEvent, RollbacksTriggerCritical) {
  for (EventReason reason : {EventReason::kRollingBack, EventReason::kRolledBack}) {
    const auto event = PagerDutyEvent(Event(reason), Target());
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event_action"], "trigger");
    EXPECT_EQ((*event)["dedup_key"], "voice/voice-agent-v2/2.0.0");
    EXPECT_FALSE(event->contains("routing_key")) << "added per attempt from the Secret";
    const json& payload = (*event)["payload"];
    EXPECT_EQ(payload["severity"], "critical");
    EXPECT_EQ(payload["source"], "voice/voice-agent-v2");
    EXPECT_EQ(payload["summary"],
              "voice/voice-agent-v2: rolled back in majority: error-rate 0.071 is > 0.05 (noGo)");
    EXPECT_EQ(payload["timestamp"], "2026-12-06T10:00:00Z");
    EXPECT_EQ(payload["custom_details"]["metric"], "error-rate");
    EXPECT_EQ(payload["custom_details"]["line"], "> 0.05");
    EXPECT_EQ(payload["custom_details"]["flagPercent"], 0);
    EXPECT_EQ(payload["custom_details"]["step"], "majority");
  }
}

TEST(PagerDutyEvent, NoGoTriggersWarning) {
  const auto event = PagerDutyEvent(Event(EventReason::kAnalysisNoGo), Target());
  ASSERT_TRUE(event);
  EXPECT_EQ((*event)["payload"]["severity"], "warning");
  EXPECT_EQ((*event)["dedup_key"], "voice/voice-agent-v2/2.0.0");
}

TEST(PagerDutyEvent, SuccessAndRetryResolve) {
  const auto succeeded = PagerDutyEvent(Event(EventReason::kSucceeded), Target());
  ASSERT_TRUE(succeeded);
  EXPECT_EQ(*succeeded,
            json({{"event_action", "resolve"}, {"dedup_key", "voice/voice-agent-v2/2.0.0"}}));

  Notification retry = Event(EventReason::kPhaseStarted);
  retry.previous_revision = "2.0.0";
  EXPECT_EQ(PagerDutyEvent(retry, Target()),
            json({{"event_action", "resolve"}, {"dedup_key", "voice/voice-agent-v2/2.0.0"}}));
  Notification next = Event(EventReason::kPhaseStarted);
  next.rollout["revision"] = "2.0.1";
  next.previous_revision = "2.0.0";  // the earlier revision's alert is resolved
  EXPECT_EQ((*PagerDutyEvent(next, Target()))["dedup_key"], "voice/voice-agent-v2/2.0.0");
  // A first start has nothing to resolve; other reasons page nobody.
  EXPECT_EQ(PagerDutyEvent(Event(EventReason::kPhaseStarted), Target()), std::nullopt);
  EXPECT_EQ(PagerDutyEvent(Event(EventReason::kPhaseAdvanced), Target()), std::nullopt);
  EXPECT_EQ(PagerDutyEvent(Event(EventReason::kAnalysisHold), Target()), std::nullopt);
}

TEST(PagerDutyEvent, EventsChooseTriggersAndATriggeringTargetGetsResolves) {
  const api::NotificationSpec rolled_back = Target({EventReason::kRolledBack});
  EXPECT_TRUE(PagerDutyEvent(Event(EventReason::kRolledBack), rolled_back));
  EXPECT_FALSE(PagerDutyEvent(Event(EventReason::kAnalysisNoGo), rolled_back));
  EXPECT_TRUE(PagerDutyEvent(Event(EventReason::kSucceeded), rolled_back));
  const api::NotificationSpec advances = Target({EventReason::kPhaseAdvanced});
  EXPECT_FALSE(PagerDutyEvent(Event(EventReason::kSucceeded), advances));
  EXPECT_FALSE(PagerDutyEvent(Event(EventReason::kRolledBack), advances));
}

TEST(PagerDutyDedupKey, IsBoundedAndStable) {
  EXPECT_EQ(PagerDutyDedupKey("a", "b", "c"), "a/b/c");
  const std::string long_revision(300, 'r');
  const std::string key = PagerDutyDedupKey("voice", "v2", long_revision);
  EXPECT_EQ(key.size(), kPagerDutyMaxDedupKey);
  EXPECT_EQ(key, PagerDutyDedupKey("voice", "v2", long_revision));
  EXPECT_NE(key, PagerDutyDedupKey("voice", "v2", long_revision + "x"));
  EXPECT_EQ(key.substr(0, 9), "voice/v2/");
}

TEST(PagerDutyChannel, AddsTheRoutingKeyToTheBodyOnly) {
  const auto event = PagerDutyEvent(Event(EventReason::kRolledBack), Target());
  std::vector<http::Request> sent;
  const SendRequest send = [&](http::Request request) -> Result<http::Response> {
    sent.push_back(request);
    return http::Response{202, {}, R"({"status":"success"})"};
  };
  auto answer = PagerDutyChannel().Deliver(*event, {"R0UT1NG"}, "/v2/enqueue", send);
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].method, "POST");
  EXPECT_EQ(sent[0].target, "/v2/enqueue");
  EXPECT_EQ(json::parse(sent[0].body)["routing_key"], "R0UT1NG");
  auto empty = PagerDutyChannel().Deliver(*event, {""}, "/v2/enqueue", send);
  EXPECT_FALSE(empty.ok());
  EXPECT_EQ(sent.size(), 1u);
}

// ---------------------------------------------------------------- alertmanager

TEST(AlertmanagerMessage, RollbackFiresWithTheLabelsTeamsRouteOn) {
  const auto message = AlertmanagerMessage(Event(EventReason::kRolledBack), Target());
  ASSERT_TRUE(message);
  ASSERT_EQ((*message)["alerts"].size(), 1u);
  const json& alert = (*message)["alerts"][0];
  EXPECT_EQ(alert["labels"], json({{"alertname", "AgentRolloutRolledBack"},
                                   {"severity", "critical"},
                                   {"namespace", "voice"},
                                   {"rollout", "voice-agent-v2"},
                                   {"revision", "2.0.0"},
                                   {"phase", "majority"},
                                   {"metric", "error-rate"}}));
  EXPECT_EQ(alert["annotations"]["summary"],
            "rolled back in majority: error-rate 0.071 is > 0.05 (noGo)");
  EXPECT_EQ(alert["annotations"]["rolloutPhase"], "RolledBack");
  EXPECT_EQ(alert["annotations"]["line"], "> 0.05");
  EXPECT_EQ(alert["startsAt"], "2026-12-06T10:00:00Z");
  EXPECT_EQ(alert["endsAt"], "2026-12-07T10:00:00Z");
}

TEST(AlertmanagerMessage, NoGoFiresForFourIntervalsAtLeastFiveMinutes) {
  Notification n = Event(EventReason::kAnalysisNoGo);
  n.analysis_interval = std::chrono::minutes(10);
  json alert = (*AlertmanagerMessage(n, Target()))["alerts"][0];
  EXPECT_EQ(alert["labels"]["alertname"], "AgentRolloutNoGo");
  EXPECT_EQ(alert["labels"]["severity"], "warning");
  EXPECT_EQ(alert["endsAt"], "2026-12-06T10:40:00Z");
  n.analysis_interval = std::chrono::seconds(10);
  alert = (*AlertmanagerMessage(n, Target()))["alerts"][0];
  EXPECT_EQ(alert["endsAt"], "2026-12-06T10:05:00Z");
  n.metric.reset();  // no metric decided: no empty label
  alert = (*AlertmanagerMessage(n, Target()))["alerts"][0];
  EXPECT_FALSE(alert["labels"].contains("metric"));
}

TEST(AlertmanagerMessage, SuccessRetryAndAdvanceResolve) {
  const json all = {{"resolve",
                     {{"alertnames", {"AgentRolloutRolledBack", "AgentRolloutNoGo"}},
                      {"namespace", "voice"},
                      {"rollout", "voice-agent-v2"},
                      {"endsAt", "2026-12-06T10:00:00Z"}}}};
  EXPECT_EQ(AlertmanagerMessage(Event(EventReason::kSucceeded), Target()), all);
  Notification retry = Event(EventReason::kPhaseStarted);
  retry.previous_revision = "2.0.0";
  EXPECT_EQ(AlertmanagerMessage(retry, Target()), all);
  EXPECT_EQ(AlertmanagerMessage(Event(EventReason::kPhaseStarted), Target()), std::nullopt);
  const auto advanced = AlertmanagerMessage(Event(EventReason::kPhaseAdvanced), Target());
  ASSERT_TRUE(advanced);
  EXPECT_EQ((*advanced)["resolve"]["alertnames"], json({"AgentRolloutNoGo"}));
  EXPECT_EQ(AlertmanagerMessage(Event(EventReason::kAwaitingApproval), Target()), std::nullopt);
  // A target listing only other reasons is not told; one that may fire gets the resolves.
  EXPECT_FALSE(AlertmanagerMessage(Event(EventReason::kSucceeded),
                                   Target({EventReason::kAwaitingApproval})));
  EXPECT_TRUE(
      AlertmanagerMessage(Event(EventReason::kSucceeded), Target({EventReason::kRolledBack})));
}

TEST(AlertmanagerQuery, QuotesAndEncodesTheMatchers) {
  const json resolve = {{"alertnames", {"AgentRolloutRolledBack", "AgentRolloutNoGo"}},
                        {"namespace", "voice"},
                        {"rollout", "a\"b"}};
  EXPECT_EQ(AlertmanagerQuery("/", resolve),
            "/api/v2/alerts?active=true&silenced=true&inhibited=true&unprocessed=true"
            "&filter=alertname%3D~%22AgentRolloutRolledBack%7CAgentRolloutNoGo%22"
            "&filter=namespace%3D%22voice%22&filter=rollout%3D%22a%5C%22b%22");
  EXPECT_THAT(AlertmanagerQuery("/am?x=1", resolve), HasSubstr("/am/api/v2/alerts?x=1&active="));
}

TEST(AlertmanagerChannel, ResolvePostsBackTheFiringAlertsOfTheRolloutWithEndsAt) {
  const auto message = AlertmanagerMessage(Event(EventReason::kSucceeded), Target());
  const json listed = json::array(
      {{{"labels",
         {{"alertname", "AgentRolloutRolledBack"},
          {"namespace", "voice"},
          {"rollout", "voice-agent-v2"},
          {"revision", "1.9.0"},
          {"phase", "canary"}}},
        {"annotations", {{"summary", "rolled back"}}},
        {"startsAt", "2026-12-06T09:00:00Z"}},
       // Not this rollout's, or not ours: never posted back.
       {{"labels",
         {{"alertname", "AgentRolloutRolledBack"}, {"namespace", "voice"}, {"rollout", "other"}}}},
       {{"labels",
         {{"alertname", "HighLatency"}, {"namespace", "voice"}, {"rollout", "voice-agent-v2"}}}},
       "garbage"});
  std::vector<http::Request> sent;
  const SendRequest send = [&](http::Request request) -> Result<http::Response> {
    sent.push_back(request);
    if (request.method == "GET") return http::Response{200, {}, listed.dump()};
    return http::Response{200, {}, ""};
  };
  auto answer = AlertmanagerChannel().Deliver(*message, {}, "/", send);
  ASSERT_TRUE(answer.ok());
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].method, "GET");
  EXPECT_EQ(sent[1].method, "POST");
  EXPECT_EQ(sent[1].target, "/api/v2/alerts");
  EXPECT_EQ(json::parse(sent[1].body), json::array({{{"labels",
                                                      {{"alertname", "AgentRolloutRolledBack"},
                                                       {"namespace", "voice"},
                                                       {"rollout", "voice-agent-v2"},
                                                       {"revision", "1.9.0"},
                                                       {"phase", "canary"}}},
                                                     {"annotations", {{"summary", "rolled back"}}},
                                                     {"startsAt", "2026-12-06T10:00:00Z"},
                                                     {"endsAt", "2026-12-06T10:00:00Z"}}}));

  // Nothing fires: the GET is the whole attempt. A 5xx is the attempt's answer.
  sent.clear();
  const SendRequest none = [&](http::Request request) -> Result<http::Response> {
    sent.push_back(request);
    return http::Response{request.method == "GET" ? 200 : 500, {}, "[]"};
  };
  answer = AlertmanagerChannel().Deliver(*message, {}, "/", none);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(sent.size(), 1u);
  const SendRequest down = [](http::Request) -> Result<http::Response> {
    return http::Response{503, {}, "down"};
  };
  answer = AlertmanagerChannel().Deliver(*message, {}, "/", down);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->status, 503);
}

TEST(AlertmanagerChannel, FiringPostsTheAlerts) {
  const auto message = AlertmanagerMessage(Event(EventReason::kRolledBack), Target());
  std::vector<http::Request> sent;
  const SendRequest send = [&](http::Request request) -> Result<http::Response> {
    sent.push_back(request);
    return http::Response{200, {}, ""};
  };
  ASSERT_TRUE(AlertmanagerChannel().Deliver(*message, {}, "/alertmanager", send).ok());
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].target, "/alertmanager/api/v2/alerts");
  EXPECT_EQ(json::parse(sent[0].body), (*message)["alerts"]);
}

}  // namespace
}  // namespace agentrollout::controllers
