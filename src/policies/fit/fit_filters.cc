#include "policies/fit/fit_filters.h"

namespace awan::policies {

FitReason NodeResourcesFit::Filter(const PodSpec& pod, const NodeState& node) const {
  if (node.unavailable) return FitReason::kNodeUnavailable;
  if (node.pods + 1 > node.max_pods) return FitReason::kTooManyPods;
  if (node.cpu_left < pod.cpu) return FitReason::kInsufficientCpu;
  if (node.mem_left < pod.memory) return FitReason::kInsufficientMemory;
  return FitReason::kFits;
}

FitReason GpuFit::Filter(const PodSpec& pod, const NodeState& node) const {
  if (!pod.wants_gpu()) return FitReason::kFits;
  if (node.gpu_count == 0) return FitReason::kNoGpu;
  if (!ModelAccessible(pod.allowed_models, node.model)) return FitReason::kGpuModelMismatch;
  if (node.DevicesWithAtLeast(static_cast<int32_t>(pod.gpu_milli.value)) < pod.gpu_count) {
    return FitReason::kInsufficientGpu;
  }
  return FitReason::kFits;
}

}  // namespace awan::policies
