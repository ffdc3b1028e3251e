#include "policies/cycle/cycle_policies.h"

#include <algorithm>

namespace awan::policies {
namespace {

class CohortAdmission final : public AdmissionPolicy {
 public:
  std::string_view name() const override { return "cohort"; }
  bool lends() const override { return true; }
  bool Admit(const QuotaState& q, size_t t, int64_t need) const override {
    const TenantSpec& s = q.tenants[t];
    if (q.used[t] + need <= s.guaranteed_gpus) return true;
    if (q.cohort[t] < 0) return false;
    const int64_t over = q.used[t] + need - s.guaranteed_gpus;
    if (s.borrowing_limit_gpus != kUnlimited && over > s.borrowing_limit_gpus) return false;
    // The cohort as a whole stays within its guarantees, less the idle quota lenders do not lend.
    int64_t used_sum = 0, guaranteed_sum = 0, locked = 0;
    for (size_t x = 0; x < q.tenants.size(); ++x) {
      if (q.cohort[x] != q.cohort[t]) continue;
      used_sum += q.used[x];
      guaranteed_sum += q.tenants[x].guaranteed_gpus;
      if (x != t && q.tenants[x].lending_limit_gpus != kUnlimited) {
        locked +=
            std::max<int64_t>(0, q.tenants[x].guaranteed_gpus - q.used[x] - q.tenants[x].lending_limit_gpus);
      }
    }
    return used_sum + need <= guaranteed_sum - locked;
  }
};

class IsolatedAdmission final : public AdmissionPolicy {
 public:
  std::string_view name() const override { return "isolated"; }
  bool lends() const override { return false; }
  bool Admit(const QuotaState& q, size_t t, int64_t need) const override {
    return q.used[t] + need <= q.tenants[t].guaranteed_gpus;
  }
};

// No reservation held yet for this set of allowed regions.
bool NoneFor(std::span<const uint32_t> regions, std::span<const Reservation> held) {
  return std::none_of(held.begin(), held.end(), [&](const Reservation& r) {
    return std::equal(r.regions.begin(), r.regions.end(), regions.begin(), regions.end());
  });
}

class NoBackfillReservations final : public BackfillPolicy {
 public:
  std::string_view name() const override { return "none"; }
  bool reserves() const override { return false; }
  bool Reserves(const ReserveCase&, std::span<const Reservation>) const override { return false; }
};

class EasyBackfill final : public BackfillPolicy {
 public:
  std::string_view name() const override { return "easy"; }
  bool reserves() const override { return true; }
  bool Reserves(const ReserveCase& c, std::span<const Reservation> held) const override {
    return NoneFor(c.regions, held);
  }
};

// EASY for the jobs that starve: a job gets a reservation only once it waited at least as long as the
// ordering expects it to run (its slowdown would reach 2; a job without an estimate at once), the first
// such job per set of allowed regions (Srinivasan et al., "Selective reservation strategies for backfill
// job scheduling", JSSPP 2002). Jobs not yet starving are backfilled like any other.
class SelectiveBackfill final : public BackfillPolicy {
 public:
  std::string_view name() const override { return "selective"; }
  bool reserves() const override { return true; }
  bool Reserves(const ReserveCase& c, std::span<const Reservation> held) const override {
    if (c.expected_s && static_cast<double>(c.waited_s) < *c.expected_s) return false;
    return NoneFor(c.regions, held);
  }
};

class ConservativeBackfill final : public BackfillPolicy {
 public:
  std::string_view name() const override { return "conservative"; }
  bool reserves() const override { return true; }
  bool Reserves(const ReserveCase&, std::span<const Reservation>) const override { return true; }
};

// No constant here is fitted to a trace: the ordering's own estimate, the stop's cost, and slowdown 2.
class CostAwarePreemption final : public PreemptionPolicy {
 public:
  std::string_view name() const override { return "cost-aware"; }
  bool MayOvertake(std::optional<double> expected_s, int64_t waited_s) const override {
    return !expected_s || static_cast<double>(waited_s) >= *expected_s;  // its slowdown would reach 2
  }
  bool Overtakes(const OvertakeCase& c) const override {
    // A stopped gang needs all its GPUs at once to run again: stopped only to reclaim quota.
    if (c.victim_tasks > 1 || c.victim_gpus > c.waiter_gpus) return false;
    const double cost = c.victim_lost_gpu_s / static_cast<double>(std::max<int64_t>(1, c.victim_gpus)) +
                        static_cast<double>(c.restart_s);
    QueueRank waiter = c.waiter_key;
    waiter.key += cost;
    return c.victim_key > waiter;
  }
  // A job that may run elsewhere makes room for one that may not, once the waiter has waited longer than
  // the stop delays the victim's completion (its work since its last checkpoint, per GPU, plus a restart).
  // Both sides in seconds of one job's completion time, what average JCT counts (not in GPU-seconds: a
  // gang's completion is delayed by as many seconds as a one-GPU job's, whatever its width).
  bool Relocates(const RelocateCase& c) const override {
    return c.victim_lost_gpu_s / static_cast<double>(std::max<int64_t>(1, c.victim_gpus)) +
               static_cast<double>(c.restart_s) <=
           static_cast<double>(c.waited_s);
  }
};

class PlainPreemption final : public PreemptionPolicy {
 public:
  std::string_view name() const override { return "plain"; }
  bool MayOvertake(std::optional<double>, int64_t) const override { return true; }
  bool Overtakes(const OvertakeCase& c) const override { return c.victim_key > c.waiter_key; }
  bool Relocates(const RelocateCase&) const override { return true; }
};

// DRF over time: the dominant share integrated with a half-life plus the current one, per unit of weight.
class DecayedDrf final : public FairSharePolicy {
 public:
  std::string_view name() const override { return "drf-decayed"; }
  double Share(const TenantUsage& u) const override {
    return (u.decayed_share_s / static_cast<double>(u.half_life_s) + u.dominant_share) / u.weight;
  }
};

// Dominant resource fairness on what is used now only.
class Drf final : public FairSharePolicy {
 public:
  std::string_view name() const override { return "drf"; }
  double Share(const TenantUsage& u) const override { return u.dominant_share / u.weight; }
};

class PriceLatency final : public RegionObjective {
 public:
  std::string_view name() const override { return "price-latency"; }
  double Score(const RegionOffer& r) const override {
    return r.price_weight * r.price_per_gpu_hour + r.latency_weight * r.latency_ms;
  }
};

// The cheapest region first; latency breaks ties.
class Cheapest final : public RegionObjective {
 public:
  std::string_view name() const override { return "cheapest"; }
  double Score(const RegionOffer& r) const override { return r.price_per_gpu_hour * 1e6 + r.latency_ms; }
};

// The region nearest the job's data and users first; price breaks ties.
class Nearest final : public RegionObjective {
 public:
  std::string_view name() const override { return "nearest"; }
  double Score(const RegionOffer& r) const override { return r.latency_ms * 1e6 + r.price_per_gpu_hour; }
};

template <typename Base, typename T>
std::function<StatusOr<std::unique_ptr<Base>>()> Make() {
  return []() -> StatusOr<std::unique_ptr<Base>> { return std::unique_ptr<Base>(std::make_unique<T>()); };
}

}  // namespace

void RegisterCyclePolicies(PluginRegistry& r) {
  r.AddAdmission("cohort", Make<AdmissionPolicy, CohortAdmission>());
  r.AddAdmission("isolated", Make<AdmissionPolicy, IsolatedAdmission>());
  r.AddBackfill("easy", Make<BackfillPolicy, EasyBackfill>());
  r.AddBackfill("selective", Make<BackfillPolicy, SelectiveBackfill>());
  r.AddBackfill("conservative", Make<BackfillPolicy, ConservativeBackfill>());
  r.AddBackfill("none", Make<BackfillPolicy, NoBackfillReservations>());
  r.AddPreemption("cost-aware", Make<PreemptionPolicy, CostAwarePreemption>());
  r.AddPreemption("plain", Make<PreemptionPolicy, PlainPreemption>());
  r.AddFairShare("drf-decayed", Make<FairSharePolicy, DecayedDrf>());
  r.AddFairShare("drf", Make<FairSharePolicy, Drf>());
  r.AddRegionObjective("price-latency", Make<RegionObjective, PriceLatency>());
  r.AddRegionObjective("cheapest", Make<RegionObjective, Cheapest>());
  r.AddRegionObjective("nearest", Make<RegionObjective, Nearest>());
}

}  // namespace awan::policies
