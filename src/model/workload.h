// PodSpec: what one schedulable unit (a pod, or one task of a gang) asks for. GPU requests are per
// device: `gpu_count` devices with `gpu_milli` each. A fractional ("share") request has gpu_count == 1 and
// gpu_milli < 1000; whole-GPU requests have gpu_milli == 1000.
#pragma once

#include <string>

#include "common/strong_types.h"
#include "model/accelerator.h"

namespace awan {

struct PodSpec {
  std::string name;
  CpuMilli cpu;
  MemMiB memory;
  int gpu_count = 0;
  GpuMilli gpu_milli;             // per device; 0 when gpu_count == 0
  AcceleratorSet allowed_models;  // empty = any model
  std::string model_constraint;   // the constraint as written in the source ("V100M16|V100M32"), or ""
  // Runs until it is stopped, not to an end of its own (a service's replica): no backfill reservation counts
  // on the GPUs it holds (JobScheduler::PlanReservation).
  bool long_running = false;

  bool wants_gpu() const { return gpu_count > 0 && gpu_milli.value > 0; }
  bool is_share() const { return gpu_count == 1 && gpu_milli < kWholeGpu && gpu_milli.value > 0; }
  // Total GPU request in milli (gpu_count x gpu_milli).
  GpuMilli total_gpu() const { return gpu_milli * gpu_count; }
};

}  // namespace awan
