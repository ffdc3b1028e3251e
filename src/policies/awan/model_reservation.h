// ModelReservation: keeps scarce accelerator models for the pods that can only run on them.
//
// From the workload's pod list (the same knowledge FGD uses for its target workload) it estimates, per
// accelerator model M, the GPU that model-constrained pods will need there: each constrained pod's request is
// spread over the models it allows in proportion to their capacity, and the total is scaled to a workload
// of the same mix that fills the fleet. That is M's reservation R(M), at most M's capacity.
//
// For a GPU pod without a model constraint, a node of model M scores 0 ("reserved") when taking the pod
// would leave M with less idle GPU than R(M), and 100 otherwise. Constrained pods and CPU-only pods see 100
// everywhere. Weighted above the packing scorers, unconstrained pods use the models nobody else needs first
// and reserved ones only when nothing else fits. Without constrained pods in the workload it changes nothing.
//
// Reads the fleet's idle GPU per model in PreScore, so it is not cacheable. Not thread-safe (per-cycle
// state).
#pragma once

#include <vector>

#include "core/plugin.h"
#include "model/fleet.h"

namespace awan::policies {

class ModelReservation final : public ScorePlugin {
 public:
  ModelReservation(const Fleet& fleet, const std::vector<PodSpec>& workload);
  std::string_view name() const override { return "ModelReservation"; }
  void PreScore(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> feasible,
                Rng& rng) override;
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;

  // R(M) in GPU milli.
  double reservation(AcceleratorId m) const { return reserve_[m.value]; }

 private:
  std::vector<double> reserve_;    // by model id
  std::vector<uint8_t> reserved_;  // by model id, this cycle: 1 = kept for constrained pods
  std::vector<int64_t> idle_;      // scratch: idle milli by model
  bool any_ = false;               // some model has a reservation (else the plugin is a no-op)
};

}  // namespace awan::policies
