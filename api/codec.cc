#include "api/codec.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "api/duration.h"
#include "api/names.h"
#include "api/sql_names.h"
#include "api/template.h"
#include "api/threshold.h"
#include "api/time.h"
#include "api/validate.h"
#include "common/text.h"

namespace agentrollout::api {
namespace {

using nlohmann::json;

constexpr std::int64_t kInt32Max = std::numeric_limits<std::int32_t>::max();
constexpr std::int64_t kInt32Min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t kInt64Max = std::numeric_limits<std::int64_t>::max();
constexpr std::int64_t kInt64Min = std::numeric_limits<std::int64_t>::min();
constexpr std::size_t kMaxPhases = 50;
constexpr Duration kMinInterval = std::chrono::seconds(1);
constexpr double kMinConfidence = 0.8;  // analysis.comparisons[].confidence (API.md §3.3)
constexpr double kMaxConfidence = 0.999;
constexpr std::int64_t kMaxMinTotal = 1000000000;

// A JSON path kept on the stack while decoding descends, rendered only for an error.
class Path {
 public:
  explicit Path(std::string_view root) : name_(root) {}

  Path Member(std::string_view name) const { return Path(this, Kind::kMember, name, 0); }
  Path Index(std::size_t index) const { return Path(this, Kind::kIndex, {}, index); }
  Path Key(std::string_view key) const { return Path(this, Kind::kKey, key, 0); }

  std::string ToString() const {
    std::string out = parent_ != nullptr ? parent_->ToString() : std::string();
    switch (kind_) {
      case Kind::kRoot:
        out += name_;
        break;
      case Kind::kMember:
        out += ".";
        out += name_;
        break;
      case Kind::kIndex:
        out += "[" + std::to_string(index_) + "]";
        break;
      case Kind::kKey:
        out += "[";
        out += name_;
        out += "]";
        break;
    }
    return out;
  }

 private:
  enum class Kind { kRoot, kMember, kIndex, kKey };
  Path(const Path* parent, Kind kind, std::string_view name, std::size_t index)
      : parent_(parent), kind_(kind), name_(name), index_(index) {}

  const Path* parent_ = nullptr;
  Kind kind_ = Kind::kRoot;
  std::string_view name_;
  std::size_t index_ = 0;
};

// The offending value as JSON text (strings quoted), shortened to keep messages readable.
std::string Describe(const json& value) {
  constexpr std::size_t kMaxLength = 64;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxLength)
    text = std::string(CutOnCharacterBoundary(text, kMaxLength - 3)) + "...";
  return text;
}

std::string Quote(std::string_view text) { return Describe(json(text)); }

bool IsFlagKeyChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

// ^[A-Za-z0-9_.-]{1,128}$ (flag keys, phases[].flags keys). ConfigMap data keys use the same
// alphabet (Kubernetes: [-._a-zA-Z0-9]+, at most 253).
bool MatchesKeyAlphabet(std::string_view text, std::size_t max_length) {
  if (text.empty() || text.size() > max_length) return false;
  for (char c : text) {
    if (!IsFlagKeyChar(c)) return false;
  }
  return true;
}

// RFC 1123 label: ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$, at most 63 (metric names: "DNS-label-like").
bool IsDnsLabel(std::string_view text) {
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (text.empty() || text.size() > 63 || !alnum(text.front()) || !alnum(text.back())) {
    return false;
  }
  for (char c : text) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

bool IsHttpUrl(std::string_view text) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (text.size() > scheme.size() && text.substr(0, scheme.size()) == scheme) return true;
  }
  return false;
}

