#include "policies/ordering/orderings.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "policies/builtin.h"

namespace awan::policies {
namespace {

// ORACLE: the true duration less the run time already received.
double TrueRemaining(const QueuedJob& j) {
  const double done = j.gpus > 0 ? static_cast<double>(j.attained_gpu_s) / static_cast<double>(j.gpus) : 0.0;
  return std::max(0.0, static_cast<double>(j.true_duration_s) - done);
}

class Fifo final : public QueueOrder {
 public:
  std::unique_ptr<QueueOrder> Clone() const override { return std::make_unique<Fifo>(*this); }
  std::string_view name() const override { return "fifo"; }
  double Key(const QueuedJob& j) override { return static_cast<double>(j.submit_s); }
};

class Sjf final : public QueueOrder {
 public:
  std::unique_ptr<QueueOrder> Clone() const override { return std::make_unique<Sjf>(*this); }
  std::string_view name() const override { return "sjf"; }
  bool reads_true_duration() const override { return true; }
  double Key(const QueuedJob& j) override { return static_cast<double>(j.true_duration_s); }
  std::optional<double> ExpectedRemainingS(const QueuedJob& j) const override { return TrueRemaining(j); }
};

class Srtf final : public QueueOrder {
 public:
  std::unique_ptr<QueueOrder> Clone() const override { return std::make_unique<Srtf>(*this); }
  std::string_view name() const override { return "srtf"; }
  bool reads_true_duration() const override { return true; }
  bool preemptive() const override { return true; }
  double Key(const QueuedJob& j) override { return TrueRemaining(j); }
  std::optional<double> ExpectedRemainingS(const QueuedJob& j) const override { return TrueRemaining(j); }
};

class Tiresias final : public QueueOrder {
 public:
  std::unique_ptr<QueueOrder> Clone() const override { return std::make_unique<Tiresias>(*this); }
  std::string_view name() const override { return "tiresias"; }
  bool preemptive() const override { return true; }
  double Key(const QueuedJob& j) override {
    // Queue index by attained service (GPU-seconds), then FIFO inside the queue.
    static constexpr double kThresholds[] = {3200.0 * 3600, 10000.0 * 3600};
    int queue = 0;
    for (double t : kThresholds) queue += static_cast<double>(j.attained_gpu_s) >= t;
    return queue * 1e12 + static_cast<double>(j.submit_s);
  }
};

// A survival curve S(t) = P(duration > t), a step function known up to the longest observation: after each
// observed time t[i], S = survival[i], and area[i] is the integral of S from 0 to t[i].
struct KaplanMeier {
  std::vector<double> t, area, survival;
  // How much longer a job that ran `a` seconds is expected to run: the integral of S past a, over S(a), up to
  // the longest observation (a restricted mean). With no observation past a, as long again as it ran.
  double Remaining(double a) const {
    const size_t n = static_cast<size_t>(std::upper_bound(t.begin(), t.end(), a) - t.begin());  // t[<n] <= a
    if (n == t.size()) return std::max(1.0, a);
    const double s_a = n == 0 ? 1.0 : survival[n - 1];
    if (s_a <= 0) return std::max(1.0, a);
    const double to_a = (n == 0 ? 0.0 : area[n - 1]) + s_a * (a - (n == 0 ? 0.0 : t[n - 1]));
    return std::max(1.0, (area.back() - to_a) / s_a);
  }
};

// The durations of finished jobs, sorted, to answer "how much longer will a job that already ran `a`
// seconds run?" as the mean of D - a over the finished jobs with D > a: the expected remaining time
// (shortest expected processing time first is the order that minimizes the expected sum of completion times
// without preemption on one machine; with preemption and known ages the Gittins index is; the median, used
// before, is neither).
class History {
 public:
  void Add(double seconds) {
    const auto at = std::upper_bound(samples_.begin(), samples_.end(), seconds);
    const size_t k = static_cast<size_t>(at - samples_.begin());
    samples_.insert(at, seconds);
    // suffix_[i] = the sum of samples_[i..]; the entries before k gain `seconds`, one is added at k.
    suffix_.insert(suffix_.begin() + static_cast<std::ptrdiff_t>(k),
                   seconds + (k < suffix_.size() ? suffix_[k] : 0.0));
    for (size_t i = 0; i < k; ++i) suffix_[i] += seconds;
  }
  size_t size() const { return samples_.size(); }
  // The Kaplan-Meier estimate of the durations: the finished ones ended, each of `censored` (run times so
  // far of jobs still running) is only known to last longer than that.
  KaplanMeier Survival(std::vector<double> censored) const {
    std::sort(censored.begin(), censored.end());
    KaplanMeier km;
    double at_risk = static_cast<double>(samples_.size() + censored.size());
    double survival = 1, area = 0, prev = 0;
    size_t i = 0, k = 0;
    static constexpr double kNone = std::numeric_limits<double>::infinity();
    while (i < samples_.size() || k < censored.size()) {
      const double t =
          std::min(i < samples_.size() ? samples_[i] : kNone, k < censored.size() ? censored[k] : kNone);
      area += survival * (t - prev);
      prev = t;
      double ended = 0, still = 0;
      for (; i < samples_.size() && samples_[i] == t; ++i) ++ended;
      for (; k < censored.size() && censored[k] == t; ++k) ++still;
      survival *= 1 - ended / at_risk;  // of the runs that reached t, those that ended there
      at_risk -= ended + still;
      km.t.push_back(t), km.area.push_back(area), km.survival.push_back(survival);
    }
    return km;
  }
  // REQUIRES: size() > 0. With no finished job longer than `a`, expects it to run as long again.
  double MeanRemaining(double a) const {
    const auto first = std::upper_bound(samples_.begin(), samples_.end(), a);
    const size_t k = static_cast<size_t>(first - samples_.begin());
    const size_t n = samples_.size() - k;
    if (n == 0) return std::max(1.0, a);
    return suffix_[k] / static_cast<double>(n) - a;
  }

