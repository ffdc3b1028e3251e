// A generator of multi-region workloads for a fleet file: each tenant of the fleet gets datasets that follow
// its data defaults (a dataset under its own rule and a public corpus), and a stream of jobs with diurnal
// arrivals in its users' local time: training gangs that write checkpoints, fine-tunes that read them (so
// checkpoints inherit their inputs' rules), single-GPU experiments and fractional-GPU inference workers
// near their users. The offered load (GPU-time / (GPUs x span)) is set by `load`; each tenant's share of
// demand is proportional to its guaranteed GPUs. Deterministic for a seed.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "config/fleet_file.h"
#include "config/workload_file.h"

namespace awan::sim {

struct RegionalWorkloadOptions {
  uint64_t seed = 1;
  int days = 7;
  double load = 0.9;
  // Time limits as users give them (0: none): each job asks for the smallest round value (15 and 30 min;
  // 1, 2, 4, 8, 12, 24, 48 and 72 h; 7 and 14 days) of at least its run time x f, f log-uniform in
  // [1, time_limit_factor]. Drawn from a stream of their own: the jobs are the same with or without.
  double time_limit_factor = 0;
};

StatusOr<config::WorkloadFile> GenerateRegionalWorkload(const config::FleetFile& fleet,
                                                        const RegionalWorkloadOptions& o);

}  // namespace awan::sim
