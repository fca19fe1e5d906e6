#include "api/template.h"

#include <gtest/gtest.h>

namespace agentrollout::api {
namespace {

using Kind = TemplatePart::Kind;

TemplatePart Lit(std::string text) { return {Kind::kLiteral, std::move(text)}; }
TemplatePart Var(std::string name, TemplateContext context = TemplateContext::kBare) {
  return {Kind::kVariable, std::move(name), context};
}
constexpr TemplateContext kDq = TemplateContext::kDoubleQuoted;
constexpr TemplateContext kSq = TemplateContext::kSingleQuoted;

struct TemplateCase {
  std::string query;
  std::vector<TemplatePart> parts;
};

TEST(ParseTemplate, SplitsLiteralsAndVariables) {
  const std::vector<TemplateCase> cases = {
      {"", {}},
      {"up", {Lit("up")}},
      {"{{canary}}", {Var("canary")}},
      {"{{ canary }}", {Var("canary")}},
      {"{{\tcanary\t}}", {Var("canary")}},
      {"a{{name}}b", {Lit("a"), Var("name"), Lit("b")}},
      {"{{name}}{{namespace}}", {Var("name"), Var("namespace")}},
      {R"(rate(x{version="{{canary}}"}[5m]))",
       {Lit(R"(rate(x{version=")"), Var("canary", kDq), Lit(R"("}[5m]))")}},
      {"x{a=\"b\"}} }}", {Lit("x{a=\"b\"}} }}")}},  // a lone `}}` is literal text
      {"{{_a.b-c9}}", {Var("_a.b-c9")}},
      {"{{A}}", {Var("A")}},
      {"{a}", {Lit("{a}")}},
  };
  for (const auto& c : cases) {
    auto parts = ParseTemplate(c.query);
    ASSERT_TRUE(parts.ok()) << c.query << ": " << parts.error().message();
    EXPECT_EQ(*parts, c.parts) << c.query;
  }
}

struct TemplateErrorCase {
  std::string query;
  std::string message;
};

TEST(ParseTemplate, RejectsMalformedTemplates) {
  const std::vector<TemplateErrorCase> cases = {
      {"{{", "unterminated {{ at offset 0"},
      {"abc{{canary", "unterminated {{ at offset 3"},
      {"{{canary}} {{stable}", "unterminated {{ at offset 11"},
      {"{{}}", R"(invalid template variable name "" at offset 0)"},
      {"{{  }}", R"(invalid template variable name "  " at offset 0)"},
      {"x{{a b}}", R"(invalid template variable name "a b" at offset 1)"},
      {"{{9lives}}", R"(invalid template variable name "9lives" at offset 0)"},
      {"{{-x}}", R"(invalid template variable name "-x" at offset 0)"},
      {"{{{canary}}}", R"(invalid template variable name "{canary" at offset 0)"},
      {"{{a$}}", R"(invalid template variable name "a$" at offset 0)"},
  };
  for (const auto& c : cases) {
    auto parts = ParseTemplate(c.query);
    ASSERT_FALSE(parts.ok()) << c.query;
    EXPECT_EQ(parts.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(parts.error().message(), c.message) << c.query;
  }
}

TEST(BuiltinTemplateVariables, AreTheDocumentedOnesInOrder) {
  EXPECT_EQ(BuiltinTemplateVariables(),
            (std::vector<std::string>{"name", "namespace", "flag", "phase", "canary", "stable"}));
}

TEST(ParseTemplate, KnowsTheStringLiteralEachVariableStandsIn) {
  using enum TemplateContext;
  const std::vector<TemplateCase> cases = {
      {R"(x{a='{{v}}'})", {Lit("x{a='"), Var("v", kSingleQuoted), Lit("'}")}},
      {R"(x{a="it's {{v}}"})", {Lit("x{a=\"it's "), Var("v", kDoubleQuoted), Lit("\"}")}},
      {R"(x{a='say "{{v}}"'})", {Lit("x{a='say \""), Var("v", kSingleQuoted), Lit("\"'}")}},
      // An escaped quote does not end the literal; an escaped backslash does not escape it.
      {R"(x{a="\"{{v}}"})", {Lit(R"(x{a="\")"), Var("v", kDoubleQuoted), Lit("\"}")}},
      {R"(x{a="\\"}[{{v}}])", {Lit(R"(x{a="\\"}[)"), Var("v", kBare), Lit("]")}},
      {R"(x{a=`{{v}}`})", {Lit("x{a=`"), Var("v", kRaw), Lit("`}")}},
      {"x{a=`\\`} > {{v}}", {Lit("x{a=`\\`} > "), Var("v", kBare)}},
      {"x # \"{{v}}\n{a=\"{{w}}\"}",
       {Lit("x # \""), Var("v", kBare), Lit("\n{a=\""), Var("w", kDoubleQuoted), Lit("\"}")}},
      {R"("{{a}}"'{{b}}'{{c}})",
       {Lit("\""), Var("a", kDoubleQuoted), Lit("\"'"), Var("b", kSingleQuoted), Lit("'"),
        Var("c", kBare)}},
  };
  for (const auto& c : cases) {
    auto parts = ParseTemplate(c.query);
    ASSERT_TRUE(parts.ok()) << c.query << ": " << parts.error().message();
    EXPECT_EQ(*parts, c.parts) << c.query;
  }
}

