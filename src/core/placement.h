// Placement: a decision as data: which node, and which GPU devices on it (device indices are the node's
// own, 0..gpu_count-1). A fractional pod names exactly one device.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "model/node_spec.h"

namespace awan {

struct DeviceList {
  uint8_t count = 0;
  std::array<uint8_t, kMaxGpusPerNode> index{};

  void Add(int device) { index[count++] = static_cast<uint8_t>(device); }
  bool operator==(const DeviceList& o) const {
    if (count != o.count) return false;
    for (int i = 0; i < count; ++i)
      if (index[i] != o.index[i]) return false;
    return true;
  }
  std::string ToString() const;  // "0,3"
};

struct Placement {
  NodeIndex node;
  DeviceList devices;
  bool operator==(const Placement&) const = default;
};

}  // namespace awan
