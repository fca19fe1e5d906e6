#include "api/validate.h"

#include <gtest/gtest.h>

#include <optional>

#include "api/codec.h"
#include "api/test_manifest.h"
#include "api/threshold.h"

namespace agentrollout::api {
namespace {

using nlohmann::json;
using testing::VoiceAgentManifest;

// One change to the example manifest: set the value at a JSON pointer, or remove it.
struct Edit {
  std::string pointer;
  std::optional<json> value;  // nullopt = remove
};
Edit Set(std::string pointer, json value) { return {std::move(pointer), std::move(value)}; }
Edit Remove(std::string pointer) { return {std::move(pointer), std::nullopt}; }

json Apply(json document, const std::vector<Edit>& edits) {
  for (const Edit& edit : edits) {
    const json::json_pointer pointer(edit.pointer);
    if (edit.value) {
      document[pointer] = *edit.value;
      continue;
    }
    json& parent = document[pointer.parent_pointer()];
    if (parent.is_array()) {
      parent.erase(std::stoul(pointer.back()));
    } else {
      parent.erase(pointer.back());
    }
  }
  return document;
}

json Phases(std::size_t count) {
  json phases = json::array();
  for (std::size_t i = 0; i < count; ++i) phases.push_back({{"name", "p" + std::to_string(i)}});
  return phases;
}

struct MalformedCase {
  std::vector<Edit> edits;
  std::string message;
};

TEST(DecodeAndValidate, AcceptsTheExample) {
  auto rollout = DecodeAndValidate(VoiceAgentManifest());
  ASSERT_TRUE(rollout.ok()) << rollout.error().message();
  auto spec = DecodeAndValidateSpec(VoiceAgentManifest()["spec"]);
  ASSERT_TRUE(spec.ok()) << spec.error().message();
  EXPECT_EQ(*spec, rollout->spec);
}

// Each case breaks the valid example in one way and expects the exact path and message.
TEST(DecodeAndValidate, RejectsMalformedManifestsNamingFieldAndValue) {
  const std::string long_key(129, 'a');
  const json istio = {{"virtualService", "vs"}, {"stableHost", "a"}, {"canaryHost", "b"}};
  const json rows = {{"connectionSecretRef", {{"name", "flags-db"}, {"key", "url"}}},
                     {"table", "public.feature_flags"},
                     {"keyColumn", "name"},
                     {"columns", {{"enabled", "enabled"}, {"percentage", "percentage"}}}};
  const json document = {{"connectionSecretRef", {{"name", "flags-db"}, {"key", "url"}}},
                         {"table", "app_config"},
                         {"keyColumn", "key"},
                         {"jsonColumn", "value"},
                         {"jsonPaths", {{"percentage", "unifiedServiceRolloutPercent"}}}};
  const std::vector<MalformedCase> cases = {
      // spec itself
      {{Remove("/spec")}, "spec: is required"},
      {{Set("/spec", json::array())}, "spec: must be an object, got []"},
      {{Set("/spec/revision", 2)}, "spec.revision: must be a string, got 2"},
      {{Set("/spec/paused", "yes")}, R"(spec.paused: must be a boolean, got "yes")"},
      // flag
      {{Set("/spec/flag/key", "a b")},
       R"(spec.flag.key: must match ^[A-Za-z0-9_.-]{1,128}$, got "a b")"},
      {{Set("/spec/flag/key", "")}, R"(spec.flag.key: must match ^[A-Za-z0-9_.-]{1,128}$, got "")"},
      {{Set("/spec/flag/key", long_key)},
       "spec.flag.key: must match ^[A-Za-z0-9_.-]{1,128}$, got \"" + std::string(60, 'a') + "..."},
      {{Set("/spec/flag/key", 42)}, "spec.flag.key: must be a string, got 42"},
      {{Remove("/spec/flag/key")}, "spec.flag.key: is required"},
      {{Remove("/spec/flag/configMap/name")}, "spec.flag.configMap.name: is required"},
      {{Set("/spec/flag/configMap/key", "flags/json")},
       R"(spec.flag.configMap.key: must match ^[-._a-zA-Z0-9]{1,253}$, got "flags/json")"},
      {{Set("/spec/flag/enabledTenants", "t-1")},
       R"(spec.flag.enabledTenants: must be a list, got "t-1")"},
      {{Set("/spec/flag/disabledTenants/0", 7)},
       "spec.flag.disabledTenants[0]: must be a string, got 7"},
      {{Set("/spec/flag/featureFlag", {{"name", "ff"}})},
       "spec.flag: exactly one of configMap, featureFlag, postgres, deploymentEnv must be set, got "
       "configMap, featureFlag"},
      {{Remove("/spec/flag/configMap")},
       "spec.flag: exactly one of configMap, featureFlag, postgres, deploymentEnv must be set, got "
       "none"},
      {{Set("/spec/flag/deploymentEnv",
            {{"deployment", "voice"}, {"variables", {{"enabled", "V"}}}})},
       "spec.flag: exactly one of configMap, featureFlag, postgres, deploymentEnv must be set, got "
       "configMap, deploymentEnv"},
      // flag.deploymentEnv (API.md §5.4)
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv", {{"variables", {{"enabled", "V"}}}})},
       "spec.flag.deploymentEnv.deployment: is required"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/deploymentEnv", {{"deployment", "voice"}})},
       "spec.flag.deploymentEnv.variables: is required"},
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv", {{"deployment", "voice"}, {"variables", json::object()}})},
       "spec.flag.deploymentEnv.variables: set at least one of enabled, percentage"},
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv",
            {{"deployment", "voice"}, {"variables", {{"enabled", "VOICE-ON"}}}})},
       "spec.flag.deploymentEnv.variables.enabled: must be an environment variable name matching "
       R"(^[A-Za-z_][A-Za-z0-9_]{0,127}$, got "VOICE-ON")"},
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv",
            {{"deployment", "voice"}, {"variables", {{"enabled", "V"}, {"percentage", "V"}}}})},
       R"(spec.flag.deploymentEnv.variables: enabled and percentage are both "V"; name two variables)"},
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv",
            {{"deployment", "voice"}, {"container", "App"}, {"variables", {{"enabled", "V"}}}})},
       R"(spec.flag.deploymentEnv.container: must be a container name (a DNS label: a-z, 0-9 and -), got "App")"},
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv",
            {{"deployment", "voice"}, {"variables", {{"enabled", "V"}}}}),
        Set("/spec/phases/1/flags", {{"voucher.creation", 100}})},
       "spec.phases[1].flags[voucher.creation]: with spec.flag.deploymentEnv a key is an "
       "environment variable name matching ^[A-Za-z_][A-Za-z0-9_]{0,127}$"},
      {{Remove("/spec/flag/configMap"),
        Set("/spec/flag/deploymentEnv",
            {{"deployment", "voice"}, {"variables", {{"enabled", "V"}}}}),
        Set("/spec/phases/1/flags", {{"V", 100}})},
       "spec.phases[1].flags[V]: is one of spec.flag.deploymentEnv.variables; use flagPercent"},
      {{Remove("/spec/flag"), Remove("/spec/traffic")},
       "spec: at least one of flag, traffic is required"},
      // flag.postgres (API.md §5.3)
      {{Set("/spec/flag/postgres", rows)},
       "spec.flag: exactly one of configMap, featureFlag, postgres, deploymentEnv must be set, got "
       "configMap, postgres"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Set("/spec/flag/postgres/table", "feature_flags; DROP TABLE users")},
       "spec.flag.postgres.table: must be an SQL identifier [A-Za-z_][A-Za-z0-9_]* (at most 63, "
       "optionally schema.table), got \"feature_flags; DROP TABLE users\""},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Set("/spec/flag/postgres/table", "a.b.c")},
       "spec.flag.postgres.table: must be an SQL identifier [A-Za-z_][A-Za-z0-9_]* (at most 63, "
       "optionally schema.table), got \"a.b.c\""},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Set("/spec/flag/postgres/columns/enabled", "enabled\" = true --")},
       "spec.flag.postgres.columns.enabled: must be an SQL identifier [A-Za-z_][A-Za-z0-9_]* (at "
       "most 63), got \"enabled\\\" = true --\""},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Set("/spec/flag/postgres/keyColumn", "1name")},
       "spec.flag.postgres.keyColumn: must be an SQL identifier [A-Za-z_][A-Za-z0-9_]* (at most "
       "63), got \"1name\""},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Set("/spec/flag/postgres/columns/owner", "owner")},
       "spec.flag.postgres.columns.owner: unknown; the mapped fields are enabled, percentage, "
       "enabledTenants, disabledTenants"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Remove("/spec/flag/postgres/connectionSecretRef")},
       "spec.flag.postgres.connectionSecretRef: is required"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", rows),
        Set("/spec/flag/postgres/columns", json::object())},
       "spec.flag.postgres.columns: map at least one of enabled, percentage, enabledTenants, "
       "disabledTenants (or set jsonColumn and jsonPaths)"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", document),
        Set("/spec/flag/postgres/columns", {{"enabled", "enabled"}})},
       "spec.flag.postgres: set columns (row mode) or jsonColumn and jsonPaths (JSON document "
       "mode), not both"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", document),
        Remove("/spec/flag/postgres/jsonColumn")},
       "spec.flag.postgres.jsonColumn: required with jsonPaths"},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", document),
        Set("/spec/flag/postgres/jsonPaths/percentage", "a..b")},
       "spec.flag.postgres.jsonPaths.percentage: must be a dotted JSON path of [A-Za-z0-9_-] "
       "segments, got \"a..b\""},
      {{Remove("/spec/flag/configMap"), Set("/spec/flag/postgres", document),
        Set("/spec/phases/0/flags", {{"voucher..creation", 100}})},
       "spec.phases[0].flags[voucher..creation]: must be a dotted JSON path (the flag's "
       "jsonColumn document), no empty segment, got \"voucher..creation\""},
      // traffic
      {{Remove("/spec/traffic/gatewayAPI/httpRoute")},
       "spec.traffic.gatewayAPI.httpRoute: is required"},
      {{Set("/spec/traffic/gatewayAPI/canaryBackend", "")},
       "spec.traffic.gatewayAPI.canaryBackend: must not be empty"},
      {{Set("/spec/traffic",
            {{"replicas",
              {{"stableDeployment", "a"}, {"canaryDeployment", "b"}, {"totalReplicas", 0}}}})},
       "spec.traffic.replicas.totalReplicas: must be >= 1, got 0"},
      {{Set("/spec/traffic",
            {{"replicas", {{"stableDeployment", "a"}, {"canaryDeployment", "b"}}}})},
       "spec.traffic.replicas.totalReplicas: is required"},
      {{Remove("/spec/traffic/gatewayAPI"), Set("/spec/traffic/istio", istio),
        Set("/spec/traffic/istio/stableSubset", 1)},
       "spec.traffic.istio.stableSubset: must be a string, got 1"},
      {{Set("/spec/traffic/istio", istio)},
       "spec.traffic: exactly one of gatewayAPI, istio, replicas must be set, got gatewayAPI, "
       "istio"},
      {{Set("/spec/traffic", json::object())},
       "spec.traffic: exactly one of gatewayAPI, istio, replicas must be set, got none (omit "
       "traffic for a flag-only rollout)"},
      // analysis
      {{Set("/spec/analysis/prometheus", "http://x")},
       R"(spec.analysis.prometheus: must be an object, got "http://x")"},
      {{Set("/spec/analysis/prometheus/address", "prometheus:9090")},
       R"(spec.analysis.prometheus.address: must be an http:// or https:// URL, got "prometheus:9090")"},
      {{Set("/spec/analysis/prometheus/timeout", "0s")},
       R"(spec.analysis.prometheus.timeout: must be between 1s and 60s, got "0s")"},
      {{Set("/spec/analysis/prometheus/timeout", "999ms")},
       R"(spec.analysis.prometheus.timeout: must be between 1s and 60s, got "999ms")"},
      {{Set("/spec/analysis/prometheus/timeout", "10m")},
       R"(spec.analysis.prometheus.timeout: must be between 1s and 60s, got "10m")"},
      {{Set("/spec/analysis/prometheus/headers", {{"X-Scope-OrgID", "t1\r\nX-Evil: 1"}})},
       "spec.analysis.prometheus.headers[X-Scope-OrgID]: a header value must not contain "
       "control characters (CR, LF, NUL, ...; a tab is allowed), got \"t1\\r\\nX-Evil: 1\""},
      {{Set("/spec/analysis/prometheus/headers", {{"X-Scope-OrgID", std::string("a\0b", 3)}})},
       "spec.analysis.prometheus.headers[X-Scope-OrgID]: a header value must not contain "
       "control characters (CR, LF, NUL, ...; a tab is allowed), got \"a\\u0000b\""},
      {{Set("/spec/analysis/prometheus/headers", {{"X-A\r\nX-B", "t1"}})},
       "spec.analysis.prometheus.headers: every header name must be an HTTP token (letters, "
       "digits and !#$%&'*+-.^_`|~), got \"X-A\\r\\nX-B\""},
      {{Set("/spec/analysis/prometheus/headers", {{"X-Evil:", "t1"}})},
       "spec.analysis.prometheus.headers: every header name must be an HTTP token (letters, "
       "digits and !#$%&'*+-.^_`|~), got \"X-Evil:\""},
      {{Set("/spec/analysis/prometheus/bearerTokenSecretRef", {{"name", "tok"}, {"key", "t"}}),
        Set("/spec/analysis/prometheus/basicAuthSecretRef", {{"name", "basic"}})},
       "spec.analysis.prometheus: set at most one of bearerTokenSecretRef and "
       "basicAuthSecretRef"},
      {{Set("/spec/analysis/prometheus/headers", {{"X-Scope-OrgID", 5}})},
       "spec.analysis.prometheus.headers[X-Scope-OrgID]: must be a string, got 5"},
      {{Set("/spec/analysis/prometheus/bearerTokenSecretRef", {{"name", "tok"}})},
       "spec.analysis.prometheus.bearerTokenSecretRef.key: is required"},
      {{Set("/spec/analysis/prometheus/basicAuthSecretRef", {{"name", ""}})},
       "spec.analysis.prometheus.basicAuthSecretRef.name: must not be empty"},
      {{Set("/spec/analysis/prometheus/insecureSkipVerify", 1)},
       "spec.analysis.prometheus.insecureSkipVerify: must be a boolean, got 1"},
      {{Remove("/spec/analysis/prometheus")},
       "spec.analysis.prometheus.address: is required when spec.analysis.metrics is not empty"},
      {{Set("/spec/analysis/interval", "500ms")},
       R"(spec.analysis.interval: must be at least 1s, got "500ms")"},
      {{Set("/spec/analysis/interval", "-1m")},
       R"(spec.analysis.interval: invalid duration "-1m": must not be negative)"},
      {{Set("/spec/analysis/failureLimit", -1)},
       "spec.analysis.failureLimit: must be >= 0, got -1"},
      {{Set("/spec/analysis/failureLimit", 18446744073709551615u)},
       "spec.analysis.failureLimit: must be <= 2147483647, got 18446744073709551615"},
      {{Set("/spec/analysis/errorLimit", 10000000000)},
       "spec.analysis.errorLimit: must be <= 2147483647, got 10000000000"},
      {{Set("/spec/analysis/noData", "skip")},
       R"(spec.analysis.noData: must be one of hold, noGo, got "skip")"},
      {{Set("/spec/analysis/args", {{"canary", "x"}})},
       "spec.analysis.args[canary]: shadows the built-in template variable {{canary}}"},
      {{Set("/spec/analysis/args", {{"my region", "eu"}})},
       "spec.analysis.args[my region]: name must match ^[A-Za-z_][A-Za-z0-9_.-]*$ to be usable "
       "as {{my region}}"},
      {{Set("/spec/analysis/metrics", json::object())},
       "spec.analysis.metrics: must be a list, got {}"},
      {{Set("/spec/analysis/metrics/1/name", "Latency_P95")},
       "spec.analysis.metrics[1].name: must be a DNS label (lower-case letters, digits and '-', "
       "at most 63), got \"Latency_P95\""},
      {{Set("/spec/analysis/metrics/2/name", "error-rate")},
       R"(spec.analysis.metrics[2].name: duplicate name "error-rate" (same as spec.analysis.metrics[0].name))"},
      {{Remove("/spec/analysis/metrics/0/query")}, "spec.analysis.metrics[0].query: is required"},
      {{Set("/spec/analysis/metrics/0/query", "")},
       "spec.analysis.metrics[0].query: must not be empty"},
      {{Set("/spec/analysis/metrics/1/query", "up{v=\"{{canry}}\"}")},
       "spec.analysis.metrics[1].query: unknown template variable {{canry}} (known: name, "
       "namespace, flag, phase, canary, stable)"},
      {{Set("/spec/analysis/metrics/1/query", "up{{canary")},
       "spec.analysis.metrics[1].query: unterminated {{ at offset 2"},
      {{Set("/spec/analysis/metrics/1/dryRun", "no")},
       R"(spec.analysis.metrics[1].dryRun: must be a boolean, got "no")"},
      {{Set("/spec/analysis/metrics/0/go", "<< 2")},
       R"(spec.analysis.metrics[0].go: invalid threshold "<< 2": unknown operator "<<" (one of < <= > >= == !=))"},
      {{Set("/spec/analysis/metrics/2/go", 0)},
       "spec.analysis.metrics[2].go: must be a string, got 0"},
      {{Remove("/spec/analysis/metrics/2/noGo")}, "spec.analysis.metrics[2].noGo: is required"},
      {{Set("/spec/analysis/metrics/0/abort", "> NaN")},
       R"(spec.analysis.metrics[0].abort: invalid threshold "> NaN": expected a number after ">", got "NaN")"},
      {{Set("/spec/analysis/metrics/0/noGo", "> 0.01")},
       R"(spec.analysis.metrics[0].noGo: "> 0.01" overlaps go "< 0.02": a value in (0.01, 0.02) would be both Go and NoGo)"},
      {{Set("/spec/analysis/metrics/0/abort", "> 0.03")},
       R"(spec.analysis.metrics[0].abort: "> 0.03" is not inside the noGo zone "> 0.05": a value in (0.03, 0.05] would hit abort but not noGo)"},
      // rollback
      {{Set("/spec/rollback", "total")}, R"(spec.rollback: must be an object, got "total")"},
      {{Set("/spec/rollback/mode", "full")},
       R"(spec.rollback.mode: must be one of total, stepBack, got "full")"},
      // phases
      {{Remove("/spec/phases")}, "spec.phases: is required"},
      {{Set("/spec/phases", json::array())}, "spec.phases: must have 1..50 items, got 0"},
      {{Set("/spec/phases", Phases(51))}, "spec.phases: must have 1..50 items, got 51"},
      {{Set("/spec/phases", {{"name", "x"}})}, R"(spec.phases: must be a list, got {"name":"x"})"},
      {{Set("/spec/phases/4", "complete")}, R"(spec.phases[4]: must be an object, got "complete")"},
      {{Remove("/spec/phases/1/name")}, "spec.phases[1].name: is required"},
      {{Set("/spec/phases/1/name", "")}, "spec.phases[1].name: must not be empty"},
      {{Set("/spec/phases/2/name", "canary")},
       R"(spec.phases[2].name: duplicate name "canary" (same as spec.phases[0].name))"},
      {{Set("/spec/phases/2/trafficWeight", 140)},
       "spec.phases[2].trafficWeight: must be 0..100, got 140"},
      {{Set("/spec/phases/0/flagPercent", -1)},
       "spec.phases[0].flagPercent: must be 0..100, got -1"},
      {{Set("/spec/phases/0/flagPercent", 5.5)},
       "spec.phases[0].flagPercent: must be an integer, got 5.5"},
      {{Set("/spec/phases/0/flagPercent", "5")},
       R"(spec.phases[0].flagPercent: must be an integer, got "5")"},
      {{Set("/spec/phases/0/flagPercent", true)},
       "spec.phases[0].flagPercent: must be an integer, got true"},
      {{Set("/spec/phases/2/flagPercent", 5)},
       "spec.phases[2].flagPercent: must not decrease, got 5 after 10 in spec.phases[1]"},
      {{Set("/spec/phases/3/trafficWeight", 20)},
       "spec.phases[3].trafficWeight: must not decrease, got 20 after 25 in spec.phases[2]"},
      {{Set("/spec/phases/0/duration", "4 hours")},
       R"(spec.phases[0].duration: invalid duration "4 hours": unknown unit " hours" (one of ns, us, ms, s, m, h))"},
      {{Set("/spec/phases/0/duration", "1d")},
       R"(spec.phases[0].duration: invalid duration "1d": unknown unit "d" (one of ns, us, ms, s, m, h))"},
      {{Set("/spec/phases/0/duration", 3600)},
       "spec.phases[0].duration: must be a string, got 3600"},
      {{Set("/spec/phases/3/approval", "true")},
       R"(spec.phases[3].approval: must be a boolean, got "true")"},
      {{Set("/spec/phases/1/flags", {{"voucher creation", 100}})},
       "spec.phases[1].flags[voucher creation]: flag key must match ^[A-Za-z0-9_.-]{1,128}$"},
      {{Set("/spec/phases/1/flags", {{"voucher_creation", 101}})},
       "spec.phases[1].flags[voucher_creation]: must be 0..100, got 101"},
      {{Set("/spec/phases/1/flags", json::array({"a"}))},
       R"(spec.phases[1].flags: must be an object, got ["a"])"},
      {{Set("/spec/phases/1/flags", {{"voice_agent_v2", 50}})},
       "spec.phases[1].flags[voice_agent_v2]: is the rollout's own flag (spec.flag.key); use "
       "flagPercent"},
      {{Remove("/spec/flag"), Set("/spec/phases/1/flags", {{"telemetry", 100}})},
       "spec.phases[1].flags: needs spec.flag (the store these flags live in)"},
      // notifications
      {{Set("/spec/notifications/0/url", "hooks.slack.com")},
       R"(spec.notifications[0].url: must be an http:// or https:// URL, got "hooks.slack.com")"},
      {{Set("/spec/notifications/0/events/1", "Rolledback")},
       R"(spec.notifications[0].events[1]: must be one of PhaseStarted, PhaseAdvanced, )"
       R"(AnalysisHold, AnalysisNoGo, RollingBack, RolledBack, AwaitingApproval, Promoted, )"
       R"(Paused, Resumed, Succeeded, InvalidSpec, TrafficTargetNotFound, FlagTargetNotFound, got "Rolledback")"},
      {{Remove("/spec/notifications/0/url"), Remove("/spec/notifications/0/secretRef")},
       "spec.notifications[0]: one of url, secretRef is required"},
      {{Set("/spec/notifications/0/secretRef", {{"key", "url"}})},
       "spec.notifications[0].secretRef.name: is required"},
      {{Set("/spec/notifications/0/type", "opsgenie")},
       R"(spec.notifications[0].type: must be one of slack, pagerduty, alertmanager, webhook, )"
       R"(got "opsgenie")"},
      {{Set("/spec/notifications/0/type", "pagerduty")},
       "spec.notifications[0].routingKeySecretRef: is required for type pagerduty"},
      {{Set("/spec/notifications/0/type", "alertmanager"),
        Set("/spec/notifications/0/routingKeySecretRef", {{"name", "pd"}, {"key", "key"}})},
       "spec.notifications[0].routingKeySecretRef: is for type pagerduty only, not alertmanager"},
      {{Set("/spec/notifications/0/type", "alertmanager"), Remove("/spec/notifications/0/url"),
        Remove("/spec/notifications/0/secretRef")},
       "spec.notifications[0]: one of url, secretRef is required"},
      {{Set("/spec/notifications/0/type", "pagerduty"),
        Set("/spec/notifications/0/routingKeySecretRef", {{"name", "pd"}})},
       "spec.notifications[0].routingKeySecretRef.key: is required"},
      // metadata and status
      {{Set("/metadata/annotations", {{"a", 1}})},
       "metadata.annotations[a]: must be a string, got 1"},
      {{Set("/metadata/generation", "4")}, R"(metadata.generation: must be an integer, got "4")"},
      {{Set("/metadata/generation", 1e19)},
       "metadata.generation: must be <= 9223372036854775807, got 1e+19"},
      {{Set("/status/phase", "Running")},
       R"(status.phase: must be one of Pending, Progressing, Paused, AwaitingApproval, )"
       R"(RollingBack, RolledBack, Succeeded, Failed, got "Running")"},
      {{Set("/status/verdict", "OK")},
       R"(status.verdict: must be one of Go, Hold, NoGo, Error, got "OK")"},
      {{Set("/status/currentPhase/index", -1)}, "status.currentPhase.index: must be >= 0, got -1"},
      {{Set("/status/conditions/0/lastTransitionTime", "yesterday")},
       R"(status.conditions[0].lastTransitionTime: invalid time "yesterday": must be RFC 3339, e.g. 2026-11-22T10:00:00Z)"},
      {{Set("/status/conditions/1/status", "true")},
       R"(status.conditions[1].status: must be one of True, False, Unknown, got "true")"},
      {{Set("/status/history", json::object())}, "status.history: must be a list, got {}"},
  };
  ASSERT_GE(cases.size(), 40u);
  for (const MalformedCase& c : cases) {
    const json object = Apply(VoiceAgentManifest(), c.edits);
    auto rollout = DecodeAndValidate(object);
    ASSERT_FALSE(rollout.ok()) << "accepted: " << c.message;
    EXPECT_EQ(rollout.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(rollout.error().message(), c.message);
  }
}

