#include "api/template.h"

#include <gtest/gtest.h>

namespace agentrollout::api {
namespace {

using Kind = TemplatePart::Kind;

TemplatePart Lit(std::string text) { return {Kind::kLiteral, std::move(text)}; }
TemplatePart Var(std::string name) { return {Kind::kVariable, std::move(name)}; }

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
       {Lit(R"(rate(x{version=")"), Var("canary"), Lit(R"("}[5m]))")}},
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

TEST(CheckTemplateVariables, AcceptsBuiltinsAndArgs) {
  const std::map<std::string, std::string> args = {{"region", "eu"}, {"agent", "voice"}};
  for (const char* query : {"up", "{{name}}{{namespace}}{{flag}}{{phase}}{{canary}}{{stable}}",
                            "x{r=\"{{ region }}\",a=\"{{agent}}\"}"}) {
    EXPECT_TRUE(CheckTemplateVariables(query, args, "spec.analysis.metrics[0].query").ok())
        << query;
  }
}

TEST(CheckTemplateVariables, NamesFieldAndKnownVariables) {
  const std::map<std::string, std::string> args = {{"region", "eu"}, {"agent", "voice"}};
  Status status = CheckTemplateVariables("x{v=\"{{canary}}\",r=\"{{ foo }}\"}", args,
                                         "spec.analysis.metrics[1].query");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[1].query: unknown template variable {{foo}} (known: name, "
            "namespace, flag, phase, canary, stable, agent, region)");

  status = CheckTemplateVariables("{{Canary}}", {}, "q");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(),
            "q: unknown template variable {{Canary}} (known: name, namespace, flag, phase, "
            "canary, stable)");
}

TEST(CheckTemplateVariables, ReportsSyntaxErrorsWithFieldPath) {
  Status status = CheckTemplateVariables("up{{canary", {}, "spec.analysis.metrics[2].query");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message(),
            "spec.analysis.metrics[2].query: unterminated {{ at offset 2");
}

}  // namespace
}  // namespace agentrollout::api
