#include "operator/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace agentrollout::operator_ {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::vector<std::string> kEnvNames = {
    "KUBECONFIG",
    "AGENTROLLOUT_NAMESPACE",
    "AGENTROLLOUT_LEADER_ELECT",
    "AGENTROLLOUT_LEADER_ELECTION_NAMESPACE",
    "AGENTROLLOUT_LEADER_ELECTION_ID",
    "AGENTROLLOUT_LEASE_DURATION",
    "AGENTROLLOUT_RENEW_DEADLINE",
    "AGENTROLLOUT_RETRY_PERIOD",
    "AGENTROLLOUT_CONCURRENCY",
    "AGENTROLLOUT_CACHE_TARGET_READS",
    "AGENTROLLOUT_METRICS_ADDR",
    "AGENTROLLOUT_HEALTH_ADDR",
    "AGENTROLLOUT_LOG_FORMAT",
    "AGENTROLLOUT_LOG_LEVEL",
    "POD_NAME",
};

// Every test starts from an environment without the operator's variables and gets the
// caller's environment back afterwards.
class OptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& name : kEnvNames) {
      if (const char* value = std::getenv(name.c_str())) saved_[name] = value;
      unsetenv(name.c_str());
    }
  }
  void TearDown() override {
    for (const auto& name : kEnvNames) unsetenv(name.c_str());
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }

  static Result<Options> Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "agentrollout-operator");
    std::vector<const char*> argv;
    for (const auto& arg : args) argv.push_back(arg.c_str());
    return ParseOptions(static_cast<int>(argv.size()), argv.data());
  }

 private:
  std::map<std::string, std::string> saved_;
};

std::string HostName() {
  char name[HOST_NAME_MAX + 1] = {};
  gethostname(name, sizeof(name) - 1);
  return name;
}

TEST_F(OptionsTest, DefaultsAreTheDocumentedOnes) {
  auto options = Parse({});
  ASSERT_TRUE(options.ok()) << options.error().ToString();
  EXPECT_FALSE(options->show_help);
  EXPECT_EQ(options->kubeconfig, "");
  EXPECT_EQ(options->namespace_, "");
  EXPECT_FALSE(options->leader_elect);
  EXPECT_EQ(options->leader_election_namespace, "");
  EXPECT_EQ(options->leader_election_id, "agentrollout-operator");
  EXPECT_EQ(options->lease_duration, 15s);
  EXPECT_EQ(options->renew_deadline, 10s);
  EXPECT_EQ(options->retry_period, 2s);
  EXPECT_EQ(options->concurrency, 4);
  EXPECT_TRUE(options->cache_target_reads);
  EXPECT_EQ(options->rollback_on_delete_timeout, 2min);
  EXPECT_EQ(options->status_refresh_interval, 5min);
  EXPECT_EQ(options->metrics_address, (ListenAddress{"0.0.0.0", 8080}));
  EXPECT_EQ(options->health_address, (ListenAddress{"0.0.0.0", 8081}));
  EXPECT_EQ(options->log_format, LogFormat::kJson);
  EXPECT_EQ(options->log_level, spdlog::level::info);
  EXPECT_EQ(options->pod_name, HostName());

  // The struct's own defaults agree with what the parser produces.
  Options defaults;
  EXPECT_EQ(defaults.lease_duration, options->lease_duration);
  EXPECT_EQ(defaults.renew_deadline, options->renew_deadline);
  EXPECT_EQ(defaults.retry_period, options->retry_period);
  EXPECT_EQ(defaults.concurrency, options->concurrency);
  EXPECT_EQ(defaults.cache_target_reads, options->cache_target_reads);
  EXPECT_EQ(defaults.rollback_on_delete_timeout, options->rollback_on_delete_timeout);
  EXPECT_EQ(defaults.status_refresh_interval, options->status_refresh_interval);
  EXPECT_EQ(defaults.metrics_address, options->metrics_address);
  EXPECT_EQ(defaults.health_address, options->health_address);
  EXPECT_EQ(defaults.leader_election_id, options->leader_election_id);
}

