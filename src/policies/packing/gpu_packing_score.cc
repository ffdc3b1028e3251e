#include "policies/packing/gpu_packing_score.h"

#include <algorithm>

#include "policies/fit/device_selectors.h"

namespace awan::policies {

int64_t GpuPackingScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) const {
  if (!pod.wants_gpu()) return 0;
  const NodeState& n = snap.node(i);
  const int free = n.FullyFreeGpus();
  if (free == n.gpu_count) return std::max(33 - free, free);
  const DeviceList taken = TightestDevices(n, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
  int u = 0;
  int64_t s = 0;
  for (int k = 0; k < taken.count; ++k) {
    const int32_t left = n.gpu_left[taken.index[k]];
    u += left == kWholeGpu.value;
    s += left * 100 / 1000;
  }
  if (u > 0) return std::max(50 - u, 33);
  return std::max<int64_t>(100 - s / 10, 50);
}

}  // namespace awan::policies
