// ControlPlane: `awan serve`'s state and logic, without the network: the same core JobScheduler the simulator
// runs, fed from durable state (StateStore) and driving an Executor. The HTTP layer (http_api.h) maps
// requests to these calls; tests call them directly.
//
// Life of a job here: Submit parses the manifest, checks it against the fleet and the caller's tenant, stores
// it (durable before Submit returns) and queues it; Tick polls the executor (tasks that ended), stops runs
// the core preempted, runs one scheduling cycle at the clock's time, launches the tasks of every run the
// cycle started and records the new states. Recover reloads the store after a restart: pending jobs are
// queued again in their original order; a job that was running runs on where it was if the executor can adopt
// every one of its tasks (they kept running while no server watched, or ended meanwhile and are recorded, not
// rerun), and is requeued otherwise, after whatever is left of it has been stopped.
//
// Thread-safe: one lock around everything (the HTTP server's threads and the scheduling thread share it).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "common/clock.h"
#include "common/steady_tick_source.h"
#include "config/fleet_file.h"
#include "config/job_manifest.h"
#include "core/explain.h"
#include "core/framework.h"
#include "core/job_scheduler.h"
#include "core/scheduler_state.h"
#include "diagnosis/actions.h"
#include "diagnosis/catalog.h"
#include "model/service.h"
#include "server/auth.h"
#include "server/executor.h"
#include "server/rate_limit.h"
#include "server/store.h"