TEST(ParseTemplate, RejectsAVariableRightAfterABackslash) {
  auto parts = ParseTemplate(R"(x{a="\{{v}}"})");
  ASSERT_FALSE(parts.ok());
  EXPECT_EQ(parts.error().message(),
            "{{v}} at offset 6 follows a backslash inside a string literal");
}

TEST(IsNumberOrDuration, NumbersAndPromQLDurationsOnly) {
  for (const char* good : {"0", "42", "-0.5", "+1", ".5", "5.", "1e3", "2.5E-3", "90s", "5m",
                           "1h30m", "250ms", "1d", "2w", "1y", "1h0m0s"}) {
    EXPECT_TRUE(IsNumberOrDuration(good)) << good;
  }
  for (const char* bad : {"", "-", ".", "e3", "1e", "1.5h", "5 m", "5M", "1us", "Inf", "NaN",
                          "0x1f", "5m)", "1}", "1#", "h", "1h-", "z'} or vector(9) #"}) {
    EXPECT_FALSE(IsNumberOrDuration(bad)) << bad;
  }
}

TEST(CheckTemplate, AcceptsBuiltinsAndArgs) {
  const std::map<std::string, std::string> args = {
      {"region", "eu"}, {"agent", "voice"}, {"window", "5m"}, {"limit", "0.5"}};
  for (const char* query :
       {"up", R"(x{a="{{name}}{{namespace}}",b='{{flag}}{{phase}}',c="{{canary}}{{stable}}"})",
        "x{r=\"{{ region }}\",a='{{agent}}'}", "rate(x[{{window}}]) > {{limit}}",
        "x{a=`{{limit}}`}"}) {
    EXPECT_TRUE(CheckTemplate(query, args, "spec.analysis.metrics[0].query", "m").ok()) << query;
  }
}

TEST(CheckTemplate, BareValuesMustBeNumbersOrDurations) {
  const std::map<std::string, std::string> args = {{"x", "z'} or vector(9) #"}, {"w", "5m"}};
  Status status =
      CheckTemplate("rate(m[{{w}}]) > {{x}}", args, "spec.analysis.metrics[1].query", "error-rate");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[1].query: {{x}} of metric \"error-rate\" stands outside a "
            "\"…\" or '…' string literal, so its value must be a number or a duration; "
            "analysis.args.x is \"z'} or vector(9) #\"");
  // In a raw string, or a comment, the same holds; in a quoted string anything goes.
  EXPECT_FALSE(CheckTemplate("m{a=`{{x}}`}", args, "q", "m").ok());
  EXPECT_FALSE(CheckTemplate("m # {{x}}", args, "q", "m").ok());
  EXPECT_TRUE(CheckTemplate("m{a='{{x}}'}", args, "q", "m").ok());
  // Built-ins are names: never bare.
  status = CheckTemplate("m{a=\"x\"} > {{canary}}", args, "q", "m");
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(
      status.error().message().ends_with("built-in variables are names: put it inside \"…\""))
      << status.error().message();
}

TEST(CheckTemplate, NamesFieldAndKnownVariables) {
  const std::map<std::string, std::string> args = {{"region", "eu"}, {"agent", "voice"}};
  Status status = CheckTemplate("x{v=\"{{canary}}\",r=\"{{ foo }}\"}", args,
                                "spec.analysis.metrics[1].query", "m");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[1].query: unknown template variable {{foo}} (known: name, "
            "namespace, flag, phase, canary, stable, agent, region)");

  status = CheckTemplate("{{Canary}}", {}, "q", "m");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(),
            "q: unknown template variable {{Canary}} (known: name, namespace, flag, phase, "
            "canary, stable)");
}

TEST(CheckTemplate, ReportsSyntaxErrorsWithFieldPath) {
  Status status = CheckTemplate("up{{canary", {}, "spec.analysis.metrics[2].query", "m");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[2].query: unterminated {{ at offset 2");
}

}  // namespace
}  // namespace agentrollout::api
