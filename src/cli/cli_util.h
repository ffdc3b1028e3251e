// Small helpers shared by the `awan` subcommands.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace awan::cli {

// Prints "awan: error: <message>" on stderr and returns the runtime-error exit code, 1.
inline int Fail(const Status& s) {
  fmt::print(stderr, "awan: error: {}\n", s.message());
  return 1;
}

// "a,b,,c" -> {"a", "b", "c"} (empty items dropped).
inline std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t c = s.find(',', start);
    if (c == std::string::npos) c = s.size();
    if (c > start) out.push_back(s.substr(start, c - start));
    start = c + 1;
  }
  return out;
}

}  // namespace awan::cli
