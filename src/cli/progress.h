// ProgressBar: a one-line progress bar on a terminal ("\r[####....] 45% 12.3k pods/s ETA 0:12"); on a
// pipe or a CI log it prints a plain line at every 10 % instead, so logs stay short. Writes to stderr.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace awan::cli {

class ProgressBar {
 public:
  explicit ProgressBar(std::string label, bool enabled = true);
  // done/total in units of work (pods); `detail` is appended ("3/60 runs").
  void Update(int64_t done, int64_t total, const std::string& detail);
  // Completes the line.
  void Finish(const std::string& summary);

 private:
  std::string label_;
  bool enabled_;
  bool tty_;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace awan::cli
