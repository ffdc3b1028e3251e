// JobScheduler: the scheduling cycle for jobs that arrive, wait, run and finish, as the simulator and
// the server (ControlPlane) drive it. Pure: no I/O, no clock (times are passed in; stage timings go through
// an injected TickSource and never decide anything), no threads. The caller reports events (Submit, Finish,
// NodeDown, NodeUp) and calls Cycle(now); the scheduler commits placements to the snapshot and reports the
// runs it started (TakeStarted). Cycle runs named stages, each timed (CycleStats) and, in debug builds,
// followed by an invariant check:
//   decay       fair-share usage decayed to now; the places of a tenant whose waiting jobs differ in priority
//               dealt out again (Reslot: its best place to its highest priority)
//   place       order: pending jobs by (tenant priority, the QueueOrder's key + aging x submit time, submit
//               time, arrival), the key computed when a job joins;
//               admit: the tenant's quota: within its guarantee, or borrowing idle quota of its cohort (not
//               when isolated), within its borrowing limit and the lenders' lending limits;
//               place: the gang all or nothing, tightest topology domain first (GangPlacer), never on nodes
//               another job's reservation holds;
//               backfill: a job that cannot start does not block the ones behind it (at most
//               backfill_window blocked jobs are examined per cycle; past that, each tenant still gets its
//               share of the window, backfill_window / tenants)
//   fair-share  with fair share on, jobs that would borrow go after the others, the tenant with the smallest
//               fair share first: its dominant share (the largest of its GPU, CPU and memory shares of the
//               fleet), now and decayed over time with a half-life, per unit of weight
//   preempt     for the first jobs that still cannot start: stop running jobs that borrow quota the waiting
//               job's tenant is guaranteed (any ordering), jobs of a lower-priority tenant of its cohort (a
//               service's replicas over batch work), jobs a preemptive ordering now puts after it, or, for a
//               job residency keeps waiting, jobs that may also run where it may not and can start there at
//               once (relocate: placed before anything is committed, started in the same cycle); whole
//               gangs, least lost work first, for a waiting gang those inside one supernode (else block);
//               never before min_run_s nor before the run's first checkpoint, never a job already stopped
//               max_preemptions times; tried in a Statement and discarded if the waiting job still would not
//               fit
//   reserve     backfill reservations (as Slurm's backfill): the first job that cannot start, per set of
//               allowed regions (EASY; selective, the default: the first that waited as long as its ordering
//               expects it to run; conservative: every such job, up to max_reservations), gets nodes
//               and an expected start time: the nodes where it would start once the running jobs end as
//               the ordering expects. Held nodes take no other job, so jobs behind it may only jump ahead
//               where they cannot delay it; the holder keeps its reservation until it starts (its nodes are
//               planned again every reserve_interval_s and after a node goes down); a job ranked above
//               every holder (a higher tenant priority, or the holder's tenant and a higher job priority)
//               is not held back by them
// How long runs take and what a stop loses is the RunModel's (core/run_model.h): a gang whose tightest common
// domain is wider than a supernode runs slower by the level's factor; a stopped job keeps the work of its
// last checkpoint and pays restart_s when it runs again.
//
// Residency (core/residency.h) confines placement, preemption and every requeue: each job carries the
// regions its data allows; placement tries those regions one at a time, best first by the region objective
// (price per GPU-hour plus a weight per ms of latency to the job's data and users), and starts the job now in
// the first allowed region that holds it (queueing delay first, then the objective). The Framework's filter
// rejects every node outside the job's allowed regions (FitReason kResidency), and Start re-checks each
// placement.
//
// Not thread-safe. Borrows the fleet, snapshot, framework and ordering, which must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "common/tick_source.h"
#include "core/cycle_policy.h"
#include "core/framework.h"
#include "core/gang.h"
#include "core/queue_order.h"
#include "core/residency.h"
#include "core/run_model.h"
#include "core/snapshot.h"
#include "model/job.h"
#include "model/tenant.h"