namespace awan::server {

class DiagnosisHub;
using NodeAction = diagnosis::Action;

enum class Remediation { kOff, kDryRun, kOn };

// What an operator (or the diagnosis) does to a node: a cordon (no new work; what runs there keeps running),
// a drain (a cordon, and its jobs requeue from their last checkpoint), an uncordon (work again, every GPU
// back in service), a GPU taken out of service (the jobs on it requeue) or put back.
enum class NodeOp { kCordon, kDrain, kUncordon, kGpuUnhealthy, kGpuHealthy };
std::optional<NodeOp> ParseNodeOp(std::string_view s);  // cordon, drain, uncordon, gpu-unhealthy, gpu-healthy
std::string_view Name(NodeOp op);

// A hold on a node, kept in the store (kind "node", by name): a restart keeps it.
struct NodeHold {
  bool cordoned = false;
  uint32_t unhealthy_gpus = 0;  // bit d: device d out of service
  std::string reason, by;       // by: "admin" or "diagnosis <scenario>"
  int64_t since_s = 0;
  bool empty() const { return !cordoned && unhealthy_gpus == 0; }
};

// Where a job would start now, or why it would wait (ControlPlane::DryRun).
struct DryRunResult {
  std::string tenant;
  bool would_start = false;
  struct Task {
    std::string node, devices, region;
  };
  std::vector<Task> tasks;   // where each task would run
  std::string reason;        // why it would wait (a wait reason's name)
  size_t waiting_ahead = 0;  // jobs waiting now (which may take the room first)
};

// A node as the API shows it.
struct NodeStatus {
  std::string name;
  int64_t free_milli = 0;  // GPU milli free for new work (0 when it takes none)
  bool down = false;       // missed its heartbeats
  NodeHold hold;
  std::vector<int32_t> device_free_milli;  // per device (0 for one out of service)
  std::vector<std::string> jobs;           // running there (only those the caller sees)
  bool schedulable() const { return !down && !hold.cordoned; }
};

struct ControlPlaneOptions {
  std::string placement = "bestfit";                   // placement profile
  std::string ordering = "fifo";                       // QueueOrder
  std::string backfill = CyclePolicyNames{}.backfill;  // the stage policies by name (core/cycle_policy.h)
  std::string preemption = "cost-aware";
  int64_t min_run_s = 600;  // SchedulerOptions::min_run_s: no run is preempted before it ran this long
  int64_t checkpoint_s =
      1800;  // SchedulerOptions::checkpoint_s: the checkpoint period runs are assumed to have
  int64_t default_duration_s = 3600;  // the scheduler's estimate for a job with a command and no duration_s
  // A node that has sent a heartbeat and then stays silent this long is marked down: its jobs are stopped and
  // requeued, and it takes no work until it beats again. Nodes that never beat are not watched.
  int64_t heartbeat_timeout_ms = 15000;
  // Automatic actions the diagnosis calls for (issue 19): kOff, kDryRun (the default: each is written to the
  // audit log as what would be done) or kOn (done and audited). Only node-wide actions (cordon, drain, take a
  // GPU's node out) of critical diagnoses whose risk is at most `remediation_max_risk`. A node taken out
  // stays out (heartbeats do not bring it back) until the server restarts.
  Remediation remediation = Remediation::kDryRun;
  diagnosis::Risk remediation_max_risk = diagnosis::Risk::kLow;
  // A job waiting this long tells the diagnosis why (its wait reason, as a scheduler fact).
  int64_t report_waits_after_ms = 60000;
  // Tenants without a uid in the fleet file run their tasks as task_uid_base + a hash of their name (mod
  // kTaskUidRange); two tenants that would share one refuse to start (Create fails naming them).
  int64_t task_uid_base = 100000;
  // Per-tenant limits: waiting jobs (a submit past it answers 429), submits a second (a token bucket of twice
  // that), and expensive reads a second (explain, logs, lists; also a bucket of twice that). 0 = unlimited.
  int64_t max_waiting_per_tenant = 10000;
  double submits_per_s = 200;
  double heavy_reads_per_s = 20;
};
inline constexpr int64_t kTaskUidRange = 50000;
inline constexpr int64_t kMaxLogChunk = 4 << 20;  // bytes of log one request returns at most

struct ControlPlaneStats {
  int64_t cycles = 0, decisions = 0, preemptions = 0, submitted = 0;
  int64_t store_errors = 0;  // failed durable writes (each retried at the next tick)
  std::vector<double>
      cycle_seconds;  // latencies of recent cycles (for the histogram), drained by TakeCycleSeconds
  CycleStats stages;  // the core cycle's time per named stage, cumulative
};

// How a job is submitted besides its manifest: held (sbatch --hold), dependencies that replace the
// manifest's spec.dependency (sbatch --dependency; "" keeps the manifest's), and a priority within its tenant
// that replaces spec.priority (sbatch --priority).
struct SubmitOptions {
  bool hold = false;
  std::string dependency;
  std::optional<int64_t> priority;
  std::optional<int64_t> time_limit_s;  // replaces the manifest's spec.time_limit (sbatch --time)
};

class ControlPlane {
 public:
  static StatusOr<std::unique_ptr<ControlPlane>> Create(std::unique_ptr<config::FleetFile> fleet,
                                                        std::unique_ptr<StateStore> store,
                                                        std::unique_ptr<Executor> exec, Clock& clock,
                                                        ControlPlaneOptions options);
  Status Recover();
  // Failed tasks (their exit and the last lines of their log) and lost heartbeats go to `hub` (may be null;
  // it must outlive this).
  void SetDiagnosisHub(DiagnosisHub* hub) { diagnoses_ = hub; }
  bool ready() const;

