// JobSpec: a unit of work that arrives over time and runs to completion: `tasks` tasks of `gpus_per_task`
// GPUs each, placed all or nothing (a gang when tasks > 1), for `duration` seconds of run time once all of
// them run. Times are integer seconds relative to the trace's start; the simulator's clock uses the same
// unit. The duration is what the trace recorded: only oracle orderings (sjf, srtf) may read it; the time
// limit, when there is one, anyone may.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/strong_types.h"
#include "model/topology.h"
#include "model/workload.h"

namespace awan {

inline constexpr int kMaxJobPriority = 1000000;

struct JobSpec {
  std::string name;
  std::string tenant;      // Philly: the virtual cluster
  int64_t submit_s = 0;    // seconds since the trace's first submission
  int64_t duration_s = 0;  // run time with every task running (the trace's truth)
  int tasks = 1;
  PodSpec task;  // what one task asks for (CPU, memory, GPUs per task, models)
  // The widest topology domain the gang may span ("all tasks in one supernode" = kSupernode); the placer
  // always tries tighter domains first, so a wider level is a preference for locality, not a requirement.
  TopologyLevel widest = TopologyLevel::kZone;
  // Data the job reads and writes (datasets, models, checkpoints by name): where it may run follows from them
  // (core/residency.h). Empty: the tenant's defaults apply.
  std::vector<std::string> reads, writes;
  std::string user_location;  // where its users are ("" = nowhere in particular), for latency
  // Its priority within its tenant: higher goes first among the tenant's waiting jobs (the tenant's own
  // priority ranks tenants; this never lets a job pass another tenant's).
  int priority = 0;  // in [-kMaxJobPriority, kMaxJobPriority]
  // The run time after which a run of the job is killed, as the user asked (Slurm's --time); 0 = none.
  // Something the user said, not the truth: orderings that estimate run times may read it as an upper bound.
  int64_t time_limit_s = 0;

  int64_t total_gpus() const { return static_cast<int64_t>(tasks) * task.gpu_count; }
};

}  // namespace awan
