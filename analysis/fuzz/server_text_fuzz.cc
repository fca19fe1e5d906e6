// Arbitrary bytes as text from a server (API.md §3.1), through each way such text leaves
// the operator: a Prometheus answer's error message into status (metric and rollout
// message), an Event's message, and a notification's webhook body. Each serialized
// document must be valid UTF-8 JSON that parses back to the same text, and the request's
// credential never appears in what Prometheus's answer became.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "analysis/prometheus_client.h"
#include "api/codec.h"
#include "common/text.h"
#include "controllers/notify/alertmanager_channel.h"
#include "controllers/notify/pagerduty_channel.h"
#include "controllers/notify/slack_channel.h"
#include "controllers/notify/webhook_channel.h"
#include "kube/event_recorder.h"

namespace {

using nlohmann::json;

constexpr std::string_view kSecret = "tok-3f9a1c";

// The wire text of `document`, which must be valid UTF-8 JSON that parses back.
json RoundTrip(const json& document) {
  const std::string text = agentrollout::api::ToWireJson(document);
  if (!agentrollout::IsValidUtf8(text)) __builtin_trap();
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) __builtin_trap();
  return parsed;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace api = agentrollout::api;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  // Prometheus's answer, as the client turns it into a metric's message.
  const std::string body = std::string(bytes) + std::string(kSecret);
  const auto answer = agentrollout::analysis::ParseQueryResponse(502, body, {std::string(kSecret)});
  const std::string message = answer.ok() ? std::string() : answer.error().message();
  if (message.find(kSecret) != std::string::npos) __builtin_trap();
  if (!agentrollout::IsValidUtf8(message)) __builtin_trap();

  // Status: the cleaned message, and (as a path that forgot to clean would) the raw bytes.
  api::AgentRolloutStatus status;
  status.message = std::string(bytes);
  status.analysis.metrics.push_back(api::MetricStatus{.name = "m", .message = message});
  const json status_json = RoundTrip(api::EncodeStatus(status));
  if (status_json["analysis"]["metrics"][0]["message"] != message) __builtin_trap();
  if (!api::DecodeStatus(status_json).ok()) __builtin_trap();

  // An Event's message.
  const std::string event_message = agentrollout::kube::EventMessage(bytes);
  if (event_message.size() > agentrollout::kube::kMaxEventMessageBytes + 3) __builtin_trap();
  const json event = RoundTrip(agentrollout::kube::MakeEvent(
      {"v1", "AgentRollout", "r", "ns", "uid", ""}, agentrollout::kube::EventType::kWarning,
      "AnalysisError", event_message, {}, {}));
  if (event["message"] != event_message) __builtin_trap();

  // A notification's body, of every kind: what a server said may be in the message, the
  // metric's value and the fields.
  namespace notify = agentrollout::controllers;
  notify::Notification notification;
  notification.namespace_ = "ns";
  notification.name = "r";
  notification.reason = api::EventReason::kRolledBack;
  notification.text = std::string(bytes);
  notification.rollout = {{"phase", std::string(bytes)}, {"revision", std::string(bytes)}};
  notification.metric = notify::DecidingMetric{"m", std::string(bytes), std::string(bytes)};
  const json webhook = RoundTrip(notify::WebhookBody(notification));
  if (!webhook.contains("text")) __builtin_trap();
  const json slack = RoundTrip(notify::SlackBody(notification));
  for (const json& block : slack["blocks"]) {
    if (!block.contains("text")) continue;
    const std::string text = block["text"]["text"];
    std::size_t chars = 0;  // Slack counts characters (an invalid byte became one U+FFFD)
    for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
    if (chars > notify::kSlackMaxTextChars) __builtin_trap();
    if (text.find('<') != std::string::npos) __builtin_trap();
  }
  const api::NotificationSpec target;
  const auto pagerduty = notify::PagerDutyEvent(notification, target);
  if (!pagerduty) __builtin_trap();
  const json pd_event = RoundTrip(*pagerduty);
  if (pd_event["dedup_key"].get<std::string>().size() > notify::kPagerDutyMaxDedupKey ||
      pd_event["payload"]["summary"].get<std::string>().size() > notify::kPagerDutyMaxSummary) {
    __builtin_trap();
  }
  const auto alert = notify::AlertmanagerMessage(notification, target);
  if (!alert) __builtin_trap();
  if (RoundTrip(*alert)["alerts"].size() != 1) __builtin_trap();
  return 0;
}
