#include "analysis/prometheus_client.h"

#include <gtest/gtest.h>

#include <cmath>

namespace agentrollout::analysis {
namespace {

// ------------------------------------------------------------------ ParseQueryResponse

TEST(ParseQueryResponse, Scalar) {
  auto result = ParseQueryResponse(
      200, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.5,"0.25"]}})");
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->type, QueryResult::Type::kScalar);
  ASSERT_EQ(result->samples.size(), 1u);
  EXPECT_EQ(result->samples[0].value, 0.25);
  EXPECT_TRUE(result->samples[0].labels.empty());
}

TEST(ParseQueryResponse, Vector) {
  auto result = ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
      "result":[{"metric":{"version":"v2","__name__":"x"},"value":[1700000000,"912"]}]}})");
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->type, QueryResult::Type::kVector);
  ASSERT_EQ(result->samples.size(), 1u);
  EXPECT_EQ(result->samples[0].value, 912);
  EXPECT_EQ(result->samples[0].labels.at("version"), "v2");
}

TEST(ParseQueryResponse, EmptyVector) {
  auto result =
      ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->samples.empty());
}

TEST(ParseQueryResponse, MultiSeriesVector) {
  auto result = ParseQueryResponse(200, R"({"status":"success","data":{"resultType":"vector",
      "result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]},
                {"metric":{},"value":[1,"3"]}]}})");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->samples.size(), 3u);
}

TEST(ParseQueryResponse, SpecialValues) {
  const auto value = [](const std::string& text) {
    auto result = ParseQueryResponse(
        200,
        R"({"status":"success","data":{"resultType":"scalar","result":[1,")" + text + R"("]}})");
    EXPECT_TRUE(result.ok()) << text;
    return result.ok() ? result->samples[0].value : 0.0;
  };
  EXPECT_TRUE(std::isnan(value("NaN")));
  EXPECT_EQ(value("+Inf"), HUGE_VAL);
  EXPECT_EQ(value("-Inf"), -HUGE_VAL);
  EXPECT_EQ(value("1e-7"), 1e-7);
  EXPECT_EQ(value("-3"), -3);
}

TEST(ParseQueryResponse, Warnings) {
  auto result = ParseQueryResponse(200, R"({"status":"success","warnings":["partial response",7],
      "data":{"resultType":"vector","result":[]}})");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->warnings, std::vector<std::string>{"partial response"});
}

struct ErrorCase {
  std::string what;
  int http_status;
  std::string body;
  ErrorCode code;
  std::string message;
};

TEST(ParseQueryResponse, Errors) {
  const std::vector<ErrorCase> cases = {
      {"matrix", 200,
       R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]}})",
       ErrorCode::kInvalidArgument,
       "query returned a range vector (matrix); it must return a scalar or an instant vector "
       "(wrap the range selector in a function such as rate() or max_over_time())"},
      {"string", 200, R"({"status":"success","data":{"resultType":"string","result":[1,"x"]}})",
       ErrorCode::kInvalidArgument,
       "query returned a string; it must return a scalar or an instant vector"},
      {"bad_data", 400,
       R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""})",
       ErrorCode::kInvalidArgument,
       R"(Prometheus rejected the query (bad_data): 1:5: parse error: unexpected "}")"},
      {"execution timeout", 503,
       R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})",
       ErrorCode::kDeadlineExceeded,
       "Prometheus rejected the query (timeout): query timed out in expression evaluation"},
      {"execution", 422, R"({"status":"error","errorType":"execution","error":"many-to-many"})",
       ErrorCode::kInternal, "Prometheus rejected the query (execution): many-to-many"},
      {"error without type", 200, R"({"status":"error"})", ErrorCode::kInternal,
       "Prometheus rejected the query (no errorType): "},
      {"HTTP 500 text", 500, "internal error\n", ErrorCode::kUnavailable,
       "Prometheus answered HTTP 500: internal error"},
      {"HTTP 502 empty", 502, "", ErrorCode::kUnavailable, "Prometheus answered HTTP 502"},
      {"HTTP 401", 401, "Unauthorized", ErrorCode::kPermissionDenied,
       "Prometheus answered HTTP 401: Unauthorized"},
      {"not JSON", 200, "<html>hello</html>", ErrorCode::kInternal,
       "malformed response from Prometheus: the body is not JSON: <html>hello</html>"},
      {"truncated JSON", 200, R"({"status":"success","data":{"resultType":"vec)",
       ErrorCode::kInternal,
       R"(malformed response from Prometheus: the body is not JSON: {"status":"success","data":{"resultType":"vec)"},
      {"empty body", 200, "", ErrorCode::kInternal,
       "malformed response from Prometheus: the body is not JSON: "},
      {"array", 200, "[]", ErrorCode::kInternal,
       "malformed response from Prometheus: the body has no \"status\" field"},
      {"odd status", 200, R"({"status":"pending"})", ErrorCode::kInternal,
       "malformed response from Prometheus: \"status\" is \"pending\""},
      {"no data", 200, R"({"status":"success"})", ErrorCode::kInternal,
       "malformed response from Prometheus: no \"data\" object"},
      {"no result", 200, R"({"status":"success","data":{"resultType":"vector"}})",
       ErrorCode::kInternal, "malformed response from Prometheus: no \"data.result\""},
      {"unknown type", 200, R"({"status":"success","data":{"resultType":"blob","result":1}})",
       ErrorCode::kInternal, "malformed response from Prometheus: unknown resultType \"blob\""},
      {"vector not array", 200,
       R"({"status":"success","data":{"resultType":"vector","result":{}}})", ErrorCode::kInternal,
       "malformed response from Prometheus: a vector result is not an array"},
      {"value not a pair", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":"1"}]}})",
       ErrorCode::kInternal,
       "malformed response from Prometheus: a sample value is not a [timestamp, \"value\"] pair"},
      {"value not a number", 200,
       R"({"status":"success","data":{"resultType":"scalar","result":[1,"12abc"]}})",
       ErrorCode::kInternal,
       "malformed response from Prometheus: sample value \"12abc\" is not a number"},
      {"label not a string", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":1},"value":[1,"1"]}]}})",
       ErrorCode::kInternal, "malformed response from Prometheus: label \"a\" is not a string"},
      {"native histogram", 200,
       R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"histogram":[1,{}]}]}})",
       ErrorCode::kInvalidArgument,
       "query returned a native histogram sample; the query must return a number (use "
       "histogram_quantile, histogram_count or histogram_sum)"},
      {"success with HTTP 500", 500,
       R"({"status":"success","data":{"resultType":"vector","result":[]}})", ErrorCode::kInternal,
       "malformed response from Prometheus: HTTP 500 with \"status\":\"success\""},
  };
  for (const ErrorCase& c : cases) {
    auto result = ParseQueryResponse(c.http_status, c.body);
    ASSERT_FALSE(result.ok()) << c.what;
    EXPECT_EQ(result.error().code(), c.code) << c.what;
    EXPECT_EQ(result.error().message(), c.message) << c.what;
  }
}

