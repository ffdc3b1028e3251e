// Device selectors shared by several policies.
//   best:   the devices with the least milli left that still fit (ties: lowest index). For whole-GPU pods
//           this is the lowest-indexed fully free devices; for a share pod the tightest device.
//   random: whole-GPU pods as `best`; a share pod gets a uniformly random device among those that fit.
#pragma once

#include <optional>
#include <utility>

#include "core/plugin.h"

namespace awan::policies {

// The `count` devices with the smallest gpu_left >= milli, ties by lowest index, in ascending-left order.
// REQUIRES: at least `count` such devices.
DeviceList TightestDevices(const NodeState& node, int32_t milli, int count);

// Scores every way of placing `pod` on `node` by `value(after)`, the value of the node's view after
// placement, and keeps the best (`better(a, b)`: a strictly better than b; ties keep the lower device).
// A share pod is tried on each device that fits, the first device of each milli-left value standing for all
// of them; any other pod takes its tightest devices. Returns {best value, chosen device or -1}.
// View is a copyable node view with cpu_left and gpu_left[] (FragNodeView).
template <typename View, typename Value, typename ValueFn, typename Better>
std::pair<Value, int> BestPlacement(const PodSpec& pod, const NodeState& node, View after, ValueFn value,
                                    Better better) {
  after.cpu_left -= pod.cpu.value;
  after.mem_left -= pod.memory.value;
  if (pod.is_share()) {
    const int32_t milli = static_cast<int32_t>(pod.gpu_milli.value);
    std::pair<Value, int> best{Value{}, -1};
    for (int d = 0; d < node.gpu_count; ++d) {
      if (node.gpu_left[d] < milli) continue;
      bool seen = false;
      for (int e = 0; e < d && !seen; ++e) seen = node.gpu_left[e] == node.gpu_left[d];
      if (seen) continue;
      after.gpu_left[d] -= milli;
      const Value v = value(after);
      after.gpu_left[d] += milli;
      if (best.second < 0 || better(v, best.first)) best = {v, d};
    }
    return best;
  }
  if (pod.wants_gpu()) {
    const DeviceList devs = TightestDevices(node, static_cast<int32_t>(pod.gpu_milli.value), pod.gpu_count);
    for (int k = 0; k < devs.count; ++k)
      after.gpu_left[devs.index[k]] -= static_cast<int32_t>(pod.gpu_milli.value);
  }
  return {value(after), -1};
}

// A cache key that packs everything a shape-based scorer reads from a pod: CPU (< 2^40), GPU milli (< 2^11)
// and GPU count (< 2^5).
inline uint64_t PodShapeKey(const PodSpec& pod) {
  const uint64_t cpu = static_cast<uint64_t>(pod.cpu.value) & ((uint64_t{1} << 40) - 1);
  const uint64_t milli = pod.wants_gpu() ? static_cast<uint64_t>(pod.gpu_milli.value) & 0x7FF : 0;
  const uint64_t count = pod.wants_gpu() ? static_cast<uint64_t>(pod.gpu_count) & 0x1F : 0;
  return (cpu << 16) | (milli << 5) | count;
}

// PodShapeKey plus memory, for scores that read memory: CPU and memory (MiB) in 24 bits each. Pods beyond
// that (16,777 cores or 16 TiB) get no key: such scores are computed, not cached.
inline std::optional<uint64_t> PodShapeMemKey(const PodSpec& pod) {
  constexpr int64_t kLimit = int64_t{1} << 24;
  if (pod.cpu.value < 0 || pod.cpu.value >= kLimit || pod.memory.value < 0 || pod.memory.value >= kLimit) {
    return std::nullopt;
  }
  const uint64_t gpu = PodShapeKey(pod) & 0xFFFF;  // GPU milli and count, as in PodShapeKey
  return (static_cast<uint64_t>(pod.cpu.value) << 40) | (static_cast<uint64_t>(pod.memory.value) << 16) | gpu;
}

class BestFitDevices final : public DeviceSelector {
 public:
  std::string_view name() const override { return "best"; }
  DeviceList Select(const PodSpec& pod, const NodeState& node, Rng& rng) const override;
};

class RandomDevices final : public DeviceSelector {
 public:
  std::string_view name() const override { return "random"; }
  DeviceList Select(const PodSpec& pod, const NodeState& node, Rng& rng) const override;
};

}  // namespace awan::policies
