// RandomScore (FGD paper's "Random"): PreScore draws one feasible node uniformly; it scores 100, every
// other node 0. Net effect: a uniformly random feasible node.
#pragma once

#include "core/plugin.h"

namespace awan::policies {

class RandomScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "RandomScore"; }
  void PreScore(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> feasible,
                Rng& rng) override {
    (void)pod, (void)snap;
    pick_ = feasible[rng.Uniform(feasible.size())];
  }
  int64_t Score(const PodSpec&, const ClusterSnapshot&, NodeIndex node) const override {
    return node == pick_ ? kMaxNodeScore : 0;
  }

 private:
  NodeIndex pick_;
};

}  // namespace awan::policies
