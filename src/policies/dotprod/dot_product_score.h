// DotProductScore (FGD paper's "DotProd", dimExt "merge", norm "max"): the dot product of the node's free
// [CPU/128 cores, GPU/8 GPUs] and the pod's request, measured before placement; the smaller the better:
//   score = int(100 * (1 - dot / 2)),  dot = (CL/128000)*(c/128000) + (GL/8000)*(R/8000)
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class DotProductScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "DotProductScore"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
};

}  // namespace awan::policies
