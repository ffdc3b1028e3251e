// TickSource: the injected source of elapsed time for *measurements* (stage timings, latency histograms).
// The scheduling core never reads a clock to make a decision; it only records how long its stages took,
// through this interface, so that tests can pass a fake and the core stays free of the wall clock.
#pragma once

#include <cstdint>

namespace awan {

class TickSource {
 public:
  virtual ~TickSource() = default;
  // Monotonic nanoseconds from an arbitrary origin.
  virtual int64_t NowNanos() = 0;
};

// Always returns the same instant: timings become zero. The default where nobody measures.
class NullTickSource final : public TickSource {
 public:
  int64_t NowNanos() override { return 0; }
};

// Advances by a fixed step on every call: deterministic timings for tests.
class FakeTickSource final : public TickSource {
 public:
  explicit FakeTickSource(int64_t step_ns) : step_(step_ns) {}
  int64_t NowNanos() override { return now_ += step_; }

 private:
  int64_t step_;
  int64_t now_ = 0;
};

}  // namespace awan
