#include "analysis/prometheus_client.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/text.h"

namespace agentrollout::analysis {
namespace {

using Json = nlohmann::json;

// Shown excerpts of bodies and server messages are cut here, so a huge error page does
// not end up in status.
constexpr std::size_t kMaxExcerpt = 200;

using Secrets = std::vector<std::string>;

// Keeps a server-supplied text printable, valid UTF-8, free of `secrets` (removed before
// the cut, so none straddles it) and short for a one-line message (API.md §3.1).
std::string Excerpt(std::string_view text, const Secrets& secrets) {
  return CleanServerText(text, secrets, kMaxExcerpt);
}

ErrorCode CodeForErrorType(std::string_view error_type) {
  if (error_type == "bad_data") return ErrorCode::kInvalidArgument;
  if (error_type == "timeout") return ErrorCode::kDeadlineExceeded;
  if (error_type == "canceled") return ErrorCode::kCancelled;
  if (error_type == "unavailable") return ErrorCode::kUnavailable;
  if (error_type == "not_found") return ErrorCode::kNotFound;
  return ErrorCode::kInternal;
}

Error Malformed(std::string_view what) {
  return Error(ErrorCode::kInternal, "malformed response from Prometheus: " + std::string(what));
}

// Prometheus writes sample values as strings: "1.5", "NaN", "+Inf", "-Inf".
std::optional<double> ParseSampleValue(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "+Inf" || text == "Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

// A `[<unix time>, "<value>"]` pair.
Result<double> ParseValuePair(const Json& pair, const Secrets& secrets) {
  if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number() || !pair[1].is_string()) {
    return Malformed("a sample value is not a [timestamp, \"value\"] pair");
  }
  const auto& text = pair[1].get_ref<const std::string&>();
  const std::optional<double> value = ParseSampleValue(text);
  if (!value) return Malformed("sample value \"" + Excerpt(text, secrets) + "\" is not a number");
  return *value;
}

Result<Sample> ParseVectorSample(const Json& item, const Secrets& secrets) {
  if (!item.is_object()) return Malformed("a vector element is not an object");
  Sample sample;
  if (const auto metric = item.find("metric"); metric != item.end()) {
    if (!metric->is_object()) return Malformed("a sample's \"metric\" is not an object");
    for (const auto& [name, value] : metric->items()) {
      if (!value.is_string())
        return Malformed("label \"" + Excerpt(name, secrets) + "\" is not a string");
      sample.labels.emplace(name, value.get<std::string>());
    }
  }
  const auto value = item.find("value");
  if (value == item.end()) {
    if (item.contains("histogram")) {
      return InvalidArgument(
          "query returned a native histogram sample; the query must return a number (use "
          "histogram_quantile, histogram_count or histogram_sum)");
    }
    return Malformed("a vector element has no \"value\"");
  }
  auto number = ParseValuePair(*value, secrets);
  if (!number.ok()) return number.error();
  sample.value = *number;
  return sample;
}

std::vector<std::string> ParseWarnings(const Json& response, const Secrets& secrets) {
  std::vector<std::string> warnings;
  const auto found = response.find("warnings");
  if (found == response.end() || !found->is_array()) return warnings;
  for (const Json& warning : *found) {
    if (warning.is_string()) warnings.push_back(Excerpt(warning.get<std::string>(), secrets));
  }
  return warnings;
}

std::string StringField(const Json& object, const char* name) {
  const auto found = object.find(name);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

}  // namespace

namespace {

// The `data` object of a success response (warnings appended to `warnings`), or the error
// the response stands for.
Result<Json> ParseEnvelope(int http_status, std::string_view body, const Secrets& secrets,
                           std::vector<std::string>& warnings) {
  const bool http_ok = http_status >= 200 && http_status < 300;
  const Json response = Json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (response.is_discarded() || !response.is_object() || !response.contains("status")) {
    if (!http_ok) {
      return Error(http_status == 401 || http_status == 403 ? ErrorCode::kPermissionDenied
                                                            : ErrorCode::kUnavailable,
                   "Prometheus answered HTTP " + std::to_string(http_status) +
                       (body.empty() ? std::string() : ": " + Excerpt(body, secrets)));
    }
    if (response.is_discarded())
      return Malformed("the body is not JSON: " + Excerpt(body, secrets));
    return Malformed("the body has no \"status\" field");
  }
  const std::string status = StringField(response, "status");
  if (status == "error") {
    const std::string error_type = StringField(response, "errorType");
    return Error(
        CodeForErrorType(error_type),
        "Prometheus rejected the query (" +
            (error_type.empty() ? std::string("no errorType") : Excerpt(error_type, secrets)) +
            "): " + Excerpt(StringField(response, "error"), secrets));
  }
  if (status != "success") return Malformed("\"status\" is \"" + Excerpt(status, secrets) + "\"");
  if (!http_ok) {
    return Malformed("HTTP " + std::to_string(http_status) + " with \"status\":\"success\"");
  }
  const auto data = response.find("data");
  if (data == response.end() || !data->is_object()) return Malformed("no \"data\" object");
  if (!data->contains("result")) return Malformed("no \"data.result\"");
  for (std::string& warning : ParseWarnings(response, secrets)) {
    warnings.push_back(std::move(warning));
  }
  return *data;
}

}  // namespace

Result<QueryResult> ParseQueryResponse(int http_status, std::string_view body,
                                       const std::vector<std::string>& secrets) {
  QueryResult parsed;
  Result<Json> data = ParseEnvelope(http_status, body, secrets, parsed.warnings);
  if (!data.ok()) return data.error();
  const std::string result_type = StringField(*data, "resultType");
  const auto result = data->find("result");
  if (result_type == "scalar") {
    parsed.type = QueryResult::Type::kScalar;
    auto value = ParseValuePair(*result, secrets);
    if (!value.ok()) return value.error();
    parsed.samples.push_back(Sample{{}, *value});
    return parsed;
  }
  if (result_type == "vector") {
    if (!result->is_array()) return Malformed("a vector result is not an array");
    for (const Json& item : *result) {
      auto sample = ParseVectorSample(item, secrets);
      if (!sample.ok()) return sample.error();
      parsed.samples.push_back(std::move(*sample));
    }
    return parsed;
  }
  if (result_type == "matrix") {
    return InvalidArgument(
        "query returned a range vector (matrix); it must return a scalar or an instant vector "
        "(wrap the range selector in a function such as rate() or max_over_time())");
  }
  if (result_type == "string") {
    return InvalidArgument("query returned a string; it must return a scalar or an instant vector");
  }
  return Malformed("unknown resultType \"" + Excerpt(result_type, secrets) + "\"");
}

Result<std::vector<Series>> ParseQueryRangeResponse(int http_status, std::string_view body,
                                                    const std::vector<std::string>& secrets) {
  std::vector<std::string> warnings;
  Result<Json> data = ParseEnvelope(http_status, body, secrets, warnings);
  if (!data.ok()) return data.error();
  const std::string result_type = StringField(*data, "resultType");
  if (result_type != "matrix") {
    return Malformed("a range query returned \"" + Excerpt(result_type, secrets) +
                     "\", not a matrix");
  }
  const Json& result = (*data)["result"];
  if (!result.is_array()) return Malformed("a matrix result is not an array");
  std::vector<Series> series;
  for (const Json& item : result) {
    // A matrix element is a vector element with "values" instead of "value".
    if (!item.is_object() || !item.contains("values") || !item["values"].is_array()) {
      return Malformed("a matrix element has no \"values\" array");
    }
    Json labels_only = item;
    labels_only.erase("values");
    labels_only["value"] = Json::array({0, "0"});
    auto sample = ParseVectorSample(labels_only, secrets);
    if (!sample.ok()) return sample.error();
    Series one;
    one.labels = std::move(sample->labels);
    for (const Json& pair : item["values"]) {
      auto value = ParseValuePair(pair, secrets);
      if (!value.ok()) return value.error();
      one.points.emplace_back(pair[0].get<double>(), *value);
    }
    series.push_back(std::move(one));
  }
  return series;
}

namespace {

std::string Sha256Hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char byte : digest) {
    hex += kHex[byte >> 4];
    hex += kHex[byte & 0xf];
  }
  return hex;
}

std::string Base64(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(data.data()),
                                      static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

// application/x-www-form-urlencoded / URL query component: everything but unreserved
// characters percent-encoded.
std::string FormEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

// Prometheus accepts durations like "1500ms" for its `timeout` parameter.
std::string PromDuration(std::chrono::milliseconds timeout) {
  return std::to_string(timeout.count()) + "ms";
}

std::string FormatTimeout(std::chrono::milliseconds timeout) {
  if (timeout.count() % 1000 == 0) return std::to_string(timeout.count() / 1000) + "s";
  return std::to_string(timeout.count()) + "ms";
}

class HttpPrometheusClient final : public PrometheusClient {
 public:
  HttpPrometheusClient(http::ClientPtr http, PrometheusTarget target)
      : http_(std::move(http)), address_(std::move(target.address)) {
    for (const auto& [name, value] : target.headers) headers_.emplace_back(name, value);
    headers_.emplace_back("Accept", "application/json");
    headers_.emplace_back("User-Agent", "agentrollout");
    const PrometheusCredentials& credentials = target.credentials;
    if (!credentials.bearer_token.empty()) {
      headers_.emplace_back("Authorization", "Bearer " + credentials.bearer_token);
      secrets_.push_back(credentials.bearer_token);
    } else if (credentials.basic_auth) {
      const std::string pair =
          credentials.basic_auth->username + ":" + credentials.basic_auth->password;
      const std::string encoded = Base64(pair);
      headers_.emplace_back("Authorization", "Basic " + encoded);
      secrets_.push_back(credentials.basic_auth->password);
      secrets_.push_back(encoded);
    }
  }

  Result<QueryResult> Query(std::string_view promql, std::chrono::milliseconds timeout) override {
    const std::string form =
        "query=" + FormEncode(promql) + "&timeout=" + FormEncode(PromDuration(timeout));
    Result<http::Response> response = Send("/api/v1/query", form, timeout);
    if (!response.ok()) return response.error();
    Result<QueryResult> parsed = ParseQueryResponse(response->status, response->body, secrets_);
    if (!parsed.ok()) return Scrub(parsed.error());
    return parsed;
  }

  Result<std::vector<Series>> QueryRange(std::string_view promql, const Range& range,
                                         std::chrono::milliseconds timeout) override {
    const auto unix_seconds = [](api::Timestamp at) {
      return std::to_string(
          std::chrono::duration_cast<std::chrono::seconds>(at.time_since_epoch()).count());
    };
    const std::string form = "query=" + FormEncode(promql) + "&start=" + unix_seconds(range.start) +
                             "&end=" + unix_seconds(range.end) +
                             "&step=" + std::to_string(std::max<long long>(1, range.step.count())) +
                             "&timeout=" + FormEncode(PromDuration(timeout));
    Result<http::Response> response = Send("/api/v1/query_range", form, timeout);
    if (!response.ok()) return response.error();
    auto parsed = ParseQueryRangeResponse(response->status, response->body, secrets_);
    if (!parsed.ok()) return Scrub(parsed.error());
    return parsed;
  }

 private:
  // GET path?form, or a POST form when the URL would be too long; transport errors scrubbed.
  Result<http::Response> Send(std::string_view path, const std::string& form,
                              std::chrono::milliseconds timeout) {
    http::Request request;
    request.headers = headers_;
    request.timeout = timeout;
    request.max_body_bytes = kMaxResponseBytes;
    if (form.size() > kMaxGetQueryBytes) {
      request.method = "POST";
      request.target = std::string(path);
      request.body = form;
      request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    } else {
      request.method = "GET";
      request.target = std::string(path) + "?" + form;
    }
    Result<http::Response> response = http_->Send(request);
    if (!response.ok()) return Scrub(TransportError(response.error(), timeout));
    return response;
  }

  Error TransportError(const Error& error, std::chrono::milliseconds timeout) const {
    switch (error.code()) {
      case ErrorCode::kDeadlineExceeded:
        return Error(error.code(), "query to Prometheus at " + address_ + " timed out after " +
                                       FormatTimeout(timeout));
      case ErrorCode::kResourceExhausted:
        return Error(error.code(), "Prometheus at " + address_ + " answered with more than " +
                                       std::to_string(kMaxResponseBytes >> 20) +
                                       " MiB; the query must return a single value");
      default:
        return Error(error.code(), "Prometheus at " + address_ +
                                       " is unreachable: " + Excerpt(error.message(), secrets_));
    }
  }

  Error Scrub(const Error& error) const {
    return Error(error.code(), Redact(error.message(), secrets_));
  }

  http::ClientPtr http_;
  std::string address_;
  http::Headers headers_;
  std::vector<std::string> secrets_;  // values that must never appear in a message
};

bool HasControlOrSpace(std::string_view text) {
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7f) return true;
  }
  return false;
}