TEST(ParseQueryResponse, LongErrorBodiesAreCutAndFlattened) {
  const std::string body = "line one\nline two\n" + std::string(1000, 'x');
  auto result = ParseQueryResponse(500, body);
  ASSERT_FALSE(result.ok());
  const std::string& message = result.error().message();
  EXPECT_LT(message.size(), 260u);
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_NE(message.find("line one line two xxx"), std::string::npos);
  EXPECT_EQ(message.substr(message.size() - 3), "...");
}

// ------------------------------------------------------------------ client over a fake transport

class FakeHttpClient final : public http::Client {
 public:
  explicit FakeHttpClient(std::vector<Result<http::Response>> responses)
      : responses_(std::move(responses)) {}
  Result<http::Response> Send(const http::Request& request) override {
    requests.push_back(request);
    if (responses_.empty()) return Internal("no scripted response");
    Result<http::Response> next = responses_.front();
    responses_.erase(responses_.begin());
    return next;
  }
  Result<http::StreamResponse> Stream(const http::Request&) override {
    return Internal("not used by the Prometheus client");
  }
  std::vector<http::Request> requests;

 private:
  std::vector<Result<http::Response>> responses_;
};

constexpr char kOneSample[] =
    R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"0.5"]}]}})";

http::Response Ok(std::string body = kOneSample) {
  return http::Response{200, {}, std::move(body)};
}

std::optional<std::string> HeaderOf(const http::Request& request, std::string_view name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return std::nullopt;
}

struct ClientUnderTest {
  FakeHttpClient* http;
  PrometheusClientPtr client;
};

ClientUnderTest MakeClient(std::vector<Result<http::Response>> responses,
                           PrometheusTarget target = {}) {
  auto http = std::make_unique<FakeHttpClient>(std::move(responses));
  FakeHttpClient* raw = http.get();
  if (target.address.empty()) target.address = "http://prometheus:9090";
  return {raw, NewPrometheusClient(std::move(http), std::move(target))};
}

