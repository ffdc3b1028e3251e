// `awan sim jobs`: a discrete-event simulation of jobs that arrive, wait, run and finish on a fleet. The
// scheduling itself is the core's (a core::SchedulerState: the JobScheduler's named stages, quotas, fair
// share, gangs on the topology tree, bounded preemption, reservations, wait reasons), built exactly as the
// server builds its own; this file only turns a job table into events (submit, finish, node down and up, a
// periodic cycle while jobs wait), feeds them to the scheduler, and measures the outcome. The runtime model
// of a simulated run (work left, the topology slowdown, checkpoints) is still kept in the core's JobRecord.
//
// Deterministic: no clock (except the optional benchmark timing), no randomness. Times are integer seconds.
#pragma once

#include <array>
#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/tick_source.h"
#include "config/fleet_file.h"
#include "config/workload_file.h"
#include "core/explain.h"
#include "core/job_scheduler.h"
#include "core/residency.h"
#include "core/scheduler_state.h"
#include "model/job.h"
#include "sim/fault_injector.h"

namespace awan::sim {

// A node going down (its jobs are stopped and requeue, losing the work since their last checkpoint) or
// coming back.
struct NodeEvent {
  int64_t at_s = 0;
  uint32_t node = 0;  // node index in the fleet
  bool down = true;
};

struct JobsSimOptions {
  // A QueueOrder name, or `cheapest-unaware`: the baseline that ignores residency and places by price alone
  // (the awan ordering, region objective price only, no latency).
  std::string policy = "awan";
  std::string placement = "bestfit";  // the placement profile each task goes through
  double target_load = 0;             // > 0: rescale submit times to this offered load
  // The scheduler's options (core/job_scheduler.h): quotas, topology, preemption costs, backfill and
  // reservations, fair share, the region objective. Preemption costs are the same for every policy.
  SchedulerOptions scheduler;
  int64_t cycle_period_s = 300;        // while jobs wait, the cycle also runs this often (0 = on events only)
  int64_t sample_s = 3600;             // timeline resolution
  std::vector<NodeEvent> node_events;  // at simulated times (after --target-load rescaling), any order
  // Nodes that break (sim/fault_injector.h): null for none.
  const FaultInjectionOptions* faults = nullptr;
  // Residency: with a catalog every job runs only where all its data may be processed (core/residency.h).
  // ignore_residency (set by the cheapest-unaware baseline, or to measure the price of sovereignty) lets the
  // scheduler place anywhere; violations are counted against the catalog either way.
  const DataCatalog* catalog = nullptr;
  bool ignore_residency = false;
  // Called for every run the scheduler starts, with the rules that allowed it (for the audit log).
  std::function<Status(const RunStarted& run, const JobSpec& job, const JobResidency& rules)> on_start;
  // Measurements only (they never influence a decision): with ticks, the scheduler's stage timings; with
  // both, the wall time of every scheduling cycle that had jobs waiting is appended to cycle_ns.
  TickSource* ticks = nullptr;
  std::vector<int64_t>* cycle_ns = nullptr;
  // With ticks and cycle_ns: the time of each of those cycles by stage (same order as cycle_ns).
  std::vector<std::array<int64_t, kCycleStages>>* cycle_stage_ns = nullptr;
  // With ticks and cycle_ns: the simulated time of each of those cycles (same order as cycle_ns).
  std::vector<int64_t>* cycle_at_s = nullptr;
};

// Wait reasons are the core's (core/job_scheduler.h).
using ::awan::kWaitReasons;
using ::awan::WaitReason;
using ::awan::WaitReasonName;

struct JobOutcome {
  int64_t submit_s = 0, start_s = -1, end_s = -1, duration_s = 0;  // start/end -1: never ran
  int64_t gpus = 0;
  int tasks = 1;
  int tenant = 0;
  int level =
      -1;  // TopologyLevel of a gang's (last) placement (3 supernode, 2 block, 1 zone); -1 single task
  bool bound = false;        // its data binds it to fewer regions than the fleet has
  int preemptions = 0;       // stopped by the scheduler
  int failure_requeues = 0;  // stopped because a node it ran on went down
  int64_t gpu_s = 0;         // GPU-seconds it held GPUs, over all its runs
  double cost_usd = 0;
  // Seconds it waited, by the reason the cycle last gave (time until the next look goes to that reason).
  std::array<int64_t, kWaitReasons> waited_s{};
};

struct TenantSummary {
  std::string tenant;
  int64_t jobs = 0;
  double avg_jct_s = 0;
  double cost_usd = 0;
};

struct JobsSummary {
  std::string policy;
  bool oracle = false;
  bool isolated = false;
  double offered_load = 0;  // after rescaling
  int64_t jobs = 0, finished = 0;
  // avg_queue_s: all the time a job did not run (before its first start and after preemptions).
  double avg_jct_s = 0, p50_jct_s = 0, p99_jct_s = 0, avg_queue_s = 0, avg_slowdown = 0, p99_slowdown = 0;
  int max_preemptions_per_job = 0;
  // Gangs (multi-task jobs) whose data binds them to fewer regions than the fleet has: how many finished,
  // and the p99 of their wait before their first start.
  int64_t bound_gangs = 0;
  double bound_gang_p99_wait_s = 0;
  CycleStats cycle_stats;  // the scheduler's stage timings (wall time, with JobsSimOptions::ticks)
  double makespan_s = 0, gpu_util_pct = 0;
  int64_t preemptions = 0;
  int64_t failure_requeues = 0;
  double gang_locality_supernode = 0, gang_locality_block = 0;  // share of multi-node GPU-hours
  int64_t gangs = 0;                                            // multi-node jobs that finished
  double gang_avg_jct_s = 0;         // their average JCT (what topology-aware placement is for)
  double jain_fairness = 0;          // Jain's index over tenants' average slowdown
  double cost_usd = 0;               // GPU-hours x regional prices (fractional GPUs pro rata), all runs
  int64_t residency_violations = 0;  // runs placed where the catalog's rules forbid (0 unless ignored)
  std::array<double, kWaitReasons> waited_s{};  // job-seconds of waiting, by reason, over all jobs
  std::vector<TenantSummary> tenants;
};

// The fleet over time, sampled after the cycle at most once per JobsSimOptions::sample_s.
struct TimelineSample {
  int64_t t_s = 0;
  int64_t pending = 0;  // jobs waiting
  int64_t gpus_in_use = 0;
  int64_t gpus_capacity = 0;  // the fleet's GPUs in service (devices taken out of service leave it)
};

struct JobsSimResult {
  JobsSummary summary;
  std::optional<FaultInjectionStats> faults;  // with JobsSimOptions::faults
  std::vector<TimelineSample> timeline;
  std::vector<JobOutcome> jobs;  // in input order
  std::vector<std::string> tenant_names;
};

// A workload file read against a fleet: its jobs, the tenant spec of every tenant they name (the fleet
// file's, or its default tenant), and the data catalog resolved from its datasets and the jobs' data.
struct LoadedWorkload {
  config::WorkloadFile file;
  std::map<std::string, TenantSpec> tenants;
  DataCatalog catalog;
};
StatusOr<LoadedWorkload> LoadWorkload(const config::FleetFile& fleet, const std::string& path);

// The q-quantile (0..1) of `v`, nearest rank; 0 when empty.
double Percentile(std::vector<double> v, double q);

// The offered load of `jobs` on `gpus` GPUs: GPU-seconds requested / (GPUs x submit span).
double OfferedLoad(const std::vector<JobSpec>& jobs, int64_t gpus);

// The simulation, stepwise: RunUntil processes every event up to a time, so that `awan explain` can stop at
// an instant and question the scheduler's state there.
class JobsSimulation {
 public:
  static StatusOr<std::unique_ptr<JobsSimulation>> Create(const config::FleetFile& fleet,
                                                          const std::vector<JobSpec>& jobs,
                                                          const JobsSimOptions& options);
  // Processes every event at times <= t_s, each instant followed by one scheduling cycle.
  Status RunUntil(int64_t t_s, std::atomic<int64_t>* progress = nullptr);
  bool done() const;
  JobsSimResult Result() const;  // what happened so far