  StatusOr<StoredJob> Submit(const Principal& who, std::string_view manifest, std::string_view source,
                             const SubmitOptions& options = {});
  // Holds a waiting job back (scontrol hold: it stays Pending and is not scheduled) or lets it go again
  // (scontrol release). Durable before the answer. FailedPrecondition unless it waits (hold) or is held
  // (release).
  StatusOr<StoredJob> Hold(const Principal& who, const std::string& id);
  StatusOr<StoredJob> Release(const Principal& who, const std::string& id);
  // Sets a job's priority within its tenant (scontrol update priority=): a waiting or held job moves in its
  // tenant's queue at once; a running one keeps it for any later wait (a requeue). Durable before the answer.
  // InvalidArgument outside ±kMaxJobPriority; FailedPrecondition once the job has ended.
  StatusOr<StoredJob> SetPriority(const Principal& who, const std::string& id, int64_t priority);
  // A job array (sbatch --array): the manifest checked once, then one job per index, stored in one durable
  // write with consecutive ids, each named NAME-INDEX with $AWAN_ARRAY_INDEX and $AWAN_ARRAY_COUNT. One
  // submit of the tenant's rate; its waiting limit counts every job.
  StatusOr<std::vector<StoredJob>> SubmitArray(const Principal& who, std::string_view manifest,
                                               std::string_view source, const std::vector<int>& indices,
                                               const SubmitOptions& options = {});
  // The manifest checked as Submit checks it, then tried alone on a copy of the state, now: nothing stored.
  StatusOr<DryRunResult> DryRun(const Principal& who, std::string_view manifest, std::string_view source);
  StatusOr<StoredJob> Get(const Principal& who, const std::string& id);
  StatusOr<std::vector<StoredJob>> List(const Principal& who, JobFilter filter);
  StatusOr<StoredJob> Cancel(const Principal& who, const std::string& id);
  // Stops a running job and queues it again (scontrol requeue): it restarts from its last checkpoint
  // ($AWAN_CHECKPOINT_DIR), audited. FailedPrecondition if it does not run.
  StatusOr<StoredJob> Requeue(const Principal& who, const std::string& id);
  // A window of a task's log (Executor::ReadLog): at most kMaxLogChunk bytes from `offset` (negative: from
  // the end). Read outside the lock; also for jobs that ended before this server started. `run`: 0 = the
  // current (or last) run; k = the k-th of a task that ran more than once.
  StatusOr<Executor::LogChunk> Logs(const Principal& who, const std::string& id, int task, int run = 0,
                                    int64_t offset = 0, int64_t max_bytes = kMaxLogChunk);
  // Why a waiting job waits and what would change it: the simulator's `explain`, on a clone of the live
  // state. The job must be the caller's (NotFound otherwise); FailedPrecondition if it is not waiting.
  StatusOr<PendingExplanation> Explain(const Principal& who, const std::string& id);
  // The audit log: one hash-chained line per placement decision with the rules that allowed it (admins only).
  StatusOr<std::vector<std::string>> Audit(const Principal& who, int64_t after, int limit);
  // Charges one expensive read (explain, logs, a long list) to the caller's tenant: ResourceExhausted (429)
  // once its rate is spent, saying when to retry.
  Status ChargeHeavyRead(const Principal& who);
  Status Tick();
  // A node agent reports that the node is alive (admin tokens only). NotFound for an unknown node.
  Status Heartbeat(const Principal& who, const std::string& node);

