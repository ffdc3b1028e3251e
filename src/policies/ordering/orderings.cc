#include "policies/ordering/orderings.h"

#include <algorithm>
#include <cmath>
#include <map>
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

class AwanOrder final : public QueueOrder {
 public:
  std::unique_ptr<QueueOrder> Clone() const override { return std::make_unique<AwanOrder>(*this); }
  std::string_view name() const override { return "awan"; }
  bool preemptive() const override { return true; }
  double Key(const QueuedJob& j) override {
    // no history yet: first come, first served
    return ExpectedRemainingS(j).value_or(static_cast<double>(j.submit_s));
  }
  std::optional<double> ExpectedRemainingS(const QueuedJob& j) const override {
    static constexpr size_t kMinSamples = 3;
    const double attained =
        j.gpus > 0 ? static_cast<double>(j.attained_gpu_s) / static_cast<double>(j.gpus) : 0.0;
    auto it = by_tenant_gpus_.find({j.tenant, j.gpus});
    if (it != by_tenant_gpus_.end() && it->second.size() >= kMinSamples)
      return it->second.MeanRemaining(attained);
    auto g = by_gpus_.find(j.gpus);
    if (g != by_gpus_.end() && g->second.size() >= kMinSamples) return g->second.MeanRemaining(attained);
    if (all_.size() > 0) return all_.MeanRemaining(attained);
    return std::nullopt;
  }
  void Finished(const QueuedJob& j, int64_t run_s) override {
    const double s = static_cast<double>(run_s);
    by_tenant_gpus_[{j.tenant, j.gpus}].Add(s);
    by_gpus_[j.gpus].Add(s);
    all_.Add(s);
  }

 private:
  std::map<std::pair<int, int64_t>, History> by_tenant_gpus_;
  std::map<int64_t, History> by_gpus_;
  History all_;
};

}  // namespace

std::vector<std::string> QueueOrderNames() { return {"fifo", "sjf", "srtf", "tiresias", "awan"}; }

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
  add("awan", static_cast<AwanOrder*>(nullptr));
}

StatusOr<std::unique_ptr<QueueOrder>> MakeQueueOrder(const std::string& name) {
  return BuiltinRegistry().BuildOrdering(name);
}

}  // namespace awan::policies