  JobScheduler& scheduler() { return state_->scheduler(); }
  const JobScheduler& scheduler() const { return state_->scheduler(); }
  ClusterSnapshot& snapshot() { return state_->snapshot(); }
  Framework& framework() { return state_->framework(); }
  QueueOrder& order() { return state_->order(); }
  const SchedulerState& state() const { return *state_; }
  // Placement prefers nodes that hold a pod's image or weights (SchedulerState::PreferWarmNodes).
  Status PreferWarmNodes(const NodeImages* images) { return state_->PreferWarmNodes(images); }
  const config::FleetFile& fleet_file() const { return *file_; }
  const std::vector<JobSpec>& jobs() const { return *jobs_; }
  const std::vector<std::string>& tenant_names() const { return tenant_names_; }
  const JobsSimOptions& options() const { return o_; }
  // The rules as the catalog says (whether or not the scheduler was told to obey them).
  const JobResidency& true_residency(size_t i) const { return true_res_[i]; }
  int64_t now() const { return now_; }

  // A deep copy of the scheduling state (snapshot, framework, ordering, scheduler) for counterfactuals.
  StatusOr<std::unique_ptr<SchedulerState>> Clone() const { return state_->Clone(); }

  // Work added while the simulation runs: the replicas of services, which the serving simulator
  // (sim/serve_sim.h) submits and cancels as its autoscaler decides, so that they share the one scheduler
  // (quotas, priorities, preemption of batch work, residency) with the jobs. Added jobs are not in Result();
  // their starts and stops are reported by TakeAddedRuns, not on_start.
  int AddTenant(TenantSpec t);
  // Submits `spec` (kept by the simulation) for `tenant` at `at_s` >= now(); its index in the scheduler.
  StatusOr<size_t> AddJob(JobSpec spec, int tenant, JobResidency rules, int64_t at_s);
  // Cancels an added job at `at_s` >= now() (run RunUntil(at_s) first): its GPUs are free for the cycle
  // that runs at `at_s`.
  Status CancelJob(size_t job, int64_t at_s);
  struct AddedRun {
    bool started = true;  // false: stopped (preempted, or its node failed); it waits again
    size_t job = 0;
    int64_t at_s = 0;
    std::vector<Placement> tasks;  // where it started
  };
  std::vector<AddedRun> TakeAddedRuns() { return std::exchange(added_runs_, {}); }
  bool is_added(size_t job) const { return job >= jobs_->size(); }
  const JobSpec& spec(size_t job) const {
    return is_added(job) ? added_[job - jobs_->size()] : (*jobs_)[job];
  }

