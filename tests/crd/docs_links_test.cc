// The relative links of docs/*.md and examples/README.md resolve: the file exists and, for
// `file.md#anchor`, the file has a heading with that anchor (GitHub's slugs: lower case,
// punctuation dropped, spaces to '-').
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/harness/cluster.h"

namespace agentrollout::testing {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// GitHub's anchor for a heading: lower case; letters, digits, '-' and '_' kept; spaces
// become '-'; everything else (punctuation, backticks) dropped.
std::string Slug(const std::string& heading) {
  std::string slug;
  for (unsigned char c : heading) {
    if (std::isalnum(c) || c == '-' || c == '_') {
      slug += static_cast<char>(std::tolower(c));
    } else if (c == ' ') {
      slug += '-';
    }
  }
  return slug;
}

// The anchors of a Markdown file's headings (outside code blocks).
std::set<std::string> Anchors(const fs::path& file) {
  std::set<std::string> anchors;
  std::istringstream lines(ReadText(file));
  bool in_code = false;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("```", 0) == 0) in_code = !in_code;
    if (in_code || line.empty() || line[0] != '#') continue;
    const auto text = line.find_first_not_of('#');
    if (text == std::string::npos || line[text] != ' ') continue;
    anchors.insert(Slug(line.substr(text + 1)));
  }
  return anchors;
}

std::vector<fs::path> PagesToCheck() {
  std::vector<fs::path> pages = {SourceDir() / "examples" / "README.md"};
  for (const auto& entry : fs::directory_iterator(SourceDir() / "docs")) {
    if (entry.path().extension() == ".md") pages.push_back(entry.path());
  }
  return pages;
}

TEST(DocsLinksTest, SlugsAreGitHubs) {
  EXPECT_EQ(Slug("The go/no-go table"), "the-gono-go-table");
  EXPECT_EQ(Slug("Why isn't it advancing?"), "why-isnt-it-advancing");
  EXPECT_EQ(Slug("`spec.flag`"), "specflag");
}

TEST(DocsLinksTest, EveryRelativeLinkResolves) {
  static const std::regex kLink(R"(\]\(([^)\s]+)\))");
  int checked = 0;
  for (const fs::path& page : PagesToCheck()) {
    const std::string text = ReadText(page);
    ASSERT_FALSE(text.empty()) << page;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), kLink);
         it != std::sregex_iterator(); ++it) {
      const std::string link = (*it)[1].str();
      if (link.find("://") != std::string::npos || link.rfind("mailto:", 0) == 0) continue;
      const auto hash = link.find('#');
      const std::string file = link.substr(0, hash);
      const fs::path target = file.empty() ? page : page.parent_path() / file;
      SCOPED_TRACE(page.filename().string() + ": " + link);
      ASSERT_TRUE(fs::exists(target)) << target << " does not exist";
      EXPECT_TRUE(fs::weakly_canonical(target).string().rfind(SourceDir().string(), 0) == 0)
          << "points outside the repository";
      if (hash != std::string::npos) {
        EXPECT_TRUE(Anchors(target).count(link.substr(hash + 1)))
            << target.filename() << " has no heading #" << link.substr(hash + 1);
      }
      ++checked;
    }
  }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace agentrollout::testing
