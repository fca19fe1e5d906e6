// Rendering of metric query templates (API.md §3.2). A value inside a "…" or '…' PromQL
// string literal is escaped for that quote, so it can never close its label matcher
// (`"}` or `'}`), start a new one, or inject PromQL — whatever it contains. Anywhere else
// (bare, in a raw `…` string, in a comment) only numbers and durations are inserted.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/types.h"
#include "common/result.h"

namespace agentrollout::analysis {

using TemplateVars = std::map<std::string, std::string>;

// Escapes `value` as the content of a PromQL string literal opened by `quote` (`"` or
// `'`; PromQL follows Go's escapes, and the other quote must not be escaped there):
// `\` -> `\\`, the quote -> `\"` or `\'`, newline -> `\n` (likewise \t \r \a \b \f \v),
// other control bytes and bytes that are not valid UTF-8 -> `\xNN` (PromQL decodes \xNN
// to that byte, so the value is preserved exactly). Valid UTF-8 passes through.
std::string EscapePromQLString(std::string_view value, char quote = '"');

// Substitutes every `{{variable}}` of `query` (parsed by api::ParseTemplate) with its
// value, escaped for the string literal it stands in. Errors (InvalidArgument): the
// template's syntax errors, `unknown template variable {{x}}`, and `{{x}} stands outside
// a "…" or '…' string literal, so its value must be a number or a duration, got "…"`.
Result<std::string> Render(std::string_view query, const TemplateVars& vars);

// The variables of API.md §3.2 for `rollout` in phase `phase`: name, namespace, flag,
// phase, canary, stable (the traffic router's canary/stable backend, host or deployment;
// "" without a router) and every key of analysis.args. A built-in wins over an args key of
// the same name, so {{canary}} always means the canary the operator routes to.
TemplateVars BuildTemplateVars(const api::AgentRollout& rollout, std::string_view phase);

}  // namespace agentrollout::analysis
