// BestFitScore (FGD paper's "BestFit"): the node left with the least free CPU and GPU after placement:
//   s = (CL - c)/128000 * 0.5 + (GL - R)/8000 * 0.5;  raw = int((1 - s) * 100)
// then min-max normalized by the framework across the feasible nodes.
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class BestFitScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "BestFitScore"; }
  Normalization normalization() const override { return Normalization::kMinMax; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
};

}  // namespace awan::policies
