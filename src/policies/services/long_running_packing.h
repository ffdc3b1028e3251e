// LongRunningPacking: a long-running pod (PodSpec::long_running: a service's replica) goes where long-running
// work already holds GPUs: 0 on a node without any, 50 to 100 on one with some (more for a larger share of
// the node's GPUs); every other pod scores 0 everywhere, so batch placement is unchanged.
//
// Why: a replica lives for hours and is never preempted by batch work. Wherever it lands it splits a node
// (and a zone) for the gangs that need whole ones; best-fit alone puts it on whichever node is fullest at
// that moment, so over a day a service's replicas end up scattered over many nodes that batch work happened
// to fill. Packed together, they hold few nodes, and the rest stay whole for gangs (the static split's
// one advantage, without reserving a service's peak). Used by serving (SchedulerState::PreferWarmNodes),
// weighted above the profile's own scorers and below ImageLocality (a warm node still wins).
#pragma once

#include <algorithm>

#include "core/plugin.h"
#include "core/snapshot.h"

namespace awan::policies {

class LongRunningPackingScore final : public ScorePlugin {
 public:
  std::string_view name() const override { return "LongRunningPacking"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override {
    const NodeState& n = snap.node(node);
    if (!pod.long_running || n.long_running_milli <= 0 || n.gpu_count <= 0) return 0;
    const int64_t share = std::min<int64_t>(50, int64_t{50} * n.long_running_milli / (n.gpu_count * 1000));
    return 50 + share;
  }
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    ScoreEach(*this, pod, snap, nodes, out);
  }
  std::optional<uint64_t> CacheKey(const PodSpec& pod) const override { return pod.long_running ? 1 : 0; }
};

}  // namespace awan::policies
