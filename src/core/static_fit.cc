#include "core/static_fit.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace awan {

const char* StaticBlockerName(StaticBlocker b) {
  switch (b) {
    case StaticBlocker::kNone:
      return "none";
    case StaticBlocker::kAccelerator:
      return "accelerator";
    case StaticBlocker::kGpus:
      return "gpus";
    case StaticBlocker::kCpu:
      return "cpu";
    case StaticBlocker::kMemory:
      return "memory";
    case StaticBlocker::kGangSize:
      return "gang-size";
  }
  return "?";
}

namespace {

// How many tasks of `pod` fit on an empty node `n` (0 if none).
int64_t TasksPerNode(const NodeSpec& n, const PodSpec& pod) {
  int64_t k = std::min<int64_t>(n.max_pods, std::numeric_limits<int32_t>::max());
  if (pod.wants_gpu()) {
    if (!pod.allowed_models.Allows(n.model) || n.model == kNoAccelerator) return 0;
    if (pod.gpu_milli < kWholeGpu) {
      k = std::min<int64_t>(k, static_cast<int64_t>(n.gpu_count) *
                                   (kWholeGpu.value / std::max<int64_t>(1, pod.gpu_milli.value)));
    } else {
      k = std::min<int64_t>(k, n.gpu_count / std::max(1, pod.gpu_count));
    }
  }
  if (pod.cpu.value > 0) k = std::min<int64_t>(k, n.cpu.value / pod.cpu.value);
  if (pod.memory.value > 0) k = std::min<int64_t>(k, n.memory.value / pod.memory.value);
  return std::max<int64_t>(k, 0);
}

}  // namespace

StaticFit CheckStaticFit(const Fleet& fleet, const JobSpec& job, const JobResidency& residency) {
  const PodSpec& pod = job.task;
  int64_t capacity = 0;  // tasks the allowed nodes hold at once
  bool model_here = false, model_elsewhere = false;
  int most_gpus = 0;                   // among allowed nodes of an allowed model
  int64_t most_cpu = 0, most_mem = 0;  // among allowed nodes with enough GPUs
  for (uint32_t i = 0; i < fleet.size(); ++i) {
    const NodeIndex idx(i);
    const NodeSpec& n = fleet.node(idx);
    const bool model_ok =
        !pod.wants_gpu() || (n.model != kNoAccelerator && pod.allowed_models.Allows(n.model));
    if (!residency.Allows(fleet.region_of(idx))) {
      model_elsewhere = model_elsewhere || model_ok;
      continue;
    }
    if (!model_ok) continue;
    model_here = true;
    most_gpus = std::max(most_gpus, n.gpu_count);
    const bool gpus_ok =
        !pod.wants_gpu() || (pod.gpu_milli < kWholeGpu ? n.gpu_count >= 1 : n.gpu_count >= pod.gpu_count);
    if (!gpus_ok) continue;
    most_cpu = std::max(most_cpu, n.cpu.value);
    if (n.cpu.value < pod.cpu.value) continue;
    most_mem = std::max(most_mem, n.memory.value);
    capacity += TasksPerNode(n, pod);
  }
  StaticFit out;
  const std::string accel = pod.model_constraint.empty() ? "any accelerator" : pod.model_constraint;
  if (!model_here) {
    out.blocker = StaticBlocker::kAccelerator;
    out.detail = model_elsewhere ? "no node with " + accel +
                                       " in the regions this job's data may be processed in (it "
                                       "exists only outside them)"
                                 : "no node with " + accel + " in the fleet";
  } else if (pod.wants_gpu() && pod.gpu_milli >= kWholeGpu && most_gpus < pod.gpu_count) {
    out.blocker = StaticBlocker::kGpus;
    out.detail = "a task asks " + std::to_string(pod.gpu_count) + " GPUs; the largest allowed node has " +
                 std::to_string(most_gpus);
  } else if (most_cpu < pod.cpu.value) {
    out.blocker = StaticBlocker::kCpu;
    char buf[96];
    std::snprintf(buf, sizeof buf, "a task asks %g cores; the largest allowed node has %g",
                  pod.cpu.value / 1000.0, most_cpu / 1000.0);
    out.detail = buf;
  } else if (capacity == 0) {
    out.blocker = StaticBlocker::kMemory;
    out.detail = "a task asks " + std::to_string(pod.memory.value / 1024) +
                 " GiB of memory; the largest allowed node has " + std::to_string(most_mem / 1024);
  } else if (capacity < job.tasks) {
    out.blocker = StaticBlocker::kGangSize;
    out.detail = "the gang has " + std::to_string(job.tasks) +
                 " tasks; the allowed nodes, empty, hold at most " + std::to_string(capacity) + " of them";
  }
  return out;
}

}  // namespace awan
