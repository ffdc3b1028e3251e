// AwanScore: awan's placement scorer. Places a pod where the packing-aware fragmentation of the node
// (policies/awan/packing_frag.h) grows least, at full resolution (no truncation to 0..100, so near-ties are
// decided by the measure, not by the tie rank). A fractional pod is tried on each distinct device.
//   score = kCenter - (Frag(n') - Frag(n)) * 1000, clamped to [0, 2 * kCenter]
// AwanDevices is the matching device selector. Cacheable like FGD: a pure function of the node's state and
// the pod's (CPU, memory, GPU milli, GPU count).
#pragma once

#include <memory>

#include "core/plugin.h"
#include "policies/awan/packing_frag.h"

namespace awan::policies {

struct AwanChoice {
  double delta = 0;  // Frag(after) - Frag(before), milli-GPU
  int device = -1;   // for fractional pods: the chosen device
};

// REQUIRES: the pod passed the filters on this node.
AwanChoice EvaluateAwan(const PackingFragModel& model, const PodSpec& pod, const NodeState& node);

class AwanScore final : public ScorePlugin {
 public:
  static constexpr int64_t kCenter = int64_t{1} << 40;
  explicit AwanScore(std::shared_ptr<const PackingFragModel> model) : model_(std::move(model)) {}
  std::string_view name() const override { return "AwanScore"; }
  int64_t max_score() const override { return 2 * kCenter; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  std::optional<uint64_t> CacheKey(const PodSpec& pod) const override;

 private:
  std::shared_ptr<const PackingFragModel> model_;
};

class AwanDevices final : public DeviceSelector {
 public:
  explicit AwanDevices(std::shared_ptr<const PackingFragModel> model) : model_(std::move(model)) {}
  std::string_view name() const override { return "awan"; }
  DeviceList Select(const PodSpec& pod, const NodeState& node, Rng& rng) const override;

 private:
  std::shared_ptr<const PackingFragModel> model_;
};

}  // namespace awan::policies