TEST_F(OptionsTest, HelpListsEveryFlagWithDefaultAndEnvironmentVariable) {
  const std::string help = OptionsHelp();
  struct Shown {
    std::string flag;
    std::string default_value;  // "" when the default is empty or false (said in the text)
    std::string env;
  };
  const std::vector<Shown> flags = {
      {"--kubeconfig", "", "KUBECONFIG"},
      {"--namespace", "", "AGENTROLLOUT_NAMESPACE"},
      {"--leader-elect", "", "AGENTROLLOUT_LEADER_ELECT"},
      {"--leader-election-namespace", "", "AGENTROLLOUT_LEADER_ELECTION_NAMESPACE"},
      {"--leader-election-id", "agentrollout-operator", "AGENTROLLOUT_LEADER_ELECTION_ID"},
      {"--lease-duration", "15s", "AGENTROLLOUT_LEASE_DURATION"},
      {"--renew-deadline", "10s", "AGENTROLLOUT_RENEW_DEADLINE"},
      {"--retry-period", "2s", "AGENTROLLOUT_RETRY_PERIOD"},
      {"--concurrency", "4", "AGENTROLLOUT_CONCURRENCY"},
      {"--cache-target-reads", "true", "AGENTROLLOUT_CACHE_TARGET_READS"},
      {"--deployment-env-store", "", "AGENTROLLOUT_DEPLOYMENT_ENV_STORE"},
      {"--rollback-on-delete-timeout", "2m", "AGENTROLLOUT_ROLLBACK_ON_DELETE_TIMEOUT"},
      {"--status-refresh-interval", "5m", "AGENTROLLOUT_STATUS_REFRESH_INTERVAL"},
      {"--metrics-addr", ":8080", "AGENTROLLOUT_METRICS_ADDR"},
      {"--health-addr", ":8081", "AGENTROLLOUT_HEALTH_ADDR"},
      {"--log-format", "json", "AGENTROLLOUT_LOG_FORMAT"},
      {"--log-level", "info", "AGENTROLLOUT_LOG_LEVEL"},
      {"--pod-name", "", "POD_NAME"},
  };
  for (const auto& shown : flags) {
    // CLI11 prints "  --flag TYPE[:CHECK]=DEFAULT (Env:NAME)" on the flag's line.
    const auto at = help.find("  " + shown.flag + " ");
    ASSERT_NE(at, std::string::npos) << shown.flag;
    const std::string line = help.substr(at, help.find('\n', at) - at);
    EXPECT_THAT(line, HasSubstr("(Env:" + shown.env + ")")) << line;
    if (!shown.default_value.empty()) {
      EXPECT_THAT(line, HasSubstr("=" + shown.default_value + " (Env:")) << line;
    }
  }
  EXPECT_THAT(help, HasSubstr("{json,text}"));
  EXPECT_THAT(help, HasSubstr("{trace,debug,info,warn,error}"));
}

TEST_F(OptionsTest, HelpFlagIsReportedNotActedOn) {
  for (const char* flag : {"--help", "-h"}) {
    auto options = Parse({flag});
    ASSERT_TRUE(options.ok()) << options.error().ToString();
    EXPECT_TRUE(options->show_help) << flag;
  }
}

