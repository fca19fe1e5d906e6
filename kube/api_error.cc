#include "kube/api_error.h"

#include "common/text.h"

namespace agentrollout::kube {

namespace {

constexpr std::size_t kMaxBodyInMessage = 256;

ErrorCode CodeFor(const ApiStatus& status) {
  const std::string& reason = status.reason;
  if (reason == "NotFound") return ErrorCode::kNotFound;
  if (reason == "AlreadyExists") return ErrorCode::kAlreadyExists;
  if (reason == "Conflict") return ErrorCode::kConflict;
  if (reason == "Gone" || reason == "Expired") return ErrorCode::kGone;
  if (reason == "Forbidden") return ErrorCode::kPermissionDenied;
  if (reason == "Unauthorized") return ErrorCode::kUnauthenticated;
  if (reason == "Invalid" || reason == "BadRequest") return ErrorCode::kInvalidArgument;
  if (reason == "TooManyRequests") return ErrorCode::kResourceExhausted;
  if (reason == "Timeout" || reason == "ServerTimeout") return ErrorCode::kDeadlineExceeded;
  switch (status.code) {
    case 400:
    case 405:
    case 406:
    case 413:
    case 415:
    case 422:
      return ErrorCode::kInvalidArgument;
    case 401:
      return ErrorCode::kUnauthenticated;
    case 403:
      return ErrorCode::kPermissionDenied;
    case 404:
      return ErrorCode::kNotFound;
    case 409:
      return ErrorCode::kConflict;
    case 410:
      return ErrorCode::kGone;
    case 429:
      return ErrorCode::kResourceExhausted;
    case 504:
      return ErrorCode::kDeadlineExceeded;
    default:
      break;
  }
  if (status.code >= 500) return ErrorCode::kUnavailable;
  return ErrorCode::kInternal;
}

}  // namespace

Error ErrorFromStatus(const ApiStatus& status) {
  std::string message = status.message;
  if (message.empty()) {
    message = (status.reason.empty() ? std::string("request failed") : status.reason) + " (HTTP " +
              std::to_string(status.code) + ")";
  }
  return Error(CodeFor(status), std::move(message));
}

ApiStatus StatusFromJson(const nlohmann::json& object, int fallback_code) {
  ApiStatus status;
  status.code = fallback_code;
  if (!object.is_object()) return status;
  if (auto it = object.find("code"); it != object.end() && it->is_number_integer()) {
    status.code = it->get<int>();
  }
  if (auto it = object.find("reason"); it != object.end() && it->is_string()) {
    status.reason = it->get<std::string>();
  }
  if (auto it = object.find("message"); it != object.end() && it->is_string()) {
    status.message = it->get<std::string>();
  }
  if (auto it = object.find("details"); it != object.end()) status.details = *it;
  return status;
}

ApiStatus StatusFromResponse(int http_code, const std::string& body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    return StatusFromJson(parsed, http_code);
  }
  ApiStatus status;
  status.code = http_code;
  const std::string excerpt = CleanServerText(body, {}, kMaxBodyInMessage);
  status.message = "the server responded with HTTP " + std::to_string(http_code) +
                   (excerpt.empty() ? std::string() : ": " + excerpt);
  return status;
}

ApiResult<nlohmann::json> StatusError(int code, std::string reason, std::string message) {
  ApiStatus status;
  status.code = code;
  status.reason = std::move(reason);
  status.message = std::move(message);
  Error error = ErrorFromStatus(status);
  return ApiResult<nlohmann::json>(std::move(error), std::move(status));
}

}  // namespace agentrollout::kube
