// The feature_flags table of the PostgreSQL reaction run (issue 22): one row per rollout
// (name agent_<i>_v2, the workload's flag keys), and a trigger that NOTIFYs every change of
// a row, so the bench sees each write the moment it commits -- what the API server's
// watch is for the ConfigMap run.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/result.h"

namespace agentrollout::bench {

class FlagTable {
 public:
  using Clock = std::chrono::steady_clock;
  // (rollout index, flag on at a percentage above 0, when the change was received)
  using OnChange = std::function<void(int, bool, Clock::time_point)>;

  // (Re)creates public.feature_flags with rows agent_0_v2 .. agent_<n-1>_v2 over `uri`,
  // then listens for changes on a connection of its own until destroyed.
  static Result<std::unique_ptr<FlagTable>> Start(const std::string& uri, int n,
                                                  OnChange on_change);
  ~FlagTable();  // stops listening and joins the thread
  FlagTable(const FlagTable&) = delete;
  FlagTable& operator=(const FlagTable&) = delete;

 private:
  FlagTable() = default;
  void Listen(void* connection);

  OnChange on_change_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace agentrollout::bench
