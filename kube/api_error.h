// Failures of Kubernetes API calls as values. A failed call yields an agentrollout::Error
// whose code follows the API Status (404 -> kNotFound, 409 Conflict -> kConflict,
// 409 AlreadyExists -> kAlreadyExists, 410 Gone/Expired -> kGone, 403 -> kPermissionDenied,
// ...) and whose message is the Status message (`configmaps "x" not found`), and, when the
// API server answered, the whole Status (ApiResult::api_status()).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "common/result.h"

namespace agentrollout::kube {

// metav1.Status of a failed call.
struct ApiStatus {
  int code = 0;            // HTTP status code
  std::string reason;      // NotFound, AlreadyExists, Conflict, Expired, Gone, Invalid, ...
  std::string message;     // human-readable
  nlohmann::json details;  // {name, group, kind, uid, causes[], retryAfterSeconds}; null if none
  friend bool operator==(const ApiStatus&, const ApiStatus&) = default;
};

// A Result whose failure may carry the API Status. Converts to Result<T> (slicing off the
// Status) for callers that only need the Error.
template <typename T>
class [[nodiscard]] ApiResult : public Result<T> {
 public:
  ApiResult(T value) : Result<T>(std::move(value)) {}      // NOLINT: implicit by design
  ApiResult(Error error) : Result<T>(std::move(error)) {}  // NOLINT: implicit by design
  ApiResult(Error error, std::optional<ApiStatus> status)
      : Result<T>(std::move(error)), status_(std::move(status)) {}

  // The server's Status when the call failed with an API error; nullopt on success and for
  // failures before the server answered (connection, TLS, timeout, bad arguments).
  const std::optional<ApiStatus>& api_status() const { return status_; }

  // This failure as the failure of a call returning U.
  template <typename U>
  ApiResult<U> Failure() const {
    return ApiResult<U>(this->error(), status_);
  }

 private:
  std::optional<ApiStatus> status_;
};

// The canonical Error for a Status: code from reason and HTTP code, message from the Status
// (or "<reason> (HTTP <code>)" when it has none).
Error ErrorFromStatus(const ApiStatus& status);

// A Status read from a JSON body ({"kind":"Status",...}); for other bodies, one made from
// the HTTP code and the start of the body.
ApiStatus StatusFromResponse(int http_code, const std::string& body);
ApiStatus StatusFromJson(const nlohmann::json& object, int fallback_code);

// A failure carrying a made-up Status, e.g. for FakeClient reactors:
// StatusError(409, "Conflict", "the object has been modified").
ApiResult<nlohmann::json> StatusError(int code, std::string reason, std::string message);

inline bool IsNotFound(const Error& error) { return error.code() == ErrorCode::kNotFound; }
inline bool IsConflict(const Error& error) { return error.code() == ErrorCode::kConflict; }
inline bool IsAlreadyExists(const Error& error) {
  return error.code() == ErrorCode::kAlreadyExists;
}
// 410 Gone or Expired: a resourceVersion or continue token too old to serve.
inline bool IsGone(const Error& error) { return error.code() == ErrorCode::kGone; }
inline bool IsForbidden(const Error& error) { return error.code() == ErrorCode::kPermissionDenied; }
inline bool IsUnauthorized(const Error& error) {
  return error.code() == ErrorCode::kUnauthenticated;
}
inline bool IsInvalid(const Error& error) { return error.code() == ErrorCode::kInvalidArgument; }
inline bool IsTooManyRequests(const Error& error) {
  return error.code() == ErrorCode::kResourceExhausted;
}

}  // namespace agentrollout::kube