TEST_F(OptionsTest, EnvironmentVariablesSetEveryFlag) {
  setenv("KUBECONFIG", "/etc/kube/config", 1);
  setenv("AGENTROLLOUT_NAMESPACE", "voice", 1);
  setenv("AGENTROLLOUT_LEADER_ELECT", "true", 1);
  setenv("AGENTROLLOUT_LEADER_ELECTION_NAMESPACE", "agentrollout-system", 1);
  setenv("AGENTROLLOUT_LEADER_ELECTION_ID", "my-lease", 1);
  setenv("AGENTROLLOUT_LEASE_DURATION", "1m", 1);
  setenv("AGENTROLLOUT_RENEW_DEADLINE", "45s", 1);
  setenv("AGENTROLLOUT_RETRY_PERIOD", "1500ms", 1);
  setenv("AGENTROLLOUT_CONCURRENCY", "8", 1);
  setenv("AGENTROLLOUT_METRICS_ADDR", "0", 1);
  setenv("AGENTROLLOUT_HEALTH_ADDR", "127.0.0.1:9440", 1);
  setenv("AGENTROLLOUT_LOG_FORMAT", "text", 1);
  setenv("AGENTROLLOUT_LOG_LEVEL", "debug", 1);
  setenv("POD_NAME", "agentrollout-operator-7d9f-abcde", 1);

  auto options = Parse({});
  ASSERT_TRUE(options.ok()) << options.error().ToString();
  EXPECT_EQ(options->kubeconfig, "/etc/kube/config");
  EXPECT_EQ(options->namespace_, "voice");
  EXPECT_TRUE(options->leader_elect);
  EXPECT_EQ(options->leader_election_namespace, "agentrollout-system");
  EXPECT_EQ(options->leader_election_id, "my-lease");
  EXPECT_EQ(options->lease_duration, 60s);
  EXPECT_EQ(options->renew_deadline, 45s);
  EXPECT_EQ(options->retry_period, 1500ms);
  EXPECT_EQ(options->concurrency, 8);
  EXPECT_EQ(options->metrics_address, std::nullopt);
  EXPECT_EQ(options->health_address, (ListenAddress{"127.0.0.1", 9440}));
  EXPECT_EQ(options->log_format, LogFormat::kText);
  EXPECT_EQ(options->log_level, spdlog::level::debug);
  EXPECT_EQ(options->pod_name, "agentrollout-operator-7d9f-abcde");
}

TEST_F(OptionsTest, FlagsWinOverEnvironmentVariables) {
  setenv("AGENTROLLOUT_NAMESPACE", "voice", 1);
  setenv("AGENTROLLOUT_CONCURRENCY", "8", 1);
  setenv("AGENTROLLOUT_LEADER_ELECT", "true", 1);
  setenv("AGENTROLLOUT_LOG_LEVEL", "debug", 1);
  setenv("AGENTROLLOUT_METRICS_ADDR", "0", 1);

  setenv("AGENTROLLOUT_CACHE_TARGET_READS", "true", 1);

  auto options =
      Parse({"--namespace", "chat", "--concurrency=2", "--leader-elect=false", "--log-level",
             "warn", "--metrics-addr", "127.0.0.1:0", "--cache-target-reads=false"});
  ASSERT_TRUE(options.ok()) << options.error().ToString();
  EXPECT_EQ(options->namespace_, "chat");
  EXPECT_FALSE(options->cache_target_reads);
  EXPECT_EQ(options->concurrency, 2);
  EXPECT_FALSE(options->leader_elect);
  EXPECT_EQ(options->log_level, spdlog::level::warn);
  EXPECT_EQ(options->metrics_address, (ListenAddress{"127.0.0.1", 0}));
}

TEST_F(OptionsTest, LeaderElectAsBareFlagAndFromFalseEnvironment) {
  auto on = Parse({"--leader-elect"});
  ASSERT_TRUE(on.ok()) << on.error().ToString();
  EXPECT_TRUE(on->leader_elect);

  setenv("AGENTROLLOUT_LEADER_ELECT", "false", 1);
  auto off = Parse({});
  ASSERT_TRUE(off.ok()) << off.error().ToString();
  EXPECT_FALSE(off->leader_elect);
}

struct InvalidCase {
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::vector<std::string> error_mentions;  // the flag and the offending value
};

