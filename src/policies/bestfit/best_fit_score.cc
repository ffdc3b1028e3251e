#include "policies/bestfit/best_fit_score.h"

namespace awan::policies {

int64_t BestFitScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) const {
  const NodeState& n = snap.node(i);
  const double cpu_after = static_cast<double>(n.cpu_left.value - pod.cpu.value);
  const double gpu_after = static_cast<double>(n.gpu_left_total - pod.gpu_count * pod.gpu_milli.value);
  double s = 0.0;
  s += cpu_after / 128000.0 * 0.5;
  s += gpu_after / 8000.0 * 0.5;
  return static_cast<int64_t>((1.0 - s) * 100.0);
}

}  // namespace awan::policies
