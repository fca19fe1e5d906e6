#include "controllers/conflict_retry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace agentrollout::controllers {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

class ConflictRetryTest : public ::testing::Test {
 protected:
  ConflictRetryTest() {
    policy_.sleep = [this](milliseconds wait) { sleeps_.push_back(wait); };
  }
  ConflictRetry policy_;
  std::vector<milliseconds> sleeps_;
};

TEST_F(ConflictRetryTest, RetriesConflictsAndLostCreatesUntilDone) {
  int calls = 0;
  const Status status = RetryOnConflict(policy_, "configmap ns/x", [&]() -> Status {
    ++calls;
    if (calls == 1) return Error(ErrorCode::kConflict, "the object has been modified");
    if (calls == 2) return Error(ErrorCode::kAlreadyExists, "configmaps \"x\" already exists");
    return OkStatus();
  });
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(sleeps_.size(), 2u);
}

TEST_F(ConflictRetryTest, OtherErrorsEndAtOnce) {
  int calls = 0;
  const Status status = RetryOnConflict(policy_, "configmap ns/x", [&]() -> Status {
    ++calls;
    return Error(ErrorCode::kFailedPrecondition, "not a JSON object");
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(ConflictRetryTest, GivesUpAfterMaxAttemptsWithGrowingCappedJitteredBackoff) {
  policy_.max_attempts = 10;
  policy_.initial_backoff = milliseconds(10);
  policy_.max_backoff = milliseconds(200);
  int calls = 0;
  const Status status = RetryOnConflict(policy_, "httproute ns/r", [&]() -> Status {
    ++calls;
    return Error(ErrorCode::kConflict, "the object has been modified");
  });
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kConflict);
  EXPECT_THAT(status.error().message(), HasSubstr("httproute ns/r: concurrent writers won all 10"));
  EXPECT_THAT(status.error().message(), HasSubstr("the object has been modified"));
  EXPECT_EQ(calls, 10);
  ASSERT_EQ(sleeps_.size(), 9u);
  milliseconds backoff(10);
  for (const milliseconds wait : sleeps_) {
    EXPECT_GE(wait, backoff / 2);
    EXPECT_LE(wait, backoff * 3 / 2);
    backoff = std::min(backoff * 2, milliseconds(200));
  }
}

}  // namespace
}  // namespace agentrollout::controllers
