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
};

StatusOr<config::WorkloadFile> GenerateRegionalWorkload(const config::FleetFile& fleet,
                                                        const RegionalWorkloadOptions& o);

}  // namespace awan::sim
