// NodeSpec: the static description of one machine: allocatable CPU and memory, its GPU devices (all of
// one accelerator model), pod slots and where it sits in the topology. Runtime state lives in
// core/snapshot.h, never here.
#pragma once

#include <string>

#include "common/strong_types.h"
#include "model/accelerator.h"
#include "model/topology.h"

namespace awan {

struct NodeIndexTag {};
// Dense index of a node in its Fleet (0..n-1).
using NodeIndex = StrongId<NodeIndexTag, uint32_t>;

inline constexpr int kMaxGpusPerNode = 16;

struct NodeSpec {
  std::string name;
  CpuMilli cpu;
  MemMiB memory;
  int gpu_count = 0;  // 0..kMaxGpusPerNode devices, each of capacity kWholeGpu
  AcceleratorId model = kNoAccelerator;
  int max_pods = 1001;            // the openb protocol's per-node pod limit; a fleet file may set it
  double price_per_gpu_hour = 0;  // USD per whole GPU-hour on this node (fractional GPUs pay pro rata)
  TopologyPath topology;
};

}  // namespace awan