namespace awan {

struct SchedulerOptions {
  // The stages' policies, by name from the PluginRegistry (core/cycle_policy.h; the built-ins are listed in
  // policies/cycle/cycle_policies.h).
  CyclePolicyNames policies;
  bool topology_aware = true;  // false: gangs and victims placed topology-blind (for comparison)
  // The RunModel's parameters (core/run_model.h).
  double slowdown_supernode = 1.0, slowdown_block = 1.1, slowdown_zone = 1.3;
  int backfill_window = 1000;  // jobs that cannot start looked at per cycle; past it, each tenant its share
  int64_t min_run_s = 600;
  int64_t checkpoint_s = 1800;  // 0 = a stopped job keeps all its work
  int64_t restart_s = 60;
  int preempt_window = 8;
  int64_t preempt_interval_s = 300;  // stage 5 runs at most this often
  bool fair_share = false;
  int64_t fair_share_half_life_s = 7 * 86400;
  // The region objective among allowed regions: score = price_weight x USD per GPU-hour + latency_weight x
  // ms of latency (to the farthest input's home region plus to the job's users); lowest score tried first.
  double region_price_weight = 1.0;
  double region_latency_weight = 0.02;
  // Nothing starves: reservations for the jobs that wait, a bound on how often one job is stopped, and aging.
  int max_reservations = 16;  // jobs holding a reservation at once
  int64_t reserve_interval_s =
      300;                  // the reserve stage runs at most this often (0: every cycle; as bf_interval)
  int max_preemptions = 3;  // a job the scheduler stopped this many times is not stopped again (0: no bound)
  // Waiting ages a job: its key is lowered by `aging` x the seconds since it was submitted, so that one that
  // waited long enough goes before any job submitted later (key units per second; 0: no aging).
  double aging = 0;
  // On fleets of at least this many nodes a task's placement looks at only part of the fleet: it stops once
  // max(100, nodes x max(5, 50 - nodes / 125) %) feasible nodes are found (the kube-scheduler's default
  // percentageOfNodesToScore). 0: always every node.
  uint32_t sample_nodes_above = 5000;
  // The place and fair-share stages stop after this many starts; the cycle then skips its preempt and
  // reserve stages and says so (cut_short()): its caller runs the next cycle right away, so one cycle's work
  // stays bounded when thousands of jobs can start at once (as Slurm's sched_max_job_start bounds its main
  // scheduler's pass). 0: no bound.
  int max_starts_per_cycle = 500;
  // Residency: a job that may run in several regions tries last those where jobs allowed in fewer of them
  // (a subset) wait, so that it does not take the only room they have while it has room elsewhere.
  bool bound_regions_last = true;
  // Residency: a job blocked because its regions are full may stop a running job (its tenant's, or its
  // cohort's at no higher a priority) that may also run in a region where it may not, if that job can start
  // again there at once (the preemption policy weighs the cost; fleets of at most 64 regions).
  bool relocate = true;
};

// Backfill, preemption, aging and cycles without a start budget as awan ran before scheduler v2 (for
// comparison with earlier results).
SchedulerOptions LegacyStarvationOptions(SchedulerOptions o);

// Why a job could not start when the cycle looked at it.
enum class WaitReason : int {
  kQueue = 0,  // behind other jobs: the cycle filled the fleet (or its backfill window) before reaching it
  kCapacity,   // fewer free GPUs in the fleet than it needs
  kQuota,      // its tenant's guarantee (and what it may borrow) is used up
  kFragmentation,  // enough free GPUs in total, but no node holds a task of it
  kTopology,       // enough free GPUs and nodes, but no allowed topology domain holds the whole gang
  kResidency,      // enough room in the fleet, but not in the regions where its data may be processed
  kReserved,       // room only on nodes held for a job that waited longer (a backfill reservation)
  kCount
};
inline constexpr int kWaitReasons = static_cast<int>(WaitReason::kCount);
// "queue", "capacity", "quota", "fragmentation", "topology", "residency", "reserved"
const char* WaitReasonName(WaitReason r);

// Why the preempt stage stopped a running job for a waiting one.
enum class PreemptReason : int {
  kOvertake = 0,  // a preemptive ordering puts the waiting job first
  kReclaim,       // the waiting job's tenant reclaims its guarantee from a borrower
  kPriority,      // the waiting job's tenant has a higher priority (a service's replicas over batch work)
  kRelocate,      // residency blocks the waiting job; the stopped one may run elsewhere, where there is room
};
// "Priority" (an ordering's overtake), "ReclaimGuarantee", "TenantPriority", "Relocate"
const char* PreemptReasonName(PreemptReason r);

// One job as the scheduler sees it, and what happened to it.
struct JobRecord {
  const JobSpec* spec = nullptr;
  int tenant = 0;
  int priority = 0;  // within its tenant (JobSpec::priority, or as changed since)
  int64_t submit_s = 0;
  int64_t gpus = 0;
  // Outcome.
  int64_t first_start_s = -1, end_s = -1;
  int level = -1;  // TopologyLevel of a gang's last placement; -1 for a single task
  int preemptions = 0, failure_requeues = 0;
  int64_t gpu_s = 0;    // GPU-seconds held, over all runs (set when it finishes)
  double cost_usd = 0;  // GPU-hours x the nodes' prices, fractional GPUs pro rata, over all ended runs
  std::array<int64_t, kWaitReasons> waited_s{};
  // Run state (the work itself is the RunModel's). expected_end_s: when the model ends the current run.
  int64_t started = -1, expected_end_s = -1;
  int64_t estimated_end_s =
      -1;  // the ordering's estimate when the run started (-1: none); reservations use it
  int64_t attained_gpu_s = 0;
  uint32_t run_id = 0;  // bumped when a run stops: a finish reported for an older run is stale
  bool running = false;
  int last_reason = -1;
  int64_t last_seen = 0;
};

// A run the cycle started; at factor 1 and without failures it ends at expected_end_s.
struct RunStarted {
  size_t job = 0;
  uint32_t run_id = 0;
  int64_t at_s = 0;
  int64_t expected_end_s = 0;
  std::vector<Placement> tasks;  // where each task runs
};

// The cycle's stages, in the order they run.
enum class CycleStage : int { kDecay = 0, kPlace, kFairShare, kPreempt, kReserve, kCount };
inline constexpr int kCycleStages = static_cast<int>(CycleStage::kCount);
// "decay", "place", "fair-share", "preempt", "reserve"
const char* CycleStageName(CycleStage s);

// Cumulative time per stage (nanoseconds, through the injected TickSource) and cycles run.
struct CycleStats {
  int64_t cycles = 0;
  std::array<int64_t, kCycleStages> stage_ns{};
};

class JobScheduler {
 public:
  JobScheduler(const Fleet& fleet, ClusterSnapshot& snap, Framework& framework, QueueOrder& order,
               std::shared_ptr<const CyclePolicies> policies, SchedulerOptions options);

