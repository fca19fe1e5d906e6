// Bearer tokens for API requests, including service-account tokens that the kubelet
// rotates on disk: the file is re-read at most once per max_age (client-go: one minute).
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.h"
#include "kube/clock.h"
#include "kube/config.h"

namespace agentrollout::kube {

class TokenSource {
 public:
  virtual ~TokenSource() = default;
  // The token to send now.
  virtual Result<std::string> Token() = 0;
  // The API server answered 401 to a request sent with `rejected_token`: forget it if it
  // is still the current one. Returns true when the next Token() may give a different
  // credential, so the request is worth sending once more.
  virtual bool Refresh(std::string_view rejected_token) = 0;
};
using TokenSourcePtr = std::shared_ptr<TokenSource>;

TokenSourcePtr NewStaticTokenSource(std::string token);

// Reads `path` (whitespace trimmed) on first use and again once the token read is older
// than `max_age` (client-go's cached file token source), and at once after a 401. A failed
// re-read keeps the last token (a rotating file may briefly be missing); only a failure
// with no token read yet is an error.
TokenSourcePtr NewFileTokenSource(std::string path,
                                  std::chrono::seconds max_age = std::chrono::minutes(1),
                                  ClockPtr clock = RealClock());

// The config's token file if set, else its static token, else nullptr (no token). An
// exec plugin's source is made by NewClient (exec_credential.h), which also needs it for
// the transport.
TokenSourcePtr TokenSourceFor(const RestConfig& config);

}  // namespace agentrollout::kube