TEST(PrometheusClient, ShortQueryIsAGet) {
  auto [http, client] = MakeClient({Ok()});
  auto result = client->Query(R"(sum(rate(x{version="v2"}[5m])) / 2)", std::chrono::seconds(5));
  ASSERT_TRUE(result.ok()) << result.error().message();
  EXPECT_EQ(result->samples[0].value, 0.5);
  ASSERT_EQ(http->requests.size(), 1u);
  const http::Request& request = http->requests[0];
  EXPECT_EQ(request.method, "GET");
  EXPECT_EQ(request.target,
            "/api/v1/query?query=sum%28rate%28x%7Bversion%3D%22v2%22%7D%5B5m%5D%29%29%20%2F%202"
            "&timeout=5000ms");
  EXPECT_EQ(request.timeout, std::chrono::seconds(5));
  EXPECT_EQ(request.max_body_bytes, kMaxResponseBytes);
  EXPECT_EQ(HeaderOf(request, "Accept"), "application/json");
  EXPECT_FALSE(HeaderOf(request, "Authorization"));
}

TEST(PrometheusClient, LongQueryIsAPostForm) {
  auto [http, client] = MakeClient({Ok()});
  std::string query = "sum(";
  while (query.size() < kMaxGetQueryBytes) query += "x{a=\"b\"} + ";
  query += "1)";
  ASSERT_TRUE(client->Query(query, std::chrono::milliseconds(1500)).ok());
  const http::Request& request = http->requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/api/v1/query");
  EXPECT_EQ(HeaderOf(request, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(request.body.substr(0, 23), "query=sum%28x%7Ba%3D%22");
  EXPECT_TRUE(request.body.ends_with("1%29&timeout=1500ms")) << request.body;
}

TEST(PrometheusClient, ExtraHeadersAndBearerToken) {
  PrometheusTarget target;
  target.headers = {{"X-Scope-OrgID", "tenant-a"}};
  target.credentials.bearer_token = "s3cr3t-token";
  auto [http, client] = MakeClient({Ok()}, target);
  ASSERT_TRUE(client->Query("up", std::chrono::seconds(1)).ok());
  EXPECT_EQ(HeaderOf(http->requests[0], "X-Scope-OrgID"), "tenant-a");
  EXPECT_EQ(HeaderOf(http->requests[0], "Authorization"), "Bearer s3cr3t-token");
}

TEST(PrometheusClient, BasicAuth) {
  PrometheusTarget target;
  target.credentials.basic_auth = BasicAuth{"alice", "open sesame"};
  auto [http, client] = MakeClient({Ok()}, target);
  ASSERT_TRUE(client->Query("up", std::chrono::seconds(1)).ok());
  EXPECT_EQ(HeaderOf(http->requests[0], "Authorization"), "Basic YWxpY2U6b3BlbiBzZXNhbWU=");
}

TEST(PrometheusClient, CredentialsNeverAppearInErrors) {
  PrometheusTarget target;
  target.credentials.bearer_token = "tok-123456";
  // A server (or a transport) that echoes the credentials back.
  auto [http, client] = MakeClient(
      {http::Response{401, {}, "bad token tok-123456"},
       Unavailable("connect failed for Authorization: Bearer tok-123456"),
       http::Response{
           400, {}, R"({"status":"error","errorType":"bad_data","error":"tok-123456"})"}},
      target);
  for (int i = 0; i < 3; ++i) {
    auto result = client->Query("up", std::chrono::seconds(1));
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.error().message().find("tok-123456"), std::string::npos)
        << result.error().message();
    EXPECT_NE(result.error().message().find("<redacted>"), std::string::npos);
  }

  PrometheusTarget basic;
  basic.credentials.basic_auth = BasicAuth{"bob", "pa55word"};
  auto [http2, client2] =
      MakeClient({http::Response{500, {}, "pa55word / Basic Ym9iOnBhNTV3b3Jk"}}, basic);
  auto result = client2->Query("up", std::chrono::seconds(1));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message(),
            "Prometheus answered HTTP 500: <redacted> / Basic <redacted>");
}

TEST(PrometheusClient, TransportFailuresSayWhatHappened) {
  auto [http, client] = MakeClient(
      {Error(ErrorCode::kDeadlineExceeded, "request timed out"), Unavailable("Connection refused"),
       Error(ErrorCode::kResourceExhausted, "body larger than 4194304 bytes")});
  auto timeout = client->Query("up", std::chrono::milliseconds(2500));
  ASSERT_FALSE(timeout.ok());
  EXPECT_EQ(timeout.error().code(), ErrorCode::kDeadlineExceeded);
  EXPECT_EQ(timeout.error().message(),
            "query to Prometheus at http://prometheus:9090 timed out after 2500ms");
  auto refused = client->Query("up", std::chrono::seconds(1));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code(), ErrorCode::kUnavailable);
  EXPECT_EQ(refused.error().message(),
            "Prometheus at http://prometheus:9090 is unreachable: Connection refused");
  auto huge = client->Query("up", std::chrono::seconds(1));
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().code(), ErrorCode::kResourceExhausted);
  EXPECT_EQ(huge.error().message(),
            "Prometheus at http://prometheus:9090 answered with more than 4 MiB; the query must "
            "return a single value");
}