 private:
  JobsSimulation() = default;
  int64_t NextEvent() const;
  Status CollectStarts();

  struct Finish {
    int64_t at;
    size_t job;
    uint32_t id;
    bool operator>(const Finish& f) const { return std::tie(at, job) > std::tie(f.at, f.job); }
  };
  const config::FleetFile* file_ = nullptr;
  const std::vector<JobSpec>* jobs_ = nullptr;
  JobsSimOptions o_;
  std::unique_ptr<SchedulerState> state_;
  std::vector<std::string> tenant_names_;
  std::vector<JobResidency> true_res_;
  std::vector<size_t> by_submit_;
  std::vector<NodeEvent> node_events_;
  std::priority_queue<Finish, std::vector<Finish>, std::greater<>> finishes_;
  size_t next_submit_ = 0, next_node_event_ = 0;
  int64_t next_tick_ = INT64_MAX, now_ = INT64_MIN;
  std::deque<JobSpec> added_;  // specs of added jobs (stable addresses: the scheduler keeps pointers)
  std::priority_queue<std::pair<int64_t, size_t>, std::vector<std::pair<int64_t, size_t>>, std::greater<>>
      late_;  // (submit time, job) of added jobs not yet submitted
  std::vector<AddedRun> added_runs_;
  std::set<size_t> dropped_;  // added jobs cancelled before their submit time
  double offered_load_ = 0;
  int64_t violations_ = 0;
  std::vector<TimelineSample> timeline_;
  std::unique_ptr<FaultInjector> injector_;
};

StatusOr<JobsSimResult> RunJobsSim(const config::FleetFile& fleet, const std::vector<JobSpec>& jobs,
                                   const JobsSimOptions& options, std::atomic<int64_t>* progress = nullptr);

// What `awan explain` needs of a simulation stopped at an instant (core/explain.h).
ExplainSource SourceOf(const JobsSimulation& sim);

}  // namespace awan::sim