TEST(DecodeAndValidate, RejectsNonObjects) {
  for (const json& value : {json::array(), json("x"), json(nullptr)}) {
    auto rollout = DecodeAndValidate(value);
    ASSERT_FALSE(rollout.ok());
    EXPECT_EQ(rollout.error().message(), "object: must be an object, got " + value.dump());
  }
}

TEST(DecodeObjectMeta, StillWorksWhenTheSpecIsInvalid) {
  // The controller reports InvalidSpec on objects whose spec does not decode.
  const json object = Apply(VoiceAgentManifest(), {Set("/spec/paused", "yes")});
  ASSERT_FALSE(DecodeAgentRollout(object).ok());
  auto meta = DecodeObjectMeta(object["metadata"]);
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->name, "voice-agent-v2");
  auto status = DecodeStatus(object["status"]);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->observed_generation, 4);
}

// ---------------------------------------------------------------- threshold zones

struct ZoneCase {
  std::string go;
  std::string no_go;
  std::string abort;    // "" = none
  std::string message;  // "" = valid
};

TEST(ValidateSpec, ChecksGoNoGoAndAbortZones) {
  const std::vector<ZoneCase> cases = {
      // Valid tables.
      {"< 0.02", "> 0.05", "> 0.5", ""},
      {"< 800", "> 1200", "", ""},
      {"== 0", "> 2", "", ""},
      {"== 0", "!= 0", "", ""},
      {"!= 0", "== 0", "== 0", ""},
      {"< 5", ">= 5", "", ""},
      {"<= 5", "> 5", "> 5", ""},
      {">= 0.99", "< 0.95", "< 0.5", ""},
      {"< 0.02", "> 0.05", ">= 0.05000000000000001", ""},
      {"< 1", "> 2", "== 100", ""},
      {"== 0.5", "!= 0.5", "!= 0.5", ""},
      {"< 1", ">= 1", ">= 1", ""},
      // No double lies strictly between 1 and the next double.
      {"> 1", "< 1.0000000000000002", "", ""},
      // go and noGo overlap.
      {"< 0.05", "> 0.02", "",
       R"(spec.analysis.metrics[0].noGo: "> 0.02" overlaps go "< 0.05": a value in (0.02, 0.05) )"
       R"(would be both Go and NoGo)"},
      {"<= 5", ">= 5", "",
       R"(spec.analysis.metrics[0].noGo: ">= 5" overlaps go "<= 5": the value 5 would be both Go )"
       R"(and NoGo)"},
      {"== 0", "< 1", "",
       R"(spec.analysis.metrics[0].noGo: "< 1" overlaps go "== 0": the value 0 would be both Go )"
       R"(and NoGo)"},
      {"!= 0", "> 2", "",
       R"(spec.analysis.metrics[0].noGo: "> 2" overlaps go "!= 0": a value in (2, +Inf) would be )"
       R"(both Go and NoGo)"},
      {"< 5", "!= 5", "",
       R"(spec.analysis.metrics[0].noGo: "!= 5" overlaps go "< 5": a value in (-Inf, 5) would be )"
       R"(both Go and NoGo)"},
      {"== 1", "== 1", "",
       R"(spec.analysis.metrics[0].noGo: "== 1" overlaps go "== 1": the value 1 would be both Go )"
       R"(and NoGo)"},
      {"!= 1", "!= 2", "",
       R"(spec.analysis.metrics[0].noGo: "!= 2" overlaps go "!= 1": a value in (-Inf, 1) would )"
       R"(be both Go and NoGo)"},
      {">= 0.99", "<= 0.99", "",
       R"(spec.analysis.metrics[0].noGo: "<= 0.99" overlaps go ">= 0.99": the value 0.99 would )"
       R"(be both Go and NoGo)"},
      // abort outside the noGo zone.
      {"< 0.02", "> 0.05", "> 0.03",
       R"(spec.analysis.metrics[0].abort: "> 0.03" is not inside the noGo zone "> 0.05": a value )"
       R"(in (0.03, 0.05] would hit abort but not noGo)"},
      {"< 0.02", "> 0.05", ">= 0.05",
       R"(spec.analysis.metrics[0].abort: ">= 0.05" is not inside the noGo zone "> 0.05": the )"
       R"(value 0.05 would hit abort but not noGo)"},
      {"< 0.02", "> 0.05", "== 0.05",
       R"(spec.analysis.metrics[0].abort: "== 0.05" is not inside the noGo zone "> 0.05": the )"
       R"(value 0.05 would hit abort but not noGo)"},
      {"> 10", "< 5", "> 100",
       R"(spec.analysis.metrics[0].abort: "> 100" is not inside the noGo zone "< 5": a value in )"
       R"((100, +Inf) would hit abort but not noGo)"},
      {"== 0", "> 2", "!= 0",
       R"(spec.analysis.metrics[0].abort: "!= 0" is not inside the noGo zone "> 2": a value in )"
       R"((-Inf, 0) would hit abort but not noGo)"},
      {"== 0", "!= 0", "< 1",
       R"(spec.analysis.metrics[0].abort: "< 1" is not inside the noGo zone "!= 0": the value 0 )"
       R"(would hit abort but not noGo)"},
  };
  auto base = DecodeSpec(VoiceAgentManifest()["spec"]);
  ASSERT_TRUE(base.ok());
  for (const ZoneCase& c : cases) {
    AgentRolloutSpec spec = *base;
    MetricSpec& metric = spec.analysis.metrics[0];
    metric.go = *ParseThreshold(c.go);
    metric.no_go = *ParseThreshold(c.no_go);
    metric.abort.reset();
    if (!c.abort.empty()) metric.abort = *ParseThreshold(c.abort);
    const Status status = ValidateSpec(spec);
    const std::string label = c.go + " / " + c.no_go + " / " + c.abort;
    if (c.message.empty()) {
      EXPECT_TRUE(status.ok()) << label << ": " << status.error().message();
    } else {
      ASSERT_FALSE(status.ok()) << label;
      EXPECT_EQ(status.error().message(), c.message) << label;
    }
  }
}

