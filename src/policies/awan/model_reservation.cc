#include "policies/awan/model_reservation.h"

#include <algorithm>

namespace awan::policies {

ModelReservation::ModelReservation(const Fleet& fleet, const std::vector<PodSpec>& workload) {
  const size_t models = AcceleratorRegistry::kMaxModels + 1;
  std::vector<double> cap(models, 0.0);
  double capacity = 0;
  for (const NodeSpec& n : fleet.nodes()) {
    cap[n.model.value] += static_cast<double>(n.gpu_count) * kWholeGpu.value;
    capacity += static_cast<double>(n.gpu_count) * kWholeGpu.value;
  }
  reserve_.assign(models, 0.0);
  reserved_.assign(models, 0);
  idle_.assign(models, 0);
  double demand = 0;
  for (const PodSpec& p : workload) {
    if (!p.wants_gpu()) continue;
    const double gpu = static_cast<double>(p.total_gpu().value);
    demand += gpu;
    if (p.allowed_models.any_model()) continue;
    double allowed = 0;
    for (size_t m = 1; m < models; ++m)
      if (p.allowed_models.Allows(AcceleratorId(static_cast<uint32_t>(m)))) allowed += cap[m];
    if (allowed <= 0) continue;  // fits nowhere in this fleet: reserves nothing
    for (size_t m = 1; m < models; ++m)
      if (p.allowed_models.Allows(AcceleratorId(static_cast<uint32_t>(m))))
        reserve_[m] += gpu * cap[m] / allowed;
  }
  if (demand <= 0) return;
  for (size_t m = 0; m < models; ++m) {
    reserve_[m] = std::min(cap[m], reserve_[m] * capacity / demand);
    any_ = any_ || reserve_[m] > 0;
  }
}

void ModelReservation::PreScore(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex>,
                                Rng&) {
  std::fill(reserved_.begin(), reserved_.end(), 0);
  if (!any_ || !pod.wants_gpu() || !pod.allowed_models.any_model()) return;
  std::fill(idle_.begin(), idle_.end(), 0);
  for (size_t i = 0; i < snap.size(); ++i) {
    const NodeState& n = snap.node(NodeIndex(static_cast<uint32_t>(i)));
    if (!n.unavailable) idle_[n.model.value] += n.gpu_left_total;
  }
  const double want = static_cast<double>(pod.total_gpu().value);
  for (size_t m = 1; m < reserve_.size(); ++m) {
    reserved_[m] = reserve_[m] > 0 && static_cast<double>(idle_[m]) - want < reserve_[m];
  }
}

int64_t ModelReservation::Score(const PodSpec&, const ClusterSnapshot& snap, NodeIndex node) const {
  return reserved_[snap.node(node).model.value] ? 0 : kMaxNodeScore;
}

}  // namespace awan::policies
