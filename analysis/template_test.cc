#include "analysis/template.h"

#include <gtest/gtest.h>

namespace agentrollout::analysis {
namespace {

TEST(EscapePromQLString, EscapesEverythingThatCouldEndTheLiteral) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},
      {"voice-v2", "voice-v2"},
      {R"(a"b)", R"(a\"b)"},
      {R"(a\b)", R"(a\\b)"},
      {R"("})", R"(\"})"},
      {R"(\")", R"(\\\")"},  // a trailing backslash cannot swallow the closing quote
      {"line1\nline2", R"(line1\nline2)"},
      {"\r\t\a\b\f\v", R"(\r\t\a\b\f\v)"},
      {std::string("nul\0byte", 8), R"(nul\x00byte)"},
      {"\x1b[31m\x7f", R"(\x1b[31m\x7f)"},
      {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"},
      {"\xff\xc3", R"(\xff\xc3)"},                  // invalid and truncated UTF-8
      {"\xc0\xaf", R"(\xc0\xaf)"},                  // overlong '/'
      {"\xed\xa0\x80", R"(\xed\xa0\x80)"},          // a surrogate
      {"\xf4\x90\x80\x80", R"(\xf4\x90\x80\x80)"},  // beyond U+10FFFF
      {"'`", "'`"},
  };
  for (const auto& [value, escaped] : cases) {
    EXPECT_EQ(EscapePromQLString(value), escaped) << value;
  }
}

TEST(EscapePromQLString, EscapesOnlyTheQuoteItSitsIn) {
  EXPECT_EQ(EscapePromQLString(R"(a'b"c)", '"'), R"(a'b\"c)");
  EXPECT_EQ(EscapePromQLString(R"(a'b"c)", '\''), R"(a\'b"c)");
  EXPECT_EQ(EscapePromQLString("z'} or vector(9) #", '\''), R"(z\'} or vector(9) #)");
  EXPECT_EQ(EscapePromQLString("\\'\n", '\''), R"(\\\'\n)");
}

TEST(Render, SingleQuotedValuesCannotBreakOut) {
  // Reported: `z'} or vector(9) #` in '{{x}}' rendered m{arg='z'} or vector(9) #'}.
  auto rendered = Render("m{arg='{{x}}'}", {{"x", "z'} or vector(9) #"}});
  ASSERT_TRUE(rendered.ok()) << rendered.error().message();
  EXPECT_EQ(*rendered, R"(m{arg='z\'} or vector(9) #'})");
}

TEST(Render, BareValuesMustBeNumbersOrDurations) {
  auto rendered = Render("rate(m[{{w}}]) > {{limit}}", {{"w", "5m"}, {"limit", "0.5"}});
  ASSERT_TRUE(rendered.ok()) << rendered.error().message();
  EXPECT_EQ(*rendered, "rate(m[5m]) > 0.5");
  for (const char* query : {"m > {{x}}", "m{a=`{{x}}`}", "m # {{x}}"}) {
    rendered = Render(query, {{"x", "1 or vector(9)"}});
    ASSERT_FALSE(rendered.ok()) << query;
    EXPECT_EQ(rendered.error().message(),
              "{{x}} stands outside a \"…\" or '…' string literal, so its value must be a "
              "number or a duration, got \"1 or vector(9)\"");
  }
}

TEST(Render, SubstitutesEscapedValues) {
  const TemplateVars vars = {{"canary", "voice-v2"}, {"evil", "x\"} or up{job=\"\\\nz"}};
  auto rendered = Render(R"(sum(rate(x{version="{{canary}}",v="{{ evil }}"}[5m])))", vars);
  ASSERT_TRUE(rendered.ok()) << rendered.error().message();
  EXPECT_EQ(*rendered, R"(sum(rate(x{version="voice-v2",v="x\"} or up{job=\"\\\nz"}[5m])))");
}

TEST(Render, ValuesAreNotTemplates) {
  // A value containing {{...}} is inserted as text, never expanded again.
  auto rendered = Render(R"(x{a="{{a}}"})", {{"a", "{{b}}"}, {"b", "secret"}});
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(*rendered, R"(x{a="{{b}}"})");
}

TEST(Render, UnknownVariableIsAnError) {
  auto rendered = Render(R"(x{a="{{canary}}",b="{{region}}"})", {{"canary", "c"}});
  ASSERT_FALSE(rendered.ok());
  EXPECT_EQ(rendered.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(rendered.error().message(), "unknown template variable {{region}}");
}

TEST(Render, SyntaxErrorsComeFromTheTokenizer) {
  auto rendered = Render("x{a=\"{{canary\"}", {{"canary", "c"}});
  ASSERT_FALSE(rendered.ok());
  EXPECT_EQ(rendered.error().message(), "unterminated {{ at offset 5");
}

TEST(Render, NoVariables) {
  auto rendered = Render("vector(1)", {});
  ASSERT_TRUE(rendered.ok());
  EXPECT_EQ(*rendered, "vector(1)");
}

api::AgentRollout Rollout() {
  api::AgentRollout rollout;
  rollout.metadata.name = "voice-agent-v2";
  rollout.metadata.namespace_ = "voice";
  rollout.spec.flag = api::FlagSpec{};
  rollout.spec.flag->key = "voice_agent_v2";
  rollout.spec.analysis.args = {{"region", "eu"}, {"canary", "not-the-canary"}};
  return rollout;
}

TEST(BuildTemplateVars, BuiltinsAndArgs) {
  api::AgentRollout rollout = Rollout();
  rollout.spec.traffic = api::TrafficSpec{};
  rollout.spec.traffic->gateway_api = api::GatewayApiTraffic{"route", "voice-v1", "voice-v2"};
  const TemplateVars vars = BuildTemplateVars(rollout, "canary-5");
  const TemplateVars expected = {
      {"name", "voice-agent-v2"}, {"namespace", "voice"}, {"flag", "voice_agent_v2"},
      {"phase", "canary-5"},      {"canary", "voice-v2"}, {"stable", "voice-v1"},
      {"region", "eu"},
  };
  EXPECT_EQ(vars, expected);
}

TEST(BuildTemplateVars, CanaryAndStableFollowTheRouter) {
  api::AgentRollout rollout = Rollout();
  rollout.spec.traffic = api::TrafficSpec{};
  rollout.spec.traffic->istio = api::IstioTraffic{"vs", "stable.svc", "canary.svc", "v1", "v2"};
  EXPECT_EQ(BuildTemplateVars(rollout, "p").at("canary"), "canary.svc");
  EXPECT_EQ(BuildTemplateVars(rollout, "p").at("stable"), "stable.svc");

  rollout.spec.traffic = api::TrafficSpec{};
  rollout.spec.traffic->replicas = api::ReplicasTraffic{"agent-v1", "agent-v2", 10};
  EXPECT_EQ(BuildTemplateVars(rollout, "p").at("canary"), "agent-v2");
  EXPECT_EQ(BuildTemplateVars(rollout, "p").at("stable"), "agent-v1");

  rollout.spec.traffic.reset();  // flag-only
  rollout.spec.flag.reset();
  const TemplateVars vars = BuildTemplateVars(rollout, "p");
  EXPECT_EQ(vars.at("canary"), "");
  EXPECT_EQ(vars.at("stable"), "");
  EXPECT_EQ(vars.at("flag"), "");
}

}  // namespace
}  // namespace agentrollout::analysis