 private:
  std::vector<double> samples_;
  std::vector<double> suffix_;
};

// awan: shortest expected remaining time first, from the history of finished jobs like this one (same
// tenant and GPU count, then same GPU count, then all, with at least 3 finished), never more than the
// job's time limit leaves of its run. awan-km (`censored`) keys by the Kaplan-Meier estimate instead, which
// also counts the runs of the class still going: finished jobs alone are a sample biased toward short runs
// (the long ones of the same weeks have not finished), so a class whose long jobs are still running looks
// short to awan. Its ExpectedRemainingS, which reservations and preemption read, is awan's.
class AwanOrder final : public QueueOrder {
 public:
  explicit AwanOrder(bool censored) : censored_(censored) {}
  std::unique_ptr<QueueOrder> Clone() const override { return std::make_unique<AwanOrder>(*this); }
  std::string_view name() const override { return censored_ ? "awan-km" : "awan"; }
  bool preemptive() const override { return true; }
  double Key(const QueuedJob& j) override {
    const auto [h, level] = ClassOf(j);
    if (h == nullptr) return static_cast<double>(j.submit_s);  // no history yet: first come, first served
    if (censored_ && !j.running) return Capped(j, KaplanMeierRemaining(j, *h, level));
    return Capped(j, h->MeanRemaining(Attained(j)));
  }
  // With no history, the time limit alone (if any).
  std::optional<double> ExpectedRemainingS(const QueuedJob& j) const override {
    const History* h = ClassOf(j).first;
    if (h == nullptr) {
      if (j.time_limit_s > 0) return Capped(j, std::numeric_limits<double>::infinity());
      return std::nullopt;
    }
    return Capped(j, h->MeanRemaining(Attained(j)));
  }
  void Finished(const QueuedJob& j, int64_t run_s) override {
    const double s = static_cast<double>(run_s);
    ++version_;
    by_tenant_gpus_[{j.tenant, j.gpus}].Add(s);
    by_gpus_[j.gpus].Add(s);
    all_.Add(s);
  }
  void RunStarted(size_t id, const QueuedJob& j) override {
    if (!censored_) return;
    ++version_;
    runs_[id] = Run{j.tenant, j.gpus, Attained(j), j.now_s};
  }
  void RunEnded(size_t id) override {
    if (runs_.erase(id) > 0) ++version_;
  }

 private:
  struct Run {
    int tenant = 0;
    int64_t gpus = 0;
    double attained_s = 0;  // run time before this run
    int64_t started_s = 0;
  };
  // Which history speaks for a job: its tenant and GPU count, its GPU count, or all jobs.
  enum class Level { kTenantGpus, kGpus, kAll };

