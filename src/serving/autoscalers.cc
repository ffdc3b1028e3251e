#include "serving/autoscalers.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

namespace awan::serving {
namespace {

int Clamp(int x, const ScaleBounds& b) { return std::clamp(x, b.min, std::max(b.min, b.max)); }

int CeilCount(double x) {
  return static_cast<int>(std::min<double>(std::ceil(x - 1e-9), std::numeric_limits<int>::max() / 4));
}

// Samples over a trailing window; the average of in-flight requests in (now - window, now].
class Window {
 public:
  explicit Window(int64_t keep_ms) : keep_ms_(keep_ms) {}
  void Add(const ScaleSample& s) {
    samples_.push_back(s);
    while (!samples_.empty() && samples_.front().at_ms <= s.at_ms - keep_ms_) samples_.pop_front();
  }
  // Average over the last `ms` before now (nullopt-like -1 when empty).
  double Average(int64_t now_ms, int64_t ms) const {
    double sum = 0;
    int n = 0;
    for (const ScaleSample& s : samples_)
      if (s.at_ms > now_ms - ms && s.at_ms <= now_ms) sum += s.in_flight, ++n;
    return n == 0 ? -1 : sum / n;
  }
  bool AnyAbove(int64_t now_ms, int64_t ms, double v) const {
    for (const ScaleSample& s : samples_)
      if (s.at_ms > now_ms - ms && s.at_ms <= now_ms && s.in_flight > v) return true;
    return false;
  }
  const ScaleSample* last() const { return samples_.empty() ? nullptr : &samples_.back(); }

 private:
  int64_t keep_ms_;
  std::deque<ScaleSample> samples_;
};

class Hpa final : public Autoscaler {
 public:
  std::string_view name() const override { return "hpa"; }
  int64_t period_ms() const override { return 15000; }
  void Observe(const ScaleSample& s) override { last_ = s; }
  std::unique_ptr<Autoscaler> Clone() const override { return std::make_unique<Hpa>(*this); }
  int Decide(int64_t now_ms, int current, const ScaleBounds& b) override {
    int rec = current;
    if (last_.ready > 0) {  // the metric per ready replica against its target
      const double ratio = last_.in_flight / last_.ready / b.target;
      if (std::abs(ratio - 1.0) > 0.1) rec = CeilCount(current * ratio);
    } else if (current == 0 && last_.in_flight > 0) {
      rec = 1;  // (HPA itself never leaves zero; scale-from-zero services start one replica)
    }
    recs_.push_back({now_ms, rec});
    while (!recs_.empty() && recs_.front().first <= now_ms - 300000) recs_.pop_front();
    int down = rec;  // scale-down stabilization: the highest recommendation of the last 300 s
    for (const auto& [at, r] : recs_) down = std::max(down, r);
    int desired = current;
    if (rec > current)
      desired = std::min(rec, std::max(current + 4, current * 2));  // 4 pods or 100 % per 15 s
    if (down < current) desired = down;                             // 100 % per 15 s
    return Clamp(desired, b);
  }

 private:
  ScaleSample last_;
  std::deque<std::pair<int64_t, int>> recs_;
};

class Kpa final : public Autoscaler {
 public:
  std::string_view name() const override { return "kpa"; }
  int64_t period_ms() const override { return 2000; }
  void Observe(const ScaleSample& s) override { w_.Add(s), ready_ = s.ready; }
  std::unique_ptr<Autoscaler> Clone() const override { return std::make_unique<Kpa>(*this); }
  int Decide(int64_t now_ms, int current, const ScaleBounds& b) override {
    const double target = b.target * 0.7;  // target utilization
    const double stable = std::max(0.0, w_.Average(now_ms, 60000)),
                 panic = std::max(0.0, w_.Average(now_ms, 6000));
    const int want_stable = CeilCount(stable / target), want_panic = CeilCount(panic / target);
    const int ready = std::max(ready_, 0);
    if (ready > 0 && want_panic >= 2 * ready) panic_since_ = now_ms, last_trigger_ = now_ms;
    if (panic_since_ >= 0 && now_ms - last_trigger_ >= 60000) panic_since_ = -1;  // a calm stable window
    int desired = want_stable;
    if (panic_since_ >= 0) desired = std::max({want_panic, want_stable, last_desired_});  // never down
    // Rates per decision: up to 1000 x ready, down to ready / 2.
    if (ready > 0) desired = std::clamp(desired, ready / 2, 1000 * ready);
    // To zero only after a grace period without requests.
    if (desired == 0 && w_.AnyAbove(now_ms, 30000, 0.0)) desired = 1;
    last_desired_ = desired;
    (void)current;
    return Clamp(desired, b);
  }

