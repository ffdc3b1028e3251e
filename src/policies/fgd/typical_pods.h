// The target workload of FGD ("typical pods"): the most popular pod shapes of a pod list, as the FGD paper
// estimates it. Shapes are keyed by (CPU, GPU milli, GPU count, model constraint as written); memory is not
// part of the key. Shapes are taken by count, most popular first (ties: larger key first) until they cover
// `coverage` of all pods; each kept shape's probability is its count renormalized over the kept ones. Each
// shape also carries the mean memory of its pods, which FGD ignores and awan's packing measure uses.
#pragma once

#include <string>
#include <vector>

#include "model/workload.h"

namespace awan::policies {

struct TypicalPod {
  int64_t cpu_milli = 0;
  int32_t gpu_milli = 0;  // per device; 0 for CPU-only shapes
  int gpu_count = 0;
  std::string constraint;  // e.g. "V100M16|V100M32"; "" = any model
  AcceleratorSet allowed_models;
  int64_t count = 0;  // pods of this shape in the list
  double probability = 0.0;
  int64_t mem_mib = 0;  // mean memory of those pods, MiB (not part of the key; FGD does not use it)
};

// REQUIRES: 0 < coverage <= 1. Returns an empty list for an empty pod list.
std::vector<TypicalPod> EstimateTypicalPods(const std::vector<PodSpec>& pods, double coverage = 0.95);

}  // namespace awan::policies
