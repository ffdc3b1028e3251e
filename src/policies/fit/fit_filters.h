// The two feasibility filters every built-in policy uses.
//   NodeResourcesFit: node available, a pod slot, CPU and memory left (Kubernetes' NodeResourcesFit).
//   GpuFit: accelerator model allowed, and enough devices with enough left: `gpu_count` devices with at
//           least `gpu_milli` each (for whole GPUs that means fully free devices). Open-Gpu-Share semantics.
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class NodeResourcesFit final : public FilterPlugin {
 public:
  std::string_view name() const override { return "NodeResourcesFit"; }
  FitReason Filter(const PodSpec& pod, const NodeState& node) const override {
    if (node.unavailable) return FitReason::kNodeUnavailable;
    if (node.pods + 1 > node.max_pods) return FitReason::kTooManyPods;
    if (node.cpu_left < pod.cpu) return FitReason::kInsufficientCpu;
    if (node.mem_left < pod.memory) return FitReason::kInsufficientMemory;
    return FitReason::kFits;
  }
  void FilterRange(const PodSpec& pod, const ClusterSnapshot& snap, uint32_t first,
                   std::span<FitReason> reasons) const override {
    FilterEach(*this, pod, snap, first, reasons);
  }
};

class GpuFit final : public FilterPlugin {
 public:
  std::string_view name() const override { return "GpuFit"; }
  FitReason Filter(const PodSpec& pod, const NodeState& node) const override;
  void FilterRange(const PodSpec& pod, const ClusterSnapshot& snap, uint32_t first,
                   std::span<FitReason> reasons) const override {
    if (!pod.wants_gpu()) return;  // CPU-only pods pass every node
    FilterEach(*this, pod, snap, first, reasons);
  }
};

// True if the node's accelerator model may serve the pod's GPU request (the rule GpuFit applies, shared
// with FGD's fragmentation measure): no constraint -> yes; a node without a model -> no; else membership.
inline bool ModelAccessible(const AcceleratorSet& allowed, AcceleratorId node_model) {
  if (allowed.any_model()) return true;
  if (node_model == kNoAccelerator) return false;
  return allowed.Allows(node_model);
}

}  // namespace awan::policies