// Lower-cases the scheme so "HTTP://x" works; returns the address without a trailing '/'.
Result<std::string> CheckAddress(std::string_view address) {
  constexpr std::string_view kField = "analysis.prometheus.address: ";
  const std::size_t scheme_end = address.find("://");
  std::string scheme(address.substr(0, scheme_end == std::string_view::npos ? 0 : scheme_end));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") {
    return InvalidArgument(std::string(kField) + "\"" + Excerpt(address, {}) +
                           "\" is not an http:// or https:// URL");
  }
  if (HasControlOrSpace(address)) {
    return InvalidArgument(std::string(kField) + "\"" + Excerpt(address, {}) +
                           "\" contains spaces or control characters");
  }
  const std::string_view rest = address.substr(scheme_end + 3);
  const std::string_view authority = rest.substr(0, rest.find('/'));
  if (authority.find('@') != std::string_view::npos) {
    // The value is not repeated: it carries a password.
    return InvalidArgument(std::string(kField) +
                           "must not contain credentials (user:password@); use "
                           "basicAuthSecretRef or bearerTokenSecretRef");
  }
  if (authority.empty()) {
    return InvalidArgument(std::string(kField) + "\"" + Excerpt(address, {}) + "\" has no host");
  }
  if (rest.find_first_of("?#") != std::string_view::npos) {
    return InvalidArgument(std::string(kField) + "\"" + Excerpt(address, {}) +
                           "\" must not have a query or fragment");
  }
  std::string normalized = scheme + "://" + std::string(rest);
  while (normalized.back() == '/') normalized.pop_back();
  return normalized;
}

}  // namespace

