#include "policies/fit/fit_filters.h"

namespace awan::policies {

FitReason GpuFit::Filter(const PodSpec& pod, const NodeState& node) const {
  if (!pod.wants_gpu()) return FitReason::kFits;
  if (node.gpu_count == 0) return FitReason::kNoGpu;
  if (!ModelAccessible(pod.allowed_models, node.model)) return FitReason::kGpuModelMismatch;
  if (!node.HasDevices(pod.gpu_count, static_cast<int32_t>(pod.gpu_milli.value)))
    return FitReason::kInsufficientGpu;
  return FitReason::kFits;
}

}  // namespace awan::policies