  // Read-only views for the API and metrics.
  const config::FleetFile& fleet() const { return *fleet_; }
  StateStore& store() { return *store_; }
  // Each tenant's queue: the ids of its waiting jobs in submission order, and of its running jobs (only the
  // caller's tenant, or every tenant for an admin).
  struct QueueView {
    std::string tenant;
    std::vector<std::string> waiting, running;
  };
  std::vector<QueueView> Queues(const Principal& who) const;
  // Per tenant: jobs waiting, GPUs allocated (milli).
  std::map<std::string, std::pair<int64_t, int64_t>> TenantLoad() const;
  // The queues over time: every kQueueSampleMs a sample of each tenant's waiting jobs and GPUs allocated,
  // the last kQueueSamples kept (an hour), in memory (a restart starts a new history). Only the tenants `who`
  // sees.
  static constexpr int64_t kQueueSampleMs = 10000;
  static constexpr size_t kQueueSamples = 360;
  struct QueueHistory {
    std::vector<int64_t> t_ms;
    struct Series {
      std::string tenant;
      std::vector<int64_t> waiting, gpus_milli;
    };
    std::vector<Series> tenants;
  };
  QueueHistory History(const Principal& who) const;
  // GPU-hours and cost per tenant and region (the region of a job's tasks) of the jobs `who` sees that ran
  // since `since_ms` (ended then or later, or still running: their run so far).
  struct UsageRow {
    std::string tenant, region;
    int64_t jobs = 0, gpu_ms = 0;
    double cost_usd = 0;
  };
  StatusOr<std::vector<UsageRow>> Usage(const Principal& who, int64_t since_ms);
  // The whole audit log checked (admins only): the hash chain, the links, and every placement against the
  // fleet (audit::VerifyAuditLog). OK with the entries and the head; the first problem otherwise.
  StatusOr<audit::VerifyReport> VerifyAudit(const Principal& who);
  int64_t gpus_allocated_milli() const;
  // The last Tick's cycle stopped at the scheduler's start budget: more jobs may start now (the loop ticks
  // again without waiting).
  bool more_to_start() const;
  ControlPlaneStats TakeStats();  // the counters, and the cycle latencies recorded since the last call
  // True once the store refused an audit entry because one with its sequence number exists: another server
  // writes to the same store. The caller must stop serving (awan serve exits).
  bool fenced() const { return fenced_.load(); }
  ControlPlaneStats Counters() const;  // the counters only (no latencies), now
  // The nodes, in fleet order (NodeStatus::jobs only those `who` sees).
  std::vector<NodeStatus> Nodes(const Principal& who) const;
  StatusOr<NodeStatus> Node(const Principal& who, const std::string& node) const;
  // An operator's change to a node (admins only), kept in the store and audited; `gpu` for the GPU ops.
  // NotFound for an unknown node or GPU; the same op twice changes nothing and is not audited twice.
  StatusOr<NodeStatus> ChangeNode(const Principal& who, const std::string& node, NodeOp op, int gpu,
                                  const std::string& reason);
  // Images on nodes, through the executor: whether `node` holds `image`; a background pull of it there.
  bool HasImage(const std::string& node, const std::string& image) const;
  Status Prepull(const std::string& node, const std::string& image);
  // Up nodes with room for a replica of `shape` now (serving::ReplicaSlots), in the regions of the `near`
  // nodes (anywhere when empty), those with the fewest slots first (where best-fit packs a replica, leaving
  // whole free nodes to gangs; as the simulator's forecast prefetch orders them), then by name: where a
  // service's next replica could land.
  struct NodeRoom {
    std::string name;
    int slots = 0;
  };
  std::vector<NodeRoom> NodesWithRoom(const ReplicaShape& shape, const std::vector<std::string>& near) const;

  // Where `job` (its tenant set) may run: its data under its tenant's defaults.
  StatusOr<JobResidency> ResidencyOf(const JobSpec& job, const TenantSpec& tenant) const;

 private:
  struct Live {
    StoredJob row;
    JobSpec spec;  // stable address (deque)
    std::vector<std::string> command;
    std::map<std::string, std::string> env;
    std::map<std::string, std::string> awan_env;  // TaskLaunch::awan_env (a job array's index and count)
    // Not yet in the scheduler's queue: held, or waiting for its dependencies (cleared once they are met).
    bool in_queue = false;
    std::vector<config::Dependency> deps;
    size_t index = 0;  // in the JobScheduler
    int tasks_running = 0;
    uint32_t run_id = 0;
    int64_t time_limit_s = 0;
    std::string workdir;
    std::string image;
    std::string stop_note;  // why its run is being stopped, when the control plane asked (a drain, ...)
    int64_t queued_ms = 0;  // when it last began to wait (submitted, or its run stopped)
  };
  ControlPlane() = default;
  // `parsed`: the row's manifest already parsed (by Submit); null: parse row.manifest (recovery).
  StatusOr<Live*> Enqueue(StoredJob row, bool recovering, const config::JobManifest* parsed = nullptr);
  TaskLaunch LaunchOf(const Live& l, size_t task, const Placement& p) const;
  bool Readopt(Live& l);
  // The Unix (uid, gid) a tenant's tasks run as.
  std::pair<int64_t, int64_t> TaskIdentity(const TenantSpec& t) const;
  StatusOr<Live*> Find(const Principal& who, const std::string& id);
  struct Checked {
    config::JobManifest manifest;  // its job's tenant set
    std::string tenant;
    JobResidency residency;
  };
  StatusOr<Checked> CheckSubmit(const Principal& who, std::string_view text, std::string_view source) const;
  std::string LiveMessage(const Live& l) const;  // under mu_
  // Sets the state in memory and marks the job for the next Flush (one durable write for the batch).
  // `event`: what the job's history records ("" = the state and the message).
  void Save(Live& l, JobState state, const std::string& message, const std::string& event = "");
  // Tick's steps (under mu_).
  Status CheckHeartbeats(int64_t now_s);
  Status CollectEnds(int64_t now_s);
  Status Schedule(int64_t now_s);
  void StopRuns();
  Status LaunchStarted(int64_t now_s);
  Status Flush();
  std::string PlacementJson(size_t index) const;

