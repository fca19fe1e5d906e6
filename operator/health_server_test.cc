#include "operator/health_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "operator/http_get_for_test.h"

namespace agentrollout::operator_ {
namespace {

using ::testing::HasSubstr;
using testing::HttpGet;
using ::testing::Not;

const ListenAddress kLoopbackAnyPort{"127.0.0.1", 0};

std::unique_ptr<HealthServer> StartOrDie(ReadinessProbe probe) {
  auto server = HealthServer::Start(kLoopbackAnyPort, std::move(probe));
  EXPECT_TRUE(server.ok()) << server.error().ToString();
  return server.ok() ? std::move(*server) : nullptr;
}

TEST(HealthServerTest, HealthzIsOkWhileServingEvenWhenNotReady) {
  ReadinessGate gate(/*leader_election=*/true);
  auto server = StartOrDie(gate.Probe());
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->port(), 0);

  const auto response = HttpGet(server->port(), "/healthz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok\n");
  EXPECT_THAT(response.headers, HasSubstr("Content-Type: text/plain"));
}

TEST(HealthServerTest, ReadyzNamesWhatIsMissingUntilEverythingIsThere) {
  ReadinessGate gate(/*leader_election=*/true);
  auto server = StartOrDie(gate.Probe());
  ASSERT_NE(server, nullptr);

  auto response = HttpGet(server->port(), "/readyz");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "not ready: caches not synced; no leader known\n");

  gate.SetCachesSynced(true);
  response = HttpGet(server->port(), "/readyz");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "not ready: no leader known\n");

  gate.SetLeaderKnown(true);
  response = HttpGet(server->port(), "/readyz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "ok\n");

  // Losing the leader (e.g. the Lease expired and nobody renewed it) flips it back.
  gate.SetLeaderKnown(false);
  EXPECT_EQ(HttpGet(server->port(), "/readyz").status, 503);
}

TEST(HealthServerTest, WithoutLeaderElectionSyncedCachesAreEnough) {
  ReadinessGate gate(/*leader_election=*/false);
  auto server = StartOrDie(gate.Probe());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(HttpGet(server->port(), "/readyz").body, "not ready: caches not synced\n");
  gate.SetCachesSynced(true);
  EXPECT_EQ(HttpGet(server->port(), "/readyz").status, 200);
}

TEST(HealthServerTest, AThrowingProbeMeansNotReady) {
  auto server =
      StartOrDie([]() -> std::vector<std::string> { throw std::runtime_error("informer gone"); });
  ASSERT_NE(server, nullptr);
  const auto response = HttpGet(server->port(), "/readyz");
  EXPECT_EQ(response.status, 503);
  EXPECT_THAT(response.body, HasSubstr("informer gone"));
  EXPECT_EQ(HttpGet(server->port(), "/healthz").status, 200);
}

TEST(HealthServerTest, OtherPathsAreNotFound) {
  auto server = StartOrDie([] { return std::vector<std::string>{}; });
  ASSERT_NE(server, nullptr);
  for (const char* path : {"/", "/metrics", "/healthz/extra", "/readyzz"}) {
    const auto response = HttpGet(server->port(), path);
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_THAT(response.body, Not(HasSubstr("ok\n"))) << path;
  }
}

TEST(HealthServerTest, BusyPortIsAnErrorNamingTheAddress) {
  auto first = StartOrDie([] { return std::vector<std::string>{}; });
  ASSERT_NE(first, nullptr);
  const ListenAddress taken{"127.0.0.1", first->port()};
  auto second = HealthServer::Start(taken, [] { return std::vector<std::string>{}; });
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code(), ErrorCode::kUnavailable);
  EXPECT_THAT(second.error().message(), HasSubstr(taken.ToCivetweb()));
}

TEST(HealthServerTest, StopsServingWhenDestroyed) {
  auto server = StartOrDie([] { return std::vector<std::string>{}; });
  ASSERT_NE(server, nullptr);
  const auto port = server->port();
  ASSERT_EQ(HttpGet(port, "/healthz").status, 200);
  server.reset();
  EXPECT_EQ(HttpGet(port, "/healthz").status, 0);
}

}  // namespace
}  // namespace agentrollout::operator_