TEST(TargetIdentity, SameServerAndCredentialsShareOneIdentity) {
  PrometheusTarget a;
  a.address = "http://p:9090";
  a.credentials.bearer_token = "token-a";
  PrometheusTarget b = a;
  EXPECT_EQ(TargetIdentity(a), TargetIdentity(b));
  b.credentials.bearer_token = "token-b";
  EXPECT_NE(TargetIdentity(a), TargetIdentity(b));
  b = a;
  b.headers["X-Scope-OrgID"] = "t";
  EXPECT_NE(TargetIdentity(a), TargetIdentity(b));
  b = a;
  b.insecure_skip_verify = true;
  EXPECT_NE(TargetIdentity(a), TargetIdentity(b));
  // Never the secret itself.
  EXPECT_EQ(TargetIdentity(a).find("token-a"), std::string::npos);
  PrometheusTarget basic;
  basic.credentials.basic_auth = BasicAuth{"u", "p:w"};
  PrometheusTarget other = basic;
  other.credentials.basic_auth = BasicAuth{"u:p", "w"};
  EXPECT_NE(TargetIdentity(basic), TargetIdentity(other));
}

TEST(ConnectPrometheus, ChecksTheAddress) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"prometheus:9090",
       "analysis.prometheus.address: \"prometheus:9090\" is not an http:// or https:// URL"},
      {"ftp://p", "analysis.prometheus.address: \"ftp://p\" is not an http:// or https:// URL"},
      {"http://", "analysis.prometheus.address: \"http://\" has no host"},
      {"http://p:9090/x?y=1",
       "analysis.prometheus.address: \"http://p:9090/x?y=1\" must not have a query or fragment"},
      {"http://p 1",
       "analysis.prometheus.address: \"http://p 1\" contains spaces or control "
       "characters"},
      {"http://admin:hunter2@p:9090",
       "analysis.prometheus.address: must not contain credentials (user:password@); use "
       "basicAuthSecretRef or bearerTokenSecretRef"},
  };
  for (const auto& [address, message] : cases) {
    PrometheusTarget target;
    target.address = address;
    auto client = ConnectPrometheus(target);
    ASSERT_FALSE(client.ok()) << address;
    EXPECT_EQ(client.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(client.error().message(), message);
  }
  PrometheusTarget ok;
  ok.address = "HTTPS://mimir.monitoring/prometheus/";
  EXPECT_TRUE(ConnectPrometheus(ok).ok());
}

// ------------------------------------------------------------------ range queries

TEST(ParseQueryRangeResponse, Matrix) {
  auto series = ParseQueryRangeResponse(200, R"({"status":"success","data":{"resultType":"matrix",
      "result":[{"metric":{"version":"v2"},"values":[[10,"0.5"],[25,"NaN"],[40,"2"]]}]}})");
  ASSERT_TRUE(series.ok()) << series.error().message();
  ASSERT_EQ(series->size(), 1u);
  EXPECT_EQ(series->front().labels.at("version"), "v2");
  ASSERT_EQ(series->front().points.size(), 3u);
  EXPECT_EQ(series->front().points[0], (std::pair<double, double>{10, 0.5}));
  EXPECT_TRUE(std::isnan(series->front().points[1].second));
}

TEST(ParseQueryRangeResponse, ErrorsAsForInstantQueries) {
  auto vector = ParseQueryRangeResponse(
      200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  ASSERT_FALSE(vector.ok());
  EXPECT_NE(vector.error().message().find("not a matrix"), std::string::npos);
  auto rejected = ParseQueryRangeResponse(
      400, R"({"status":"error","errorType":"bad_data","error":"parse error secret-x"})",
      {"secret-x"});
  ASSERT_FALSE(rejected.ok());
  EXPECT_EQ(rejected.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(rejected.error().message().find("secret-x"), std::string::npos);
  auto bad_value = ParseQueryRangeResponse(200, R"({"status":"success","data":{
      "resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}})");
  EXPECT_FALSE(bad_value.ok());
}

TEST(PrometheusClient, RangeQueryAsksForTheRange) {
  auto [http, client] = MakeClient({Ok(R"({"status":"success","data":{"resultType":"matrix",
      "result":[{"metric":{},"values":[[100,"1"]]}]}})")});
  PrometheusClient::Range range{api::Timestamp(std::chrono::seconds(100)),
                                api::Timestamp(std::chrono::seconds(700)),
                                std::chrono::seconds(15)};
  auto series = client->QueryRange("up", range, std::chrono::seconds(5));
  ASSERT_TRUE(series.ok()) << series.error().message();
  EXPECT_EQ(series->front().points.front().second, 1);
  EXPECT_EQ(http->requests[0].target,
            "/api/v1/query_range?query=up&start=100&end=700&step=15&timeout=5000ms");
}

}  // namespace
}  // namespace agentrollout::analysis