// The member `key` of `object`, or nullptr when it is absent or null.
const json* Find(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

// Decodes with "first error wins": after a failure, readers return defaults and record
// nothing more, so callers need no error plumbing between fields.
class Decoder {
 public:
  bool ok() const { return !error_.has_value(); }
  Error TakeError() { return std::move(*error_); }

  void Fail(const Path& path, const std::string& message) {
    if (!error_) error_ = InvalidArgument(path.ToString() + ": " + message);
  }

  bool Expect(bool condition, const json& value, const Path& path, const char* what) {
    if (!condition) Fail(path, std::string("must be ") + what + ", got " + Describe(value));
    return condition;
  }
  bool ExpectObject(const json& value, const Path& path) {
    return Expect(value.is_object(), value, path, "an object");
  }
  bool ExpectList(const json& value, const Path& path) {
    return Expect(value.is_array(), value, path, "a list");
  }

  // A member that must be present and not null.
  const json* Required(const json& object, const char* key, const Path& path) {
    const json* member = Find(object, key);
    if (member == nullptr) Fail(path.Member(key), "is required");
    return member;
  }

  std::string String(const json& value, const Path& path) {
    if (!Expect(value.is_string(), value, path, "a string")) return {};
    return value.get<std::string>();
  }

  // A required string that must not be empty (names of objects, queries).
  std::string RequiredName(const json& object, const char* key, const Path& path) {
    const json* member = Required(object, key, path);
    if (member == nullptr) return {};
    const Path at = path.Member(key);
    std::string text = String(*member, at);
    if (ok() && text.empty()) Fail(at, "must not be empty");
    return text;
  }

  bool Bool(const json& value, const Path& path) {
    if (!Expect(value.is_boolean(), value, path, "a boolean")) return false;
    return value.get<bool>();
  }

  // An integer in [min, max]. Integral floats (5.0) are accepted, as Kubernetes does.
  std::int64_t Integer(const json& value, const Path& path, std::int64_t min, std::int64_t max,
                       std::int64_t type_min, std::int64_t type_max) {
    std::optional<std::int64_t> number;
    bool in_type_range = true;
    if (value.is_number_unsigned()) {
      const auto unsigned_value = value.get<std::uint64_t>();
      in_type_range = unsigned_value <= static_cast<std::uint64_t>(type_max);
      if (in_type_range) number = static_cast<std::int64_t>(unsigned_value);
    } else if (value.is_number_integer()) {
      number = value.get<std::int64_t>();
    } else if (value.is_number_float()) {
      const double d = value.get<double>();
      if (std::isfinite(d) && std::trunc(d) == d) {
        // 2^63 is the first double beyond int64; compare in double to stay defined.
        in_type_range = d >= -9223372036854775808.0 && d < 9223372036854775808.0;
        if (in_type_range) number = static_cast<std::int64_t>(d);
      }
    }
    if (!Expect(number.has_value() || !in_type_range, value, path, "an integer")) return min;
    if (!in_type_range || *number < min || *number > max) {
      if (min > type_min && max < type_max) {
        Fail(path, "must be " + std::to_string(min) + ".." + std::to_string(max) + ", got " +
                       Describe(value));
      } else if (!in_type_range || *number > max) {
        Fail(path, "must be <= " + std::to_string(max) + ", got " + Describe(value));
      } else {
        Fail(path, "must be >= " + std::to_string(min) + ", got " + Describe(value));
      }
      return min;
    }
    return *number;
  }

  std::int32_t Int32(const json& value, const Path& path, std::int64_t min = kInt32Min,
                     std::int64_t max = kInt32Max) {
    return static_cast<std::int32_t>(Integer(value, path, min, max, kInt32Min, kInt32Max));
  }
  std::int64_t Int64(const json& value, const Path& path) {
    return Integer(value, path, kInt64Min, kInt64Max, kInt64Min, kInt64Max);
  }

  // A finite number in [min, max].
  double Number(const json& value, const Path& path, double min, double max) {
    if (!Expect(value.is_number(), value, path, "a number")) return min;
    const double number = value.get<double>();
    if (!(number >= min && number <= max)) {
      Fail(path, "must be in [" + FormatNumber(min) + ", " + FormatNumber(max) + "], got " +
                     Describe(value));
      return min;
    }
    return number;
  }

  Duration DurationValue(const json& value, const Path& path) {
    const std::string text = String(value, path);
    if (!ok()) return {};
    auto duration = ParseDuration(text);
    if (!duration.ok()) {
      Fail(path, duration.error().message());
      return {};
    }
    return *duration;
  }

  Threshold ThresholdValue(const json& value, const Path& path) {
    const std::string text = String(value, path);
    if (!ok()) return {};
    auto threshold = ParseThreshold(text);
    if (!threshold.ok()) {
      Fail(path, threshold.error().message());
      return {};
    }
    return *threshold;
  }

  Timestamp Time(const json& value, const Path& path) {
    const std::string text = String(value, path);
    if (!ok()) return {};
    auto time = ParseTime(text);
    if (!time.ok()) {
      Fail(path, time.error().message());
      return {};
    }
    return *time;
  }

  // An enum spelled as in api/names.h.
  template <typename Enum>
  Enum EnumValue(const json& value, const Path& path, Result<Enum> (*parse)(std::string_view),
                 Enum fallback) {
    const std::string text = String(value, path);
    if (!ok()) return fallback;
    auto parsed = parse(text);
    if (!parsed.ok()) {
      Fail(path, parsed.error().message());
      return fallback;
    }
    return *parsed;
  }

  std::vector<std::string> StringList(const json& value, const Path& path) {
    std::vector<std::string> out;
    if (!ExpectList(value, path)) return out;
    out.reserve(value.size());
    for (std::size_t i = 0; i < value.size(); ++i) out.push_back(String(value[i], path.Index(i)));
    return out;
  }

  std::map<std::string, std::string> StringMap(const json& value, const Path& path) {
    std::map<std::string, std::string> out;
    if (!ExpectObject(value, path)) return out;
    for (const auto& [key, item] : value.items()) {
      out.emplace(key, String(item, path.Key(key)));
    }
    return out;
  }

 private:
  std::optional<Error> error_;
};

// Each DecodeX(d, value, path) reads one object of the model; `value` may be any JSON.

SecretKeyRef DecodeSecretKeyRef(Decoder& d, const json& value, const Path& path) {
  SecretKeyRef ref;
  if (!d.ExpectObject(value, path)) return ref;
  ref.name = d.RequiredName(value, "name", path);
  ref.key = d.RequiredName(value, "key", path);
  return ref;
}

SecretRef DecodeSecretRef(Decoder& d, const json& value, const Path& path) {
  SecretRef ref;
  if (!d.ExpectObject(value, path)) return ref;
  ref.name = d.RequiredName(value, "name", path);
  return ref;
}

// An environment variable name, as shells and most runtimes read them.
std::string DecodeEnvName(Decoder& d, const json& value, const Path& path) {
  std::string name = d.String(value, path);
  if (d.ok() && !IsEnvVarName(name)) {
    d.Fail(path,
           "must be an environment variable name matching ^[A-Za-z_][A-Za-z0-9_]{0,127}$, got " +
               Quote(name));
  }
  return name;
}

DeploymentEnvFlagStore DecodeDeploymentEnv(Decoder& d, const json& value, const Path& path) {
  DeploymentEnvFlagStore store;
  if (!d.ExpectObject(value, path)) return store;
  store.deployment = d.RequiredName(value, "deployment", path);
  if (const json* container = Find(value, "container")) {
    const Path at = path.Member("container");
    store.container = d.String(*container, at);
    if (d.ok() && !IsDnsLabel(store.container)) {
      d.Fail(at, "must be a container name (a DNS label: a-z, 0-9 and -), got " +
                     Quote(store.container));
    }
  }
  const json* variables = d.Required(value, "variables", path);
  const Path at = path.Member("variables");
  if (!variables || !d.ExpectObject(*variables, at)) return store;
  if (const json* enabled = Find(*variables, "enabled")) {
    store.variables.enabled = DecodeEnvName(d, *enabled, at.Member("enabled"));
  }
  if (const json* percentage = Find(*variables, "percentage")) {
    store.variables.percentage = DecodeEnvName(d, *percentage, at.Member("percentage"));
  }
  return store;
}

// An identifier (`qualified`: optionally schema.table) that goes into SQL text quoted.
std::string DecodeSqlIdentifier(Decoder& d, const json& value, const Path& path, bool qualified) {
  std::string text = d.String(value, path);
  if (d.ok() && !(qualified ? IsQualifiedSqlIdentifier(text) : IsSqlIdentifier(text))) {
    d.Fail(path, std::string("must be an SQL identifier ") +
                     (qualified ? "[A-Za-z_][A-Za-z0-9_]* (at most 63, optionally schema.table)"
                                : "[A-Za-z_][A-Za-z0-9_]* (at most 63)") +
                     ", got " + Quote(text));
  }
  return text;
}

// columns / jsonPaths: each member a column name or a dotted JSON path.
PostgresFields DecodePostgresFields(Decoder& d, const json& value, const Path& path,
                                    bool json_paths) {
  PostgresFields fields;
  if (!d.ExpectObject(value, path)) return fields;
  const std::pair<const char*, std::string*> members[] = {
      {"enabled", &fields.enabled},
      {"percentage", &fields.percentage},
      {"enabledTenants", &fields.enabled_tenants},
      {"disabledTenants", &fields.disabled_tenants}};
  for (const auto& [name, field] : members) {
    const json* member = Find(value, name);
    if (member == nullptr) continue;
    const Path at = path.Member(name);
    if (!json_paths) {
      *field = DecodeSqlIdentifier(d, *member, at, /*qualified=*/false);
      continue;
    }
    *field = d.String(*member, at);
    if (d.ok() && !IsJsonPath(*field)) {
      d.Fail(at, "must be a dotted JSON path of [A-Za-z0-9_-] segments, got " + Quote(*field));
    }
  }
  for (const auto& item : value.items()) {
    // A named variable, not a structured binding: clang 14 (the fuzz build) cannot capture
    // a binding in a lambda.
    const std::string& name = item.key();
    const bool known = std::any_of(std::begin(members), std::end(members),
                                   [&](const auto& m) { return name == m.first; });
    if (!known) {
      d.Fail(path.Member(name),
             "unknown; the mapped fields are enabled, percentage, enabledTenants, "
             "disabledTenants");
    }
  }
  return fields;
}

PostgresFlagStore DecodePostgresStore(Decoder& d, const json& value, const Path& path) {
  PostgresFlagStore store;
  if (!d.ExpectObject(value, path)) return store;
  if (const json* ref = d.Required(value, "connectionSecretRef", path)) {
    store.connection_secret_ref = DecodeSecretKeyRef(d, *ref, path.Member("connectionSecretRef"));
  }
  if (const json* table = d.Required(value, "table", path)) {
    store.table = DecodeSqlIdentifier(d, *table, path.Member("table"), /*qualified=*/true);
  }
  if (const json* column = d.Required(value, "keyColumn", path)) {
    store.key_column = DecodeSqlIdentifier(d, *column, path.Member("keyColumn"), false);
  }
  if (const json* columns = Find(value, "columns")) {
    store.columns = DecodePostgresFields(d, *columns, path.Member("columns"), false);
  }
  if (const json* column = Find(value, "jsonColumn")) {
    store.json_column = DecodeSqlIdentifier(d, *column, path.Member("jsonColumn"), false);
  }
  if (const json* paths = Find(value, "jsonPaths")) {
    store.json_paths = DecodePostgresFields(d, *paths, path.Member("jsonPaths"), true);
  }
  return store;
}

FlagSpec DecodeFlag(Decoder& d, const json& value, const Path& path) {
  FlagSpec flag;
  if (!d.ExpectObject(value, path)) return flag;
  if (const json* key = d.Required(value, "key", path)) {
    const Path at = path.Member("key");
    flag.key = d.String(*key, at);
    if (d.ok() && !MatchesKeyAlphabet(flag.key, 128)) {
      d.Fail(at, "must match ^[A-Za-z0-9_.-]{1,128}$, got " + Quote(flag.key));
    }
  }
  if (const json* store = Find(value, "configMap")) {
    const Path at = path.Member("configMap");
    ConfigMapFlagStore config_map;
    if (d.ExpectObject(*store, at)) {
      config_map.name = d.RequiredName(*store, "name", at);
      if (const json* key = Find(*store, "key")) {
        const Path key_at = at.Member("key");
        config_map.key = d.String(*key, key_at);
        if (d.ok() && !MatchesKeyAlphabet(config_map.key, 253)) {
          d.Fail(key_at, "must match ^[-._a-zA-Z0-9]{1,253}$, got " + Quote(config_map.key));
        }
      }
    }
    flag.config_map = std::move(config_map);
  }
  if (const json* store = Find(value, "featureFlag")) {
    const Path at = path.Member("featureFlag");
    FeatureFlagStore feature_flag;
    if (d.ExpectObject(*store, at)) feature_flag.name = d.RequiredName(*store, "name", at);
    flag.feature_flag = std::move(feature_flag);
  }
  if (const json* store = Find(value, "deploymentEnv")) {
    flag.deployment_env = DecodeDeploymentEnv(d, *store, path.Member("deploymentEnv"));
  }
  if (const json* store = Find(value, "postgres")) {
    flag.postgres = DecodePostgresStore(d, *store, path.Member("postgres"));
  }
  if (const json* tenants = Find(value, "enabledTenants")) {
    flag.enabled_tenants = d.StringList(*tenants, path.Member("enabledTenants"));
  }
  if (const json* tenants = Find(value, "disabledTenants")) {
    flag.disabled_tenants = d.StringList(*tenants, path.Member("disabledTenants"));
  }
  return flag;
}

TrafficSpec DecodeTraffic(Decoder& d, const json& value, const Path& path) {
  TrafficSpec traffic;
  if (!d.ExpectObject(value, path)) return traffic;
  if (const json* router = Find(value, "gatewayAPI")) {
    const Path at = path.Member("gatewayAPI");
    GatewayApiTraffic gateway;
    if (d.ExpectObject(*router, at)) {
      gateway.http_route = d.RequiredName(*router, "httpRoute", at);
      gateway.stable_backend = d.RequiredName(*router, "stableBackend", at);
      gateway.canary_backend = d.RequiredName(*router, "canaryBackend", at);
    }
    traffic.gateway_api = std::move(gateway);
  }
  if (const json* router = Find(value, "istio")) {
    const Path at = path.Member("istio");
    IstioTraffic istio;
    if (d.ExpectObject(*router, at)) {
      istio.virtual_service = d.RequiredName(*router, "virtualService", at);
      istio.stable_host = d.RequiredName(*router, "stableHost", at);
      istio.canary_host = d.RequiredName(*router, "canaryHost", at);
      if (const json* subset = Find(*router, "stableSubset")) {
        istio.stable_subset = d.String(*subset, at.Member("stableSubset"));
      }
      if (const json* subset = Find(*router, "canarySubset")) {
        istio.canary_subset = d.String(*subset, at.Member("canarySubset"));
      }
    }
    traffic.istio = std::move(istio);
  }
  if (const json* router = Find(value, "replicas")) {
    const Path at = path.Member("replicas");
    ReplicasTraffic replicas;
    if (d.ExpectObject(*router, at)) {
      replicas.stable_deployment = d.RequiredName(*router, "stableDeployment", at);
      replicas.canary_deployment = d.RequiredName(*router, "canaryDeployment", at);
      if (const json* total = d.Required(*router, "totalReplicas", at)) {
        replicas.total_replicas = d.Int32(*total, at.Member("totalReplicas"), 1);
      }
    }
    traffic.replicas = std::move(replicas);
  }
  return traffic;
}

PrometheusSpec DecodePrometheus(Decoder& d, const json& value, const Path& path) {
  PrometheusSpec prometheus;
  if (!d.ExpectObject(value, path)) return prometheus;
  if (const json* address = Find(value, "address")) {
    const Path at = path.Member("address");
    prometheus.address = d.String(*address, at);
    if (d.ok() && !IsHttpUrl(prometheus.address)) {
      d.Fail(at, "must be an http:// or https:// URL, got " + Quote(prometheus.address));
    }
  }
  if (const json* timeout = Find(value, "timeout")) {
    const Path at = path.Member("timeout");
    prometheus.timeout = d.DurationValue(*timeout, at);
    if (d.ok() && (prometheus.timeout < std::chrono::seconds(1) ||
                   prometheus.timeout > std::chrono::seconds(60))) {
      d.Fail(at, "must be between 1s and 60s, got " + Describe(*timeout));
    }
  }
  if (const json* headers = Find(value, "headers")) {
    const Path at = path.Member("headers");
    prometheus.headers = d.StringMap(*headers, at);
    for (const auto& [name, header] : prometheus.headers) {
      if (!d.ok()) break;
      if (!IsHttpToken(name)) {
        d.Fail(at,
               "every header name must be an HTTP token (letters, digits and "
               "!#$%&'*+-.^_`|~), got " +
                   Quote(name));
      } else if (!IsHttpFieldValue(header)) {
        d.Fail(at.Key(name),
               "a header value must not contain control characters (CR, LF, NUL, ...; a tab is "
               "allowed), got " +
                   Quote(header));
      }
    }
  }
  if (const json* ref = Find(value, "bearerTokenSecretRef")) {
    prometheus.bearer_token_secret_ref =
        DecodeSecretKeyRef(d, *ref, path.Member("bearerTokenSecretRef"));
  }
  if (const json* ref = Find(value, "basicAuthSecretRef")) {
    prometheus.basic_auth_secret_ref = DecodeSecretRef(d, *ref, path.Member("basicAuthSecretRef"));
  }
  if (const json* skip = Find(value, "insecureSkipVerify")) {
    prometheus.insecure_skip_verify = d.Bool(*skip, path.Member("insecureSkipVerify"));
  }
  if (const json* ref = Find(value, "caSecretRef")) {
    prometheus.ca_secret_ref = DecodeSecretKeyRef(d, *ref, path.Member("caSecretRef"));
  }
  return prometheus;
}

// The name of a metric or a comparison: a DNS label.
std::string DecodeTableName(Decoder& d, const json& value, const Path& path) {
  const json* name = d.Required(value, "name", path);
  if (name == nullptr) return {};
  const Path at = path.Member("name");
  std::string text = d.String(*name, at);
  if (d.ok() && !IsDnsLabel(text)) {
    d.Fail(at, "must be a DNS label (lower-case letters, digits and '-', at most 63), got " +
                   Quote(text));
  }
  return text;
}

MetricSpec DecodeMetric(Decoder& d, const json& value, const Path& path) {
  MetricSpec metric;
  if (!d.ExpectObject(value, path)) return metric;
  metric.name = DecodeTableName(d, value, path);
  metric.query = d.RequiredName(value, "query", path);
  if (const json* dry_run = Find(value, "dryRun")) {
    metric.dry_run = d.Bool(*dry_run, path.Member("dryRun"));
  }
  if (const json* go = d.Required(value, "go", path)) {
    metric.go = d.ThresholdValue(*go, path.Member("go"));
  }
  if (const json* no_go = d.Required(value, "noGo", path)) {
    metric.no_go = d.ThresholdValue(*no_go, path.Member("noGo"));
  }
  if (const json* abort = Find(value, "abort")) {
    metric.abort = d.ThresholdValue(*abort, path.Member("abort"));
  }
  return metric;
}

ComparisonSpec DecodeComparison(Decoder& d, const json& value, const Path& path) {
  ComparisonSpec comparison;
  if (!d.ExpectObject(value, path)) return comparison;
  comparison.name = DecodeTableName(d, value, path);
  comparison.events = d.RequiredName(value, "events", path);
  comparison.total = d.RequiredName(value, "total", path);
  if (const json* go = d.Required(value, "go", path)) {
    comparison.go = d.ThresholdValue(*go, path.Member("go"));
  }
  if (const json* no_go = d.Required(value, "noGo", path)) {
    comparison.no_go = d.ThresholdValue(*no_go, path.Member("noGo"));
  }
  if (const json* confidence = Find(value, "confidence")) {
    comparison.confidence =
        d.Number(*confidence, path.Member("confidence"), kMinConfidence, kMaxConfidence);
  }
  if (const json* min_total = Find(value, "minTotal")) {
    comparison.min_total =
        d.Integer(*min_total, path.Member("minTotal"), 1, kMaxMinTotal, kInt64Min, kInt64Max);
  }
  return comparison;
}

AnalysisSpec DecodeAnalysis(Decoder& d, const json& value, const Path& path) {
  AnalysisSpec analysis;
  if (!d.ExpectObject(value, path)) return analysis;
  if (const json* prometheus = Find(value, "prometheus")) {
    analysis.prometheus = DecodePrometheus(d, *prometheus, path.Member("prometheus"));
  }
  if (const json* interval = Find(value, "interval")) {
    const Path at = path.Member("interval");
    analysis.interval = d.DurationValue(*interval, at);
    if (d.ok() && analysis.interval < kMinInterval) {
      d.Fail(at, "must be at least 1s, got " + Describe(*interval));
    }
  }
  if (const json* limit = Find(value, "failureLimit")) {
    analysis.failure_limit = d.Int32(*limit, path.Member("failureLimit"), 0);
  }
  if (const json* limit = Find(value, "errorLimit")) {
    analysis.error_limit = d.Int32(*limit, path.Member("errorLimit"), 0);
  }
  if (const json* no_data = Find(value, "noData")) {
    analysis.no_data =
        d.EnumValue(*no_data, path.Member("noData"), ParseNoDataPolicy, NoDataPolicy::kHold);
  }
  if (const json* args = Find(value, "args")) {
    const Path at = path.Member("args");
    analysis.args = d.StringMap(*args, at);
    const std::vector<std::string> builtins = BuiltinTemplateVariables();
    for (const auto& [name, arg] : analysis.args) {
      if (!d.ok()) break;
      if (!IsTemplateVariableName(name)) {
        d.Fail(at.Key(name),
               "name must match ^[A-Za-z_][A-Za-z0-9_.-]*$ to be usable as {{" + name + "}}");
      } else if (std::find(builtins.begin(), builtins.end(), name) != builtins.end()) {
        d.Fail(at.Key(name), "shadows the built-in template variable {{" + name + "}}");
      }
    }
  }
  if (const json* metrics = Find(value, "metrics")) {
    const Path at = path.Member("metrics");
    if (d.ExpectList(*metrics, at)) {
      analysis.metrics.reserve(metrics->size());
      for (std::size_t i = 0; i < metrics->size(); ++i) {
        analysis.metrics.push_back(DecodeMetric(d, (*metrics)[i], at.Index(i)));
      }
    }
  }
  if (const json* comparisons = Find(value, "comparisons")) {
    const Path at = path.Member("comparisons");
    if (d.ExpectList(*comparisons, at)) {
      analysis.comparisons.reserve(comparisons->size());
      for (std::size_t i = 0; i < comparisons->size(); ++i) {
        analysis.comparisons.push_back(DecodeComparison(d, (*comparisons)[i], at.Index(i)));
      }
    }
  }
  return analysis;
}

PhaseSpec DecodePhase(Decoder& d, const json& value, const Path& path, const PhaseSpec* previous) {
  PhaseSpec phase;
  if (previous != nullptr) {
    phase.flag_percent = previous->flag_percent;
    phase.traffic_weight = previous->traffic_weight;
  }
  if (!d.ExpectObject(value, path)) return phase;
  phase.name = d.RequiredName(value, "name", path);
  if (const json* percent = Find(value, "flagPercent")) {
    phase.flag_percent = d.Int32(*percent, path.Member("flagPercent"), 0, 100);
  }
  if (const json* weight = Find(value, "trafficWeight")) {
    phase.traffic_weight = d.Int32(*weight, path.Member("trafficWeight"), 0, 100);
  }
  if (const json* duration = Find(value, "duration")) {
    phase.duration = d.DurationValue(*duration, path.Member("duration"));
  }
  if (const json* approval = Find(value, "approval")) {
    phase.approval = d.Bool(*approval, path.Member("approval"));
  }
  if (const json* flags = Find(value, "flags")) {
    const Path at = path.Member("flags");
    if (d.ExpectObject(*flags, at)) {
      for (const auto& [key, percent] : flags->items()) {
        const Path key_at = at.Key(key);
        if (!MatchesKeyAlphabet(key, 128)) {
          d.Fail(key_at, "flag key must match ^[A-Za-z0-9_.-]{1,128}$");
        }
        phase.flags.emplace(key, d.Int32(percent, key_at, 0, 100));
      }
    }
  }
  return phase;
}

NotificationSpec DecodeNotification(Decoder& d, const json& value, const Path& path) {
  NotificationSpec notification;
  if (!d.ExpectObject(value, path)) return notification;
  if (const json* type = Find(value, "type")) {
    notification.type =
        d.EnumValue(*type, path.Member("type"), ParseNotificationType, NotificationType::kSlack);
  }
  if (const json* url = Find(value, "url")) {
    const Path at = path.Member("url");
    notification.url = d.String(*url, at);
    if (d.ok() && !IsHttpUrl(notification.url)) {
      d.Fail(at, "must be an http:// or https:// URL, got " + Quote(notification.url));
    }
  }
  if (const json* ref = Find(value, "secretRef")) {
    notification.secret_ref = DecodeSecretKeyRef(d, *ref, path.Member("secretRef"));
  }
  if (const json* ref = Find(value, "routingKeySecretRef")) {
    notification.routing_key_secret_ref =
        DecodeSecretKeyRef(d, *ref, path.Member("routingKeySecretRef"));
  }
  if (const json* events = Find(value, "events")) {
    const Path at = path.Member("events");
    if (d.ExpectList(*events, at)) {
      for (std::size_t i = 0; i < events->size(); ++i) {
        notification.events.push_back(
            d.EnumValue((*events)[i], at.Index(i), ParseEventReason, EventReason::kPhaseStarted));
      }
    }
  }
  return notification;
}

AgentRolloutSpec DecodeSpecAt(Decoder& d, const json& value, const Path& path) {
  AgentRolloutSpec spec;
  if (!d.ExpectObject(value, path)) return spec;
  if (const json* revision = Find(value, "revision")) {
    spec.revision = d.String(*revision, path.Member("revision"));
  }
  if (const json* paused = Find(value, "paused")) {
    spec.paused = d.Bool(*paused, path.Member("paused"));
  }
  if (const json* on_delete = Find(value, "onDelete")) {
    spec.on_delete =
        d.EnumValue(*on_delete, path.Member("onDelete"), ParseDeletePolicy, DeletePolicy::kKeep);
  }
  if (const json* flag = Find(value, "flag")) spec.flag = DecodeFlag(d, *flag, path.Member("flag"));
  if (const json* traffic = Find(value, "traffic")) {
    spec.traffic = DecodeTraffic(d, *traffic, path.Member("traffic"));
  }
  if (const json* analysis = Find(value, "analysis")) {
    spec.analysis = DecodeAnalysis(d, *analysis, path.Member("analysis"));
  }
  if (const json* rollback = Find(value, "rollback")) {
    const Path at = path.Member("rollback");
    if (d.ExpectObject(*rollback, at)) {
      if (const json* mode = Find(*rollback, "mode")) {
        spec.rollback_mode =
            d.EnumValue(*mode, at.Member("mode"), ParseRollbackMode, RollbackMode::kTotal);
      }
    }
  }
  if (const json* phases = d.Required(value, "phases", path)) {
    const Path at = path.Member("phases");
    if (d.ExpectList(*phases, at)) {
      if (phases->empty() || phases->size() > kMaxPhases) {
        d.Fail(at, "must have 1.." + std::to_string(kMaxPhases) + " items, got " +
                       std::to_string(phases->size()));
      }
      spec.phases.reserve(phases->size());
      for (std::size_t i = 0; i < phases->size() && d.ok(); ++i) {
        const PhaseSpec* previous = spec.phases.empty() ? nullptr : &spec.phases.back();
        spec.phases.push_back(DecodePhase(d, (*phases)[i], at.Index(i), previous));
      }
    }
  }
  if (const json* notifications = Find(value, "notifications")) {
    const Path at = path.Member("notifications");
    if (d.ExpectList(*notifications, at)) {
      for (std::size_t i = 0; i < notifications->size(); ++i) {
        spec.notifications.push_back(DecodeNotification(d, (*notifications)[i], at.Index(i)));
      }
    }
  }
  return spec;
}

// ---------------------------------------------------------------- status

CountsStatus DecodeCounts(Decoder& d, const json& value, const Path& path) {
  CountsStatus counts;
  if (!d.ExpectObject(value, path)) return counts;
  if (const json* v = Find(value, "events")) counts.events = d.String(*v, path.Member("events"));
  if (const json* v = Find(value, "total")) counts.total = d.String(*v, path.Member("total"));
  return counts;
}

MetricStatus DecodeMetricStatus(Decoder& d, const json& value, const Path& path) {
  MetricStatus metric;
  if (!d.ExpectObject(value, path)) return metric;
  if (const json* v = Find(value, "name")) metric.name = d.String(*v, path.Member("name"));
  if (const json* v = Find(value, "value")) metric.value = d.String(*v, path.Member("value"));
  if (const json* v = Find(value, "verdict")) {
    metric.verdict = d.EnumValue(*v, path.Member("verdict"), ParseVerdict, Verdict::kNone);
  }
  if (const json* v = Find(value, "go")) metric.go = d.String(*v, path.Member("go"));
  if (const json* v = Find(value, "noGo")) metric.no_go = d.String(*v, path.Member("noGo"));
  if (const json* v = Find(value, "abort")) metric.abort = d.String(*v, path.Member("abort"));
  if (const json* v = Find(value, "message")) {
    metric.message = d.String(*v, path.Member("message"));
  }
  if (const json* v = Find(value, "dryRun")) metric.dry_run = d.Bool(*v, path.Member("dryRun"));
  const json* interval = Find(value, "interval");
  const json* canary = Find(value, "canary");
  const json* stable = Find(value, "stable");
  if (interval != nullptr || canary != nullptr || stable != nullptr) {
    ComparisonStatus& comparison = metric.comparison.emplace();
    if (interval != nullptr) {
      const std::vector<std::string> bounds = d.StringList(*interval, path.Member("interval"));
      if (d.ok() && bounds.size() != 2) {
        d.Fail(path.Member("interval"), "must be [low, high], got " + Describe(*interval));
      } else if (d.ok()) {
        comparison.low = bounds[0];
        comparison.high = bounds[1];
      }
    }
    if (canary != nullptr) comparison.canary = DecodeCounts(d, *canary, path.Member("canary"));
    if (stable != nullptr) comparison.stable = DecodeCounts(d, *stable, path.Member("stable"));
  }
  return metric;
}

AnalysisStatus DecodeAnalysisStatus(Decoder& d, const json& value, const Path& path) {
  AnalysisStatus analysis;
  if (!d.ExpectObject(value, path)) return analysis;
  if (const json* v = Find(value, "lastEvaluated")) {
    analysis.last_evaluated = d.Time(*v, path.Member("lastEvaluated"));
  }
  if (const json* v = Find(value, "consecutiveNoGo")) {
    analysis.consecutive_no_go = d.Int32(*v, path.Member("consecutiveNoGo"), 0);
  }
  if (const json* v = Find(value, "consecutiveErrors")) {
    analysis.consecutive_errors = d.Int32(*v, path.Member("consecutiveErrors"), 0);
  }
  if (const json* metrics = Find(value, "metrics")) {
    const Path at = path.Member("metrics");
    if (d.ExpectList(*metrics, at)) {
      analysis.metrics.reserve(metrics->size());
      for (std::size_t i = 0; i < metrics->size(); ++i) {
        analysis.metrics.push_back(DecodeMetricStatus(d, (*metrics)[i], at.Index(i)));
      }
    }
  }
  return analysis;
}

CurrentPhaseStatus DecodeCurrentPhase(Decoder& d, const json& value, const Path& path) {
  CurrentPhaseStatus current;
  if (!d.ExpectObject(value, path)) return current;
  if (const json* v = Find(value, "index")) current.index = d.Int32(*v, path.Member("index"), 0);
  if (const json* v = Find(value, "name")) current.name = d.String(*v, path.Member("name"));
  if (const json* v = Find(value, "startedAt")) {
    current.started_at = d.Time(*v, path.Member("startedAt"));
  }
  if (const json* v = Find(value, "flagPercent")) {
    current.flag_percent = d.Int32(*v, path.Member("flagPercent"), 0, 100);
  }
  if (const json* v = Find(value, "trafficWeight")) {
    current.traffic_weight = d.Int32(*v, path.Member("trafficWeight"), 0, 100);
  }
  if (const json* v = Find(value, "promoted"))
    current.promoted = d.Bool(*v, path.Member("promoted"));
  return current;
}

RollbackStatus DecodeRollbackStatus(Decoder& d, const json& value, const Path& path) {
  RollbackStatus rollback;
  if (!d.ExpectObject(value, path)) return rollback;
  if (const json* v = Find(value, "at")) rollback.at = d.Time(*v, path.Member("at"));
  if (const json* v = Find(value, "fromPhase")) {
    rollback.from_phase = d.String(*v, path.Member("fromPhase"));
  }
  if (const json* v = Find(value, "metric")) rollback.metric = d.String(*v, path.Member("metric"));
  if (const json* v = Find(value, "value")) rollback.value = d.String(*v, path.Member("value"));
  if (const json* v = Find(value, "line")) rollback.line = d.String(*v, path.Member("line"));
  if (const json* v = Find(value, "reason")) rollback.reason = d.String(*v, path.Member("reason"));
  return rollback;
}

HistoryEntry DecodeHistoryEntry(Decoder& d, const json& value, const Path& path) {
  HistoryEntry entry;
  if (!d.ExpectObject(value, path)) return entry;
  if (const json* v = Find(value, "at")) entry.at = d.Time(*v, path.Member("at"));
  if (const json* v = Find(value, "from")) entry.from = d.String(*v, path.Member("from"));
  if (const json* v = Find(value, "to")) entry.to = d.String(*v, path.Member("to"));
  if (const json* v = Find(value, "reason")) entry.reason = d.String(*v, path.Member("reason"));
  return entry;
}

Condition DecodeCondition(Decoder& d, const json& value, const Path& path) {
  Condition condition;
  if (!d.ExpectObject(value, path)) return condition;
  if (const json* v = Find(value, "type")) condition.type = d.String(*v, path.Member("type"));
  if (const json* v = Find(value, "status")) {
    condition.status =
        d.EnumValue(*v, path.Member("status"), ParseConditionStatus, ConditionStatus::kUnknown);
  }
  if (const json* v = Find(value, "reason")) condition.reason = d.String(*v, path.Member("reason"));
  if (const json* v = Find(value, "message")) {
    condition.message = d.String(*v, path.Member("message"));
  }
  if (const json* v = Find(value, "observedGeneration")) {
    condition.observed_generation = d.Int64(*v, path.Member("observedGeneration"));
  }
  if (const json* v = Find(value, "lastTransitionTime")) {
    condition.last_transition_time = d.Time(*v, path.Member("lastTransitionTime"));
  }
  return condition;
}

template <typename T>
std::vector<T> DecodeList(Decoder& d, const json& value, const Path& path,
                          T (*decode)(Decoder&, const json&, const Path&)) {
  std::vector<T> out;
  if (!d.ExpectList(value, path)) return out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) out.push_back(decode(d, value[i], path.Index(i)));
  return out;
}

