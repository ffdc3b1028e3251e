// Shell: runs a command with popen and returns what it printed on stdout, without the trailing newlines. For
// tests that start the loopback services (scripts/etcd-up.sh, ...).
#pragma once

#include <cstdio>
#include <string>

namespace awan::testing {

inline std::string Shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace awan::testing
