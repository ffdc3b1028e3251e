// FgdScore (FGD paper's policy): place where the target workload's expected fragmentation grows least.
//   score = int(sigmoid((Frag(n) - Frag(n')) / 1000) * 100),  n' = n with the pod placed
// A share pod is tried on every device that fits (the node's score is the best; its device the lowest
// index among the best); other pods take the lowest-indexed free devices. 50 = no change, >50 = less
// fragmentation. FgdDevices is the matching device selector. Scores are a pure function of the node's
// state and (CPU, GPU milli, GPU count), so the framework may cache them.
#pragma once

#include <memory>

#include "core/plugin.h"
#include "policies/fgd/fragmentation.h"

namespace awan::policies {

struct FgdChoice {
  int64_t score = 0;
  int device = -1;  // for share pods: the chosen device
};

// Evaluates FGD on one node. REQUIRES: the pod passed the filters on this node.
FgdChoice EvaluateFgd(const FragmentationModel& model, const PodSpec& pod, const NodeState& node);

class FgdScore final : public ScorePlugin {
 public:
  explicit FgdScore(std::shared_ptr<const FragmentationModel> model) : model_(std::move(model)) {}
  std::string_view name() const override { return "FgdScore"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  std::optional<uint64_t> CacheKey(const PodSpec& pod) const override;

 private:
  std::shared_ptr<const FragmentationModel> model_;
};

class FgdDevices final : public DeviceSelector {
 public:
  explicit FgdDevices(std::shared_ptr<const FragmentationModel> model) : model_(std::move(model)) {}
  std::string_view name() const override { return "fgd"; }
  DeviceList Select(const PodSpec& pod, const NodeState& node, Rng& rng) const override;

 private:
  std::shared_ptr<const FragmentationModel> model_;
};

}  // namespace awan::policies
