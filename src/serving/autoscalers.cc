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
int FloorCount(double x) {
  return static_cast<int>(std::min<double>(std::floor(x + 1e-9), std::numeric_limits<int>::max() / 4));
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

// The reference: it knows every future arrival (ScaleBounds::future_rps). Every second it wants the fewest
// replicas the replica model says serve the busiest 10 s between now and one cold start plus a minute ahead,
// so each replica is ready before its load arrives and gone once no window needs it.
class Oracle final : public Autoscaler {
 public:
  std::string_view name() const override { return "oracle"; }
  int64_t period_ms() const override { return 1000; }
  void Observe(const ScaleSample&) override {}
  std::unique_ptr<Autoscaler> Clone() const override { return std::make_unique<Oracle>(*this); }
  int Decide(int64_t now_ms, int current, const ScaleBounds& b) override {
    future_ = b.future_rps;
    if (!b.future_rps || b.capacity_rps <= 0) return Clamp(current, b);
    const double peak = b.future_rps(now_ms, now_ms + b.cold_start_ms + 60000);
    return Clamp(CeilCount(peak / b.capacity_rps), b);
  }
  // It knows the future (as its last decision was told it): the busiest 10 s of the horizon and the minute
  // after it, as its decisions look a minute past a cold start.
  double ForecastRps(int64_t now_ms, int64_t horizon_ms) const override {
    return future_ ? future_(now_ms, now_ms + horizon_ms + 60000) : -1;
  }

 private:
  std::function<double(int64_t, int64_t)> future_;
};

// awan's scaler: SLO-aware (the replica model's requests/s per replica within the SLO, capacity_rps, turns
// a rate into replicas), predictive (it provisions for the highest of: the busiest 10 s of the last 2 min,
// the last 30 s projected along the last two minutes' trend, and the same time yesterday scaled by how today
// compares, once a day of history exists), burst-aware (within 10 min of a burst, the busiest 10 s of the
// last 10 min: a 10-s window that brings more than twice the busiest of the 2 min before it, and at least
// one replica's capacity more, is a burst, and a load that had one is held ready for the next for as long as
// Ray Serve holds a scale-down, 600 s),
// cold-start-aware (it forecasts one cold start plus one period ahead, where a replica decided now would be
// ready), and guarded: when more requests are in flight than the ready replicas hold within the SLO, it adds
// the replicas that drain the excess within one cold start. Down only to the highest want of the last 120 s
// (no oscillation on noise); to zero only after a minute without arrivals (and 10 min after a burst).
class AwanScaler final : public Autoscaler {
 public:
  std::string_view name() const override { return "awan"; }
  int64_t period_ms() const override { return 5000; }
  std::unique_ptr<Autoscaler> Clone() const override { return std::make_unique<AwanScaler>(*this); }
  void Observe(const ScaleSample& s) override {
    rates_.push_back({s.at_ms, s.arrival_rps});
    while (!rates_.empty() && rates_.front().first <= s.at_ms - 180000) rates_.pop_front();
    in_flight_ = s.in_flight, ready_ = s.ready;
    ObserveBucket(s);
    const int64_t minute = s.at_ms / 60000;
    if (minute != minute_ && minute_ >= 0) {
      minutes_.push_back({minute_, minute_n_ > 0 ? minute_sum_ / minute_n_ : 0});
      for (int64_t m = minute_ + 1; m < minute; ++m) minutes_.push_back({m, 0});  // minutes without samples
      while (minutes_.size() > 2 * 1440 + 10) minutes_.pop_front();
      minute_sum_ = 0, minute_n_ = 0;
    }
    minute_ = minute, minute_sum_ += s.arrival_rps, ++minute_n_;
  }
  int Decide(int64_t now_ms, int current, const ScaleBounds& b) override {
    int want = 0;
    capacity_rps_ = std::max(0.0, b.capacity_rps);
    if (b.capacity_rps > 0) {
      const double forecast = Forecast(now_ms, b.cold_start_ms + period_ms());
      want = CeilCount(forecast / b.capacity_rps);
      if (want == 0 && Mean(now_ms - 60000, now_ms) > 0) want = 1;
    }
    const int ready = std::max(ready_, 0);
    if (b.target > 0 && b.capacity_rps > 0 && in_flight_ > ready * b.target) {
      const double drain_s = std::max<double>(b.cold_start_ms, 1000) / 1000.0;
      // A fluctuation of replicas run near their capacity (less excess than one replica's sequences) asks
      // only for whole replicas of backlog: rounded up, it chased every one. An overload of at least one
      // replica's sequences, or any request waiting with none ready, asks for the replicas that drain it.
      const double excess = in_flight_ - ready * b.target;
      const double drain = excess / (b.capacity_rps * drain_s);
      const bool overload = ready == 0 || excess >= b.target;
      want = std::max(want, ready + (overload ? CeilCount(drain) : FloorCount(drain)));
    }
    wants_.push_back({now_ms, want});
    while (!wants_.empty() && wants_.front().first <= now_ms - 120000) wants_.pop_front();
    int down = want;
    for (const auto& [at, w] : wants_) down = std::max(down, w);
    return Clamp(want >= current ? want : std::min(current, down), b);
  }
  double ForecastRps(int64_t now_ms, int64_t horizon_ms) const override {
    return Forecast(now_ms, horizon_ms);
  }

 private:
  static constexpr int64_t kBucketMs = 10000, kBurstLookbackBuckets = 12, kBurstMemoryBuckets = 60;
  static constexpr double kBurstFactor = 2.0;

  // Aligned 10-s buckets of the arrival rate, the last 10 min of them, and the bursts among them.
  void ObserveBucket(const ScaleSample& s) {
    const int64_t bucket = s.at_ms / kBucketMs;
    if (bucket != bucket_ && bucket_ >= 0) {
      const double mean = bucket_n_ > 0 ? bucket_sum_ / bucket_n_ : 0;
      double before = 0;
      for (const auto& [at, m] : buckets_)
        if (at >= bucket_ - kBurstLookbackBuckets) before = std::max(before, m);
      const bool history = !buckets_.empty() && buckets_.front().first <= bucket_ - kBurstLookbackBuckets;
      // A burst: more than twice the 2 min before, by at least one replica's worth (a return from idle
      // with a request or two is none).
      if (history && mean > kBurstFactor * before && mean - before >= capacity_rps_ && mean > 0)
        bursts_.push_back(bucket_);
      buckets_.push_back({bucket_, mean});
      while (!buckets_.empty() && buckets_.front().first <= bucket_ - kBurstMemoryBuckets)
        buckets_.pop_front();
      while (!bursts_.empty() && bursts_.front() <= bucket_ - kBurstMemoryBuckets) bursts_.pop_front();
      bucket_sum_ = 0, bucket_n_ = 0;
    }
    bucket_ = bucket, bucket_sum_ += s.arrival_rps, ++bucket_n_;
  }
  // Mean arrival rate of the samples in (from, to].
  double Mean(int64_t from, int64_t to) const {
    double sum = 0;
    int n = 0;
    for (const auto& [at, r] : rates_)
      if (at > from && at <= to) sum += r, ++n;
    return n == 0 ? 0 : sum / n;
  }
  double Forecast(int64_t now_ms, int64_t horizon_ms) const {
    double peak = 0;
    for (int64_t end = now_ms; end > now_ms - 120000; end -= 10000)
      peak = std::max(peak, Mean(end - 10000, end));
    const double level = Mean(now_ms - 30000, now_ms);
    // The trend, once two minutes of samples exist (missing history is not a rise from zero).
    const bool history = !rates_.empty() && rates_.front().first <= now_ms - 115000;
    const double trend =
        history ? (Mean(now_ms - 60000, now_ms) - Mean(now_ms - 120000, now_ms - 60000)) / 60000.0 : 0.0;
    const double projected = level + std::max(0.0, trend) * static_cast<double>(horizon_ms);
    double seasonal = 0;
    const double then = Yesterday((now_ms + horizon_ms) / 60000), now_then = Yesterday(now_ms / 60000);
    if (then >= 0 && now_then > 0) seasonal = then * std::clamp(level / now_then, 0.5, 2.0);
    if (!bursts_.empty())  // after a burst, be ready for the largest of the last 10 min
      for (const auto& [at, m] : buckets_) peak = std::max(peak, m);
    return std::max({peak, projected, seasonal});
  }
  // The mean rate of the same minute one day earlier; -1 without that much history.
  double Yesterday(int64_t minute) const {
    const int64_t m = minute - 1440;
    if (minutes_.empty() || m < minutes_.front().first || m > minutes_.back().first) return -1;
    return minutes_[static_cast<size_t>(m - minutes_.front().first)].second;
  }

  std::deque<std::pair<int64_t, double>> rates_;    // (at, arrivals/s) of the last three minutes
  std::deque<std::pair<int64_t, double>> minutes_;  // (minute, mean rate), consecutive, the last two days
  int64_t minute_ = -1;
  double minute_sum_ = 0;
  int minute_n_ = 0;
  double in_flight_ = 0;
  int ready_ = 0;
  std::deque<std::pair<int64_t, int>> wants_;
  std::deque<std::pair<int64_t, double>> buckets_;  // (10-s bucket, mean rate), the last 10 min
  std::deque<int64_t> bursts_;                      // buckets that were bursts, the last 10 min
  double capacity_rps_ = 0;                         // as the last decision was told
  int64_t bucket_ = -1;
  double bucket_sum_ = 0;
  int bucket_n_ = 0;
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
  r.AddAutoscaler("oracle", Make<Oracle>());
  r.AddAutoscaler("awan", Make<AwanScaler>());
}

}  // namespace awan::serving
