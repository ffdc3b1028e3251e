// QueueOrder: the QueueSort extension point for jobs that wait: which pending job the scheduling cycle tries
// first. A policy turns what it may know about a job into a key; smaller keys go first, ties by submit time,
// then by arrival order. Keys are computed once, when the job joins the queue, from what is known then.
//
// Only oracle policies (reads_true_duration() == true, labelled as such in every output) may read
// `true_duration_s`; every other policy must decide from shape, tenant and history alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace awan {

struct QueuedJob {
  int64_t submit_s = 0;
  int64_t gpus = 0;
  int tasks = 1;
  int tenant = 0;               // dense tenant index
  int64_t attained_gpu_s = 0;   // GPU-seconds of service received so far (all runs, the current one included)
  int64_t true_duration_s = 0;  // oracle policies only
  int64_t now_s = 0;            // when this view was taken
  bool running = false;         // in a run at now_s (the preempt stage weighing it as a victim)
  int64_t time_limit_s = 0;     // the user's limit on each of its runs (JobSpec::time_limit_s); 0 = none
  int64_t run_s = 0;            // seconds into its current run (0 when waiting)
};

class QueueOrder {
 public:
  virtual ~QueueOrder() = default;
  virtual std::string_view name() const = 0;
  // A copy with the same history (for counterfactuals on a cloned scheduler).
  virtual std::unique_ptr<QueueOrder> Clone() const = 0;
  virtual bool reads_true_duration() const { return false; }
  // True if a running job whose key (recomputed with its attained service) is larger than a waiting job's
  // may be preempted for it.
  virtual bool preemptive() const { return false; }
  // REQUIRES: called once per job, when it joins the queue.
  virtual double Key(const QueuedJob& job) = 0;
  // How many more seconds (at full speed) the ordering expects a job that received `attained_gpu_s` to run,
  // from what it may know (an oracle reads the truth); nullopt when it has no estimate. Reservations use it
  // to say when the GPUs of running jobs come free; it never changes a job's key.
  virtual std::optional<double> ExpectedRemainingS(const QueuedJob& job) const {
    (void)job;
    return std::nullopt;
  }
  // A job finished after `run_s` seconds of run time: history any real scheduler has from then on.
  virtual void Finished(const QueuedJob& job, int64_t run_s) { (void)job, (void)run_s; }
  // A run of job `id` (the scheduler's index) starts at `job.now_s`, with `job.attained_gpu_s` received
  // before it; it ends (finished, stopped or cancelled) at RunEnded. Orderings that learn from the runs
  // still going (awan-km) follow them; the others ignore them.
  virtual void RunStarted(size_t id, const QueuedJob& job) { (void)id, (void)job; }
  virtual void RunEnded(size_t id) { (void)id; }
};

}  // namespace awan
