#include "policies/fgd/fgd_score.h"

#include <cmath>

#include "policies/fit/device_selectors.h"

namespace awan::policies {
namespace {

int64_t SigmoidScore(double before, double after) {
  const double x = (before - after) / 1000.0;
  const double sig = 1.0 / (1.0 + std::exp(-x));
  return static_cast<int64_t>(sig * 100.0);
}

}  // namespace

FgdChoice EvaluateFgd(const FragmentationModel& model, const PodSpec& pod, const NodeState& node) {
  const FragNodeView before = FragNodeView::Of(node);
  const double frag_before = model.Frag(before);
  const auto [score, device] = BestPlacement<FragNodeView, int64_t>(
      pod, node, before,
      [&](const FragNodeView& after) { return SigmoidScore(frag_before, model.Frag(after)); },
      [](int64_t a, int64_t b) { return a > b; });
  return FgdChoice{score, device};
}

int64_t FgdScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const {
  return EvaluateFgd(*model_, pod, snap.node(node)).score;
}

std::optional<uint64_t> FgdScore::CacheKey(const PodSpec& pod) const { return PodShapeKey(pod); }

DeviceList FgdDevices::Select(const PodSpec& pod, const NodeState& node, Rng&) const {
  if (!pod.is_share()) return TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
  DeviceList out;
  const FgdChoice c = EvaluateFgd(*model_, pod, node);
  if (c.device >= 0) out.Add(c.device);
  return out;
}

}  // namespace awan::policies