AgentRolloutStatus DecodeStatusAt(Decoder& d, const json& value, const Path& path) {
  AgentRolloutStatus status;
  if (!d.ExpectObject(value, path)) return status;
  if (const json* v = Find(value, "observedGeneration")) {
    status.observed_generation = d.Int64(*v, path.Member("observedGeneration"));
  }
  if (const json* v = Find(value, "revision"))
    status.revision = d.String(*v, path.Member("revision"));
  if (const json* v = Find(value, "phase")) {
    status.phase = d.EnumValue(*v, path.Member("phase"), ParseRolloutPhase, RolloutPhase::kNone);
  }
  if (const json* v = Find(value, "currentPhase")) {
    status.current_phase = DecodeCurrentPhase(d, *v, path.Member("currentPhase"));
  }
  if (const json* v = Find(value, "verdict")) {
    status.verdict = d.EnumValue(*v, path.Member("verdict"), ParseVerdict, Verdict::kNone);
  }
  if (const json* v = Find(value, "message")) status.message = d.String(*v, path.Member("message"));
  if (const json* v = Find(value, "analysis")) {
    status.analysis = DecodeAnalysisStatus(d, *v, path.Member("analysis"));
  }
  if (const json* v = Find(value, "rollback")) {
    status.rollback = DecodeRollbackStatus(d, *v, path.Member("rollback"));
  }
  if (const json* v = Find(value, "history")) {
    status.history = DecodeList(d, *v, path.Member("history"), DecodeHistoryEntry);
  }
  if (const json* v = Find(value, "conditions")) {
    status.conditions = DecodeList(d, *v, path.Member("conditions"), DecodeCondition);
  }
  if (const json* v = Find(value, "pauseReason")) {
    status.pause_reason = d.String(*v, path.Member("pauseReason"));
  }
  if (const json* v = Find(value, "handledAction")) {
    status.handled_action = d.String(*v, path.Member("handledAction"));
  }
  if (const json* v = Find(value, "interruptedPhase")) {
    status.interrupted_phase =
        d.EnumValue(*v, path.Member("interruptedPhase"), ParseRolloutPhase, RolloutPhase::kNone);
  }
  return status;
}

