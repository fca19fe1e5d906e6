#include "tests/harness/yaml_json.h"

#include <gtest/gtest.h>

namespace agentrollout::testing {
namespace {

TEST(YamlToJsonTest, PlainScalarsAreTypedQuotedOnesStayStrings) {
  auto node = YAML::Load(R"(
    int: 10
    quoted_int: "10"
    float: 0.5
    bool: true
    quoted_bool: 'true'
    null_value: ~
    text: 4h
    list: [1, "2", x]
    nested: {a: {b: -3}}
  )");
  EXPECT_EQ(YamlToJson(node), nlohmann::json::parse(R"({
    "int": 10, "quoted_int": "10", "float": 0.5, "bool": true, "quoted_bool": "true",
    "null_value": null, "text": "4h", "list": [1, "2", "x"], "nested": {"a": {"b": -3}}
  })"));
}

TEST(YamlToJsonTest, BlockScalarsAreStrings) {
  auto node = YAML::Load("query: |\n  sum(x)\n  / 2\n");
  EXPECT_EQ(YamlToJson(node)["query"], "sum(x)\n/ 2\n");
}

TEST(LoadYamlDocumentsTest, ReportsTheFileOnParseErrors) {
  auto docs = LoadYamlDocuments("/nonexistent/agentrollout.yaml");
  ASSERT_FALSE(docs.ok());
  EXPECT_NE(docs.error().message().find("/nonexistent/agentrollout.yaml"), std::string::npos);
}

}  // namespace
}  // namespace agentrollout::testing