  // Tenants and jobs are registered first (indices are dense, in call order).
  int AddTenant(TenantSpec t);
  // REQUIRES: spec outlives the scheduler. `residency`: where it may run (default: anywhere).
  size_t AddJob(const JobSpec& spec, int tenant, int64_t submit_s, JobResidency residency = {});

  void Submit(size_t job, int64_t now);
  // REQUIRES: the job runs (run_id matches its current run).
  Status Finish(size_t job, int64_t now);
  // Stops every job with a task on the node (they requeue with their last checkpoint); the node takes no
  // work.
  Status NodeDown(NodeIndex node, int64_t now);
  // Withdraws a job: a waiting one leaves the queue, a running one releases its GPUs (it ends now,
  // unfinished: end_s stays -1 and its attained service is not reported to the ordering). NotFound if it
  // already ended.
  Status Cancel(size_t job, int64_t now);
  void NodeUp(NodeIndex node);
  // A cordon: the node takes no new work (on) or takes work again (off); what runs there keeps running.
  void Cordon(NodeIndex node, bool on);
  // Stops a running job as a node failure does (it requeues with its last checkpoint; a RunStopped with
  // node_failed). FailedPrecondition if it does not run.
  Status Requeue(size_t job, int64_t now);
  // The running jobs with a task on `node` (on its device `device` when >= 0), in index order.
  std::vector<size_t> RunningOn(NodeIndex node, int device = -1) const;
  // Takes a device out of service (the jobs on it requeue first) or puts it back.
  Status SetDeviceHealthy(NodeIndex node, int device, bool healthy, int64_t now);
  Status Cycle(int64_t now);
  // The last Cycle stopped at max_starts_per_cycle: more jobs may start now; call Cycle again (the same
  // `now` is fine) before time moves on.
  bool cut_short() const { return cut_short_; }
  // Takes back a run that went on while the control plane restarted (the server re-adopted its tasks): the
  // job, waiting now, runs again at `tasks` as it did since `started_s`, with no RunStarted (nothing is
  // launched). FailedPrecondition if it is not waiting or the placements no longer fit (then nothing
  // changes).
  Status Resume(size_t job, int64_t now, int64_t started_s, const std::vector<Placement>& tasks);
  std::vector<RunStarted> TakeStarted();
  // Runs the scheduler stopped since the last call (preempted, or hit by a node failure): whoever runs the
  // tasks must stop them; the jobs wait again.
  struct RunStopped {
    size_t job = 0;
    uint32_t run_id = 0;  // the run that stopped
    bool node_failed = false;
    // A preemption: the job that took the GPUs, and why.
    std::optional<size_t> by;
    PreemptReason reason = PreemptReason::kOvertake;
  };
  std::vector<RunStopped> TakeStopped();