ObjectMeta DecodeObjectMetaAt(Decoder& d, const json& value, const Path& path) {
  ObjectMeta meta;
  if (!d.ExpectObject(value, path)) return meta;
  if (const json* v = Find(value, "name")) meta.name = d.String(*v, path.Member("name"));
  if (const json* v = Find(value, "namespace")) {
    meta.namespace_ = d.String(*v, path.Member("namespace"));
  }
  if (const json* v = Find(value, "uid")) meta.uid = d.String(*v, path.Member("uid"));
  if (const json* v = Find(value, "resourceVersion")) {
    meta.resource_version = d.String(*v, path.Member("resourceVersion"));
  }
  if (const json* v = Find(value, "generation")) {
    meta.generation = d.Int64(*v, path.Member("generation"));
  }
  if (const json* v = Find(value, "creationTimestamp")) {
    meta.creation_timestamp = d.Time(*v, path.Member("creationTimestamp"));
  }
  if (const json* v = Find(value, "deletionTimestamp")) {
    meta.deletion_timestamp = d.Time(*v, path.Member("deletionTimestamp"));
  }
  if (const json* v = Find(value, "finalizers")) {
    meta.finalizers = d.StringList(*v, path.Member("finalizers"));
  }
  if (const json* v = Find(value, "annotations")) {
    meta.annotations = d.StringMap(*v, path.Member("annotations"));
  }
  return meta;
}

