// JobScheduler: the scheduling cycle for jobs that arrive, wait, run and finish, as the simulator and
// the server (ControlPlane) drive it. Pure: no I/O, no clock (times are passed in), no threads. The caller
// reports events (Submit, Finish, NodeDown, NodeUp) and calls Cycle(now); the scheduler commits placements to
// the snapshot and reports the runs it started (TakeStarted). The cycle's stages:
//   1. order     pending jobs by tenant priority, then the QueueOrder's key (computed when a job joins)
//   2. admit     the tenant's quota: within its guarantee, or borrowing idle quota of its cohort (not when
//                isolated), within its borrowing limit and the lenders' lending limits; with fair share on,
//                jobs that would borrow go after the others, the tenant with the smallest fair share first:
//                its dominant share (the largest of its GPU, CPU and memory shares of the fleet), now and
//                decayed over time with a half-life, per unit of weight
//   3. place     the gang all or nothing, tightest topology domain first (GangPlacer)
//   4. backfill  a job that cannot start does not block the ones behind it (at most backfill_window blocked
//                jobs are examined per cycle; past that, each tenant still gets its share of the window,
//                backfill_window / tenants, so no tenant's backlog hides another tenant's job that fits)
//   5. preempt   for the first jobs that still cannot start: stop running jobs that borrow quota the waiting
//                job's tenant is guaranteed (any ordering), or jobs a preemptive ordering now puts after it;
//                whole gangs, least lost work first, for a waiting gang those inside one supernode (else
//                block); never before min_run_s nor before the run's first checkpoint (so no loops); undone
//                if the waiting job still would not fit
// A gang whose tightest common domain is wider than a supernode runs slower by the level's factor. A stopped
// job keeps the work of its last checkpoint and pays restart_s when it runs again.
//
// Residency (core/residency.h) confines stages 3 and 5 and every requeue: each job carries the regions its
// data allows; placement tries those regions one at a time, best first by the region objective (price per
// GPU-hour plus a weight per ms of latency to the job's data and users), and starts the job now in the first
// allowed region that holds it (queueing delay first, then the objective). The Framework's filter rejects
// every node outside the job's allowed regions (FitReason kResidency), and Start re-checks each placement.
//
// Not thread-safe. Borrows the fleet, snapshot, framework and ordering, which must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <tuple>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "core/framework.h"
#include "core/gang.h"
#include "core/queue_order.h"
#include "core/residency.h"
#include "core/snapshot.h"
#include "model/job.h"
#include "model/tenant.h"

namespace awan {

struct SchedulerOptions {
  bool isolated = false;       // each tenant on its own guarantee: no borrowing
  bool topology_aware = true;  // false: gangs and victims placed topology-blind (for comparison)
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
};

// Why a job could not start when the cycle looked at it.
enum class WaitReason : int {
  kQueue = 0,  // behind other jobs: the cycle filled the fleet (or its backfill window) before reaching it
  kCapacity,   // fewer free GPUs in the fleet than it needs
  kQuota,      // its tenant's guarantee (and what it may borrow) is used up
  kFragmentation,  // enough free GPUs in total, but no node holds a task of it
  kTopology,       // enough free GPUs and nodes, but no allowed topology domain holds the whole gang
  kResidency,      // enough room in the fleet, but not in the regions where its data may be processed
  kCount
};
inline constexpr int kWaitReasons = static_cast<int>(WaitReason::kCount);
// "queue", "capacity", "quota", "fragmentation", "topology", "residency"
const char* WaitReasonName(WaitReason r);

// One job as the scheduler sees it, and what happened to it.
struct JobRecord {
  const JobSpec* spec = nullptr;
  int tenant = 0;
  int64_t submit_s = 0;
  int64_t gpus = 0;
  // Outcome.
  int64_t first_start_s = -1, end_s = -1;
  int level = -1;  // TopologyLevel of a gang's last placement; -1 for a single task
  int preemptions = 0, failure_requeues = 0;
  int64_t gpu_s = 0;    // GPU-seconds held, over all runs (set when it finishes)
  double cost_usd = 0;  // GPU-hours x the nodes' prices, fractional GPUs pro rata, over all ended runs
  std::array<int64_t, kWaitReasons> waited_s{};
  // Run state. Work is counted in seconds at full speed; a run at factor f needs work x f seconds.
  double work_left = 0;
  int64_t started = -1, overhead = 0, expected_end_s = -1;
  double factor = 1.0;
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

class JobScheduler {
 public:
  JobScheduler(const Fleet& fleet, ClusterSnapshot& snap, Framework& framework, QueueOrder& order,
               SchedulerOptions options);

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
  Status Cycle(int64_t now);
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
  };
  std::vector<RunStopped> TakeStopped();

