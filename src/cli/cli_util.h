// Small helpers shared by the `awan` subcommands.
#pragma once

#include <fmt/format.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
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

// A usage error found after parsing (a policy or job name that does not exist): said, exit code 2.
inline int Usage(const Status& s) {
  fmt::print(stderr, "awan: error: {}\n", s.message());
  return 2;
}

// Output paths checked before any work: a file's folder is created and the file opened for writing (it is
// written for real at the end), a report folder created and checked writable; the OS's reason otherwise.
inline Status PrepareOutputs(const std::string& file, const std::string& folder) {
  std::error_code ec;
  if (!file.empty()) {
    const std::filesystem::path p(file);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return IoError("cannot create the folder of " + file + ": " + ec.message());
    std::FILE* f = std::fopen(file.c_str(), "a");
    if (f == nullptr) return IoError("cannot write " + file + ": " + std::strerror(errno));
    std::fclose(f);
  }
  if (!folder.empty()) {
    std::filesystem::create_directories(folder, ec);
    if (ec) return IoError("cannot create " + folder + ": " + ec.message());
    if (::access(folder.c_str(), W_OK) != 0)
      return IoError("cannot write into " + folder + ": " + std::strerror(errno));
  }
  return Status::Ok();
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
