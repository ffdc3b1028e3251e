// awan's fragmentation measure: how much of a node's idle GPU the target workload could NOT use, counting
// how many pods of each typical shape still fit rather than whether one does (FGD's question).
// For a typical shape m (cpu c, mean memory r, k devices of g milli each, probability p):
//   fits_m   = min( cpu_left / c,                                   (CPU: how many m-pods the CPU allows)
//                   mem_left / r,                                   (memory, likewise)
//                   sum_d left_d / g          if m is fractional   (slices of every device)
//                   free_devices / k          if m is whole-GPU )
//   usable_m = fits_m * k * g,  fragment_m = idle - usable_m   (all idle if m is CPU-only or cannot use the
//   model) Frag(n)  = sum_m p * fragment_m
// So a G2 node with 8 free GPUs but 40 free cores is mostly fragment for 12-core pods (3 fit), and a device
// with 1000 left is 60 milli of fragment for 470-milli pods, and a 384 GiB server is one device of fragment
// for 1-GPU pods of 50 GiB (7 fit). Immutable; thread-safe to share.
#pragma once

#include <vector>

#include "policies/fgd/fragmentation.h"
#include "policies/fgd/typical_pods.h"

namespace awan::policies {

class PackingFragModel {
 public:
  explicit PackingFragModel(std::vector<TypicalPod> typical);
  double Frag(const FragNodeView& n) const;
  const std::vector<TypicalPod>& typical() const { return typical_; }

 private:
  std::vector<TypicalPod> typical_;
};

}  // namespace awan::policies
