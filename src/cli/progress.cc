#include "cli/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace awan::cli {

ProgressBar::ProgressBar(std::string label, bool enabled)
    : label_(std::move(label)),
      enabled_(enabled),
      tty_(isatty(fileno(stderr))),
      start_(std::chrono::steady_clock::now()) {}

void ProgressBar::Update(int64_t done, int64_t total, const std::string& detail) {
  if (!enabled_) return;
  const double frac = total > 0 ? std::clamp(static_cast<double>(done) / total, 0.0, 1.0) : 0.0;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = secs > 0 ? done / secs : 0;
  const double eta = rate > 0 && total > done ? (total - done) / rate : 0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    fmt::print(stderr, "\r{} [{}{}] {:3.0f}% {:.1f}k/s {} ETA {}:{:02d}   ", label_, std::string(filled, '#'),
               std::string(kWidth - filled, '.'), frac * 100, rate / 1000, detail, static_cast<int>(eta) / 60,
               static_cast<int>(eta) % 60);
    std::fflush(stderr);
  } else {
    const int decile = static_cast<int>(frac * 10);
    if (decile != last_decile_) {
      last_decile_ = decile;
      fmt::print(stderr, "{} {:3d}% {} ({:.0f} s)\n", label_, decile * 10, detail, secs);
    }
  }
}

void ProgressBar::Finish(const std::string& summary) {
  if (!enabled_) return;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (tty_) fmt::print(stderr, "\r\033[K");
  fmt::print(stderr, "{} done in {:.1f} s: {}\n", label_, secs, summary);
}

}  // namespace awan::cli
