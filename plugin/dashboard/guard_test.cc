#include "plugin/dashboard/guard.h"

#include <gtest/gtest.h>

namespace agentrollout::plugin::dashboard {
namespace {

TEST(NewToken, IsLongRandomHex) {
  const std::string a = NewToken();
  EXPECT_EQ(a.size(), 64u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, NewToken());
}

TEST(RequestGuard, HostMustNameThisServer) {
  const RequestGuard guard("t", 3100);
  EXPECT_TRUE(guard.CheckRead("127.0.0.1:3100", "").ok());
  EXPECT_TRUE(guard.CheckRead("LOCALHOST:3100", "").ok());
  EXPECT_TRUE(guard.CheckRead("[::1]:3100", "").ok());
  for (const char* host : {"", "evil.example:3100", "127.0.0.1:3101", "127.0.0.1", "localhost"}) {
    const Status status = guard.CheckRead(host, "");
    ASSERT_FALSE(status.ok()) << host;
    EXPECT_EQ(status.error().code(), ErrorCode::kPermissionDenied);
    EXPECT_NE(status.error().message().find("Host"), std::string::npos);
  }
}

TEST(RequestGuard, NonLoopbackAddressIsAKnownHostToo) {
  const RequestGuard guard("t", 8080, {"dash.internal"});
  EXPECT_TRUE(guard.CheckRead("dash.internal:8080", "http://dash.internal:8080").ok());
  EXPECT_FALSE(guard.CheckRead("other.internal:8080", "").ok());
}

TEST(RequestGuard, WildcardAddressAcceptsAnyHostButStillChecksOrigin) {
  const RequestGuard guard("t", 3100, {"*"});
  EXPECT_TRUE(guard.CheckRead("192.0.2.7:3100", "http://192.0.2.7:3100").ok());
  EXPECT_FALSE(guard.CheckRead("192.0.2.7:3100", "http://evil.example").ok());
  EXPECT_FALSE(guard.CheckRead("", "").ok());
  EXPECT_FALSE(guard.CheckWrite("192.0.2.7:3100", "http://192.0.2.7:3100", "wrong").ok());
}

TEST(RequestGuard, OriginMustBeThisServer) {
  const RequestGuard guard("t", 3100);
  EXPECT_TRUE(guard.CheckRead("127.0.0.1:3100", "http://127.0.0.1:3100").ok());
  for (const char* origin : {"http://evil.example", "null", "http://localhost:3100",
                             "https://127.0.0.1:3100", "http://127.0.0.1:3100.evil.example"}) {
    const Status status = guard.CheckRead("127.0.0.1:3100", origin);
    ASSERT_FALSE(status.ok()) << origin;
    EXPECT_NE(status.error().message().find("cross-origin"), std::string::npos);
  }
}

TEST(RequestGuard, WritesNeedOriginAndToken) {
  const std::string token = NewToken();
  const RequestGuard guard(token, 3100);
  const char* host = "127.0.0.1:3100";
  const char* origin = "http://127.0.0.1:3100";
  EXPECT_TRUE(guard.CheckWrite(host, origin, token).ok());
  EXPECT_FALSE(guard.CheckWrite(host, "", token).ok()) << "no Origin";
  EXPECT_FALSE(guard.CheckWrite(host, origin, "").ok()) << "no token";
  EXPECT_FALSE(guard.CheckWrite(host, origin, token.substr(1)).ok()) << "shorter token";
  std::string wrong = token;
  wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
  const Status status = guard.CheckWrite(host, origin, wrong);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message().find("CSRF"), std::string::npos);
  EXPECT_FALSE(guard.CheckWrite("evil.example:3100", "http://evil.example:3100", token).ok());
}

}  // namespace
}  // namespace agentrollout::plugin::dashboard