// Runs one top-level decode and turns the recorded error, if any, into the Result.
template <typename T>
Result<T> Run(const json& value, std::string_view root,
              T (*decode)(Decoder&, const json&, const Path&)) {
  Decoder d;
  T out = decode(d, value, Path(root));
  if (!d.ok()) return d.TakeError();
  return out;
}

// ---------------------------------------------------------------- encoding

// Sets object[key] = value unless the value is empty.
void PutString(json& object, const char* key, const std::string& value) {
  if (!value.empty()) object[key] = value;
}

json EncodeSecretKeyRef(const SecretKeyRef& ref) { return {{"name", ref.name}, {"key", ref.key}}; }

json EncodeStringMap(const std::map<std::string, std::string>& map) {
  json out = json::object();
  for (const auto& [key, value] : map) out[key] = value;
  return out;
}

json EncodePostgresFields(const PostgresFields& fields) {
  json out = json::object();
  if (!fields.enabled.empty()) out["enabled"] = fields.enabled;
  if (!fields.percentage.empty()) out["percentage"] = fields.percentage;
  if (!fields.enabled_tenants.empty()) out["enabledTenants"] = fields.enabled_tenants;
  if (!fields.disabled_tenants.empty()) out["disabledTenants"] = fields.disabled_tenants;
  return out;
}

