#include "controllers/rollout/recent_writes.h"

#include <algorithm>
#include <utility>

namespace agentrollout::controllers {

RecentWrites::RecentWrites(api::Duration fresh_for) : fresh_for_(fresh_for) {}

RecentWrites::Writes RecentWrites::WritesOf(const Decision& decision, api::Timestamp now) {
  Writes writes{decision.flags, decision.traffic, decision.rolls_back, now};
  if (writes.flags) writes.flags->updated_at = {};
  return writes;
}

bool RecentWrites::FreshAt(const Writes& writes, api::Timestamp now) const {
  // A clock that went backwards makes nothing fresh.
  return writes.at <= now && now - writes.at < fresh_for_;
}

bool RecentWrites::Fresh(const std::string& uid, const Decision& decision,
                         api::Timestamp now) const {
  if (fresh_for_.count() <= 0 || (!decision.flags && !decision.traffic)) return false;
  const Writes wanted = WritesOf(decision, now);
  std::lock_guard lock(mu_);
  auto it = by_uid_.find(uid);
  return it != by_uid_.end() && FreshAt(it->second, now) && it->second == wanted;
}

void RecentWrites::Record(const std::string& uid, const Decision& decision, api::Timestamp now) {
  if (fresh_for_.count() <= 0 || (!decision.flags && !decision.traffic)) return;
  Writes writes = WritesOf(decision, now);
  std::lock_guard lock(mu_);
  by_uid_.insert_or_assign(uid, std::move(writes));
  SweepLocked(now);
}

void RecentWrites::Forget(const std::string& uid) {
  std::lock_guard lock(mu_);
  by_uid_.erase(uid);
}

std::size_t RecentWrites::size() const {
  std::lock_guard lock(mu_);
  return by_uid_.size();
}

void RecentWrites::SweepLocked(api::Timestamp now) {
  if (by_uid_.size() < sweep_at_size_) return;
  std::erase_if(by_uid_, [&](const auto& entry) { return !FreshAt(entry.second, now); });
  sweep_at_size_ = std::max<std::size_t>(64, 2 * by_uid_.size());
}

}  // namespace agentrollout::controllers
