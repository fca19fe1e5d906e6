// The Prometheus fixture (hack/prometheus.sh, the Debian prometheus) scrapes a real target
// and answers queries; stopping it leaves no process behind.
#include "tests/harness/prometheus.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>

#include "http/test_server.h"
#include "tests/harness/process.h"

namespace agentrollout::testing {
namespace {

using ::testing::HasSubstr;

// A /metrics target on a free port whose value the test controls.
class MetricsTarget {
 public:
  MetricsTarget() {
    auto server = http::testing::StartTestServer([this](http::testing::Exchange& exchange) {
      if (exchange.request().target != "/metrics") {
        exchange.Respond(404, {}, "not found\n");
        return;
      }
      exchange.Respond(200, {{"Content-Type", "text/plain; version=0.0.4"}},
                       "# TYPE agentrollout_fixture_value gauge\nagentrollout_fixture_value " +
                           std::to_string(value_.load()) + "\n");
    });
    if (server.ok()) server_ = *std::move(server);
    error_ = server.ok() ? "" : server.error().ToString();
  }
  bool ok() const { return server_ != nullptr; }
  const std::string& error() const { return error_; }
  std::string host_port() const { return "127.0.0.1:" + std::to_string(server_->port()); }
  void Set(int value) { value_ = value; }

 private:
  std::atomic<int> value_{42};
  http::testing::TestServerPtr server_;
  std::string error_;
};

TEST(PrometheusFixtureTest, ScrapesATargetAndAnswersQueries) {
  MetricsTarget target;
  ASSERT_TRUE(target.ok()) << target.error();
  PrometheusFixture prometheus;
  Status started = prometheus.Start({target.host_port()});
  ASSERT_TRUE(started.ok()) << started.error().ToString();
  EXPECT_THAT(prometheus.base_url(), ::testing::StartsWith("http://127.0.0.1:"));

  auto samples = prometheus.WaitForSamples("agentrollout_fixture_value{job=\"target-0\"} == 42",
                                           std::chrono::seconds(30));
  ASSERT_TRUE(samples.ok()) << samples.error().ToString();
  ASSERT_EQ(samples->size(), 1u);
  EXPECT_EQ((*samples)[0]["metric"]["instance"], target.host_port());
  EXPECT_EQ((*samples)[0]["value"][1], "42");

  // The 1 s scrape interval: a new value shows up within seconds.
  target.Set(7);
  auto changed =
      prometheus.WaitForSamples("agentrollout_fixture_value == 7", std::chrono::seconds(15));
  ASSERT_TRUE(changed.ok()) << changed.error().ToString();

  // Prometheus scrapes itself too, and PromQL errors come back as errors.
  auto self = prometheus.WaitForSamples("up{job=\"prometheus\"} == 1", std::chrono::seconds(15));
  EXPECT_TRUE(self.ok()) << self.error().ToString();
  auto bad = prometheus.Query("sum(");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.error().message(), HasSubstr("parse error"));

  const auto state_dir = prometheus.state_dir();
  Status stopped = prometheus.Stop();
  ASSERT_TRUE(stopped.ok()) << stopped.error().ToString();
  EXPECT_THAT(ProcessesMentioning(state_dir.string()), ::testing::IsEmpty());
  EXPECT_FALSE(std::filesystem::exists(state_dir));
}

TEST(PrometheusFixtureTest, RejectsTargetsThatWouldBreakTheConfig) {
  PrometheusFixture prometheus;
  Status started = prometheus.Start({"127.0.0.1:9090'\n- job_name: injected"});
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.error().message(), HasSubstr("bad scrape target"));
}

TEST(PrometheusFixtureTest, TwoInstancesRunSideBySide) {
  PrometheusFixture first;
  PrometheusFixture second;
  ASSERT_TRUE(first.Start({}).ok());
  ASSERT_TRUE(second.Start({}).ok());
  EXPECT_NE(first.base_url(), second.base_url());
  EXPECT_TRUE(first.WaitForSamples("up", std::chrono::seconds(20)).ok());
  EXPECT_TRUE(second.WaitForSamples("up", std::chrono::seconds(20)).ok());
}

}  // namespace
}  // namespace agentrollout::testing
