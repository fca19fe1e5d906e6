// The notifier against local receivers that check what they get the way PagerDuty and
// Slack do, field by field, against the vendors' published schemas (written down below
// with the pages they come from). A receiver answers like the vendor: 2xx when the body
// is valid, 400 with the reasons when not, and keeps the reasons for the test.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "api/names.h"
#include "api/time.h"
#include "common/text.h"
#include "controllers/notify/notify_test_support.h"
#include "controllers/notify/pagerduty_channel.h"
#include "controllers/notify/webhook_notifier.h"
#include "http/test_server.h"
#include "kube/fake_client.h"

namespace agentrollout::controllers {
namespace {

using api::EventReason;
using http::testing::Exchange;
using nlohmann::json;
using notify_testing::Base64;
using notify_testing::Eventually;
using notify_testing::Secret;
using std::chrono::milliseconds;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Not;

// Characters (code points) of UTF-8 text: the vendors' limits count characters.
std::size_t Chars(const std::string& text) {
  std::size_t count = 0;
  for (unsigned char c : text) count += (c & 0xC0) != 0x80;
  return count;
}

bool IsString(const json& object, const char* key) {
  return object.contains(key) && object[key].is_string();
}

// ---------------------------------------------------------------- PagerDuty Events API v2
// https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
// https://developer.pagerduty.com/docs/events-api-v2/resolve-events/
// POST https://events.pagerduty.com/v2/enqueue, Content-Type: application/json; success is
// 202 {"status": "success", "message": "Event processed", "dedup_key": ...}, a bad event 400.
//   routing_key    string, required: the integration key (32 characters)
//   event_action   string, required: trigger | acknowledge | resolve
//   dedup_key      string, at most 255 characters; required for acknowledge and resolve
//   payload        object, required for trigger:
//     summary         string, required, at most 1024 characters
//     source          string, required
//     severity        string, required: critical | error | warning | info
//     timestamp       string, optional, ISO 8601
//     component, group, class   strings, optional
//     custom_details  object, optional
//   images, links  arrays, optional; client, client_url strings, optional
// No other top-level field.
std::vector<std::string> PagerDutyProblems(const json& event) {
  std::vector<std::string> problems;
  if (!event.is_object()) return {"event is not a JSON object"};
  static const std::set<std::string> kTopLevel = {"routing_key", "event_action", "dedup_key",
                                                  "payload",     "images",       "links",
                                                  "client",      "client_url"};
  for (const auto& [key, value] : event.items()) {
    if (!kTopLevel.contains(key)) problems.push_back("unknown field " + key);
  }
  if (!IsString(event, "routing_key") || event["routing_key"].get<std::string>().size() != 32) {
    problems.push_back("routing_key: a 32-character string is required");
  }
  static const std::set<std::string> kActions = {"trigger", "acknowledge", "resolve"};
  const std::string action = IsString(event, "event_action") ? event["event_action"] : "";
  if (!kActions.contains(action)) problems.push_back("event_action: " + event.dump());
  if (event.contains("dedup_key")) {
    if (!IsString(event, "dedup_key") || Chars(event["dedup_key"]) > 255) {
      problems.push_back("dedup_key: a string of at most 255 characters");
    }
  } else if (action != "trigger") {
    problems.push_back("dedup_key: required for " + action);
  }
  if (action == "trigger") {
    if (!event.contains("payload") || !event["payload"].is_object()) {
      problems.push_back("payload: required for trigger");
      return problems;
    }
    const json& payload = event["payload"];
    static const std::set<std::string> kPayload = {"summary",   "source",        "severity",
                                                   "timestamp", "component",     "group",
                                                   "class",     "custom_details"};
    for (const auto& [key, value] : payload.items()) {
      if (!kPayload.contains(key)) problems.push_back("unknown payload field " + key);
    }
    if (!IsString(payload, "summary") || Chars(payload["summary"]) == 0 ||
        Chars(payload["summary"]) > 1024) {
      problems.push_back("payload.summary: 1..1024 characters");
    }
    if (!IsString(payload, "source") || payload["source"].get<std::string>().empty()) {
      problems.push_back("payload.source: required");
    }
    static const std::set<std::string> kSeverities = {"critical", "error", "warning", "info"};
    if (!IsString(payload, "severity") || !kSeverities.contains(payload["severity"])) {
      problems.push_back("payload.severity: one of critical, error, warning, info");
    }
    if (payload.contains("timestamp") &&
        (!IsString(payload, "timestamp") ||
         !api::ParseTime(payload["timestamp"].get<std::string>()).ok())) {
      problems.push_back("payload.timestamp: ISO 8601");
    }
    for (const char* key : {"component", "group", "class"}) {
      if (payload.contains(key) && !IsString(payload, key)) {
        problems.push_back(std::string("payload.") + key + ": a string");
      }
    }
    if (payload.contains("custom_details") && !payload["custom_details"].is_object()) {
      problems.push_back("payload.custom_details: an object");
    }
  }
  for (const char* key : {"client", "client_url"}) {
    if (event.contains(key) && !IsString(event, key)) {
      problems.push_back(std::string(key) + ": a string");
    }
  }
  return problems;
}

// ---------------------------------------------------------------- Slack
// Incoming webhooks: https://api.slack.com/messaging/webhooks - POST JSON, answered 200 "ok";
// a bad body 400 (e.g. "invalid_blocks", "no_text").
// Block Kit: https://api.slack.com/reference/block-kit/blocks and
// https://api.slack.com/reference/block-kit/composition-objects#text
//   text      string: the notification's fallback; required when there are no blocks
//   blocks    array of at most 50 blocks
//   section   {type: "section", text?: text object (at most 3000 characters),
//              fields?: at most 10 text objects (each at most 2000 characters),
//              block_id?: at most 255 characters}; text or fields required
//   context   {type: "context", elements: 1..10 text objects (or images)}
//   text object {type: "plain_text" | "mrkdwn", text: 1..3000 characters,
//              emoji?: bool (plain_text only), verbatim?: bool (mrkdwn only)}
//   mrkdwn    &, < and > are control characters (links, mentions) and must be escaped as
//             &amp; &lt; &gt; when meant literally:
//             https://api.slack.com/reference/surfaces/formatting#escaping
std::vector<std::string> TextObjectProblems(const json& object, std::size_t max_chars,
                                            const std::string& where) {
  std::vector<std::string> problems;
  if (!object.is_object()) return {where + ": not an object"};
  const std::string type = IsString(object, "type") ? object["type"] : "";
  if (type != "plain_text" && type != "mrkdwn") problems.push_back(where + ".type: " + type);
  if (!IsString(object, "text") || Chars(object["text"]) == 0 ||
      Chars(object["text"]) > max_chars) {
    problems.push_back(where + ".text: 1.." + std::to_string(max_chars) + " characters");
    return problems;
  }
  for (const auto& [key, value] : object.items()) {
    if (key == "type" || key == "text") continue;
    if (key == "emoji" && type == "plain_text" && value.is_boolean()) continue;
    if (key == "verbatim" && type == "mrkdwn" && value.is_boolean()) continue;
    problems.push_back(where + ": unexpected " + key);
  }
  const std::string text = object["text"];
  if (type == "mrkdwn") {
    if (text.find_first_of("<>") != std::string::npos) {
      problems.push_back(where + ".text: unescaped < or >: " + text);
    }
    for (std::size_t at = text.find('&'); at != std::string::npos; at = text.find('&', at + 1)) {
      const std::string_view rest = std::string_view(text).substr(at);
      if (!rest.starts_with("&amp;") && !rest.starts_with("&lt;") && !rest.starts_with("&gt;")) {
        problems.push_back(where + ".text: unescaped &");
      }
    }
  }
  if (!IsValidUtf8(text)) problems.push_back(where + ".text: invalid UTF-8");
  return problems;
}

std::vector<std::string> SlackProblems(const json& body) {
  std::vector<std::string> problems;
  auto add = [&](std::vector<std::string> more) {
    problems.insert(problems.end(), more.begin(), more.end());
  };
  if (!body.is_object()) return {"body is not a JSON object"};
  for (const auto& [key, value] : body.items()) {
    if (key != "text" && key != "blocks") problems.push_back("unexpected field " + key);
  }
  if (!IsString(body, "text") || body["text"].get<std::string>().empty()) {
    problems.push_back("text: the fallback is required");
  } else {
    add(TextObjectProblems({{"type", "mrkdwn"}, {"text", body["text"]}}, 40000, "text"));
  }
  if (!body.contains("blocks")) return problems;
  const json& blocks = body["blocks"];
  if (!blocks.is_array() || blocks.empty() || blocks.size() > 50) {
    problems.push_back("blocks: 1..50 blocks");
    return problems;
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const json& block = blocks[i];
    const std::string where = "blocks[" + std::to_string(i) + "]";
    const std::string type = IsString(block, "type") ? block["type"] : "";
    if (block.contains("block_id") &&
        (!IsString(block, "block_id") || Chars(block["block_id"]) > 255)) {
      problems.push_back(where + ".block_id");
    }
    if (type == "section") {
      if (!block.contains("text") && !block.contains("fields")) {
        problems.push_back(where + ": text or fields required");
      }
      if (block.contains("text")) add(TextObjectProblems(block["text"], 3000, where + ".text"));
      if (block.contains("fields")) {
        const json& fields = block["fields"];
        if (!fields.is_array() || fields.empty() || fields.size() > 10) {
          problems.push_back(where + ".fields: 1..10");
        } else {
          for (std::size_t f = 0; f < fields.size(); ++f) {
            add(TextObjectProblems(fields[f], 2000, where + ".fields[" + std::to_string(f) + "]"));
          }
        }
      }
      for (const auto& [key, value] : block.items()) {
        if (key != "type" && key != "text" && key != "fields" && key != "block_id") {
          problems.push_back(where + ": unexpected " + key);
        }
      }
    } else if (type == "context") {
      const json elements = block.value("elements", json());
      if (!elements.is_array() || elements.empty() || elements.size() > 10) {
        problems.push_back(where + ".elements: 1..10");
      } else {
        for (std::size_t e = 0; e < elements.size(); ++e) {
          add(TextObjectProblems(elements[e], 3000,
                                 where + ".elements[" + std::to_string(e) + "]"));
        }
      }
    } else {
      problems.push_back(where + ": type " + type + " is not one this operator sends");
    }
  }
  return problems;
}

// A local receiver that validates each body with `problems_of` and answers like the vendor.
class ValidatingReceiver {
 public:
  using ProblemsOf = std::function<std::vector<std::string>(const json&)>;
  ValidatingReceiver(ProblemsOf problems_of, int ok_status, std::string ok_body)
      : problems_of_(std::move(problems_of)) {
    auto server = http::testing::StartTestServer([this, ok_status, ok_body](Exchange& ex) {
      const json body = json::parse(ex.request().body, nullptr, /*allow_exceptions=*/false);
      std::vector<std::string> problems = problems_of_(body);
      if (ex.request().method != "POST") problems.push_back("method " + ex.request().method);
      if (ex.request().Header("Content-Type") != "application/json") {
        problems.push_back("Content-Type is not application/json");
      }
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(body);
        targets_.push_back(ex.request().target);
        problems_.insert(problems_.end(), problems.begin(), problems.end());
      }
      if (problems.empty()) {
        ex.Respond(ok_status, {{"Content-Type", "application/json"}}, ok_body);
      } else {
        ex.Respond(400, {}, json(problems).dump());
      }
    });
    EXPECT_TRUE(server.ok()) << server.error().ToString();
    server_ = std::move(server).value();
  }
  ~ValidatingReceiver() { server_->Stop(); }
  std::string url() const { return server_->url(); }
  std::vector<json> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> targets() {
    std::lock_guard lock(mu_);
    return targets_;
  }
  std::vector<std::string> problems() {
    std::lock_guard lock(mu_);
    return problems_;
  }

