// PromQL query templates (API.md §3.2): `{{name}}`, `{{namespace}}`, `{{flag}}`, `{{phase}}`,
// `{{canary}}`, `{{stable}}` and every key of analysis.args.
//
// One tokenizer serves both spec validation (unknown variables are InvalidSpec) and the
// analysis renderer (which substitutes escaped values), so the two can never disagree
// about what a template means.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace agentrollout::api {

// Where a `{{variable}}` stands in the PromQL around it (API.md §3.2), which decides how
// its value is inserted: escaped for the quote of a "…" or '…' string literal, or - bare,
// in a raw `…` string or in a # comment - only if it is a number or a duration.
enum class TemplateContext { kBare, kDoubleQuoted, kSingleQuoted, kRaw };

// One piece of a template: literal PromQL text, or a `{{variable}}` reference.
struct TemplatePart {
  enum class Kind { kLiteral, kVariable };
  Kind kind = Kind::kLiteral;
  // kLiteral: the text, verbatim. kVariable: the variable name, braces and spaces stripped.
  std::string text;
  // kVariable: the string literal (or none) the reference stands in; kBare for literals.
  TemplateContext context = TemplateContext::kBare;
  friend bool operator==(const TemplatePart&, const TemplatePart&) = default;
};

// Splits `query` into literal and variable parts, in order, following PromQL's lexer over
// the literal text to know each variable's context: "…" and '…' strings (a backslash
// escapes the next character), raw `…` strings and # comments (to the end of the line).
// Values never change that state: they are escaped or restricted by the renderer.
// Adjacent literal text is one part; an empty query yields no parts. `{{ canary }}`
// (spaces inside the braces) is the variable `canary`. Variable names match
// [A-Za-z_][A-Za-z0-9_.-]*.
// Errors (InvalidArgument, no field path): `unterminated {{ at offset N`,
// `invalid template variable name "x y" at offset N`, `{{x}} at offset N follows a
// backslash inside a string literal` (the backslash would escape the value's first
// character and undo its escaping).
Result<std::vector<TemplatePart>> ParseTemplate(std::string_view query);

// Whether `value` may stand outside a "…" or '…' string literal: a decimal number
// (`42`, `-0.5`, `1e3`) or a PromQL duration (`90s`, `5m`, `1h30m`, `250ms`; units ms s m
// h d w y). Neither can contain a quote, brace, space or comment, so it cannot change the
// query's structure.
bool IsNumberOrDuration(std::string_view value);

// Whether `name` is usable as a variable: [A-Za-z_][A-Za-z0-9_.-]*.
bool IsTemplateVariableName(std::string_view name);

// The variables every template may use, in API.md order:
// name, namespace, flag, phase, canary, stable.
std::vector<std::string> BuiltinTemplateVariables();

// Where a template stands: a metric's query, or a comparison's events/total (API.md §3.3),
// which also has {{version}} (the version counted: a name) and {{window}} (the time since
// the phase started: a duration, so it may stand bare, as in `[{{window}}]`).
enum class TemplateScope { kMetric, kComparison };
inline constexpr char kVersionVariable[] = "version";
inline constexpr char kWindowVariable[] = "window";

// Checks that `query` (metric `metric`) parses, uses only built-in variables and keys of
// `args`, and that every variable outside a "…" or '…' string is an args key whose value
// is a number or a duration (built-ins are object names, never numbers).
// Errors are prefixed with `field_path`, e.g.
// `spec.analysis.metrics[1].query: unknown template variable {{foo}} (known: name,
// namespace, flag, phase, canary, stable, region)` — built-ins first, then args keys;
// `spec.analysis.metrics[1].query: {{x}} of metric "error-rate" stands outside a "…" or
// '…' string literal, so its value must be a number or a duration; analysis.args.x is
// "z'} or vector(9) #"`.
// In TemplateScope::kComparison, version and window are built-in too (and named
// "comparison" in messages).
Status CheckTemplate(std::string_view query, const std::map<std::string, std::string>& args,
                     std::string_view field_path, std::string_view metric,
                     TemplateScope scope = TemplateScope::kMetric);

}  // namespace agentrollout::api
