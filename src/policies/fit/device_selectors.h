// Device selectors shared by several policies.
//   best:   the devices with the least milli left that still fit (ties: lowest index). For whole-GPU pods
//           this is the lowest-indexed fully free devices; for a share pod the tightest device.
//   random: whole-GPU pods as `best`; a share pod gets a uniformly random device among those that fit.
#pragma once

#include "core/plugin.h"

namespace awan::policies {

// The `count` devices with the smallest gpu_left >= milli, ties by lowest index, in ascending-left order.
// REQUIRES: at least `count` such devices.
DeviceList TightestDevices(const NodeState& node, int32_t milli, int count);

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
