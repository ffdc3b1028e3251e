// awan's own generator of openb-format fleets and pod lists: the built-in example of the quick start and
// the large synthetic fleets of the benchmarks. Deterministic for a seed. The shapes and weights are awan's
// own choices (a mix of 8-GPU training servers, small inference nodes, fractional-GPU pods, multi-GPU pods,
// CPU-only pods and accelerator-model constraints), not fitted to any trace.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"

namespace awan::sim {

enum class FleetMix {
  kMixed,  // several node types: 8-GPU H100/A100 servers, 4-GPU L40S, 2-GPU T4, 1-GPU L4, ...
  kHgx,    // every node an 8-GPU server (for the "N nodes x 8 = GPUs" scale benchmarks)
};

struct GeneratorSpec {
  int nodes = 200;
  FleetMix mix = FleetMix::kMixed;
  // Pods are generated until their GPU request reaches this fraction of the fleet's GPU capacity.
  double gpu_demand_ratio = 1.0;
  uint64_t seed = 1;
};

// The openb node-list CSV text (sn,cpu_milli,memory_mib,gpu,model).
std::string GenerateNodesCsv(const GeneratorSpec& spec);
// The openb pod-list CSV text (name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec).
std::string GeneratePodsCsv(const GeneratorSpec& spec);
// Writes both files into `dir` (created if needed) as nodes.csv and pods.csv.
Status WriteExample(const GeneratorSpec& spec, const std::string& dir);

}  // namespace awan::sim