  // For counterfactuals (`awan explain`): a copy of the whole state onto a copy of the snapshot, a framework
  // and a copy of the ordering (QueueOrder::Clone); then change one input and try the job alone.
  std::unique_ptr<JobScheduler> Clone(ClusterSnapshot& snap, Framework& framework, QueueOrder& order) const;
  void SetResidency(size_t job, JobResidency residency);
  void SetTenant(int tenant, TenantSpec spec);
  // REQUIRES: the job waits; spec outlives the scheduler.
  void ReplaceSpec(size_t job, const JobSpec& spec);
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
  bool has_pending() const { return !pending_.empty(); }
  size_t pending_count() const { return pending_.size(); }
  int64_t preemptions() const { return preemptions_; }
  int64_t failure_requeues() const { return failure_requeues_; }

 private:
  using PendingKey = std::tuple<double, int64_t, size_t>;
  bool Admit(int t, int64_t need) const;
  QueuedJob View(size_t i, int64_t now) const;
  double QueueKey(size_t i) const;
  PendingKey PendingEntry(size_t i) const;
  void Enqueue(size_t i);
  double DominantShare(size_t t) const;
  double Share(size_t t) const;
  void Use(size_t job, int sign);
  void Account(size_t i, int64_t now, int reason);
  JobScheduler(const JobScheduler&) = default;
  Status Start(size_t i, int64_t now, GangPlacement g);
  void OrderRegions(size_t i);
  StatusOr<std::optional<GangPlacement>> PlaceInRegions(size_t i);
  bool NodeAllowed(size_t i, NodeIndex n) const { return residency_[i].Allows(fleet_->region_of(n)); }
  double RunCost(size_t i, int64_t now) const;
  void Stop(size_t i, int64_t now, bool node_failed);
  bool Preemptible(size_t b, double b_key, size_t v, int64_t now) const;
  double LostWork(size_t v, int64_t now) const;
  StatusOr<std::optional<WaitReason>> TryStart(size_t i, int64_t now);
  StatusOr<bool> TryPreempt(size_t b, double b_key, int64_t now);

  const Fleet* fleet_;
  ClusterSnapshot* snap_;
  Framework* fw_;
  QueueOrder* order_;
  SchedulerOptions o_;
  GangPlacer gangs_;
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
  std::vector<std::vector<uint8_t>> region_nodes_;  // by region: node i in it
  std::vector<double> running_key_;
  std::vector<double> queue_key_;  // by job: the key it joined the pending set with
  std::set<PendingKey> pending_;
  std::vector<std::set<PendingKey>> pending_of_;  // by tenant: the same entries, for the window's fair share
  void AddPending(const PendingKey& k);
  void ErasePending(PendingKey k);  // by value: callers pass references into the set it erases from
  std::set<size_t> running_;
  std::vector<RunStarted> started_;
  std::vector<RunStopped> stopped_;
  int64_t next_preempt_pass_ = INT64_MIN;
  int64_t preemptions_ = 0, failure_requeues_ = 0;
};

}  // namespace awan
