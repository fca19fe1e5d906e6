#include "kube/token_source.h"

#include <optional>

#include "kube/files.h"

namespace agentrollout::kube {

namespace {

class StaticTokenSource final : public TokenSource {
 public:
  explicit StaticTokenSource(std::string token) : token_(std::move(token)) {}
  Result<std::string> Token() override { return token_; }
  bool Refresh(std::string_view) override { return false; }

 private:
  const std::string token_;
};

class FileTokenSource final : public TokenSource {
 public:
  FileTokenSource(std::string path, std::chrono::seconds max_age, ClockPtr clock)
      : path_(std::move(path)), max_age_(max_age), clock_(std::move(clock)) {}

  Result<std::string> Token() override {
    std::lock_guard<std::mutex> lock(mu_);
    return TokenLocked();
  }

  bool Refresh(std::string_view rejected_token) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (token_ && *token_ == rejected_token) stale_ = true;
    auto token = TokenLocked();
    return token.ok() && *token != rejected_token;
  }

 private:
  Result<std::string> TokenLocked() {
    const Clock::TimePoint now = clock_->Now();
    if (token_ && !stale_ && now - read_at_ < max_age_) return *token_;
    auto content = ReadFileToString(path_);
    if (!content.ok()) {
      if (token_) return *token_;
      return Error(ErrorCode::kUnauthenticated, "bearer token file: " + content.error().message());
    }
    token_ = TrimSpace(*content);
    read_at_ = now;
    stale_ = false;
    return *token_;
  }

  const std::string path_;
  const std::chrono::seconds max_age_;
  const ClockPtr clock_;
  std::mutex mu_;
  std::optional<std::string> token_;
  Clock::TimePoint read_at_{};
  bool stale_ = false;  // the server refused token_: read the file on the next use
};

}  // namespace

TokenSourcePtr NewStaticTokenSource(std::string token) {
  return std::make_shared<StaticTokenSource>(std::move(token));
}

TokenSourcePtr NewFileTokenSource(std::string path, std::chrono::seconds max_age, ClockPtr clock) {
  return std::make_shared<FileTokenSource>(std::move(path), max_age, std::move(clock));
}

TokenSourcePtr TokenSourceFor(const RestConfig& config) {
  if (!config.bearer_token_file.empty()) return NewFileTokenSource(config.bearer_token_file);
  if (!config.bearer_token.empty()) return NewStaticTokenSource(config.bearer_token);
  return nullptr;
}

}  // namespace agentrollout::kube
