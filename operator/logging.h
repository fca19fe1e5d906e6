// Process-wide logging for agentrollout-operator (spdlog): `--log-format json|text`,
// `--log-level trace|debug|info|warn|error`.
//
// json: one object per line, {"ts":"2026-11-22T10:00:00.123Z","level":"info",
// "logger":"controller","msg":"..."}, for log collectors (Loki, Elasticsearch);
// text: "2026-11-22T10:00:00.123Z info [controller] ..." for people. Times are UTC.
#pragma once

#include <spdlog/common.h>
#include <spdlog/formatter.h>
#include <spdlog/logger.h>

#include <array>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace agentrollout::operator_ {

enum class LogFormat { kJson, kText };

// Accepted spellings, in the order --help lists them.
inline constexpr std::array<std::string_view, 2> kLogFormatNames = {"json", "text"};
inline constexpr std::array<std::string_view, 5> kLogLevelNames = {"trace", "debug", "info", "warn",
                                                                   "error"};

Result<LogFormat> ParseLogFormat(std::string_view text);
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view text);

// The formatter of one format; exposed so tests can format into their own sink.
std::unique_ptr<spdlog::formatter> MakeLogFormatter(LogFormat format);

// Replaces spdlog's default logger with one named "agentrollout" writing to stderr in
// `format` at `level`. Loggers made later by NamedLogger share its sink and level.
void ConfigureLogging(LogFormat format, spdlog::level::level_enum level);

// The logger called `name` (the JSON "logger" field), created on first use with the
// default logger's sinks and level.
std::shared_ptr<spdlog::logger> NamedLogger(const std::string& name);

}  // namespace agentrollout::operator_
