// Reads cases `events_c total_c events_s total_s confidence tuned_for_total`, one a line,
// from stdin and prints `estimate low high` (17 significant digits) or `error MESSAGE`
// for each: the C++ side of tests/judge/reference.py.
#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>

#include "analysis/judge/judge.h"

int main() {
  using agentrollout::analysis::judge::ConfidenceSequence;
  std::string line;
  while (std::getline(std::cin, line)) {
    std::istringstream fields(line);
    double ec = 0, nc = 0, es = 0, ns = 0, confidence = 0, tuned = 0;
    if (!(fields >> ec >> nc >> es >> ns >> confidence >> tuned)) {
      std::cout << "error unreadable case: " << line.substr(0, 200) << "\n";
      continue;
    }
    auto interval = ConfidenceSequence({ec, nc}, {es, ns}, confidence, tuned);
    if (!interval.ok()) {
      std::cout << "error " << interval.error().message() << "\n";
      continue;
    }
    char out[96];
    std::snprintf(out, sizeof out, "%.17g %.17g %.17g", interval->estimate, interval->low,
                  interval->high);
    std::cout << out << "\n";
  }
  return 0;
}
