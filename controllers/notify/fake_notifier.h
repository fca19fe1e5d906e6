// A Notifier for unit tests of the executor and reconciler: keeps every notification.
#pragma once

#include <mutex>
#include <utility>
#include <vector>

#include "controllers/notify/notifier.h"

namespace agentrollout::controllers {

class FakeNotifier final : public Notifier {
 public:
  void Notify(Notification notification) override {
    std::lock_guard lock(mu_);
    sent_.push_back(std::move(notification));
  }
  std::vector<Notification> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<Notification> sent_;
};

}  // namespace agentrollout::controllers
