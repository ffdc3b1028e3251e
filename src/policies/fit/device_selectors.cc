#include "policies/fit/device_selectors.h"

namespace awan::policies {

DeviceList TightestDevices(const NodeState& node, int32_t milli, int count) {
  DeviceList out;
  bool taken[kMaxGpusPerNode] = {};
  for (int k = 0; k < count; ++k) {
    int best = -1;
    for (int d = 0; d < node.gpu_count; ++d) {
      if (taken[d] || node.gpu_left[d] < milli) continue;
      if (best < 0 || node.gpu_left[d] < node.gpu_left[best]) best = d;
    }
    if (best < 0) break;  // REQUIRES violated; the framework reports the short list
    taken[best] = true;
    out.Add(best);
  }
  return out;
}

DeviceList BestFitDevices::Select(const PodSpec& pod, const NodeState& node, Rng&) const {
  return TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
}

DeviceList RandomDevices::Select(const PodSpec& pod, const NodeState& node, Rng& rng) const {
  if (!pod.is_share()) return TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
  // Reservoir sampling in index order: the k-th fitting device replaces the pick with probability 1/k.
  DeviceList out;
  int seen = 0, pick = -1;
  for (int d = 0; d < node.gpu_count; ++d) {
    if (node.gpu_left[d] < pod.gpu_milli.value) continue;
    ++seen;
    if (rng.Uniform(seen) == 0) pick = d;
  }
  if (pick >= 0) out.Add(pick);
  return out;
}

}  // namespace awan::policies
