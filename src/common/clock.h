// Clock: the injected source of time for code that acts on time (the control plane's loop, leases, rate
// limits), as opposed to TickSource, which only measures. Production uses SystemClock; tests pass a
// FakeClock whose time moves only when told, so that timing behaviour is tested without sleeping.
#pragma once

#include <atomic>
#include <cstdint>

namespace awan {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall time, milliseconds since the Unix epoch (what is stored and shown).
  virtual int64_t NowMs() = 0;
  // Monotonic milliseconds from an arbitrary origin (intervals, deadlines).
  virtual int64_t MonotonicMs() = 0;
  virtual void SleepMs(int64_t ms) = 0;
};

// The system's clocks: system_clock for NowMs, steady_clock for MonotonicMs, and a real sleep.
class SystemClock final : public Clock {
 public:
  int64_t NowMs() override;
  int64_t MonotonicMs() override;
  void SleepMs(int64_t ms) override;
};

// Time that moves only when a test advances it (SleepMs advances it too, so a loop under test runs at once).
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 0) : now_(start_ms) {}
  int64_t NowMs() override { return now_.load(); }
  int64_t MonotonicMs() override { return now_.load(); }
  void SleepMs(int64_t ms) override { now_ += ms; }
  void Advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace awan
