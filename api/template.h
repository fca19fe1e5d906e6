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

// One piece of a template: literal PromQL text, or a `{{variable}}` reference.
struct TemplatePart {
  enum class Kind { kLiteral, kVariable };
  Kind kind = Kind::kLiteral;
  // kLiteral: the text, verbatim. kVariable: the variable name, braces and spaces stripped.
  std::string text;
  friend bool operator==(const TemplatePart&, const TemplatePart&) = default;
};

// Splits `query` into literal and variable parts, in order. Adjacent literal text is one
// part; an empty query yields no parts. `{{ canary }}` (spaces inside the braces) is the
// variable `canary`. Variable names match [A-Za-z_][A-Za-z0-9_.-]*.
// Errors (InvalidArgument, no field path): `unterminated {{ at offset N`,
// `invalid template variable name "x y" at offset N`.
Result<std::vector<TemplatePart>> ParseTemplate(std::string_view query);

// Whether `name` is usable as a variable: [A-Za-z_][A-Za-z0-9_.-]*.
bool IsTemplateVariableName(std::string_view name);

// The variables every template may use, in API.md order:
// name, namespace, flag, phase, canary, stable.
std::vector<std::string> BuiltinTemplateVariables();

// Checks that `query` parses and uses only built-in variables and keys of `args`.
// Errors are prefixed with `field_path`, e.g.
// `spec.analysis.metrics[1].query: unknown template variable {{foo}} (known: name,
// namespace, flag, phase, canary, stable, region)` — built-ins first, then args keys.
Status CheckTemplateVariables(std::string_view query,
                              const std::map<std::string, std::string>& args,
                              std::string_view field_path);

}  // namespace agentrollout::api
