// Small helpers shared by the `awan` subcommands.
#pragma once

#include <fmt/format.h>
#include <pthread.h>

#include <csignal>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace awan::cli {

// Prints "awan: error: <message>" on stderr and returns the runtime-error exit code, 1.
// SIGTERM and SIGINT, for a daemon that stops on them: BlockStopSignals() before any thread starts (every
// thread inherits the mask; a write to a closed socket is an error, not a SIGPIPE), then OnStopSignal(f) runs
// `f` on a detached thread once one arrives.
inline void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}
inline void OnStopSignal(std::function<void()> f) {
  std::thread([f = std::move(f)] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    f();
  }).detach();
}

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
