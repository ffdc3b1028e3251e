// FGD's fragmentation measure (USENIX ATC'23, section 4): how much of a node's unallocated GPU the target
// workload could not use. For each typical pod m (probability p_m):
//   CPU-only shape, or a model the node cannot serve  -> all idle GPU is fragment
//   enough devices fit m and CPU fits                 -> the devices too small for m are fragment
//   otherwise (devices or CPU short)                  -> all idle GPU is fragment
// Frag(n) = sum_m p_m * fragment_m, accumulated per class bucket in the reference's order so that the
// float result matches it bit for bit. Immutable after construction; thread-safe to share.
#pragma once

#include <array>
#include <vector>

#include "core/snapshot.h"
#include "policies/fgd/typical_pods.h"

namespace awan::policies {

// The parts of a node's state the measure reads; cheap to copy and modify for "what if" evaluations.
struct FragNodeView {
  int64_t cpu_left = 0;
  int64_t mem_left = 0;  // MiB; only awan's packing measure reads it
  int gpu_count = 0;
  AcceleratorId model = kNoAccelerator;
  std::array<int32_t, kMaxGpusPerNode> gpu_left{};

  static FragNodeView Of(const NodeState& n);
};

class FragmentationModel {
 public:
  explicit FragmentationModel(std::vector<TypicalPod> typical);

  // Fragmented GPU milli of a node (float, milli-GPU).
  double Frag(const FragNodeView& n) const;
  const std::vector<TypicalPod>& typical() const { return typical_; }

 private:
  std::vector<TypicalPod> typical_;
  std::vector<int32_t> thresholds_;  // distinct GPU milli values of the typical shapes
  std::vector<int> slot_;            // typical pod -> index in thresholds_, or -1 for CPU-only
};

}  // namespace awan::policies
