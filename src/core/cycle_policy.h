// The policies of the job cycle's stages (core/job_scheduler.h), as small interfaces chosen by name from the
// one PluginRegistry, like the placement plugins: the scheduler is mechanism (the stages, their order, the
// Statement that tries and undoes, the timing and invariant checks), these are policy.
//   admission   may a tenant start `need` more GPUs: its guarantee, borrowing in its cohort, limits
//   ordering    the QueueOrder (core/queue_order.h): which waiting job goes first
//   backfill    which jobs blocked for want of room get a reservation (selective EASY, EASY, conservative,
//               none)
//   preemption  whether a waiting job may stop a running one the ordering puts after it (quota reclaims are
//               the admission's guarantee and always allowed), or one that may run elsewhere when residency
//               blocks the waiting job
//   fair share  which borrowing tenant goes first in the fair-share stage
//   region      the region objective: in which of its allowed regions a job is tried first
// Placement within a region is the Framework's profile (core/profile.h), also chosen by name.
//
// Contract for every policy: pure and deterministic (no state changes between calls, no I/O), so one
// instance may serve a scheduler and all its clones.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/placement.h"
#include "core/queue_order.h"
#include "model/tenant.h"

namespace awan {

// A backfill reservation: where and when a job that cannot start now is expected to start.
struct Reservation {
  size_t job = 0;
  int64_t start_s = 0;            // expected start: when the running jobs it waits for are expected to end
  std::vector<NodeIndex> nodes;   // held for it: no other job starts there
  std::vector<uint32_t> regions;  // its allowed regions, sorted (EASY keeps one reservation per set)
};

// What admission looks at: the tenants, their cohorts (-1: none) and the GPUs each uses now.
struct QuotaState {
  std::span<const TenantSpec> tenants;
  std::span<const int> cohort;
  std::span<const int64_t> used;
};

class AdmissionPolicy {
 public:
  virtual ~AdmissionPolicy() = default;
  virtual std::string_view name() const = 0;
  // May `tenant` start a job of `need` GPUs now?
  virtual bool Admit(const QuotaState& q, size_t tenant, int64_t need) const = 0;
  // False when each tenant is alone on its guarantee: no borrowing, no reclaiming, no overtaking across
  // tenants.
  virtual bool lends() const = 0;
};

// A job blocked for want of room, as the backfill policy sees it.
struct ReserveCase {
  std::span<const uint32_t> regions;  // its allowed regions, sorted
  int64_t waited_s = 0;               // since it was submitted
  std::optional<double> expected_s;   // how much longer the ordering expects it to run (nullopt: no estimate)
};

class BackfillPolicy {
 public:
  virtual ~BackfillPolicy() = default;
  virtual std::string_view name() const = 0;
  // False: nothing is ever held; the reserve stage does not run.
  virtual bool reserves() const = 0;
  // A job blocked for want of room, in queue order: does it get a reservation, given those `held` now?
  virtual bool Reserves(const ReserveCase& c, std::span<const Reservation> held) const = 0;
};

// Where a job stands in the queue: its tenant's priority, then the ordering's key with aging. Smaller goes
// first (the priority is negated). A job's own priority within its tenant does not appear: it decides which
// of the tenant's jobs takes which of the tenant's places in the queue (JobScheduler::Reslot).
struct QueueRank {
  int64_t tenant = 0;  // -(the tenant's priority)
  double key = 0;      // the ordering's key, with aging
  auto operator<=>(const QueueRank&) const = default;
};

// A running job the preempt stage might stop for a waiting one under a preemptive ordering.
struct OvertakeCase {
  QueueRank waiter_key, victim_key;
  int64_t waiter_gpus = 0, victim_gpus = 0;
  int victim_tasks = 1;
  double victim_lost_gpu_s = 0;  // work a stop would lose now (since its last checkpoint), GPU-seconds
  int64_t restart_s = 0;         // what a restart costs the victim
};

// A running job that may also run in a region a waiting job may not, which the preempt stage might stop to
// make room for a job blocked by residency (only if it can start again at once where it has room).
struct RelocateCase {
  int64_t waited_s = 0;  // the waiting job, since it was submitted
  int64_t victim_gpus = 0;
  double victim_lost_gpu_s = 0;  // work a stop would lose now, GPU-seconds
  int64_t restart_s = 0;
};

class PreemptionPolicy {
 public:
  virtual ~PreemptionPolicy() = default;
  virtual std::string_view name() const = 0;
  // May a job that waited `waited_s`, which the ordering expects to run `expected_s` (if it can tell),
  // overtake running jobs at all? Asked once per waiting job and pass.
  virtual bool MayOvertake(std::optional<double> expected_s, int64_t waited_s) const = 0;
  // Does stopping this victim for the waiter pay?
  virtual bool Overtakes(const OvertakeCase& c) const = 0;
  // Does moving this victim elsewhere for a waiter blocked by residency pay?
  virtual bool Relocates(const RelocateCase& c) const = 0;
};

// A tenant's use of the fleet, for fair share: its dominant share now (the largest of its GPU, CPU and memory
// shares), the same integrated over time with a half-life (share x seconds), and its weight.
struct TenantUsage {
  double dominant_share = 0;
  double decayed_share_s = 0;
  int64_t half_life_s = 1;
  double weight = 1;
};

class FairSharePolicy {
 public:
  virtual ~FairSharePolicy() = default;
  virtual std::string_view name() const = 0;
  // The tenant's share: the smallest goes first.
  virtual double Share(const TenantUsage& u) const = 0;
};

// One allowed region as a job sees it: the cheapest GPU-hour there for its tasks, and the latency from there
// to the farthest home of its data plus to its users; the operator's weights for the two.
struct RegionOffer {
  double price_per_gpu_hour = 0;
  double latency_ms = 0;
  double price_weight = 1, latency_weight = 0;
};

class RegionObjective {
 public:
  virtual ~RegionObjective() = default;
  virtual std::string_view name() const = 0;
  // The region's score: the smallest is tried first (ties: the lower region index).
  virtual double Score(const RegionOffer& r) const = 0;
};

// The stage policies a scheduler runs with (shared by a scheduler and its clones: policies are pure).
struct CyclePolicies {
  std::unique_ptr<AdmissionPolicy> admission;
  std::unique_ptr<BackfillPolicy> backfill;
  std::unique_ptr<PreemptionPolicy> preemption;
  std::unique_ptr<FairSharePolicy> fair_share;
  std::unique_ptr<RegionObjective> region;
};

// The names of the policies to build (SchedulerOptions::policies); the defaults are awan's.
struct CyclePolicyNames {
  std::string admission = "cohort";
  std::string backfill = "selective";
  std::string preemption = "cost-aware";
  std::string fair_share = "drf-decayed";
  std::string region = "price-latency";
};

}  // namespace awan
