// Test-only builders shared by the controller's tests: specs decoded from JSON as the
// apiserver would hand them over, evaluations shaped like analysis/ produces them, and
// fixed timestamps.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "api/codec.h"
#include "api/names.h"
#include "api/types.h"
#include "controllers/rollout/state_machine.h"

// Failure messages print phases and verdicts by name, not as bytes.
namespace agentrollout::api {
inline void PrintTo(RolloutPhase phase, std::ostream* out) { *out << Name(phase); }
inline void PrintTo(Verdict verdict, std::ostream* out) { *out << Name(verdict); }
}  // namespace agentrollout::api

namespace agentrollout::controllers::fixtures {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// 2026-11-22T10:00:00Z plus an offset.
inline api::Timestamp At(api::Duration offset = api::Duration::zero()) {
  return api::Timestamp(std::chrono::seconds(1795341600)) + offset;
}

// The voice-agent example of API.md §1 (5 phases, the 4th needs approval), with two
// metrics and an abort line.
inline nlohmann::json VoiceSpecJson() {
  return nlohmann::json::parse(R"spec({
    "revision": "2.0.0",
    "flag": {"key": "voice_agent_v2",
             "configMap": {"name": "feature-flags"},
             "enabledTenants": ["t-internal-1"], "disabledTenants": ["t-vip-bank"]},
    "traffic": {"gatewayAPI": {"httpRoute": "voice-agent", "stableBackend": "voice-agent-v1",
                               "canaryBackend": "voice-agent-v2"}},
    "analysis": {
      "prometheus": {"address": "http://prometheus.monitoring.svc:9090"},
      "interval": "1m", "failureLimit": 0, "errorLimit": 3,
      "metrics": [
        {"name": "error-rate", "query": "sum(rate(errors{version=\"{{canary}}\"}[5m]))",
         "go": "< 0.02", "noGo": "> 0.05", "abort": "> 0.5"},
        {"name": "latency-p95-ms", "query": "p95{version=\"{{canary}}\"}",
         "go": "< 800", "noGo": "> 1200"}
      ]},
    "rollback": {"mode": "total"},
    "phases": [
      {"name": "canary", "flagPercent": 5, "trafficWeight": 5, "duration": "4h"},
      {"name": "early-adopters", "flagPercent": 10, "trafficWeight": 10, "duration": "24h"},
      {"name": "expansion", "flagPercent": 25, "trafficWeight": 25, "duration": "24h"},
      {"name": "majority", "flagPercent": 50, "trafficWeight": 50, "duration": "48h",
       "approval": true},
      {"name": "complete", "flagPercent": 100, "trafficWeight": 100}
    ]})spec");
}

inline api::AgentRolloutSpec DecodeSpecOrDie(const nlohmann::json& json) {
  Result<api::AgentRolloutSpec> spec = api::DecodeSpec(json);
  EXPECT_TRUE(spec.ok()) << spec.error().ToString();
  return spec.ok() ? *spec : api::AgentRolloutSpec{};
}

inline api::AgentRolloutSpec VoiceSpec() { return DecodeSpecOrDie(VoiceSpecJson()); }

inline api::ObjectMeta VoiceMeta() {
  api::ObjectMeta meta;
  meta.name = "voice-agent-v2";
  meta.namespace_ = "voice";
  meta.uid = "uid-1";
  meta.generation = 1;
  return meta;
}

// One metric's classified value, as analysis::Classify would report it.
inline api::MetricStatus Metric(const std::string& name, api::Verdict verdict,
                                const std::string& value) {
  api::MetricStatus metric;
  metric.name = name;
  metric.value = value;
  metric.verdict = verdict;
  if (name == "error-rate") {
    metric.go = "< 0.02";
    metric.no_go = "> 0.05";
    metric.abort = "> 0.5";
  } else {
    metric.go = "< 800";
    metric.no_go = "> 1200";
  }
  switch (verdict) {
    case api::Verdict::kGo:
      metric.message = value + " is " + metric.go + " (go)";
      break;
    case api::Verdict::kHold:
      metric.message = value + " is not " + metric.go + " (go)";
      break;
    case api::Verdict::kNoGo:
      metric.message = value + " is " + metric.no_go + " (noGo)";
      break;
    case api::Verdict::kError:
      metric.value.clear();
      metric.message = "connection refused";
      break;
    case api::Verdict::kNone:
      break;
  }
  return metric;
}

inline api::Evaluation Evaluation(api::Timestamp at, api::Verdict verdict,
                                  std::vector<api::MetricStatus> metrics) {
  return {at, at, verdict, std::move(metrics)};
}

inline api::Evaluation Go(api::Timestamp at) {
  return Evaluation(at, api::Verdict::kGo,
                    {Metric("error-rate", api::Verdict::kGo, "0.0131"),
                     Metric("latency-p95-ms", api::Verdict::kGo, "640")});
}

inline api::Evaluation Hold(api::Timestamp at) {
  return Evaluation(at, api::Verdict::kHold,
                    {Metric("error-rate", api::Verdict::kGo, "0.0131"),
                     Metric("latency-p95-ms", api::Verdict::kHold, "912")});
}

inline api::Evaluation NoGo(api::Timestamp at) {
  return Evaluation(at, api::Verdict::kNoGo,
                    {Metric("error-rate", api::Verdict::kNoGo, "0.071"),
                     Metric("latency-p95-ms", api::Verdict::kGo, "640")});
}

// error-rate past its abort line (> 0.5).
inline api::Evaluation Abort(api::Timestamp at) {
  return Evaluation(at, api::Verdict::kNoGo,
                    {Metric("error-rate", api::Verdict::kNoGo, "0.62"),
                     Metric("latency-p95-ms", api::Verdict::kGo, "640")});
}

inline api::Evaluation Errored(api::Timestamp at) {
  return Evaluation(at, api::Verdict::kError,
                    {Metric("error-rate", api::Verdict::kError, ""),
                     Metric("latency-p95-ms", api::Verdict::kGo, "640")});
}

}  // namespace agentrollout::controllers::fixtures
