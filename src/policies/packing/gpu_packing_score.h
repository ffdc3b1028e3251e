// GpuPackingScore (FGD paper's "GpuPacking"): prefer partly used GPUs, then partly used nodes, then empty
// nodes with few GPUs. For a GPU pod on node n (F fully free devices of g):
//   F == g (node idle)             -> 33 - g
//   else take the first gpu_count devices in ascending-left order that fit; u of them fully free:
//     u > 0                        -> max(50 - u, 33)
//     u == 0                       -> max(100 - s/10, 50), s = sum(left*100/1000) over the taken devices
// CPU-only pods score 0 everywhere (the tie rank decides).
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class GpuPackingScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "GpuPackingScore"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
};

}  // namespace awan::policies
