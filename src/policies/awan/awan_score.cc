#include "policies/awan/awan_score.h"

#include <algorithm>
#include <cmath>

#include "policies/fit/device_selectors.h"

namespace awan::policies {

AwanChoice EvaluateAwan(const PackingFragModel& model, const PodSpec& pod, const NodeState& node) {
  const FragNodeView before = FragNodeView::Of(node);
  const double frag_before = model.Frag(before);
  FragNodeView after = before;
  after.cpu_left -= pod.cpu.value;
  AwanChoice best;
  if (pod.is_share()) {
    const int32_t milli = static_cast<int32_t>(pod.gpu_milli.value);
    for (int d = 0; d < node.gpu_count; ++d) {
      if (node.gpu_left[d] < milli) continue;
      bool seen = false;
      for (int e = 0; e < d && !seen; ++e) seen = node.gpu_left[e] == node.gpu_left[d];
      if (seen) continue;
      after.gpu_left[d] -= milli;
      const double delta = model.Frag(after) - frag_before;
      after.gpu_left[d] += milli;
      if (best.device < 0 || delta < best.delta) best = AwanChoice{delta, d};
    }
    return best;
  }
  if (pod.wants_gpu()) {
    const DeviceList devs = TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
    for (int k = 0; k < devs.count; ++k) after.gpu_left[devs.index[k]] -= static_cast<int32_t>(pod.gpu_milli.value);
  }
  best.delta = model.Frag(after) - frag_before;
  return best;
}

int64_t AwanScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const {
  const double delta = EvaluateAwan(*model_, pod, snap.node(node)).delta;
  const double s = static_cast<double>(kCenter) - std::round(delta * 1000.0);
  return static_cast<int64_t>(std::clamp(s, 0.0, static_cast<double>(2 * kCenter)));
}

std::optional<uint64_t> AwanScore::CacheKey(const PodSpec& pod) const {
  const uint64_t cpu = static_cast<uint64_t>(pod.cpu.value) & ((uint64_t{1} << 40) - 1);
  const uint64_t milli = pod.wants_gpu() ? static_cast<uint64_t>(pod.gpu_milli.value) & 0x7FF : 0;
  const uint64_t count = pod.wants_gpu() ? static_cast<uint64_t>(pod.gpu_count) & 0x1F : 0;
  return (cpu << 16) | (milli << 5) | count;
}

DeviceList AwanDevices::Select(const PodSpec& pod, const NodeState& node, Rng&) const {
  if (!pod.is_share()) return TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
  DeviceList out;
  const AwanChoice c = EvaluateAwan(*model_, pod, node);
  if (c.device >= 0) out.Add(c.device);
  return out;
}

}  // namespace awan::policies