TEST(ValidateSpec, ChecksTemplateVariablesAgainstArgs) {
  auto base = DecodeSpec(VoiceAgentManifest()["spec"]);
  ASSERT_TRUE(base.ok());
  AgentRolloutSpec spec = *base;
  spec.analysis.metrics[2].query = "x{agent=\"{{agent}}\",v=\"{{ canary }}\",p=\"{{phase}}\"}";
  Status status = ValidateSpec(spec);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[2].query: unknown template variable {{agent}} (known: name, "
            "namespace, flag, phase, canary, stable)");
  spec.analysis.args = {{"agent", "voice"}};
  EXPECT_TRUE(ValidateSpec(spec).ok());
}

TEST(ValidateSpec, BareTemplateValuesMustBeNumbersOrDurations) {
  auto base = DecodeSpec(VoiceAgentManifest()["spec"]);
  ASSERT_TRUE(base.ok());
  AgentRolloutSpec spec = *base;
  spec.analysis.args = {{"x", "z'} or vector(9) #"}, {"window", "5m"}};
  spec.analysis.metrics[2].query = "sum(rate(m{arg='{{x}}'}[{{window}}]))";
  EXPECT_TRUE(ValidateSpec(spec).ok());  // quoted: escaped when rendered
  spec.analysis.metrics[2].query = "sum(rate(m[{{window}}])) > {{x}}";
  Status status = ValidateSpec(spec);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[2].query: {{x}} of metric \"circuit-breaker-opens\" stands "
            "outside a \"…\" or '…' string literal, so its value must be a number or a "
            "duration; analysis.args.x is \"z'} or vector(9) #\"");
}