json EncodePostgresStore(const PostgresFlagStore& store) {
  json out = {
      {"connectionSecretRef",
       {{"name", store.connection_secret_ref.name}, {"key", store.connection_secret_ref.key}}},
      {"table", store.table},
      {"keyColumn", store.key_column}};
  if (store.json_column.empty() || store.columns != PostgresFields{}) {
    out["columns"] = EncodePostgresFields(store.columns);
  }
  if (!store.json_column.empty()) out["jsonColumn"] = store.json_column;
  if (store.json_paths != PostgresFields{})
    out["jsonPaths"] = EncodePostgresFields(store.json_paths);
  return out;
}

json EncodeFlag(const FlagSpec& flag) {
  json out = {{"key", flag.key}};
  if (flag.config_map) {
    out["configMap"] = {{"name", flag.config_map->name}, {"key", flag.config_map->key}};
  }
  if (flag.feature_flag) out["featureFlag"] = {{"name", flag.feature_flag->name}};
  if (const auto& env = flag.deployment_env) {
    json variables = json::object();
    if (!env->variables.enabled.empty()) variables["enabled"] = env->variables.enabled;
    if (!env->variables.percentage.empty()) variables["percentage"] = env->variables.percentage;
    out["deploymentEnv"] = {{"deployment", env->deployment}, {"variables", std::move(variables)}};
    if (!env->container.empty()) out["deploymentEnv"]["container"] = env->container;
  }
  if (flag.postgres) out["postgres"] = EncodePostgresStore(*flag.postgres);
  if (!flag.enabled_tenants.empty()) out["enabledTenants"] = flag.enabled_tenants;
  if (!flag.disabled_tenants.empty()) out["disabledTenants"] = flag.disabled_tenants;
  return out;
}

