#include "kube/label_selector.h"

#include <algorithm>

#include "kube/files.h"

namespace agentrollout::kube {

namespace {

// Splits at commas outside parentheses.
std::vector<std::string_view> SplitRequirements(std::string_view text) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '(') ++depth;
    if (text[i] == ')') --depth;
    if (text[i] == ',' && depth == 0) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

std::vector<std::string> SplitValues(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    std::size_t end = list.find(',', start);
    if (end == std::string_view::npos) end = list.size();
    out.push_back(TrimSpace(list.substr(start, end - start)));
    start = end + 1;
  }
  return out;
}

}  // namespace

Result<LabelSelector> LabelSelector::Parse(std::string_view text) {
  LabelSelector selector;
  if (TrimSpace(text).empty()) return selector;
  for (std::string_view raw : SplitRequirements(text)) {
    const std::string part = TrimSpace(raw);
    auto bad = [&](std::string_view why) {
      return InvalidArgument("label selector \"" + std::string(text) + "\": \"" + part +
                             "\": " + std::string(why));
    };
    if (part.empty()) return bad("empty requirement");
    Requirement req;
    if (part.front() == '!') {
      req.key = TrimSpace(part.substr(1));
      req.op = Op::kDoesNotExist;
    } else if (std::size_t ne = part.find("!="); ne != std::string::npos) {
      req.key = TrimSpace(part.substr(0, ne));
      req.op = Op::kNotIn;
      req.values = {TrimSpace(part.substr(ne + 2))};
    } else if (std::size_t eq = part.find('='); eq != std::string::npos) {
      req.key = TrimSpace(part.substr(0, eq));
      req.op = Op::kIn;
      std::size_t value_start = eq + 1;
      if (value_start < part.size() && part[value_start] == '=') ++value_start;
      req.values = {TrimSpace(part.substr(value_start))};
    } else if (std::size_t open = part.find('('); open != std::string::npos) {
      if (part.back() != ')') return bad("missing ')'");
      const std::string head = TrimSpace(part.substr(0, open));
      std::size_t space = head.find_last_of(" \t");
      if (space == std::string::npos)
        return bad("expected \"key in (...)\" or \"key notin (...)\"");
      const std::string op = head.substr(space + 1);
      req.key = TrimSpace(head.substr(0, space));
      if (op == "in") {
        req.op = Op::kIn;
      } else if (op == "notin") {
        req.op = Op::kNotIn;
      } else {
        return bad("unknown operator \"" + op + "\"");
      }
      req.values = SplitValues(std::string_view(part).substr(open + 1, part.size() - open - 2));
    } else {
      req.key = part;
      req.op = Op::kExists;
    }
    if (req.key.empty() || req.key.find_first_of(" \t()!=") != std::string::npos) {
      return bad("invalid key");
    }
    selector.requirements_.push_back(std::move(req));
  }
  return selector;
}

bool LabelSelector::Matches(const std::map<std::string, std::string>& labels) const {
  return std::all_of(requirements_.begin(), requirements_.end(), [&](const Requirement& req) {
    auto it = labels.find(req.key);
    const bool in_values = it != labels.end() && std::find(req.values.begin(), req.values.end(),
                                                           it->second) != req.values.end();
    switch (req.op) {
      case Op::kIn:
        return in_values;
      case Op::kNotIn:
        return !in_values;
      case Op::kExists:
        return it != labels.end();
      case Op::kDoesNotExist:
        return it == labels.end();
    }
    return false;
  });
}

}  // namespace agentrollout::kube
