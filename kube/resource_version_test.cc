#include "kube/resource_version.h"

#include <gtest/gtest.h>

namespace agentrollout::kube {
namespace {

TEST(CompareResourceVersionsTest, ComparesAsDecimalIntegers) {
  EXPECT_EQ(CompareResourceVersions("1", "2"), -1);
  EXPECT_EQ(CompareResourceVersions("2", "1"), 1);
  EXPECT_EQ(CompareResourceVersions("42", "42"), 0);
  // Not as strings: "9" < "10" although '9' > '1'.
  EXPECT_EQ(CompareResourceVersions("9", "10"), -1);
  EXPECT_EQ(CompareResourceVersions("100", "99"), 1);
  // Beyond 64 bits still orders (etcd revisions do not get there, but the rule holds).
  EXPECT_EQ(CompareResourceVersions("184467440737095516160", "184467440737095516161"), -1);
}

TEST(CompareResourceVersionsTest, AVersionThatIsNotWellFormedComparesWithNothing) {
  for (const char* bad : {"", "0", "012", "12a", "-3", " 12", "1.5", "abc"}) {
    EXPECT_EQ(CompareResourceVersions(bad, "12"), std::nullopt) << '"' << bad << '"';
    EXPECT_EQ(CompareResourceVersions("12", bad), std::nullopt) << '"' << bad << '"';
  }
}

}  // namespace
}  // namespace agentrollout::kube
