// Gang placement on the topology tree: `tasks` identical tasks placed all or nothing, inside one domain.
//
// The placer tries the tightest level first (one supernode, then one block, then one zone; a gang never
// spans zones) unless the request requires a level, in which case it never goes wider. At each level it
// tries the domains that could hold the gang (by a per-node count of how many tasks fit) in best-fit order
// (least free GPU first, ties by domain id), confining the framework to the domain's nodes and assigning task
// by task through a Statement; the first domain where every task lands wins and is committed.
// Each task's node and devices are chosen by the framework's profile, as for any pod.
//
// Deterministic for a given snapshot, framework and context. No I/O.
#pragma once

#include <optional>
#include <vector>

#include "core/framework.h"
#include "core/snapshot.h"
#include "model/topology.h"

namespace awan {

struct GangRequest {
  const PodSpec* task = nullptr;  // REQUIRES: non-null, outlives the call
  int tasks = 1;
  // The widest level the gang may span (kZone = anywhere within one zone); a "required" topology.
  TopologyLevel widest = TopologyLevel::kZone;
  // false: topology-blind, as a plain best-fit scheduler: the gang goes to the first zone that holds it,
  // task by task wherever the profile likes best (for comparison; the level reached is still reported).
  bool topology_aware = true;
};

struct GangPlacement {
  std::vector<Placement> tasks;
  TopologyLevel level = TopologyLevel::kSupernode;  // the tightest domain that holds every task
};

class GangPlacer {
 public:
  explicit GangPlacer(const Fleet& fleet);

  // Places the gang and commits it to `snap`, or returns nullopt (snapshot unchanged) if no domain within
  // `widest` can hold all tasks. A single task goes anywhere the framework likes best (level kSupernode).
  StatusOr<std::optional<GangPlacement>> Place(const GangRequest& req, ClusterSnapshot& snap, Framework& fw,
                                               const CycleContext& ctx);

  // How many tasks of `task` fit on the node now (CPU, memory, pod slots and whole free devices).
  static int TasksThatFit(const PodSpec& task, const NodeState& n);

 private:
  const Fleet* fleet_;
  std::vector<uint8_t> allowed_;  // scratch mask
};

// The level at which two or more placements meet: kSupernode if all share one, else kBlock, kZone, kRegion.
TopologyLevel SpanLevel(const Fleet& fleet, const std::vector<Placement>& tasks);

}  // namespace awan
