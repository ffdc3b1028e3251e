// RunModel: what a job's run is expected to take and what stopping it loses, with the per-job state of runs
// (work left, the speed of the current run, its restart overhead). The JobScheduler asks it when a run
// starts or stops and when it weighs a preemption; the model decides nothing. The simulator takes its ends as
// the truth (a simulated run ends when the model says); the server as an estimate (a real task ends when it
// exits), so both run the same scheduling code on the same model.
//
// The model: work is counted in seconds at full speed (a job's duration_s); a gang whose tightest common
// domain is wider than a supernode runs slower by its level's factor; a run after a stop first pays
// restart_s; a stop keeps the work of the last whole checkpoint_s period of the run (all of it with
// checkpoint_s = 0), and at least one second of work is always left.
//
// Thread-compatible; a copy is independent (clones for counterfactuals copy it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace awan {

struct RunModelOptions {
  double slowdown_supernode = 1.0, slowdown_block = 1.1, slowdown_zone = 1.3;
  int64_t checkpoint_s = 1800;  // 0 = a stopped job keeps all its work
  int64_t restart_s = 60;
};

class RunModel {
 public:
  explicit RunModel(RunModelOptions o) : o_(o) {}

  // A job with `work_s` seconds of work joins (index = call order).
  void Add(double work_s) { runs_.push_back({work_s, 1.0, 0}); }
  // A run of job i starts: its speed from the gang's TopologyLevel (-1: a single task runs at full speed),
  // the restart overhead if it ran before. Returns the seconds until it ends (at least 1 past the overhead).
  int64_t Start(size_t i, int level, bool restarted);
  // Seconds the current run of job i would take for `work_s` of work (its overhead included): how long the
  // ordering's estimate of the work left lasts at this run's speed.
  int64_t RunSeconds(size_t i, double work_s) const;
  // The current run of job i stops after `ran_s` seconds: the work since its last checkpoint is lost.
  void Stop(size_t i, int64_t ran_s);
  // The work (full-speed seconds) a stop after `ran_s` seconds of the current run would lose.
  double LostWorkS(size_t i, int64_t ran_s) const;
  // Seconds after its start at which the current run of job i saves its first checkpoint.
  int64_t FirstCheckpointS(size_t i) const;
  // What a run pays before any work: restart_s after a stop, else nothing.
  int64_t StartOverheadS(bool restarted) const { return restarted ? o_.restart_s : 0; }
  int64_t restart_s() const { return o_.restart_s; }
  double work_left_s(size_t i) const { return runs_[i].work_left; }

 private:
  struct Run {
    double work_left = 0;  // full-speed seconds
    double factor = 1.0;   // the current run's slowdown
    int64_t overhead = 0;  // the current run's restart overhead
  };
  double Done(size_t i, int64_t ran_s) const;

  RunModelOptions o_;
  std::vector<Run> runs_;
};

}  // namespace awan
