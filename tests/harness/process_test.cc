#include "tests/harness/process.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace agentrollout::testing {
namespace {

using ::testing::HasSubstr;

TEST(RunProcessTest, CollectsStdoutStderrAndExitCode) {
  auto result = RunProcess({"sh", "-c", "echo out; echo err >&2; exit 3"});
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->exit_code, 3);
  EXPECT_EQ(result->out, "out\n");
  EXPECT_EQ(result->err, "err\n");
  EXPECT_FALSE(result->timed_out);
}

TEST(RunProcessTest, FeedsStdinLargerThanAPipeBuffer) {
  std::string input(1 << 20, 'x');
  input += "\nend\n";
  ProcessOptions options;
  options.stdin_data = input;
  auto result = RunProcess({"cat"}, options);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->out, input);
}

TEST(RunProcessTest, ArgumentsAreNeverInterpretedByAShell) {
  auto result = RunProcess({"echo", "$(id)", "a;b", "`x`", "*"});
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->out, "$(id) a;b `x` *\n");
}

TEST(RunProcessTest, SetsEnvironmentOverrides) {
  ProcessOptions options;
  options.env["AR_TEST_VALUE"] = "v 1";
  auto result = RunProcess({"sh", "-c", "printf %s \"$AR_TEST_VALUE\""}, options);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->out, "v 1");
}

TEST(RunProcessTest, KillsAProcessThatOutlivesTheTimeout) {
  ProcessOptions options;
  options.timeout = std::chrono::milliseconds(200);
  auto result = RunProcess({"sleep", "30"}, options);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->exit_code, 128 + 9);
}

TEST(RunProcessTest, ChildThatIgnoresStdinDoesNotKillUs) {
  ProcessOptions options;
  options.stdin_data = std::string(1 << 20, 'x');
  auto result = RunProcess({"true"}, options);
  ASSERT_TRUE(result.ok()) << result.error().ToString();
  EXPECT_EQ(result->exit_code, 0);
}

TEST(RunProcessTest, MissingProgramIsAnError) {
  auto result = RunProcess({"/nonexistent/agentrollout-no-such-program"});
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(result.error().message(), HasSubstr("agentrollout-no-such-program"));
}

TEST(BackgroundProcessTest, WaitsForLogAndStopsOnDestruction) {
  auto dir = MakeTempDir("agentrollout-process-test");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  // `tail -f` of an idle file runs until stopped and has the file's path on its command line.
  // The line it prints comes from tail itself, so once it is in the log the process is past
  // exec: a shell that echoes and then execs can be caught mid-exec, when /proc/<pid>/cmdline
  // reads empty (CI saw exactly that).
  const std::string marker = dir->string() + "/idle";
  ASSERT_EQ(RunProcess({"sh", "-c", "echo tail-is-running > \"$0\"", marker})->exit_code, 0);
  pid_t pid = -1;
  {
    auto process = BackgroundProcess::Start({"tail", "-f", marker}, *dir / "log");
    ASSERT_TRUE(process.ok()) << process.error().ToString();
    pid = process->pid();
    auto log = process->WaitForLog("tail-is-running", std::chrono::seconds(10));
    ASSERT_TRUE(log.ok()) << log.error().ToString();
    EXPECT_TRUE(process->Running());
    EXPECT_THAT(ProcessesMentioning(marker), ::testing::Contains(pid));
  }
  EXPECT_THAT(ProcessesMentioning(marker), ::testing::IsEmpty());
  std::filesystem::remove_all(*dir);
}

TEST(BackgroundProcessTest, WaitForLogReportsAnEarlyExit) {
  auto dir = MakeTempDir("agentrollout-process-test");
  ASSERT_TRUE(dir.ok()) << dir.error().ToString();
  auto process = BackgroundProcess::Start({"sh", "-c", "echo bye; exit 1"}, *dir / "log");
  ASSERT_TRUE(process.ok()) << process.error().ToString();
  auto log = process->WaitForLog("never printed", std::chrono::seconds(10));
  ASSERT_FALSE(log.ok());
  EXPECT_THAT(log.error().message(), HasSubstr("bye"));
  std::filesystem::remove_all(*dir);
}

}  // namespace
}  // namespace agentrollout::testing
