// notifications[].type `slack` (the default; API.md §10): a Slack incoming-webhook POST,
// https://api.slack.com/messaging/webhooks, with `text` (the one sentence; what Slack shows
// in the notification) and Block Kit blocks, https://api.slack.com/block-kit: the rollout
// and the sentence, its phase, step, flag %, weight, verdict and revision, the metric that
// decided with its value and line, and a context line.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "controllers/notify/channel.h"

namespace agentrollout::controllers {

// Slack's bounds (Block Kit reference): a section's text and a context element at most
// 3000 characters, a section field at most 2000, at most 10 fields, at most 50 blocks.
inline constexpr std::size_t kSlackMaxTextChars = 3000;
inline constexpr std::size_t kSlackMaxFieldChars = 2000;

// `text` for a mrkdwn text object: &, < and > escaped (Slack's control characters, so a
// value can never become a link or a mention), then cut to `max_bytes` on a character
// boundary and never inside an escape.
std::string SlackEscape(std::string_view text, std::size_t max_bytes);

// {"text": ..., "blocks": [...]}.
nlohmann::json SlackBody(const Notification& notification);

class SlackChannel final : public Channel {
 public:
  // Every reason the target subscribes to.
  std::optional<nlohmann::json> Message(const Notification& notification,
                                        const api::NotificationSpec& target) const override;
};

}  // namespace agentrollout::controllers
