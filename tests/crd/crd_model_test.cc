// The CRD schema and the C++ model (api/types.h, api/codec.h) must not drift apart:
// - every property the schema declares is carried by the model (a fully populated model
//   encodes every schema path, and decodes back to itself);
// - everything the encoder emits is declared by the schema (else the apiserver would prune
//   it from status, or reject it in spec);
// - the schema's defaults are the model's defaults, and every enum value of the schema
//   decodes and encodes back unchanged.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

#include "api/codec.h"
#include "api/types.h"
#include "tests/crd/crd_schema.h"
#include "tests/crd/model_samples.h"

namespace agentrollout::testing {
namespace {

using nlohmann::json;
namespace api = ::agentrollout::api;

class CrdModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto crd = LoadCrd();
    ASSERT_TRUE(crd.ok()) << crd.error().ToString();
    crd_ = *std::move(crd);
  }
  const json& spec_schema() const { return OpenApiSchema(crd_)["properties"]["spec"]; }
  const json& status_schema() const { return OpenApiSchema(crd_)["properties"]["status"]; }
  json crd_;
};

std::set<std::string> Undeclared(const std::set<std::string>& paths) {
  std::set<std::string> out;
  for (const auto& p : paths) {
    if (p.rfind("undeclared: ", 0) == 0) out.insert(p);
  }
  return out;
}

TEST_F(CrdModelTest, EverythingTheSpecEncoderEmitsIsDeclared) {
  for (const auto& spec :
       {FullSpec(), WithIstio(FullSpec()), WithReplicas(FullSpec()), WithPostgresRows(FullSpec()),
        WithPostgresDocument(FullSpec()), WithDeploymentEnv(FullSpec())}) {
    json encoded = api::EncodeSpec(spec);
    EXPECT_THAT(Undeclared(InstancePaths(encoded, spec_schema(), "spec")), ::testing::IsEmpty())
        << encoded.dump(2);
  }
}

TEST_F(CrdModelTest, EverythingTheStatusEncoderEmitsIsDeclared) {
  json encoded = api::EncodeStatus(FullStatus());
  EXPECT_THAT(Undeclared(InstancePaths(encoded, status_schema(), "status")), ::testing::IsEmpty())
      << encoded.dump(2);
}

TEST_F(CrdModelTest, EverySpecPropertyIsCarriedByTheModel) {
  std::set<std::string> emitted;
  for (const auto& spec :
       {FullSpec(), WithIstio(FullSpec()), WithReplicas(FullSpec()), WithPostgresRows(FullSpec()),
        WithPostgresDocument(FullSpec()), WithDeploymentEnv(FullSpec())}) {
    json encoded = api::EncodeSpec(spec);
    emitted.merge(InstancePaths(encoded, spec_schema(), "spec"));
    auto decoded = api::DecodeSpec(encoded);
    ASSERT_TRUE(decoded.ok()) << decoded.error().ToString() << "\n" << encoded.dump(2);
    EXPECT_EQ(*decoded, spec) << "decoding lost a field of " << encoded.dump(2);
  }
  for (const auto& path : SchemaPaths(spec_schema(), "spec")) {
    EXPECT_TRUE(emitted.contains(path))
        << path << " is in the CRD schema, but the model does not carry it";
  }
}

