#include "policies/awan/awan_score.h"

#include <algorithm>
#include <cmath>

#include "policies/fit/device_selectors.h"

namespace awan::policies {

AwanChoice EvaluateAwan(const PackingFragModel& model, const PodSpec& pod, const NodeState& node) {
  const FragNodeView before = FragNodeView::Of(node);
  const double frag_before = model.Frag(before);
  const auto [delta, device] = BestPlacement<FragNodeView, double>(
      pod, node, before, [&](const FragNodeView& after) { return model.Frag(after) - frag_before; },
      [](double a, double b) { return a < b; });
  return AwanChoice{delta, device};
}

int64_t AwanScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const {
  const double delta = EvaluateAwan(*model_, pod, snap.node(node)).delta;
  const double s = static_cast<double>(kCenter) - std::round(delta * 1000.0);
  return static_cast<int64_t>(std::clamp(s, 0.0, static_cast<double>(2 * kCenter)));
}

// Memory is part of the key: the packing measure counts the pods that still fit by memory too.
std::optional<uint64_t> AwanScore::CacheKey(const PodSpec& pod) const { return PodShapeMemKey(pod); }

DeviceList AwanDevices::Select(const PodSpec& pod, const NodeState& node, Rng&) const {
  if (!pod.is_share()) return TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
  DeviceList out;
  const AwanChoice c = EvaluateAwan(*model_, pod, node);
  if (c.device >= 0) out.Add(c.device);
  return out;
}

}  // namespace awan::policies
