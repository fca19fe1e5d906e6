#include "api/sql_names.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace agentrollout::api {
namespace {

using ::testing::ElementsAre;

TEST(IsSqlIdentifier, AcceptsPlainNamesOnly) {
  for (const char* name : {"name", "enabled_tenants", "_x", "A1", "feature_flags"}) {
    EXPECT_TRUE(IsSqlIdentifier(name)) << name;
  }
  EXPECT_TRUE(IsSqlIdentifier(std::string(63, 'a')));
  EXPECT_FALSE(IsSqlIdentifier(std::string(64, 'a')));
  for (const char* hostile : {"", "1name", "name\"", "na me", "name;DROP TABLE t", "name--",
                              "public.t", "n\xc3\xa4me", "name)", "$1", "a-b"}) {
    EXPECT_FALSE(IsSqlIdentifier(hostile)) << hostile;
  }
}

TEST(IsQualifiedSqlIdentifier, AllowsOneSchema) {
  EXPECT_TRUE(IsQualifiedSqlIdentifier("feature_flags"));
  EXPECT_TRUE(IsQualifiedSqlIdentifier("public.feature_flags"));
  for (const char* bad : {"a.b.c", ".t", "t.", "public.", "\"public\".t", "a. b"}) {
    EXPECT_FALSE(IsQualifiedSqlIdentifier(bad)) << bad;
  }
}

TEST(IsJsonPath, DottedSegments) {
  EXPECT_TRUE(IsJsonPath("unifiedServiceRolloutPercent"));
  EXPECT_TRUE(IsJsonPath("voice.v2-enabled"));
  for (const char* bad : {"", ".a", "a.", "a..b", "a b", "a}", "{a,b}", "a\"b"}) {
    EXPECT_FALSE(IsJsonPath(bad)) << bad;
  }
  EXPECT_FALSE(IsJsonPath(std::string(129, 'a')));
  EXPECT_THAT(SplitJsonPath("a.b-c.d"), ElementsAre("a", "b-c", "d"));
  EXPECT_THAT(SplitJsonPath("a"), ElementsAre("a"));
}

}  // namespace
}  // namespace agentrollout::api