  mutable std::mutex mu_;
  std::unique_ptr<config::FleetFile> fleet_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Executor> exec_;
  Clock* clock_ = nullptr;
  ControlPlaneOptions o_;
  std::unique_ptr<SchedulerState> state_;
  SteadyTickSource stage_ticks_;     // times the cycle's stages (measurements only)
  ClusterSnapshot* snap_ = nullptr;  // state_'s
  JobScheduler* sched_ = nullptr;    // state_'s
  std::map<std::string, int> tenant_index_;
  std::deque<Live> live_;
  std::map<std::string, size_t> by_id_;  // job id -> live_ index
  bool recovered_ = false;
  std::vector<size_t> dirty_;  // live_ indices to write at the next Flush
  audit::AuditChain audit_;
  std::vector<std::pair<int64_t, std::string>> audit_pending_;  // written with the next Flush
  std::vector<JobResidency> residency_;  // by scheduler index: the rules each job was placed under
  DiagnosisHub* diagnoses_ = nullptr;
  std::set<std::string> remediated_;    // scenario/node already acted on (or logged, in dry-run)
  std::map<uint32_t, NodeHold> holds_;  // node index -> its hold (none: no entry)
  // Applies `op` to node n (under mu_): the hold, the scheduler, the store (with the next Flush), the audit
  // log as `kind` (default: the op's name there; `scenario` "" for an operator's); jobs requeued are audited
  // one by one, before the op. False if nothing changed.
  StatusOr<bool> ApplyNodeOp(uint32_t n, NodeOp op, int gpu, const std::string& by,
                             const std::string& scenario, const std::string& reason, int64_t now_s,
                             std::string kind = "");
  void AuditAction(int64_t now_s, audit::AuditChain::Action a);
  // Requeues a running job from its last checkpoint: audited as `a`, waiting again with `note` as its message
  // (the caller runs StopRuns). `in_core` false: the core requeues it itself (a GPU taken out of service).
  Status RequeueRunning(Live& l, audit::AuditChain::Action a, std::string note, int64_t now_s,
                        bool in_core = true);
  Status LoadHolds();                                               // at Recover, before the jobs
  std::vector<std::pair<std::string, std::string>> holds_pending_;  // (node, JSON or "" to delete) for Flush
  NodeStatus StatusOf(uint32_t n, const Principal& who) const;
  int64_t next_remediation_ms_ = 0;
  // Applies or audits `actions` (the diagnosis's, asked outside mu_ by Tick).
  Status Remediate(int64_t now_s, const std::vector<NodeAction>& actions);
  // Jobs waiting report_waits_after_ms or more tell the diagnosis why (once per job and reason, every 5 s at
  // most).
  void ReportWaits(int64_t now_ms);
  void ReportNodeStates(const std::vector<std::pair<std::string, std::string>>& states);
  std::map<std::string, std::string> node_states_;  // node -> the executor's state last told
  int64_t next_node_states_ms_ = 0;                 // tick thread only
  std::string WaitDetail(const Live& l, WaitReason reason) const;
  std::map<std::string, int> waits_reported_;  // job id -> the wait reason last told
  int64_t next_wait_report_ms_ = 0;
  // What a failed task tells the diagnosis: its exit and the last lines of its output (under mu_).
  void ReportFailure(const Live& l, const TaskExit& e, const std::string& node);
  void ReportPreemption(const Live& victim, const Live& by, const JobScheduler::RunStopped& s);
  std::map<uint32_t, int64_t> last_beat_ms_;  // node index -> last heartbeat
  std::vector<uint8_t> down_;                 // by node index: marked down for a missed heartbeat
  ControlPlaneStats stats_;
  std::atomic<bool> fenced_{false};
  std::map<std::string, int64_t> waiting_;  // tenant -> jobs in state Pending
  std::vector<RunStarted> to_launch_;  // started by the core, launched once their Running state is durable
  // Which nodes hold the images of the jobs waiting for one (refreshed from the executor before each cycle):
  // the view ImageLocality scores with.
  class WarmImages final : public NodeImages {
   public:
    bool Warm(const PodSpec& pod, NodeIndex node) const override;
    std::map<std::string, std::string> image_of;        // pending job id (its pods' name) -> image
    std::map<std::string, std::vector<uint8_t>> nodes;  // image -> by node index: held
  };
  WarmImages images_;
  void RefreshImages();
  std::unique_ptr<RateLimiter> submit_limit_, heavy_limit_;
  std::map<std::string, std::pair<int64_t, int64_t>> TenantLoadLocked() const;
  // Accounting: the current run's GPUs (fractional pro rata) and price per hour, from where its tasks were
  // placed (the core's RunCost formula); Account moves `row` to state `to` at now_ms: a run that stops adds
  // its GPU time and cost, a run that starts is timed, a job that ends gets its end; SoFar: the row with the
  // running run's part counted up to now.
  std::pair<double, double> RunRate(const Live& l) const;
  // Dependencies and holds: the submit's options applied to its manifest (each dependency a job `who` sees);
  // a job's dependencies resolved at each tick: all met, it joins the queue; one never met (afterok on a job
  // that did not succeed), it is cancelled saying which.
  Status ApplyOptions(const Principal& who, const SubmitOptions& o, const std::string& tenant,
                      config::JobManifest* m);
  // What Submit and SubmitArray check before storing `jobs` jobs: write permission, the tenant's submit rate
  // (one charge), the manifest (CheckSubmit), the options, the tenant's waiting limit.
  StatusOr<Checked> Admit(const Principal& who, std::string_view text, std::string_view source,
                          const SubmitOptions& options, int64_t jobs);
  // Stores `jobs` in one durable write (consecutive ids), then queues each (one that can't be queued is
  // stored Failed with the reason).
  StatusOr<std::vector<StoredJob>> StoreAndQueue(const Principal& who, const std::string& tenant,
                                                 const SubmitOptions& options,
                                                 const std::vector<config::JobManifest>& jobs);
  StatusOr<std::optional<JobState>> StateOf(const std::string& id);
  void ResolveDependencies(int64_t now_s);
  std::map<std::string, JobState> ended_;  // jobs that ended, as dependencies saw them (under mu_)
  std::string WaitingFor(const Live& l) const;
  void Account(StoredJob& row, const Live& l, JobState to, int64_t now_ms) const;
  StoredJob SoFar(const Live& l, int64_t now_ms) const;
  // The queue history (under mu_): per sample, its time and per tenant (fleet order) waiting and GPUs
  // (milli).
  struct QueueSample {
    int64_t t_ms = 0;
    std::vector<std::pair<int64_t, int64_t>> tenants;
  };
  std::deque<QueueSample> history_;
  int64_t next_sample_ms_ = 0;
  void SampleQueues(int64_t now_ms);
};

}  // namespace awan::server