json EncodeTraffic(const TrafficSpec& traffic) {
  json out = json::object();
  if (const auto& g = traffic.gateway_api) {
    out["gatewayAPI"] = {{"httpRoute", g->http_route},
                         {"stableBackend", g->stable_backend},
                         {"canaryBackend", g->canary_backend}};
  }
  if (const auto& i = traffic.istio) {
    json istio = {{"virtualService", i->virtual_service},
                  {"stableHost", i->stable_host},
                  {"canaryHost", i->canary_host}};
    PutString(istio, "stableSubset", i->stable_subset);
    PutString(istio, "canarySubset", i->canary_subset);
    out["istio"] = std::move(istio);
  }
  if (const auto& r = traffic.replicas) {
    out["replicas"] = {{"stableDeployment", r->stable_deployment},
                       {"canaryDeployment", r->canary_deployment},
                       {"totalReplicas", r->total_replicas}};
  }
  return out;
}

json EncodeAnalysis(const AnalysisSpec& analysis) {
  json out = {{"interval", FormatDuration(analysis.interval)},
              {"failureLimit", analysis.failure_limit},
              {"errorLimit", analysis.error_limit},
              {"noData", Name(analysis.no_data)}};
  if (const auto& p = analysis.prometheus) {
    json prometheus = {{"timeout", FormatDuration(p->timeout)},
                       {"insecureSkipVerify", p->insecure_skip_verify}};
    PutString(prometheus, "address", p->address);
    if (!p->headers.empty()) prometheus["headers"] = EncodeStringMap(p->headers);
    if (p->bearer_token_secret_ref) {
      prometheus["bearerTokenSecretRef"] = EncodeSecretKeyRef(*p->bearer_token_secret_ref);
    }
    if (p->basic_auth_secret_ref) {
      prometheus["basicAuthSecretRef"] = {{"name", p->basic_auth_secret_ref->name}};
    }
    if (p->ca_secret_ref) prometheus["caSecretRef"] = EncodeSecretKeyRef(*p->ca_secret_ref);
    out["prometheus"] = std::move(prometheus);
  }
  if (!analysis.args.empty()) out["args"] = EncodeStringMap(analysis.args);
  if (!analysis.metrics.empty()) {
    json metrics = json::array();
    for (const MetricSpec& m : analysis.metrics) {
      json metric = {{"name", m.name},
                     {"query", m.query},
                     {"dryRun", m.dry_run},
                     {"go", FormatThreshold(m.go)},
                     {"noGo", FormatThreshold(m.no_go)}};
      if (m.abort) metric["abort"] = FormatThreshold(*m.abort);
      metrics.push_back(std::move(metric));
    }
    out["metrics"] = std::move(metrics);
  }
  if (!analysis.comparisons.empty()) {
    json comparisons = json::array();
    for (const ComparisonSpec& c : analysis.comparisons) {
      comparisons.push_back({{"name", c.name},
                             {"events", c.events},
                             {"total", c.total},
                             {"go", FormatThreshold(c.go)},
                             {"noGo", FormatThreshold(c.no_go)},
                             {"confidence", c.confidence},
                             {"minTotal", c.min_total}});
    }
    out["comparisons"] = std::move(comparisons);
  }
  return out;
}

json EncodePhase(const PhaseSpec& phase) {
  json out = {{"name", phase.name},
              {"flagPercent", phase.flag_percent},
              {"trafficWeight", phase.traffic_weight},
              {"duration", FormatDuration(phase.duration)},
              {"approval", phase.approval}};
  if (!phase.flags.empty()) {
    json flags = json::object();
    for (const auto& [key, percent] : phase.flags) flags[key] = percent;
    out["flags"] = std::move(flags);
  }
  return out;
}

json EncodeNotification(const NotificationSpec& notification) {
  json out = {{"type", Name(notification.type)}};
  PutString(out, "url", notification.url);
  if (notification.secret_ref) out["secretRef"] = EncodeSecretKeyRef(*notification.secret_ref);
  if (notification.routing_key_secret_ref) {
    out["routingKeySecretRef"] = EncodeSecretKeyRef(*notification.routing_key_secret_ref);
  }
  if (!notification.events.empty()) {
    json events = json::array();
    for (EventReason reason : notification.events) events.push_back(Name(reason));
    out["events"] = std::move(events);
  }
  return out;
}

