#include "plugin/cli.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "api/test_manifest.h"
#include "api/time.h"
#include "kube/fake_client.h"

namespace agentrollout::plugin {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

struct Ran {
  int code = -1;
  std::string out;
  std::string err;
};

class PluginCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_->EnableStatusSubresource(kAgentRollouts);
    json object = api::testing::VoiceAgentManifest();
    object.erase("status");
    object["metadata"] = {{"name", "voice-agent-v2"}};
    json created = *client_->Create(kAgentRollouts, "voice", object);
    created["status"] = api::testing::VoiceAgentManifest()["status"];
    EXPECT_TRUE(client_->UpdateStatus(kAgentRollouts, "voice", created).ok());
  }

  Ran Run(const std::vector<std::string>& args) {
    std::vector<const char*> argv = {"kubectl-agentrollout"};
    for (const std::string& arg : args) argv.push_back(arg.c_str());
    std::ostringstream out;
    std::ostringstream err;
    WatchStop stop;
    PluginEnv env{
        out, err,
        [this](const ConnectionFlags& flags) -> Result<Connection> {
          flags_ = flags;
          return Connection{client_, flags.namespace_.empty() ? "default" : flags.namespace_};
        },
        stop};
    env.now = [] { return *api::ParseTime("2026-11-22T11:00:00Z"); };
    Ran ran;
    ran.code = RunPlugin(static_cast<int>(argv.size()), argv.data(), env);
    ran.out = out.str();
    ran.err = err.str();
    return ran;
  }

  std::shared_ptr<kube::FakeClient> client_ = std::make_shared<kube::FakeClient>();
  ConnectionFlags flags_;
};