 private:
  ProblemsOf problems_of_;
  std::mutex mu_;
  std::vector<json> bodies_;
  std::vector<std::string> targets_;
  std::vector<std::string> problems_;
  http::testing::TestServerPtr server_;
};

WebhookNotifierOptions FastOptions() {
  WebhookNotifierOptions options;
  options.initial_backoff = milliseconds(1);
  options.max_backoff = milliseconds(5);
  options.max_attempts = 2;
  options.workers = 1;  // in order, so the sequence of events is the sequence received
  return options;
}

Notification Event(EventReason reason, std::string phase, std::string text,
                   std::vector<api::NotificationSpec> targets) {
  Notification n;
  n.namespace_ = "voice";
  n.name = "voice-agent-v2";
  n.reason = reason;
  n.text = std::move(text);
  n.at = *api::ParseTime("2026-12-06T10:00:00Z");
  n.rollout = {{"namespace", "voice"}, {"name", "voice-agent-v2"}, {"revision", "2.0.0"},
               {"phase", phase},       {"step", "majority"},       {"flagPercent", 50},
               {"trafficWeight", 50},  {"verdict", "NoGo"},        {"reason", api::Name(reason)}};
  n.targets = std::move(targets);
  return n;
}

constexpr char kRoutingKey[] = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY32";  // 32 characters

// The checks themselves catch what the vendors reject, so the tests below can fail.
TEST(VendorSchemas, RejectWhatTheVendorsReject) {
  const json trigger = {
      {"routing_key", kRoutingKey},
      {"event_action", "trigger"},
      {"dedup_key", "a/b/c"},
      {"payload", {{"summary", "s"}, {"source", "a/b"}, {"severity", "critical"}}}};
  EXPECT_THAT(PagerDutyProblems(trigger), IsEmpty());
  std::vector<json> broken(8, trigger);
  broken[0].erase("routing_key");
  broken[1]["event_action"] = "page";
  broken[2]["payload"].erase("summary");
  broken[3]["payload"]["summary"] = std::string(1025, 's');
  broken[4]["payload"]["severity"] = "high";
  broken[5]["dedup_key"] = std::string(256, 'k');
  broken[6] = {{"routing_key", kRoutingKey}, {"event_action", "resolve"}};  // no dedup_key
  broken[7]["severity"] = "critical";  // at the top level, not in payload
  for (const json& event : broken) EXPECT_THAT(PagerDutyProblems(event), Not(IsEmpty())) << event;

  const json slack = {
      {"text", "t"},
      {"blocks",
       {{{"type", "section"}, {"text", {{"type", "mrkdwn"}, {"text", "a &amp; b"}}}},
        {{"type", "context"}, {"elements", {{{"type", "mrkdwn"}, {"text", "c"}}}}}}}};
  EXPECT_THAT(SlackProblems(slack), IsEmpty());
  std::vector<json> bad(7, slack);
  bad[0].erase("text");
  bad[1]["blocks"][0]["text"]["text"] = "<!channel>";
  bad[2]["blocks"][0]["text"]["text"] = "a & b";
  bad[3]["blocks"][0]["text"]["text"] = std::string(3001, 'x');
  bad[4]["blocks"][0]["type"] = "header";
  bad[5]["blocks"] = json::array();
  for (int i = 0; i < 51; ++i) bad[6]["blocks"].push_back(slack["blocks"][1]);
  for (const json& body : bad) EXPECT_THAT(SlackProblems(body), Not(IsEmpty())) << body;
}

TEST(PagerDutyReceiver, GetsValidEventsTriggeringAndResolvingOneAlert) {
  ValidatingReceiver pagerduty(PagerDutyProblems, 202,
                               R"({"status":"success","message":"Event processed"})");
  auto kube = std::make_shared<kube::FakeClient>();
  ASSERT_TRUE(
      kube->Create(kube::kSecrets, "voice", Secret("pagerduty", "routing-key", Base64(kRoutingKey)))
          .ok());
  api::NotificationSpec target;
  target.type = api::NotificationType::kPagerDuty;
  target.url = pagerduty.url() + "/v2/enqueue";
  target.routing_key_secret_ref = api::SecretKeyRef{"pagerduty", "routing-key"};
  WebhookNotifier notifier(kube, FastOptions());

  Notification no_go = Event(EventReason::kAnalysisNoGo, "Progressing",
                             "No-Go in majority: error-rate 0.071 is > 0.05", {target});
  no_go.metric = DecidingMetric{"error-rate", "0.071", "> 0.05"};
  notifier.Notify(no_go);
  Notification rolled_back =
      Event(EventReason::kRolledBack, "RolledBack",
            "rolled back: " + std::string(3000, 'x') + " \xe2\x9c\x93", {target});
  notifier.Notify(rolled_back);
  notifier.Notify(Event(EventReason::kPhaseAdvanced, "Progressing", "advanced", {target}));
  Notification retry = Event(EventReason::kPhaseStarted, "Progressing", "retry", {target});
  retry.previous_revision = "2.0.0";
  notifier.Notify(retry);
  notifier.Notify(Event(EventReason::kSucceeded, "Succeeded", "done", {target}));
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent + notifier.Stats().failed >= 4; }));

  EXPECT_THAT(pagerduty.problems(), IsEmpty());
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.sent = 4}));
  const std::vector<json> events = pagerduty.bodies();
  ASSERT_EQ(events.size(), 4u) << "PhaseAdvanced pages nobody";
  std::vector<std::string> actions;
  for (const json& event : events) {
    actions.push_back(event["event_action"].get<std::string>() + " " +
                      event.value("/payload/severity"_json_pointer, std::string("-")));
    EXPECT_EQ(event["dedup_key"], "voice/voice-agent-v2/2.0.0");
    EXPECT_EQ(event["routing_key"], kRoutingKey);
  }
  EXPECT_THAT(actions,
              ElementsAre("trigger warning", "trigger critical", "resolve -", "resolve -"));
  EXPECT_EQ(events[0]["payload"]["custom_details"]["metric"], "error-rate");
  EXPECT_EQ(events[1]["payload"]["custom_details"]["flagPercent"], 50);
  EXPECT_EQ(events[1]["payload"]["custom_details"]["phase"], "RolledBack");
  EXPECT_THAT(pagerduty.targets(), ::testing::Each(std::string("/v2/enqueue")));
}