TEST_F(OptionsTest, InvalidValuesAreErrorsNamingFlagAndValue) {
  const std::vector<InvalidCase> cases = {
      {{"--concurrency", "0"}, {}, {"--concurrency", "0"}},
      {{"--concurrency", "many"}, {}, {"--concurrency", "many"}},
      {{}, {{"AGENTROLLOUT_CONCURRENCY", "-3"}}, {"--concurrency", "-3"}},
      {{"--log-format", "xml"}, {}, {"--log-format", "xml"}},
      {{}, {{"AGENTROLLOUT_LOG_FORMAT", "logfmt"}}, {"--log-format", "logfmt"}},
      {{"--log-level", "verbose"}, {}, {"--log-level", "verbose"}},
      {{"--lease-duration", "15"}, {}, {"--lease-duration", "15"}},
      {{"--retry-period", "2 days"}, {}, {"--retry-period", "2 days"}},
      {{"--lease-duration", "5s"}, {}, {"--lease-duration", "5s", "--renew-deadline"}},
      {{"--renew-deadline", "1s"}, {}, {"--renew-deadline", "1s", "--retry-period"}},
      {{"--retry-period", "0s", "--renew-deadline", "1s", "--lease-duration", "2s"},
       {},
       {"--retry-period", "0s", "positive"}},
      {{"--metrics-addr", "localhost:8080"}, {}, {"--metrics-addr", "localhost"}},
      {{"--metrics-addr", "8080"}, {}, {"--metrics-addr", "8080"}},
      {{"--health-addr", ":99999"}, {}, {"--health-addr", "99999"}},
      {{}, {{"AGENTROLLOUT_HEALTH_ADDR", ":http"}}, {"--health-addr", "http"}},
      {{"--namespace", "Voice_Agents"}, {}, {"--namespace", "Voice_Agents"}},
      {{"--leader-election-namespace", "-x"}, {}, {"--leader-election-namespace", "-x"}},
      {{"--leader-election-id", "My Lease"}, {}, {"--leader-election-id", "My Lease"}},
      {{"--frobnicate"}, {}, {"--frobnicate"}},
  };
  for (const auto& c : cases) {
    for (const auto& [name, value] : c.env) setenv(name.c_str(), value.c_str(), 1);
    auto options = Parse(c.args);
    for (const auto& [name, value] : c.env) unsetenv(name.c_str());
    const std::string label =
        ::testing::PrintToString(c.args) + " " + ::testing::PrintToString(c.env);
    ASSERT_FALSE(options.ok()) << label;
    EXPECT_EQ(options.error().code(), ErrorCode::kInvalidArgument) << label;
    for (const auto& mention : c.error_mentions) {
      EXPECT_THAT(options.error().message(), HasSubstr(mention)) << label;
    }
  }
}

TEST(ParseListenAddressTest, AcceptsPortOnlyIpv4AndBracketedIpv6) {
  EXPECT_EQ(*ParseListenAddress(":8081"), (ListenAddress{"0.0.0.0", 8081}));
  EXPECT_EQ(*ParseListenAddress("127.0.0.1:0"), (ListenAddress{"127.0.0.1", 0}));
  EXPECT_EQ(*ParseListenAddress("10.0.0.7:65535"), (ListenAddress{"10.0.0.7", 65535}));
  EXPECT_EQ(*ParseListenAddress("[::1]:9090"), (ListenAddress{"::1", 9090}));
  EXPECT_EQ(ParseListenAddress(":8081")->ToCivetweb(), "0.0.0.0:8081");
  EXPECT_EQ(ParseListenAddress("[::1]:9090")->ToCivetweb(), "[::1]:9090");
}

TEST(ParseListenAddressTest, RejectsWhatCannotBeBound) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"8080", "not HOST:PORT"},
      {"", "not HOST:PORT"},
      {":", "port \"\""},
      {":65536", "port \"65536\""},
      {":-1", "port \"-1\""},
      {":80x", "port \"80x\""},
      {"localhost:80", "host \"localhost\""},
      {"256.1.1.1:80", "host \"256.1.1.1\""},
      {"::1:80", "host \"::1\""},
      {"[127.0.0.1]:80", "host \"127.0.0.1\" is not an IPv6"},
  };
  for (const auto& [text, why] : cases) {
    auto address = ParseListenAddress(text);
    ASSERT_FALSE(address.ok()) << text;
    EXPECT_THAT(address.error().message(), AllOf(HasSubstr("\"" + text + "\""), HasSubstr(why)))
        << text;
  }
}

}  // namespace
}  // namespace agentrollout::operator_
