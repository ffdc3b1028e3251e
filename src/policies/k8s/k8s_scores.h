// Kubernetes' default scorers (v1.20 semantics), as a familiar reference. Both look at CPU and memory
// only, as Kubernetes does by default: it does not see GPUs when scoring.
//   LeastAllocated:     mean over {cpu, memory} of (allocatable - requested_after) * 100 / allocatable
//   BalancedAllocation: int((1 - |cpu_fraction - mem_fraction|) * 100), 0 if either fraction >= 1
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class LeastAllocatedScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "LeastAllocated"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
};

class BalancedAllocationScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "BalancedAllocation"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
};

}  // namespace awan::policies
