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
  FragNodeView after = before;
  after.cpu_left -= pod.cpu.value;
  FgdChoice best;
  if (pod.is_share()) {
    const int32_t milli = static_cast<int32_t>(pod.gpu_milli.value);
    // Devices with equal milli left give equal outcomes; the first of each value stands for all of them.
    for (int d = 0; d < node.gpu_count; ++d) {
      if (node.gpu_left[d] < milli) continue;
      bool seen = false;
      for (int e = 0; e < d && !seen; ++e) seen = node.gpu_left[e] == node.gpu_left[d];
      if (seen) continue;
      after.gpu_left[d] -= milli;
      const int64_t s = SigmoidScore(frag_before, model.Frag(after));
      after.gpu_left[d] += milli;
      if (best.device < 0 || s > best.score) best = FgdChoice{s, d};
    }
    return best;
  }
  if (pod.wants_gpu()) {
    const DeviceList devs = TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
    for (int k = 0; k < devs.count; ++k) after.gpu_left[devs.index[k]] -= static_cast<int32_t>(pod.gpu_milli.value);
  }
  best.score = SigmoidScore(frag_before, model.Frag(after));
  return best;
}

int64_t FgdScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const {
  return EvaluateFgd(*model_, pod, snap.node(node)).score;
}

std::optional<uint64_t> FgdScore::CacheKey(const PodSpec& pod) const {
  // Exact packing of everything the score reads from the pod: CPU (< 2^40), GPU milli (< 2^11), count (< 2^5).
  const uint64_t cpu = static_cast<uint64_t>(pod.cpu.value) & ((uint64_t{1} << 40) - 1);
  const uint64_t milli = pod.wants_gpu() ? static_cast<uint64_t>(pod.gpu_milli.value) & 0x7FF : 0;
  const uint64_t count = pod.wants_gpu() ? static_cast<uint64_t>(pod.gpu_count) & 0x1F : 0;
  return (cpu << 16) | (milli << 5) | count;
}

DeviceList FgdDevices::Select(const PodSpec& pod, const NodeState& node, Rng&) const {
  if (!pod.is_share()) return TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
  DeviceList out;
  const FgdChoice c = EvaluateFgd(*model_, pod, node);
  if (c.device >= 0) out.Add(c.device);
  return out;
}

}  // namespace awan::policies
