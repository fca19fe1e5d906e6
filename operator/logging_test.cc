#include "operator/logging.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace agentrollout::operator_ {
namespace {

using ::testing::HasSubstr;

const std::regex kUtcMillis(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A logger writing into `out` with the formatter of `format`.
std::shared_ptr<spdlog::logger> CapturingLogger(LogFormat format, const std::string& name,
                                                std::ostringstream& out) {
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  sink->set_formatter(MakeLogFormatter(format));
  auto logger = std::make_shared<spdlog::logger>(name, sink);
  logger->set_level(spdlog::level::trace);
  return logger;
}

TEST(LoggingTest, ParsesFormatsAndLevels) {
  EXPECT_EQ(*ParseLogFormat("json"), LogFormat::kJson);
  EXPECT_EQ(*ParseLogFormat("text"), LogFormat::kText);
  EXPECT_EQ(*ParseLogLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("error"), spdlog::level::err);
  for (auto name : kLogFormatNames) EXPECT_TRUE(ParseLogFormat(name).ok()) << name;
  for (auto name : kLogLevelNames) EXPECT_TRUE(ParseLogLevel(name).ok()) << name;

  auto bad_format = ParseLogFormat("JSON");
  ASSERT_FALSE(bad_format.ok());
  EXPECT_THAT(bad_format.error().message(), HasSubstr("\"JSON\""));
  auto bad_level = ParseLogLevel("warning");
  ASSERT_FALSE(bad_level.ok());
  EXPECT_THAT(bad_level.error().message(), HasSubstr("\"warning\""));
}

TEST(LoggingTest, JsonIsOneObjectPerLineWithEscapedMessage) {
  std::ostringstream out;
  auto logger = CapturingLogger(LogFormat::kJson, "controller", out);
  const std::string tricky = "rollout \"voice/v2\"\nphase\tcanary \\ done \x01 caf\xc3\xa9";
  logger->info("{}", tricky);
  logger->warn("second");
  logger->error("bad utf-8: \xff\xfe end");
  logger->debug("debug line");
  logger->trace("trace line");

  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 5u) << out.str();
  std::vector<nlohmann::json> objects;
  for (const auto& line : lines) {
    auto parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(parsed.is_discarded()) << line;
    objects.push_back(parsed);
  }
  EXPECT_EQ(objects[0]["msg"], tricky);
  EXPECT_EQ(objects[0]["level"], "info");
  EXPECT_EQ(objects[0]["logger"], "controller");
  EXPECT_TRUE(std::regex_match(objects[0]["ts"].get<std::string>(), kUtcMillis))
      << objects[0]["ts"];
  EXPECT_EQ(objects[0].size(), 4u);
  // Field order is stable: ts first, like zap/klog JSON.
  EXPECT_EQ(lines[0].rfind("{\"ts\":", 0), 0u) << lines[0];

  EXPECT_EQ(objects[1]["level"], "warn");
  EXPECT_EQ(objects[2]["level"], "error");
  EXPECT_EQ(objects[2]["msg"], "bad utf-8: \xef\xbf\xbd\xef\xbf\xbd end");  // U+FFFD twice
  EXPECT_EQ(objects[3]["level"], "debug");
  EXPECT_EQ(objects[4]["level"], "trace");
}

TEST(LoggingTest, TextIsTimestampLevelLoggerMessage) {
  std::ostringstream out;
  auto logger = CapturingLogger(LogFormat::kText, "leader", out);
  logger->info("acquired lease agentrollout-system/agentrollout-operator");
  const auto lines = Lines(out.str());
  ASSERT_EQ(lines.size(), 1u);
  const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info \[leader\] )"
                        R"(acquired lease agentrollout-system/agentrollout-operator)");
  EXPECT_TRUE(std::regex_match(lines[0], line)) << lines[0];
}

TEST(LoggingTest, ConfigureLoggingWritesJsonToStderrAtTheLevelAsked) {
  ::testing::internal::CaptureStderr();
  ConfigureLogging(LogFormat::kJson, spdlog::level::warn);
  auto controller = NamedLogger("controller");
  EXPECT_EQ(NamedLogger("controller"), controller);
  spdlog::info("not shown: below warn");
  controller->info("not shown either");
  spdlog::warn("default logger warns");
  controller->error("controller fails");
  spdlog::default_logger()->flush();
  controller->flush();
  const std::string err = ::testing::internal::GetCapturedStderr();

  const auto lines = Lines(err);
  ASSERT_EQ(lines.size(), 2u) << err;
  const auto first = nlohmann::json::parse(lines[0]);
  const auto second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(first["logger"], "agentrollout");
  EXPECT_EQ(first["level"], "warn");
  EXPECT_EQ(first["msg"], "default logger warns");
  EXPECT_EQ(second["logger"], "controller");
  EXPECT_EQ(second["level"], "error");
  EXPECT_EQ(second["msg"], "controller fails");
}

TEST(LoggingTest, ReconfiguringReplacesNamedLoggers) {
  ConfigureLogging(LogFormat::kJson, spdlog::level::info);
  auto before = NamedLogger("analysis");
  ConfigureLogging(LogFormat::kText, spdlog::level::debug);
  auto after = NamedLogger("analysis");
  EXPECT_NE(before, after);
  EXPECT_EQ(after->level(), spdlog::level::debug);
  EXPECT_EQ(after->sinks(), spdlog::default_logger()->sinks());
}

}  // namespace
}  // namespace agentrollout::operator_
