// A client for the Prometheus HTTP API's instant queries (`/api/v1/query`), spoken by
// Prometheus, Thanos, Mimir, Cortex and VictoriaMetrics alike. It runs over the project's
// http::Client, so unit tests drive it with a fake transport.
//
// Credentials (bearer token, basic-auth password) arrive already resolved from Secrets.
// This library logs nothing, and every error message leaving a client is scrubbed of
// credential values, so a token can never reach status, an Event or a log line.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/types.h"
#include "common/result.h"
#include "http/transport.h"

namespace agentrollout::analysis {

// One sample of an instant query's result.
struct Sample {
  std::map<std::string, std::string> labels;  // empty for a scalar
  double value = 0;
  friend bool operator==(const Sample&, const Sample&) = default;
};

struct QueryResult {
  enum class Type { kScalar, kVector };
  Type type = Type::kVector;
  std::vector<Sample> samples;  // a scalar has exactly one; a vector has zero or more
  std::vector<std::string> warnings;
  friend bool operator==(const QueryResult&, const QueryResult&) = default;
};

// Parses an `/api/v1/query` response. Errors (messages are one plain sentence):
// - the server's own error (`"status":"error"`): code from errorType (bad_data ->
//   InvalidArgument, timeout -> DeadlineExceeded, unavailable -> Unavailable, else Internal),
//   message `Prometheus rejected the query (bad_data): <error>`;
// - a non-2xx status without a Prometheus error body: `Prometheus answered HTTP 502: <body>`;
// - a body that is not the API's JSON: `malformed response from Prometheus: ...`;
// - a matrix or string result: `query returned a range vector (matrix); ...`.
// Server text in messages (excerpts of the body, error, warnings) is cleaned by
// CleanServerText: every one of `secrets` (the request's credentials) redacted before the
// excerpt is cut to 200 bytes on a character boundary, invalid UTF-8 replaced.
// Pure: the fuzz target calls it with arbitrary bytes.
Result<QueryResult> ParseQueryResponse(int http_status, std::string_view body,
                                       const std::vector<std::string>& secrets = {});

// One series of a range query's result: [unix seconds, value] points, oldest first.
struct Series {
  std::map<std::string, std::string> labels;
  std::vector<std::pair<double, double>> points;
  friend bool operator==(const Series&, const Series&) = default;
};

// Parses an `/api/v1/query_range` response (a matrix) with ParseQueryResponse's error rules.
Result<std::vector<Series>> ParseQueryRangeResponse(int http_status, std::string_view body,
                                                    const std::vector<std::string>& secrets = {});

struct BasicAuth {
  std::string username;
  std::string password;
  friend bool operator==(const BasicAuth&, const BasicAuth&) = default;
};

// Credentials read from the rollout's Secrets by the caller.
struct PrometheusCredentials {
  std::string bearer_token;             // "" = none
  std::optional<BasicAuth> basic_auth;  // at most one of bearer_token and basic_auth
  std::string ca_pem;                   // "" = system trust store
  friend bool operator==(const PrometheusCredentials&, const PrometheusCredentials&) = default;
};

// A Prometheus-API server and how to talk to it (analysis.prometheus, credentials resolved).
struct PrometheusTarget {
  // scheme://host[:port][/path-prefix], e.g. http://mimir.monitoring/prometheus.
  std::string address;
  std::map<std::string, std::string> headers;  // e.g. X-Scope-OrgID
  PrometheusCredentials credentials;
  bool insecure_skip_verify = false;
  friend bool operator==(const PrometheusTarget&, const PrometheusTarget&) = default;
};

// A key that is equal for two targets exactly when one connection may serve both:
// address, headers, TLS settings and a digest of the credentials (never the credentials
// themselves, so the key is safe to keep in maps and show in debug output).
std::string TargetIdentity(const PrometheusTarget& target);

// Instant queries against one server.
class PrometheusClient {
 public:
  virtual ~PrometheusClient() = default;
  // Evaluates `promql` at the server's current time. `timeout` bounds the whole HTTP
  // exchange and is passed to the server as its own query timeout. Transport failures
  // are kUnavailable (unreachable) or kDeadlineExceeded (timed out).
  virtual Result<QueryResult> Query(std::string_view promql, std::chrono::milliseconds timeout) = 0;

  // Range queries (`/api/v1/query_range`) for graphs: the dashboard draws each metric over a
  // rollout's life. Only the HTTP client answers them; the operator never asks.
  struct Range {
    api::Timestamp start;
    api::Timestamp end;
    std::chrono::seconds step{15};
  };
  virtual Result<std::vector<Series>> QueryRange(std::string_view promql, const Range& range,
                                                 std::chrono::milliseconds timeout) {
    (void)promql, (void)range, (void)timeout;
    return Error(ErrorCode::kFailedPrecondition, "this Prometheus client has no range queries");
  }
};
using PrometheusClientPtr = std::shared_ptr<PrometheusClient>;

// Queries longer than this (URL-encoded) go as a POST form instead of a GET URL, which
// proxies and servers cap at a few KiB.
inline constexpr std::size_t kMaxGetQueryBytes = 2048;
// A legitimate answer is one sample; a body larger than this is an error, not buffered.
inline constexpr std::size_t kMaxResponseBytes = 4u << 20;

// A client speaking through `http`, which must already be configured for target.address
// (its base URL) and TLS. Checks nothing about the address: use ConnectPrometheus for that.
PrometheusClientPtr NewPrometheusClient(http::ClientPtr http, PrometheusTarget target);

// Checks target.address (http or https, no credentials, query or fragment in it) and
// builds the transport with http::NewClient. Errors name the field:
// `analysis.prometheus.address: ...`.
Result<PrometheusClientPtr> ConnectPrometheus(const PrometheusTarget& target);

}  // namespace agentrollout::analysis
