#include "controllers/notify/slack_channel.h"

#include "common/text.h"

namespace agentrollout::controllers {
namespace {

using nlohmann::json;

json Mrkdwn(std::string text) { return {{"type", "mrkdwn"}, {"text", std::move(text)}}; }

json Field(std::string_view label, std::string_view value) {
  return Mrkdwn("*" + std::string(label) + "*\n" +
                SlackEscape(value.empty() ? std::string_view("-") : value,
                            kSlackMaxFieldChars - label.size() - 3));
}

}  // namespace

std::string SlackEscape(std::string_view text, std::size_t max_bytes) {
  std::string escaped;
  escaped.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      default:
        escaped += c;
    }
  }
  std::string_view cut = CutOnCharacterBoundary(escaped, max_bytes);
  // Never end inside "&amp;": an escape is whole or gone.
  const std::size_t amp = cut.rfind('&');
  if (amp != std::string_view::npos && cut.find(';', amp) == std::string_view::npos) {
    cut = cut.substr(0, amp);
  }
  return std::string(cut);
}

json SlackBody(const Notification& notification) {
  const RolloutFields f = FieldsOf(notification);
  const std::string subject = f.namespace_ + "/" + f.name;
  json blocks = json::array();
  blocks.push_back({{"type", "section"},
                    {"text", Mrkdwn(SlackEscape("*" + subject + "* " + f.reason + "\n", 600) +
                                    SlackEscape(f.message, kSlackMaxTextChars - 600))}});
  blocks.push_back({{"type", "section"},
                    {"fields",
                     {Field("Phase", f.phase), Field("Step", f.step),
                      Field("Flag", std::to_string(f.flag_percent) + "%"),
                      Field("Weight", std::to_string(f.traffic_weight) + "%"),
                      Field("Verdict", f.verdict), Field("Revision", f.revision)}}});
  if (notification.metric) {
    const DecidingMetric& m = *notification.metric;
    std::string text = "*Deciding metric* `" + m.name + "` = `" +
                       (m.value.empty() ? std::string("no data") : m.value) + "`";
    if (!m.line.empty()) text += ", line `" + m.line + "`";
    blocks.push_back(
        {{"type", "section"}, {"text", Mrkdwn(SlackEscape(text, kSlackMaxTextChars))}});
  }
  blocks.push_back(
      {{"type", "context"},
       {"elements",
        {Mrkdwn(SlackEscape("AgentRollout " + subject + " | reason " + f.reason, 1000))}}});
  return {{"text", SlackEscape(subject + ": " + f.message, kSlackMaxTextChars)},
          {"blocks", std::move(blocks)}};
}

std::optional<nlohmann::json> SlackChannel::Message(const Notification& notification,
                                                    const api::NotificationSpec& target) const {
  if (!Subscribed(target, notification.reason)) return std::nullopt;
  return SlackBody(notification);
}

}  // namespace agentrollout::controllers