  // For counterfactuals (`awan explain`): a copy of the whole state onto a copy of the snapshot, a framework
  // and a copy of the ordering (QueueOrder::Clone); then change one input and try the job alone.
  std::unique_ptr<JobScheduler> Clone(ClusterSnapshot& snap, Framework& framework, QueueOrder& order) const;
  void SetResidency(size_t job, JobResidency residency);
  void SetTenant(int tenant, TenantSpec spec);
  // REQUIRES: the job waits; spec outlives the scheduler.
  void ReplaceSpec(size_t job, const JobSpec& spec);
  // The job's priority within its tenant (JobSpec::priority when added): a waiting job moves among its
  // tenant's jobs at the next cycle.
  void SetJobPriority(size_t job, int priority);
  // Stages 2 and 3 for one pending job, now: nullopt if it started, else why not.
  StatusOr<std::optional<WaitReason>> TryStartOne(size_t job, int64_t now);

  const JobRecord& job(size_t i) const { return jobs_[i]; }
  const TenantSpec& tenant(int t) const { return tenants_[static_cast<size_t>(t)]; }
  const JobResidency& residency(size_t i) const { return residency_[i]; }
  const std::vector<Placement>& placements(size_t i) const { return placed_[i]; }
  const std::set<size_t>& running_jobs() const { return running_; }
  bool is_pending(size_t i) const;
  size_t job_count() const { return jobs_.size(); }
  // The job's allowed regions in the order placement tries them.
  const std::vector<uint32_t>& region_order(size_t i) const { return region_order_[i]; }
  size_t tenant_count() const { return tenants_.size(); }
  // False when the admission policy keeps each tenant on its own guarantee.
  bool lends() const { return policies_->admission->lends(); }
  bool has_pending() const { return !pending_.empty(); }
  size_t pending_count() const { return pending_.size(); }
  int64_t preemptions() const { return preemptions_; }
  const SchedulerOptions& options() const { return o_; }
  int64_t used_gpus(int tenant) const { return used_[static_cast<size_t>(tenant)]; }  // what quotas count
  int64_t failure_requeues() const { return failure_requeues_; }
  // The reservation job i holds, or null.
  const Reservation* reservation(size_t i) const;
  const std::vector<Reservation>& reservations() const { return reservations_; }
  // Stage timings: measured only with a TickSource (never read to decide anything).
  void set_ticks(TickSource* ticks) { ticks_ = ticks; }
  const CycleStats& cycle_stats() const { return cycle_stats_; }
  // The pending jobs in the order the cycle tries them.
  std::vector<size_t> PendingInOrder() const;

