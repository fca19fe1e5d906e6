#include "common/result.h"

#include <gtest/gtest.h>

#include <memory>

namespace agentrollout {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgument("odd number " + std::to_string(n));
  return n / 2;
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> ok = Half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);

  Result<int> bad = Half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "odd number 3");
  EXPECT_EQ(bad.error().ToString(), "InvalidArgument: odd number 3");
}

TEST(ResultTest, MovesOutOnlyTypes) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(StatusTest, OkAndContext) {
  EXPECT_TRUE(OkStatus().ok());
  Status s = NotFound("configmap flags").WithContext("reading flag store");
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(s.error().message(), "reading flag store: configmap flags");
}

}  // namespace
}  // namespace agentrollout
