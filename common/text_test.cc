#include "common/text.h"

#include <gtest/gtest.h>

namespace agentrollout {
namespace {

const std::string kEuro = "\xe2\x82\xac";      // 3 bytes
const std::string kGrin = "\xf0\x9f\x98\x80";  // 4 bytes
const std::string kFffd = "\xef\xbf\xbd";

TEST(Utf8, ValidAndInvalidSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("caf\xc3\xa9 " + kEuro + kGrin));
  for (const std::string bad :
       {"\xff", "\xc3", "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << bad;
  }
}

TEST(Utf8, InvalidSequencesBecomeReplacementCharacters) {
  EXPECT_EQ(ToValidUtf8("ok"), "ok");
  EXPECT_EQ(ToValidUtf8("a\xff"
                        "b"),
            "a" + kFffd + "b");
  EXPECT_EQ(ToValidUtf8("\xe2\x82"), kFffd + kFffd);  // truncated: each byte replaced
  EXPECT_EQ(ToValidUtf8(kEuro + "\xc0\xaf"), kEuro + kFffd + kFffd);
  EXPECT_TRUE(IsValidUtf8(ToValidUtf8("\xf0\x9f\x98")));
}

TEST(CutOnCharacterBoundary, NeverSplitsACharacter) {
  const std::string text = "ab" + kEuro + kGrin;  // 2 + 3 + 4 bytes
  EXPECT_EQ(CutOnCharacterBoundary(text, 100), text);
  EXPECT_EQ(CutOnCharacterBoundary(text, 9), text);
  for (std::size_t bound = 5; bound < 9; ++bound) {
    EXPECT_EQ(CutOnCharacterBoundary(text, bound), "ab" + kEuro) << bound;
  }
  EXPECT_EQ(CutOnCharacterBoundary(text, 4), "ab");
  EXPECT_EQ(CutOnCharacterBoundary(text, 2), "ab");
  EXPECT_EQ(CutOnCharacterBoundary(text, 0), "");
}

TEST(Redact, ReplacesEveryOccurrence) {
  EXPECT_EQ(Redact("tok x tok", {"tok", ""}), "<redacted> x <redacted>");
  EXPECT_EQ(Redact("nothing", {}), "nothing");
}

TEST(CleanServerText, RedactsBeforeCutting) {
  // The secret straddles the bound: cut first, its head would be shown.
  const std::string secret = "s3cr3t-token-value";
  const std::string text = std::string(10, 'x') + secret + " trailing";
  const std::string clean = CleanServerText(text, {secret}, 15);
  EXPECT_EQ(clean.find("s3cr"), std::string::npos) << clean;
  EXPECT_EQ(clean, "xxxxxxxxxx<reda...");
}

TEST(CleanServerText, CutsOnACharacterBoundaryAndReplacesInvalidBytes) {
  std::string text;
  for (int i = 0; i < 100; ++i) text += kEuro;
  const std::string clean = CleanServerText(text, {}, 200);
  EXPECT_TRUE(IsValidUtf8(clean));
  EXPECT_EQ(clean, text.substr(0, 198) + "...");
  EXPECT_EQ(CleanServerText("a\xff\n\tb  ", {}, 200), "a" + kFffd + "  b");
  EXPECT_EQ(CleanServerText("", {}, 200), "");
}

TEST(QuoteForMessage, QuotesAndBounds) {
  EXPECT_EQ(QuoteForMessage("z'} or\nvector(9)"), "\"z'} or vector(9)\"");
  EXPECT_EQ(QuoteForMessage(std::string(100, 'a')), "\"" + std::string(64, 'a') + "...\"");
}

TEST(HttpHeaders, NamesAreTokensValuesHaveNoControlCharacters) {
  for (const char* name : {"X-Scope-OrgID", "a", "x!#$%&'*+-.^_`|~9"}) {
    EXPECT_TRUE(IsHttpToken(name)) << name;
  }
  for (const std::string name :
       {"", "X A", "X:", "X(a)", "X\r\nY", "X-Ten\xc3\xa4nt", "X\"", "X/Y", "X{}"}) {
    EXPECT_FALSE(IsHttpToken(name)) << name;
  }
  for (const std::string value : {"", "tenant-a", "a b\tc", "caf\xc3\xa9", "\"quoted\""}) {
    EXPECT_TRUE(IsHttpFieldValue(value)) << value;
  }
  for (const std::string& value : std::vector<std::string>{
           "a\r\nb", "a\n", "\r", std::string("a\0b", 3), "\x1b[31m", "\x7f", "\v"}) {
    EXPECT_FALSE(IsHttpFieldValue(value)) << value;
  }
}

}  // namespace
}  // namespace agentrollout
