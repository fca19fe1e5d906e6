#include "kube/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace agentrollout::kube {
namespace {

using ::testing::HasSubstr;

ProcessSpec Shell(std::string script) {
  ProcessSpec spec;
  spec.program = "sh";
  spec.args = {"-c", std::move(script)};
  return spec;
}

TEST(RunProcess, CapturesStdoutPassesStderrAndSetsEnv) {
  ProcessSpec spec = Shell("printf '%s|%s' \"$1\" \"$GREETING\"; echo oops >&2; exit 3");
  spec.args.push_back("argv0");
  spec.args.push_back("first arg");
  spec.env = {{"GREETING", "hello there"}};
  std::string err;
  spec.on_stderr = [&err](std::string_view chunk) { err.append(chunk); };
  auto result = RunProcess(spec);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->out, "first arg|hello there");
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(err, "oops\n");
}

TEST(RunProcess, StdinIsDevNullUnlessInherited) {
  auto result = RunProcess(Shell("if read line; then echo got; else echo eof; fi"));
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->out, "eof\n");
}

TEST(RunProcess, MissingProgramIsNotFound) {
  ProcessSpec spec;
  spec.program = "agentrollout-no-such-plugin";
  auto result = RunProcess(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(result.error().message(), HasSubstr("agentrollout-no-such-plugin"));
}

TEST(RunProcess, TimeoutKillsTheProcessGroup) {
  ProcessSpec spec = Shell("sleep 30 & sleep 30");
  spec.timeout = std::chrono::milliseconds(200);
  const auto started = std::chrono::steady_clock::now();
  auto result = RunProcess(spec);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().code(), ErrorCode::kDeadlineExceeded);
  // The background sleep held the pipes open; it was killed with its group.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
}

TEST(RunProcess, BoundsStdoutAndStderr) {
  ProcessSpec spec = Shell("head -c 5000 /dev/zero");
  spec.max_stdout = 4096;
  auto big = RunProcess(spec);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.error().code(), ErrorCode::kResourceExhausted);

  ProcessSpec chatty = Shell("head -c 200000 /dev/zero >&2; echo done");
  chatty.max_stderr = 100;
  std::size_t passed = 0;
  chatty.on_stderr = [&passed](std::string_view chunk) { passed += chunk.size(); };
  auto result = RunProcess(chatty);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->out, "done\n");
  EXPECT_EQ(passed, 100u);
}

}  // namespace
}  // namespace agentrollout::kube