  static double Attained(const QueuedJob& j) {
    return j.gpus > 0 ? static_cast<double>(j.attained_gpu_s) / static_cast<double>(j.gpus) : 0.0;
  }
  // An estimate of the remaining run time, no more than what the user's time limit leaves of the current
  // run (the whole limit for a waiting job; at least 1 s): a run is killed at the limit, so a class whose
  // jobs run for hours does not make a job limited to 10 minutes wait as if it were one of them. Per run, as
  // Slurm's --time: a job stopped without a checkpoint may need the whole limit again.
  static double Capped(const QueuedJob& j, double estimate) {
    if (j.time_limit_s <= 0) return estimate;
    return std::min(estimate, std::max(1.0, static_cast<double>(j.time_limit_s - j.run_s)));
  }
  // The finished history that speaks for job j (at least kMinSamples of its class, else of its GPU count,
  // else all), and which one it is.
  std::pair<const History*, Level> ClassOf(const QueuedJob& j) const {
    static constexpr size_t kMinSamples = 3;
    auto it = by_tenant_gpus_.find({j.tenant, j.gpus});
    if (it != by_tenant_gpus_.end() && it->second.size() >= kMinSamples)
      return {&it->second, Level::kTenantGpus};
    auto g = by_gpus_.find(j.gpus);
    if (g != by_gpus_.end() && g->second.size() >= kMinSamples) return {&g->second, Level::kGpus};
    if (all_.size() > 0) return {&all_, Level::kAll};
    return {nullptr, Level::kAll};
  }
  // The Kaplan-Meier estimate for job j's class (h, at `level`: ClassOf) at j.now_s, with the runs of the
  // same class still going.
  // The curve is kept while nothing changes: jobs submitted at one instant (an array) share it. A new
  // entry's version (0) never matches, since a history exists only once a job finished.
  double KaplanMeierRemaining(const QueuedJob& j, const History& h, Level level) {
    const bool by_tenant = level == Level::kTenantGpus, by_gpus = level != Level::kAll;
    Curve& c = curves_[{level, by_tenant ? j.tenant : 0, by_gpus ? j.gpus : 0}];
    if (c.now_s != j.now_s || c.version != version_) {
      std::vector<double> censored;
      for (const auto& [id, r] : runs_)
        if ((!by_tenant || r.tenant == j.tenant) && (!by_gpus || r.gpus == j.gpus))
          censored.push_back(r.attained_s + static_cast<double>(j.now_s - r.started_s));
      c = Curve{j.now_s, version_, h.Survival(std::move(censored))};
    }
    return c.km.Remaining(Attained(j));
  }

  bool censored_ = false;
  std::map<std::pair<int, int64_t>, History> by_tenant_gpus_;
  std::map<int64_t, History> by_gpus_;
  History all_;
  std::map<size_t, Run> runs_;  // awan-km: the runs going now, by the scheduler's job index
  struct Curve {
    int64_t now_s = 0;
    uint64_t version = 0;
    KaplanMeier km;
  };
  std::map<std::tuple<Level, int, int64_t>, Curve> curves_;  // by (level, tenant, GPUs) of ClassOf
  uint64_t version_ = 0;                                     // bumped by every finish, start and end of a run
};

}  // namespace

std::vector<std::string> QueueOrderNames() { return {"fifo", "sjf", "srtf", "tiresias", "awan", "awan-km"}; }

void RegisterOrderings(PluginRegistry& r) {
  auto add = [&r]<typename T>(const char* name, T*) {
    r.AddOrdering(name, []() -> StatusOr<std::unique_ptr<QueueOrder>> {
      return std::unique_ptr<QueueOrder>(std::make_unique<T>());
    });
  };
  add("fifo", static_cast<Fifo*>(nullptr));
  add("sjf", static_cast<Sjf*>(nullptr));
  add("srtf", static_cast<Srtf*>(nullptr));
  add("tiresias", static_cast<Tiresias*>(nullptr));
  auto add_awan = [&r](const char* name, bool censored) {
    r.AddOrdering(name, [censored]() -> StatusOr<std::unique_ptr<QueueOrder>> {
      return std::unique_ptr<QueueOrder>(std::make_unique<AwanOrder>(censored));
    });
  };
  add_awan("awan", false);
  add_awan("awan-km", true);
}

StatusOr<std::unique_ptr<QueueOrder>> MakeQueueOrder(const std::string& name) {
  return BuiltinRegistry().BuildOrdering(name);
}

}  // namespace awan::policies
