#include "policies/dotprod/dot_product_score.h"

#include <algorithm>

namespace awan::policies {

int64_t DotProductScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) const {
  const NodeState& n = snap.node(i);
  constexpr double kMaxCpu = 128000.0, kMaxGpu = 8000.0;
  const double cl = static_cast<double>(n.cpu_left.value), gl = static_cast<double>(n.gpu_left_total);
  const double c = static_cast<double>(pod.cpu.value);
  const double r = static_cast<double>(pod.gpu_count * pod.gpu_milli.value);
  double dot = 0.0;
  dot += (cl / kMaxCpu) * (c / kMaxCpu);
  dot += (gl / kMaxGpu) * (r / kMaxGpu);
  const int64_t s = static_cast<int64_t>(100.0 * (1.0 - dot / 2.0));
  return std::clamp<int64_t>(s, 0, kMaxNodeScore);
}

}  // namespace awan::policies
