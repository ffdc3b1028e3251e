// GpuClusteringScore (FGD paper's "GpuClustering"): put GPU pods of the same width together. The pod's
// tag is "share" for a fractional pod or its whole-GPU count; A = the distinct tags already on the node.
//   base = 25 * (8000 - GL) / 8000   (integer; 8000 fixed, so fuller and smaller nodes score higher)
//   tag in A, |A| == 1 -> base + 75;  tag in A, |A| > 1 -> base + 50;  A empty -> base + 25;  else base
// CPU-only pods score 0 everywhere (the tie rank decides). Clamped to [0, 100] for nodes over 8 GPUs.
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class GpuClusteringScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "GpuClusteringScore"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
};

}  // namespace awan::policies