 private:
  // A job's entry in the queue: smallest first. (rank, submit_s, slot) is a place in the queue: the job's own
  // (slot == job) unless its tenant has jobs of different priorities, whose places Reslot deals out again.
  struct PendingKey {
    QueueRank rank;
    int64_t submit_s = 0;
    size_t slot = 0;  // the job whose own place this is
    size_t job = 0;
    auto operator<=>(const PendingKey&) const = default;
  };
  // What the place stage leaves to the later stages.
  struct Scan {
    int blocked = 0, deferred = 0, started = 0;
    bool stop = false;
    bool cut = false;                                // stopped at max_starts_per_cycle
    std::vector<PendingKey> waiting;                 // the first jobs that could not start, for preemption
    std::vector<std::vector<PendingKey>> borrowers;  // by tenant: deferred to the fair-share stage
    std::vector<int> blocked_of;                     // by tenant
    std::vector<size_t> heads;                       // blocked for want of room, in queue order
  };
  bool Admit(int t, int64_t need) const;
  QueuedJob View(size_t i, int64_t now) const;
  double QueueKey(size_t i, int64_t now) const;
  double RunningKeyInPass(size_t v, int64_t now) const;
  void DecayShares(int64_t now);
  Status PlaceStage(int64_t now, Scan& s);
  StatusOr<bool> Examine(const PendingKey& k, int64_t now, Scan& s);
  void Blocked(const PendingKey& k, int64_t now, WaitReason why, Scan& s);
  Status FairShareStage(int64_t now, Scan& s);
  Status PreemptStage(int64_t now, Scan& s);
  Status ReserveStage(int64_t now, Scan& s);
  StatusOr<std::optional<Reservation>> PlanReservation(size_t h, int64_t now);
  int64_t ExpectedEnd(size_t v, int64_t now) const;
  void DropReservation(size_t i);
  void RebuildReservedMask();
  std::span<const uint8_t> ReservedMaskFor(size_t i, int64_t now);
  int64_t HeldFree(std::span<const uint8_t> held) const;
  bool Usable(size_t i, NodeIndex n) const;
  Status CheckInvariants(CycleStage after) const;
  PendingKey PendingEntry(size_t i) const;
  void Enqueue(size_t i, int64_t now);
  double DominantShare(size_t t) const;
  double Share(size_t t) const;
  void Use(size_t job, int sign);
  void Account(size_t i, int64_t now, int reason);
  JobScheduler(const JobScheduler&) = default;
  Status Start(size_t i, int64_t now, GangPlacement g);
  void OrderRegions(size_t i);
  const std::vector<double>& CheapestByRegion(const PodSpec& task);
  StatusOr<std::optional<GangPlacement>> PlaceInRegions(size_t i, std::span<const uint8_t> held);
  bool NodeAllowed(size_t i, NodeIndex n) const { return residency_[i].Allows(fleet_->region_of(n)); }
  double RunCost(size_t i, int64_t now) const;
  void Stop(size_t i, int64_t now, bool node_failed, std::optional<size_t> by = std::nullopt,
            PreemptReason reason = PreemptReason::kOvertake);
  // A waiting job as the preempt stage sees it: what it may do, whatever the victim.
  struct Preemptor {
    size_t job = 0;
    PendingKey key;
    bool may_reclaim = false;   // its guarantee is free and some tenant of its cohort borrows
    bool may_overtake = false;  // a preemptive ordering may put it before running jobs
    bool may_relocate = false;  // blocked by residency: jobs that may run elsewhere make room
  };
  Preemptor PreemptorOf(size_t b, const PendingKey& b_key, int64_t now) const;
  std::optional<PreemptReason> PreemptionOf(const Preemptor& b, size_t v, int64_t now) const;
  bool HasRoomElsewhere(size_t v, size_t b) const;
  void CountPendingMask(uint64_t mask, int delta);
  using Relocations = std::vector<std::pair<size_t, GangPlacement>>;  // victim, where it starts again
  StatusOr<std::optional<Relocations>> PlaceRelocated(size_t b, const std::vector<size_t>& chosen,
                                                      const std::vector<PreemptReason>& why, int64_t now);
  double LostWork(size_t v, int64_t now) const;
  StatusOr<std::optional<WaitReason>> TryStart(size_t i, int64_t now);
  std::optional<WaitReason> WhyNot(size_t i) const;
  StatusOr<bool> TryPreempt(const Preemptor& who, int64_t now);
  std::vector<size_t> ChooseVictims(size_t b, const std::vector<size_t>& victims, int64_t now) const;

