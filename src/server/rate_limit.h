// Per-key token buckets (a tenant's submits, a tenant's expensive reads): `rate` tokens a second up to
// `burst`, on an injected clock. Thread-safe. Take() answers how long to wait (0 = go ahead, a token was
// taken).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "common/clock.h"

namespace awan::server {

class RateLimiter {
 public:
  // REQUIRES: clock outlives it.
  RateLimiter(double rate_per_s, double burst, Clock& clock)
      : rate_(rate_per_s), burst_(burst), clock_(&clock) {}

  // 0 if a token was taken; otherwise the milliseconds until one will be there (nothing taken).
  int64_t Take(const std::string& key) {
    if (rate_ <= 0) return 0;  // unlimited
    std::lock_guard<std::mutex> lock(mu_);
    const int64_t now = clock_->NowMs();
    auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst_, now});
    Bucket& b = it->second;
    if (!fresh) b.tokens = std::min(burst_, b.tokens + static_cast<double>(now - b.at_ms) * rate_ / 1000.0);
    b.at_ms = now;
    if (b.tokens >= 1.0) {
      b.tokens -= 1.0;
      return 0;
    }
    return std::max<int64_t>(1, static_cast<int64_t>((1.0 - b.tokens) * 1000.0 / rate_) + 1);
  }

 private:
  struct Bucket {
    double tokens;
    int64_t at_ms;
  };
  double rate_, burst_;
  Clock* clock_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;  // bounded by the fleet's tenants
};

}  // namespace awan::server