json ErrorRateVsStable() {
  return {
      {"name", "error-rate-vs-stable"},
      {"events",
       R"q(sum(increase(agent_requests_total{version="{{version}}",outcome="error"}[{{window}}])))q"},
      {"total", R"q(sum(increase(agent_requests_total{version="{{version}}"}[{{window}}])))q"},
      {"go", "< 0.005"},
      {"noGo", "> 0.02"}};
}

TEST(ValidateSpec, ChecksComparisons) {
  const json example =
      Apply(VoiceAgentManifest(),
            {Set("/spec/analysis/comparisons", json::array({ErrorRateVsStable()}))});
  auto accepted = DecodeAndValidate(example);
  ASSERT_TRUE(accepted.ok()) << accepted.error().message();
  const std::vector<MalformedCase> cases = {
      {{Set("/spec/analysis/comparisons/0/go", "> 0.005")},
       R"m(spec.analysis.comparisons[0].go: must be < or <= (canary - stable is below it), got "> 0.005")m"},
      {{Set("/spec/analysis/comparisons/0/noGo", "== 0.02")},
       R"m(spec.analysis.comparisons[0].noGo: must be > or >= (canary - stable is above it), got "== 0.02")m"},
      {{Set("/spec/analysis/comparisons/0/noGo", "> 0.001")},
       R"m(spec.analysis.comparisons[0].noGo: "> 0.001" overlaps go "< 0.005": a value in (0.001, 0.005) would be both Go and NoGo)m"},
      {{Set("/spec/analysis/comparisons/0/name", "error-rate")},
       R"m(spec.analysis.comparisons[0].name: duplicate name "error-rate" (same as spec.analysis.metrics[0].name))m"},
      {{Set("/spec/analysis/comparisons/1", ErrorRateVsStable())},
       R"m(spec.analysis.comparisons[1].name: duplicate name "error-rate-vs-stable" (same as spec.analysis.comparisons[0].name))m"},
      {{Set("/spec/analysis/comparisons/0/total", "sum(x{v={{version}}})")},
       R"m(spec.analysis.comparisons[0].total: {{version}} of comparison "error-rate-vs-stable" stands outside a "…" or '…' string literal, so its value must be a number or a duration; built-in variables are names: put it inside "…")m"},
      {{Set("/spec/analysis/comparisons/0/events", R"(x{v="{{versoin}}"})")},
       "spec.analysis.comparisons[0].events: unknown template variable {{versoin}} (known: name, "
       "namespace, flag, phase, canary, stable, version, window)"},
      {{Remove("/spec/traffic")},
       "spec.analysis.args.canaryVersion: is required by spec.analysis.comparisons without "
       "spec.traffic (it names the version {{version}} stands for)"},
      {{Remove("/spec/traffic"), Set("/spec/analysis/args", {{"canaryVersion", "2.0.0"}})},
       "spec.analysis.args.stableVersion: is required by spec.analysis.comparisons without "
       "spec.traffic (it names the version {{version}} stands for)"},
  };
  for (const MalformedCase& c : cases) {
    auto rollout = DecodeAndValidate(Apply(example, c.edits));
    ASSERT_FALSE(rollout.ok()) << "accepted: " << c.message;
    EXPECT_EQ(rollout.error().message(), c.message);
  }
  // {{window}} and {{version}} belong to comparisons only.
  auto metric_window = DecodeAndValidate(
      Apply(example, {Set("/spec/analysis/metrics/0/query", "sum(increase(x[{{window}}]))")}));
  ASSERT_FALSE(metric_window.ok());
  EXPECT_TRUE(metric_window.error().message().starts_with(
      "spec.analysis.metrics[0].query: unknown template variable {{window}}"));
  auto flag_only = DecodeAndValidate(Apply(
      example, {Remove("/spec/traffic"), Set("/spec/analysis/args", {{"canaryVersion", "2.0.0"},
                                                                     {"stableVersion", "1.9"}})}));
  EXPECT_TRUE(flag_only.ok()) << flag_only.error().message();
}

TEST(ValidateSpec, AcceptsTrafficOnlyAndFlagOnlyRollouts) {
  auto base = DecodeSpec(VoiceAgentManifest()["spec"]);
  ASSERT_TRUE(base.ok());
  AgentRolloutSpec flag_only = *base;
  flag_only.traffic.reset();
  EXPECT_TRUE(ValidateSpec(flag_only).ok());
  AgentRolloutSpec traffic_only = *base;
  traffic_only.flag.reset();
  EXPECT_TRUE(ValidateSpec(traffic_only).ok());
  AgentRolloutSpec time_only = *base;
  time_only.analysis = AnalysisSpec{};
  EXPECT_TRUE(ValidateSpec(time_only).ok());
}

}  // namespace
}  // namespace agentrollout::api
