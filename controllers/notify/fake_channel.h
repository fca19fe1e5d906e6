// A Channel for unit tests of the notifier: tells every target a fixed message (or
// nothing), records each delivery attempt and answers with a scripted result.
#pragma once

#include <mutex>
#include <utility>
#include <vector>

#include "controllers/notify/channel.h"

namespace agentrollout::controllers {

class FakeChannel final : public Channel {
 public:
  struct Attempt {
    nlohmann::json message;
    Credentials credentials;
    std::string base_path;
  };

  // nullopt: every target is told nothing.
  void set_message(std::optional<nlohmann::json> message) {
    std::lock_guard lock(mu_);
    message_ = std::move(message);
  }
  // The answer of every attempt; default 200 without sending anything.
  void set_answer(Result<http::Response> answer) {
    std::lock_guard lock(mu_);
    answer_ = std::move(answer);
  }
  std::vector<Attempt> attempts() const {
    std::lock_guard lock(mu_);
    return attempts_;
  }

  std::optional<nlohmann::json> Message(const Notification&,
                                        const api::NotificationSpec&) const override {
    std::lock_guard lock(mu_);
    return message_;
  }
  Result<http::Response> Deliver(const nlohmann::json& message, const Credentials& credentials,
                                 std::string_view base_path, const SendRequest&) const override {
    std::lock_guard lock(mu_);
    attempts_.push_back({message, credentials, std::string(base_path)});
    return answer_;
  }

 private:
  mutable std::mutex mu_;
  std::optional<nlohmann::json> message_ = nlohmann::json::object();
  Result<http::Response> answer_ = http::Response{200, {}, ""};
  mutable std::vector<Attempt> attempts_;
};

}  // namespace agentrollout::controllers
