#include "policies/clustering/gpu_clustering_score.h"

#include <algorithm>

namespace awan::policies {

int64_t GpuClusteringScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) const {
  if (!pod.wants_gpu()) return 0;
  const NodeState& n = snap.node(i);
  const int64_t base = (25 * (8000 - static_cast<int64_t>(n.gpu_left_total))) / 8000;
  const int tag = pod.is_share() ? 0 : std::min(pod.gpu_count, kMaxGpusPerNode);
  int distinct = 0;
  for (uint16_t c : n.gpu_pods_by_width) distinct += c > 0;
  const bool has_tag = n.gpu_pods_by_width[tag] > 0;
  int64_t s = base;
  if (has_tag) {
    s += distinct == 1 ? 75 : 50;
  } else if (distinct == 0) {
    s += 25;
  }
  return std::clamp<int64_t>(s, 0, kMaxNodeScore);
}

}  // namespace awan::policies