 private:
  Window w_{70000};
  int ready_ = 0;
  int64_t panic_since_ = -1, last_trigger_ = -1;
  int last_desired_ = 0;
};

class RayServe final : public Autoscaler {
 public:
  std::string_view name() const override { return "rayserve"; }
  int64_t period_ms() const override { return 1000; }
  void Observe(const ScaleSample& s) override { w_.Add(s); }
  std::unique_ptr<Autoscaler> Clone() const override { return std::make_unique<RayServe>(*this); }
  int Decide(int64_t now_ms, int current, const ScaleBounds& b) override {
    const double ongoing = std::max(0.0, w_.Average(now_ms, 30000));
    int want = current;
    if (current == 0) {
      want = ongoing > 0 ? CeilCount(ongoing / b.target) : 0;
    } else {
      const double error = ongoing / (b.target * current) - 1.0;
      want = CeilCount(current * (1.0 + error * 1.0));  // smoothing factor 1.0
    }
    want = Clamp(want, b);
    // A decision must hold: 30 s to go up, 600 s to go down.
    const int dir = want > current ? 1 : want < current ? -1 : 0;
    if (dir != dir_) dir_ = dir, since_ms_ = now_ms;
    if (dir > 0 && now_ms - since_ms_ >= 30000) return want;
    if (dir < 0 && now_ms - since_ms_ >= 600000) return want;
    return Clamp(current, b);
  }

 private:
  Window w_{40000};
  int dir_ = 0;
  int64_t since_ms_ = 0;
};

class AiBrix final : public Autoscaler {
 public:
  std::string_view name() const override { return "aibrix"; }
  int64_t period_ms() const override { return 15000; }
  void Observe(const ScaleSample& s) override { w_.Add(s), ready_ = s.ready; }
  std::unique_ptr<Autoscaler> Clone() const override { return std::make_unique<AiBrix>(*this); }
  int Decide(int64_t now_ms, int current, const ScaleBounds& b) override {
    const double total = w_.Average(now_ms, 30000);
    if (total < 0) return Clamp(current, b);
    if (current == 0) return Clamp(total > 0 ? 1 : 0, b);
    const double ratio = total / std::max(1, ready_ > 0 ? ready_ : current) / b.target;
    int desired = current;
    if (ratio > 1.1) desired = std::min(CeilCount(current * ratio), current * 2);
    if (ratio < 0.9) desired = std::max(CeilCount(current * ratio), (current + 1) / 2);
    return Clamp(desired, b);
  }

 private:
  Window w_{40000};
  int ready_ = 0;
};

template <typename T>
PluginRegistry::AutoscalerFactory Make() {
  return []() -> StatusOr<std::unique_ptr<Autoscaler>> {
    return std::unique_ptr<Autoscaler>(std::make_unique<T>());
  };
}

}  // namespace

void RegisterAutoscalers(PluginRegistry& r) {
  r.AddAutoscaler("hpa", Make<Hpa>());
  r.AddAutoscaler("kpa", Make<Kpa>());
  r.AddAutoscaler("rayserve", Make<RayServe>());
  r.AddAutoscaler("aibrix", Make<AiBrix>());
}

}  // namespace awan::serving