  const Fleet* fleet_;
  ClusterSnapshot* snap_;
  Framework* fw_;
  QueueOrder* order_;
  std::shared_ptr<const CyclePolicies> policies_;
  SchedulerOptions o_;
  GangPlacer gangs_;
  RunModel runs_;  // the work of every job's runs (core/run_model.h)
  Rng rng_{1};  // the placement profiles used for jobs draw nothing; a fixed stream keeps runs reproducible
  CycleContext ctx_;

  std::vector<TenantSpec> tenants_;
  std::vector<int> cohort_;                   // by tenant; -1 = none
  std::vector<int64_t> used_;                 // GPUs in use, by tenant (what quotas count)
  std::vector<int64_t> used_cpu_, used_mem_;  // CPU milli and memory MiB in use, by tenant (for fair share)
  std::vector<double> decayed_share_s_;       // dominant share x seconds, decayed, by tenant
  double capacity_gpu_ = 0, capacity_cpu_ = 0, capacity_mem_ = 0;
  std::vector<std::string> cohort_names_;
  int64_t decayed_at_ = 0;

  std::vector<JobRecord> jobs_;
  std::vector<std::vector<Placement>> placed_;
  std::vector<JobResidency> residency_;
  std::vector<std::vector<uint32_t>> region_order_;
  std::vector<uint64_t> region_mask_;        // allowed regions as bits (0: fleets of more than 64 regions)
  std::map<uint64_t, int> pending_by_mask_;  // waiting jobs per set of allowed regions
  std::vector<int64_t> region_free_;         // free GPU milli per region, as of the preempt pass
  std::vector<std::vector<uint8_t>> region_nodes_;  // by region: node i in it
  std::map<std::tuple<int, uint64_t, bool>, std::vector<double>>
      cheapest_by_shape_;                          // CheapestByRegion cache
  mutable std::vector<double> running_key_;        // by job: its key as a running job, for the preempt stage
  mutable std::vector<int64_t> running_key_pass_;  // by job: the preempt pass that computed it
  int64_t preempt_pass_ = 0;
  std::vector<double> queue_key_;  // by job: the key it joined the pending set with
  std::set<PendingKey> pending_;
  std::vector<std::set<PendingKey>> pending_of_;  // by tenant: the same entries, for the window's fair share
  std::vector<PendingKey> entry_;                 // by job: its entry while it waits (as inserted)
  std::vector<int64_t> prioritized_;              // by tenant: waiting jobs with a priority other than 0
  std::vector<uint8_t> reslot_;                   // by tenant: its places to deal out again (Reslot)
  // Job i's own place in the queue (slot i).
  PendingKey OwnEntry(size_t i) const;
  // A tenant's waiting jobs take the tenant's places in the queue in the order (job priority, own place): the
  // best place to the highest priority. Tenants' places interleave as their jobs' own would, so a job's
  // priority never moves it ahead of another tenant's jobs. Run at the start of a cycle for the tenants
  // marked since.
  void Reslot(size_t tenant);
  void AddPending(const PendingKey& k);
  void ErasePending(PendingKey k);  // by value: callers pass references into the set it erases from
  std::set<size_t> running_;
  std::vector<RunStarted> started_;
  std::vector<RunStopped> stopped_;
  int64_t next_preempt_pass_ = INT64_MIN;
  int64_t preemptions_ = 0, failure_requeues_ = 0;
  std::vector<Reservation> reservations_;            // in the order they were made (the first has precedence)
  std::vector<uint8_t> reserved_;                    // by node: held by some reservation (empty when none)
  std::vector<uint8_t> reserved_scratch_;            // reserved_ less one holder's own nodes
  std::vector<std::vector<uint8_t>> held_by_start_;  // [k]: the nodes of the k+1 earliest reservations
  std::vector<int64_t> held_starts_;                 // their expected starts, ascending
  int64_t next_reserve_pass_ = INT64_MIN;
  bool replan_ = false;  // a node went down: plan every reservation again
  TickSource* ticks_ = nullptr;
  CycleStats cycle_stats_;
  bool cut_short_ = false;
  // Counts a start against max_starts_per_cycle; true once the budget is spent (the scan stops).
  bool CountStart(Scan& s) const;
};

}  // namespace awan