TEST(SlackReceiver, GetsValidBlocksForEveryReasonAndHostileText) {
  ValidatingReceiver slack(SlackProblems, 200, "ok");
  api::NotificationSpec target;  // type slack is the default
  target.url = slack.url() + "/services/T000/B000/XXXX";
  WebhookNotifier notifier(nullptr, FastOptions());
  int sent = 0;
  for (EventReason reason :
       {EventReason::kPhaseStarted, EventReason::kPhaseAdvanced, EventReason::kAnalysisHold,
        EventReason::kAnalysisNoGo, EventReason::kRollingBack, EventReason::kRolledBack,
        EventReason::kAwaitingApproval, EventReason::kPromoted, EventReason::kPaused,
        EventReason::kResumed, EventReason::kSucceeded, EventReason::kInvalidSpec,
        EventReason::kTrafficTargetNotFound}) {
    Notification n = Event(reason, "Progressing", "what happened", {target});
    if (reason == EventReason::kRolledBack) {
      n.metric = DecidingMetric{"error-rate", "0.071", "> 0.05"};
    }
    notifier.Notify(n);
    ++sent;
  }
  // Text from outside: mentions and links that must stay literal, a long message, a
  // multi-byte character at the cut, an empty verdict.
  Notification hostile = Event(
      EventReason::kInvalidSpec, "Failed",
      "<!channel> <https://evil.example|click> & " + std::string(1500, '&') + "\xc3\xa9\xc3\xa9",
      {target});
  hostile.rollout["verdict"] = "";
  hostile.metric = DecidingMetric{"m<x>", "", ""};
  notifier.Notify(hostile);
  ++sent;
  ASSERT_TRUE(Eventually([&] { return notifier.Stats().sent + notifier.Stats().failed >= 14; }));
  EXPECT_THAT(slack.problems(), IsEmpty());
  EXPECT_EQ(notifier.Stats(), (WebhookStats{.sent = 14}));
  const std::vector<json> bodies = slack.bodies();
  ASSERT_EQ(bodies.size(), 14u);
  // The rollback shows phase, verdict and the metric that decided with its line.
  const json& rolled_back = bodies[5];
  EXPECT_EQ(rolled_back["blocks"][1]["fields"][0]["text"], "*Phase*\nProgressing");
  EXPECT_EQ(rolled_back["blocks"][1]["fields"][4]["text"], "*Verdict*\nNoGo");
  EXPECT_EQ(rolled_back["blocks"][2]["text"]["text"],
            "*Deciding metric* `error-rate` = `0.071`, line `&gt; 0.05`");
  EXPECT_EQ(bodies[13]["blocks"][2]["text"]["text"], "*Deciding metric* `m&lt;x&gt;` = `no data`");
}

}  // namespace
}  // namespace agentrollout::controllers
