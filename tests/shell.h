// Shell: runs a command with popen and returns what it printed on stdout, without the trailing newlines (for
// tests that start the loopback services: scripts/etcd-up.sh, ...); ShellOutput: all of it.
#pragma once

#include <cstdio>
#include <string>

namespace awan::testing {

// Everything the command printed on stdout, as it is.
inline std::string ShellOutput(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

inline std::string Shell(const std::string& cmd) {
  std::string out = ShellOutput(cmd);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

}  // namespace awan::testing