std::string TargetIdentity(const PrometheusTarget& target) {
  const PrometheusCredentials& credentials = target.credentials;
  // Length-prefixed fields, so no two different targets serialize alike.
  std::string secret_material;
  const auto append = [&secret_material](std::string_view field) {
    secret_material += std::to_string(field.size()) + ":" + std::string(field);
  };
  append(credentials.bearer_token);
  append(credentials.basic_auth ? "basic" : "");
  append(credentials.basic_auth ? credentials.basic_auth->username : "");
  append(credentials.basic_auth ? credentials.basic_auth->password : "");
  append(credentials.ca_pem);
  std::string identity = target.address;
  for (const auto& [name, value] : target.headers) {
    identity += "\n" + name + ": " + value;
  }
  identity += target.insecure_skip_verify ? "\ninsecure" : "\nverify";
  identity += "\ncredentials " + Sha256Hex(secret_material);
  return identity;
}

PrometheusClientPtr NewPrometheusClient(http::ClientPtr http, PrometheusTarget target) {
  return std::make_shared<HttpPrometheusClient>(std::move(http), std::move(target));
}

Result<PrometheusClientPtr> ConnectPrometheus(const PrometheusTarget& target) {
  Result<std::string> address = CheckAddress(target.address);
  if (!address.ok()) return address.error();
  http::ClientConfig config;
  config.base_url = *address;
  config.tls.ca_pem = target.credentials.ca_pem;
  config.tls.insecure_skip_verify = target.insecure_skip_verify;
  Result<http::ClientPtr> http = http::NewClient(config);
  if (!http.ok()) return http.error().WithContext("analysis.prometheus");
  PrometheusTarget normalized = target;
  normalized.address = *address;
  return NewPrometheusClient(std::move(*http), std::move(normalized));
}

}  // namespace agentrollout::analysis
