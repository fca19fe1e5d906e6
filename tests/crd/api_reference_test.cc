// docs/api-reference.md against the CRD, so the reference cannot drift from what the
// apiserver accepts: every field of the schema has exactly one row, every row is a field
// of the schema, each row's type, default and enum values are the schema's, and every
// `spec.…` / `status.…` path written anywhere on the page exists.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/crd/crd_schema.h"
#include "tests/harness/cluster.h"

namespace agentrollout::testing {
namespace {

using nlohmann::json;

struct Row {
  std::string type;
  std::string default_value;
  std::string text;  // the whole row
};

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::string cell;
  for (std::size_t i = 1; i < line.size(); ++i) {  // line[0] is the leading '|'
    if (line[i] == '|' && line[i - 1] != '\\') {
      const auto first = cell.find_first_not_of(' ');
      const auto last = cell.find_last_not_of(' ');
      cells.push_back(first == std::string::npos ? "" : cell.substr(first, last - first + 1));
      cell.clear();
    } else {
      cell += line[i];
    }
  }
  return cells;
}

// The schema node at a path in the notation of SchemaPaths (`spec.phases[].name`).
const json* NodeAt(const json& root_schema, const std::string& path) {
  static const std::regex kStep(R"(\.([A-Za-z0-9]+)|\[\]|\{\})");
  const std::size_t dot = path.find_first_of(".[{");
  const json* node = &root_schema["properties"][path.substr(0, dot)];
  if (dot == std::string::npos) return node;
  const std::string rest = path.substr(dot);
  for (auto it = std::sregex_iterator(rest.begin(), rest.end(), kStep);
       it != std::sregex_iterator(); ++it) {
    const std::string step = it->str();
    if (step == "[]") {
      node = &(*node)["items"];
    } else if (step == "{}") {
      node = &(*node)["additionalProperties"];
    } else {
      node = &(*node)["properties"][(*it)[1].str()];
    }
  }
  return node;
}

class ApiReferenceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto crd = LoadCrd();
    ASSERT_TRUE(crd.ok()) << crd.error().ToString();
    schema_ = OpenApiSchema(*crd);
    for (const char* root : {"spec", "status"}) {
      for (const std::string& path : SchemaPaths(schema_["properties"][root], root)) {
        all_paths_.insert(path);
        // List items and map values are described with their list or map.
        const bool element = path.size() >= 2 && (path.substr(path.size() - 2) == "[]" ||
                                                  path.substr(path.size() - 2) == "{}");
        if (path != root && !element) fields_.insert(path);
      }
    }
    page_ = ReadText(SourceDir() / "docs" / "api-reference.md");
    ASSERT_FALSE(page_.empty()) << "docs/api-reference.md is missing";
    std::istringstream lines(page_);
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("| `spec.", 0) != 0 && line.rfind("| `status.", 0) != 0) continue;
      const std::vector<std::string> cells = Cells(line);
      ASSERT_EQ(cells.size(), 4u) << "a field row has the columns field | type | default | "
                                     "meaning: "
                                  << line;
      const std::string path = cells[0].substr(1, cells[0].find('`', 1) - 1);
      EXPECT_TRUE(rows_.emplace(path, Row{cells[1], cells[2], line}).second)
          << path << " has two rows";
    }
  }

  json schema_;
  std::set<std::string> all_paths_;  // every schema path, lists and maps included
  std::set<std::string> fields_;     // those that need a row
  std::string page_;
  std::map<std::string, Row> rows_;
};

TEST_F(ApiReferenceTest, EveryFieldOfTheCrdHasARow) {
  ASSERT_GT(fields_.size(), 100u);
  std::vector<std::string> missing;
  for (const std::string& path : fields_) {
    if (!rows_.count(path)) missing.push_back(path);
  }
  EXPECT_THAT(missing, ::testing::IsEmpty()) << "fields of the CRD not in docs/api-reference.md";
}

TEST_F(ApiReferenceTest, EveryRowIsAFieldOfTheCrd) {
  std::vector<std::string> extra;
  for (const auto& [path, row] : rows_) {
    if (!fields_.count(path)) extra.push_back(path);
  }
  EXPECT_THAT(extra, ::testing::IsEmpty()) << "rows of docs/api-reference.md not in the CRD";
}

TEST_F(ApiReferenceTest, TypesDefaultsAndEnumsAreTheCrds) {
  for (const auto& [path, row] : rows_) {
    if (!fields_.count(path)) continue;  // reported by EveryRowIsAFieldOfTheCrd
    const json* node = NodeAt(schema_, path);
    SCOPED_TRACE(path);
    const std::string type = (*node)["type"];
    EXPECT_EQ(row.type.rfind(type, 0), 0u) << "type cell \"" << row.type << "\" is not " << type;
    if (node->contains("default")) {
      const json& value = (*node)["default"];
      const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
      EXPECT_EQ(row.default_value, "`" + (text.empty() ? std::string("\"\"") : text) + "`");
    } else {
      EXPECT_EQ(row.default_value.find('`'), std::string::npos)
          << "the CRD has no default, the row shows \"" << row.default_value << "\"";
    }
    const json* values = node->contains("enum") ? &(*node)["enum"] : nullptr;
    if (values == nullptr && node->contains("items") && (*node)["items"].contains("enum")) {
      values = &(*node)["items"]["enum"];
    }
    if (values != nullptr) {
      for (const json& value : *values) {
        const std::string text = value;
        if (!text.empty()) {
          EXPECT_NE(row.text.find("`" + text + "`"), std::string::npos)
              << "enum value " << text << " is not in the row";
        }
      }
    }
  }
}

// `spec.phases[2].flags[voucher_creation]` on the page must name a path of the CRD.
TEST_F(ApiReferenceTest, EveryPathOnThePageExists) {
  static const std::regex kCode("`((spec|status)(\\.[A-Za-z0-9]+|\\[[^\\]`]*\\]|\\{\\})*)`");
  static const std::regex kIndex(R"(\[[0-9]+\])");
  int checked = 0;
  for (auto it = std::sregex_iterator(page_.begin(), page_.end(), kCode);
       it != std::sregex_iterator(); ++it) {
    const std::string path = std::regex_replace((*it)[1].str(), kIndex, "[]");
    EXPECT_TRUE(all_paths_.count(path))
        << "docs/api-reference.md names " << path << ", which the CRD does not have";
    ++checked;
  }
  EXPECT_GT(checked, 100);
}

}  // namespace
}  // namespace agentrollout::testing