TEST_F(PluginCliTest, ListInTheGivenNamespace) {
  Ran ran = Run({"list", "-n", "voice"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_THAT(ran.out, StartsWith("NAME "));
  EXPECT_THAT(ran.out, HasSubstr("voice-agent-v2"));
  EXPECT_THAT(ran.out, HasSubstr("Progressing"));

  ran = Run({"-n", "voice", "list"});  // global flags before the command work too
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_THAT(ran.out, HasSubstr("voice-agent-v2"));

  ran = Run({"list"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(ran.out, "");
  EXPECT_EQ(ran.err, "No AgentRollouts found in namespace default.\n");
}

TEST_F(PluginCliTest, ListAllNamespaces) {
  Ran ran = Run({"list", "-A"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_THAT(ran.out, StartsWith("NAMESPACE   NAME "));
  EXPECT_THAT(ran.out, HasSubstr("voice       voice-agent-v2"));
}

TEST_F(PluginCliTest, PassesConnectionFlags) {
  Run({"--kubeconfig", "/tmp/k", "--context", "prod", "status", "x", "--namespace", "ns"});
  EXPECT_EQ(flags_.kubeconfig, "/tmp/k");
  EXPECT_EQ(flags_.context, "prod");
  EXPECT_EQ(flags_.namespace_, "ns");
}

TEST_F(PluginCliTest, Status) {
  Ran ran = Run({"status", "voice-agent-v2", "-n", "voice"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_THAT(ran.out, HasSubstr("Phase:      Progressing\n"));
  EXPECT_THAT(ran.out, HasSubstr("Step:       3/5 expansion"));
  EXPECT_THAT(ran.out, HasSubstr("latency-p95-ms (dry run)"));
}

TEST_F(PluginCliTest, UnknownRolloutFailsNamingIt) {
  for (const char* command : {"status", "promote", "abort", "pause", "resume", "retry"}) {
    Ran ran = Run({command, "nope", "-n", "voice"});
    EXPECT_EQ(ran.code, 1) << command;
    EXPECT_EQ(ran.err, "error: agentrollout \"nope\" not found in namespace \"voice\"\n")
        << command;
  }
}

TEST_F(PluginCliTest, ActionsSetTheAnnotationOrSayWhyNot) {
  Ran ran = Run({"pause", "voice-agent-v2", "-n", "voice"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_THAT(ran.out, HasSubstr("voice/voice-agent-v2: pause requested"));
  EXPECT_EQ((*client_->Get(kAgentRollouts, "voice",
                           "voice-agent-v2"))["metadata"]["annotations"][api::kActionAnnotation],
            "pause");

  ran = Run({"retry", "voice-agent-v2", "-n", "voice"});
  EXPECT_EQ(ran.code, 1);
  EXPECT_EQ(ran.err,
            "error: cannot retry voice/voice-agent-v2: retry restarts a RolledBack rollout, and it "
            "is Progressing\n");
}

TEST_F(PluginCliTest, BucketNeedsNoCluster) {
  Ran ran = Run({"bucket", "voice_agent_v2", "t-1", "t-2", "--percent", "50"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  BucketState fifty;
  fifty.percent = 50;
  EXPECT_EQ(ran.out, FormatBuckets("voice_agent_v2", {"t-1", "t-2"}, fifty));
  EXPECT_TRUE(flags_.kubeconfig.empty() && flags_.namespace_.empty()) << "no connection made";

  ran = Run({"bucket", "voice_agent_v2", "--percent", "0", "--enabled-tenant", "t-1,t-2",
             "--disabled-tenant", "t-2", "t-1", "t-2"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  BucketState pinned;
  pinned.percent = 0;
  pinned.enabled_tenants = {"t-1", "t-2"};
  pinned.disabled_tenants = {"t-2"};
  EXPECT_EQ(ran.out, FormatBuckets("voice_agent_v2", {"t-1", "t-2"}, pinned));
  EXPECT_THAT(ran.out, HasSubstr("t-1      "));
  EXPECT_THAT(ran.out, HasSubstr("on       yes\n"));
  EXPECT_THAT(ran.out, HasSubstr("off      no\n"));
}

TEST_F(PluginCliTest, BucketWithRolloutReadsItsFlagStore) {
  Ran ran = Run(
      {"bucket", "voice_agent_v2", "t-internal-1", "--rollout", "voice-agent-v2", "-n", "voice"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_EQ(flags_.namespace_, "voice") << "connected to read the rollout";
  EXPECT_THAT(ran.out, HasSubstr("flag voice_agent_v2"));
}

TEST_F(PluginCliTest, StatusQueriesPrintsTheRenderedQueries) {
  Ran ran = Run({"status", "voice-agent-v2", "-n", "voice", "--queries"});
  EXPECT_EQ(ran.code, 0) << ran.err;
  EXPECT_THAT(ran.out, HasSubstr("\nQueries (phase "));
  ran = Run({"status", "voice-agent-v2", "-n", "voice"});
  EXPECT_THAT(ran.out, Not(HasSubstr("Queries")));
}

TEST_F(PluginCliTest, BadArgumentsAreClearErrors) {
  Ran ran = Run({"bucket", "flag", "t", "--percent", "101"});
  EXPECT_EQ(ran.code, 1);
  EXPECT_THAT(ran.err, HasSubstr("--percent"));
  EXPECT_THAT(ran.err, HasSubstr("101"));

  ran = Run({"status"});
  EXPECT_EQ(ran.code, 1);
  EXPECT_THAT(ran.err, HasSubstr("NAME"));

  ran = Run({"frobnicate"});
  EXPECT_EQ(ran.code, 1);
  EXPECT_THAT(ran.err, HasSubstr("frobnicate"));

  ran = Run({});
  EXPECT_EQ(ran.code, 1);

  ran = Run({"--help"});
  EXPECT_EQ(ran.code, 0);
  EXPECT_THAT(ran.out, HasSubstr("promote"));
  EXPECT_THAT(ran.out, HasSubstr("bucket"));
}

TEST_F(PluginCliTest, DashboardRefusesABadAddress) {
  for (const char* address :
       {"3100", "127.0.0.1:http", "127.0.0.1:70000", "[::1:3100", "host/x:3100"}) {
    const Ran ran = Run({"dashboard", "--address", address});
    EXPECT_EQ(ran.code, 1) << address;
    EXPECT_THAT(ran.err, HasSubstr("--address \"" + std::string(address) + "\"")) << address;
  }
}

TEST_F(PluginCliTest, DashboardWarnsWhenNotOnLoopback) {
  // 192.0.2.1 (TEST-NET-1) is no address of this machine: binding fails after the warning.
  const Ran ran = Run({"dashboard", "--address", "192.0.2.1:0"});
  EXPECT_THAT(ran.err, HasSubstr("warning: --address 192.0.2.1:0 is not a loopback address"));
  EXPECT_EQ(ran.code, 1) << "192.0.2.1 is not an address of this machine: " << ran.err;
}

}  // namespace
}  // namespace agentrollout::plugin