json EncodeMetricStatus(const MetricStatus& metric) {
  json out = json::object();
  PutString(out, "name", metric.name);
  PutString(out, "value", metric.value);
  PutString(out, "verdict", std::string(Name(metric.verdict)));
  PutString(out, "go", metric.go);
  PutString(out, "noGo", metric.no_go);
  PutString(out, "abort", metric.abort);
  PutString(out, "message", metric.message);
  if (metric.dry_run) out["dryRun"] = true;
  if (const auto& comparison = metric.comparison) {
    out["interval"] = {comparison->low, comparison->high};
    out["canary"] = {{"events", comparison->canary.events}, {"total", comparison->canary.total}};
    out["stable"] = {{"events", comparison->stable.events}, {"total", comparison->stable.total}};
  }
  return out;
}

json EncodeAnalysisStatus(const AnalysisStatus& analysis) {
  json out = {{"consecutiveNoGo", analysis.consecutive_no_go},
              {"consecutiveErrors", analysis.consecutive_errors}};
  if (analysis.last_evaluated) out["lastEvaluated"] = FormatTime(*analysis.last_evaluated);
  if (!analysis.metrics.empty()) {
    json metrics = json::array();
    for (const MetricStatus& metric : analysis.metrics) {
      metrics.push_back(EncodeMetricStatus(metric));
    }
    out["metrics"] = std::move(metrics);
  }
  return out;
}

json EncodeCondition(const Condition& condition) {
  // metav1.Condition: type, status, reason, message and lastTransitionTime are required.
  return {{"type", condition.type},
          {"status", Name(condition.status)},
          {"reason", condition.reason},
          {"message", condition.message},
          {"observedGeneration", condition.observed_generation},
          {"lastTransitionTime", FormatTime(condition.last_transition_time)}};
}

}  // namespace

Result<ObjectMeta> DecodeObjectMeta(const json& metadata) {
  return Run<ObjectMeta>(metadata, "metadata", DecodeObjectMetaAt);
}

Result<AgentRolloutSpec> DecodeSpec(const json& spec) {
  return Run<AgentRolloutSpec>(spec, "spec", DecodeSpecAt);
}

Result<AgentRolloutStatus> DecodeStatus(const json& status) {
  return Run<AgentRolloutStatus>(status, "status", DecodeStatusAt);
}

Result<AgentRollout> DecodeAgentRollout(const json& object) {
  if (!object.is_object()) {
    return InvalidArgument("object: must be an object, got " + Describe(object));
  }
  Decoder d;
  AgentRollout rollout;
  if (const json* metadata = Find(object, "metadata")) {
    rollout.metadata = DecodeObjectMetaAt(d, *metadata, Path("metadata"));
  }
  if (const json* spec = Find(object, "spec")) {
    rollout.spec = DecodeSpecAt(d, *spec, Path("spec"));
  } else {
    d.Fail(Path("spec"), "is required");
  }
  if (const json* status = Find(object, "status")) {
    rollout.status = DecodeStatusAt(d, *status, Path("status"));
  }
  if (!d.ok()) return d.TakeError();
  return rollout;
}

json EncodeObjectMeta(const ObjectMeta& metadata) {
  json out = json::object();
  PutString(out, "name", metadata.name);
  PutString(out, "namespace", metadata.namespace_);
  PutString(out, "uid", metadata.uid);
  PutString(out, "resourceVersion", metadata.resource_version);
  if (metadata.generation != 0) out["generation"] = metadata.generation;
  if (metadata.creation_timestamp) {
    out["creationTimestamp"] = FormatTime(*metadata.creation_timestamp);
  }
  if (metadata.deletion_timestamp) {
    out["deletionTimestamp"] = FormatTime(*metadata.deletion_timestamp);
  }
  if (!metadata.finalizers.empty()) out["finalizers"] = metadata.finalizers;
  if (!metadata.annotations.empty()) out["annotations"] = EncodeStringMap(metadata.annotations);
  return out;
}

json EncodeSpec(const AgentRolloutSpec& spec) {
  json out = {{"paused", spec.paused},
              {"onDelete", Name(spec.on_delete)},
              {"analysis", EncodeAnalysis(spec.analysis)},
              {"rollback", {{"mode", Name(spec.rollback_mode)}}}};
  PutString(out, "revision", spec.revision);
  if (spec.flag) out["flag"] = EncodeFlag(*spec.flag);
  if (spec.traffic) out["traffic"] = EncodeTraffic(*spec.traffic);
  json phases = json::array();
  for (const PhaseSpec& phase : spec.phases) phases.push_back(EncodePhase(phase));
  out["phases"] = std::move(phases);
  if (!spec.notifications.empty()) {
    json notifications = json::array();
    for (const NotificationSpec& n : spec.notifications) {
      notifications.push_back(EncodeNotification(n));
    }
    out["notifications"] = std::move(notifications);
  }
  return out;
}

json EncodeStatus(const AgentRolloutStatus& status) {
  json out = {{"observedGeneration", status.observed_generation}};
  PutString(out, "revision", status.revision);
  PutString(out, "phase", std::string(Name(status.phase)));
  if (const auto& c = status.current_phase) {
    out["currentPhase"] = {{"index", c->index},
                           {"name", c->name},
                           {"startedAt", FormatTime(c->started_at)},
                           {"flagPercent", c->flag_percent},
                           {"trafficWeight", c->traffic_weight}};
    if (c->promoted) out["currentPhase"]["promoted"] = true;
  }
  PutString(out, "verdict", std::string(Name(status.verdict)));
  PutString(out, "message", status.message);
  if (status.analysis != AnalysisStatus{}) out["analysis"] = EncodeAnalysisStatus(status.analysis);
  if (const auto& r = status.rollback) {
    json rollback = {{"at", FormatTime(r->at)}};
    PutString(rollback, "fromPhase", r->from_phase);
    PutString(rollback, "metric", r->metric);
    PutString(rollback, "value", r->value);
    PutString(rollback, "line", r->line);
    PutString(rollback, "reason", r->reason);
    out["rollback"] = std::move(rollback);
  }
  if (!status.history.empty()) {
    json history = json::array();
    for (const HistoryEntry& entry : status.history) {
      json item = {{"at", FormatTime(entry.at)}};
      PutString(item, "from", entry.from);
      PutString(item, "to", entry.to);
      PutString(item, "reason", entry.reason);
      history.push_back(std::move(item));
    }
    out["history"] = std::move(history);
  }
  if (!status.conditions.empty()) {
    json conditions = json::array();
    for (const Condition& condition : status.conditions) {
      conditions.push_back(EncodeCondition(condition));
    }
    out["conditions"] = std::move(conditions);
  }
  PutString(out, "pauseReason", status.pause_reason);
  PutString(out, "handledAction", status.handled_action);
  PutString(out, "interruptedPhase", std::string(Name(status.interrupted_phase)));
  return out;
}

json EncodeAgentRollout(const AgentRollout& rollout) {
  json out = {{"apiVersion", kApiVersion},
              {"kind", kKind},
              {"metadata", EncodeObjectMeta(rollout.metadata)},
              {"spec", EncodeSpec(rollout.spec)}};
  if (rollout.status != AgentRolloutStatus{}) out["status"] = EncodeStatus(rollout.status);
  return out;
}

std::string ToWireJson(const json& document) {
  return document.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace agentrollout::api