TEST_F(CrdModelTest, EveryStatusPropertyIsCarriedByTheModel) {
  const api::AgentRolloutStatus status = FullStatus();
  json encoded = api::EncodeStatus(status);
  auto decoded = api::DecodeStatus(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.error().ToString() << "\n" << encoded.dump(2);
  EXPECT_EQ(*decoded, status) << "decoding lost a field of " << encoded.dump(2);
  std::set<std::string> emitted = InstancePaths(encoded, status_schema(), "status");
  for (const auto& path : SchemaPaths(status_schema(), "status")) {
    EXPECT_TRUE(emitted.contains(path))
        << path << " is in the CRD schema, but the model does not carry it";
  }
}

// What the apiserver stores after defaulting must mean the same to the model as what the
// user wrote: the schema's defaults are the model's.
TEST_F(CrdModelTest, SchemaDefaultsAreTheModelsDefaults) {
  const json minimal_specs[] = {
      json::parse(R"({"flag": {"key": "f", "configMap": {"name": "flags"}},
                      "phases": [{"name": "a", "flagPercent": 10}]})"),
      json::parse(R"({"flag": {"key": "f", "configMap": {"name": "flags"}},
                      "analysis": {"prometheus": {"address": "http://p:9090"},
                                   "metrics": [{"name": "m", "query": "up", "go": "< 1",
                                                "noGo": "> 2"}]},
                      "rollback": {},
                      "phases": [{"name": "a", "flagPercent": 10}, {"name": "b"}]})"),
  };
  for (const json& minimal : minimal_specs) {
    json defaulted = minimal;
    ApplyDefaults(defaulted, spec_schema());
    ASSERT_NE(defaulted, minimal) << "the schema applied no defaults";
    auto as_written = api::DecodeSpec(minimal);
    auto as_stored = api::DecodeSpec(defaulted);
    ASSERT_TRUE(as_written.ok()) << as_written.error().ToString();
    ASSERT_TRUE(as_stored.ok()) << as_stored.error().ToString() << "\n" << defaulted.dump(2);
    EXPECT_EQ(*as_written, *as_stored) << "schema defaults differ from the model's:\n"
                                       << defaulted.dump(2);
  }
}

// Sets the value at a schema-notation path (`a.b[].c`, `[]` = the first element).
void SetAt(json& root, const std::string& path, const json& value) {
  json* node = &root;
  std::size_t pos = path.find('.');  // skip the root name ("spec" / "status")
  while (pos != std::string::npos && pos < path.size()) {
    if (path[pos] == '.') {
      std::size_t end = path.find_first_of(".[", pos + 1);
      node = &(*node)[path.substr(pos + 1, end - pos - 1)];
      pos = end;
    } else {  // "[]"
      node = &(*node)[0];
      pos += 2;
    }
  }
  *node = value;
}

void CollectEnums(const json& schema, const std::string& path,
                  std::vector<std::pair<std::string, json>>& out) {
  if (schema.contains("enum")) out.emplace_back(path, schema["enum"]);
  if (schema.contains("properties")) {
    for (const auto& [name, child] : schema["properties"].items()) {
      CollectEnums(child, path + "." + name, out);
    }
  }
  if (schema.contains("items")) CollectEnums(schema["items"], path + "[]", out);
}

TEST_F(CrdModelTest, EveryEnumValueOfTheSchemaRoundTrips) {
  struct Part {
    const json& schema;
    std::string root;
    json full;
    std::function<Result<json>(const json&)> round_trip;
  };
  Part parts[] = {
      {spec_schema(), "spec", api::EncodeSpec(FullSpec()),
       [](const json& j) -> Result<json> {
         auto d = api::DecodeSpec(j);
         if (!d.ok()) return d.error();
         return api::EncodeSpec(*d);
       }},
      {status_schema(), "status", api::EncodeStatus(FullStatus()),
       [](const json& j) -> Result<json> {
         auto d = api::DecodeStatus(j);
         if (!d.ok()) return d.error();
         return api::EncodeStatus(*d);
       }},
  };
  int checked = 0;
  for (auto& part : parts) {
    std::vector<std::pair<std::string, json>> enums;
    CollectEnums(part.schema, part.root, enums);
    for (const auto& [path, values] : enums) {
      for (const auto& value : values) {
        SCOPED_TRACE(path + " = " + value.dump());
        json document = part.full;
        SetAt(document, path, value);
        auto round_tripped = part.round_trip(document);
        ASSERT_TRUE(round_tripped.ok()) << round_tripped.error().ToString();
        // The encoder omits empty strings ("" = none); everything else comes back as is.
        if (value != "") {
          json expected = document;
          EXPECT_EQ(*round_tripped, expected);
        }
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 40) << "the schema's enums went missing";
}

}  // namespace
}  // namespace agentrollout::testing
