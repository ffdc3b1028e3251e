#include "core/gang.h"

#include <algorithm>
#include <map>

#include "core/statement.h"

namespace awan {

GangPlacer::GangPlacer(const Fleet& fleet) : fleet_(&fleet), allowed_(fleet.size(), 0) {}

int GangPlacer::TasksThatFit(const PodSpec& task, const NodeState& n) {
  if (n.unavailable) return 0;
  int64_t k = n.max_pods - n.pods;
  if (task.cpu.value > 0) k = std::min<int64_t>(k, n.cpu_left.value / task.cpu.value);
  if (task.memory.value > 0) k = std::min<int64_t>(k, n.mem_left.value / task.memory.value);
  if (task.wants_gpu()) {
    if (!task.allowed_models.Allows(n.model) || n.model == kNoAccelerator) return 0;
    const int per = task.gpu_milli.value >= kWholeGpu.value
                        ? n.fully_free_gpus
                        : n.DevicesWithAtLeast(static_cast<int32_t>(task.gpu_milli.value));
    k = std::min<int64_t>(k, per / std::max(1, task.gpu_count));
  }
  return static_cast<int>(std::max<int64_t>(0, k));
}

TopologyLevel SpanLevel(const Fleet& fleet, const std::vector<Placement>& tasks) {
  int common = kTopologyLevels - 1;
  for (size_t i = 1; i < tasks.size(); ++i) {
    common = std::min(common, Topology::CommonLevel(fleet.node(tasks[0].node).topology,
                                                    fleet.node(tasks[i].node).topology));
  }
  return static_cast<TopologyLevel>(std::max(0, common));
}

StatusOr<std::optional<GangPlacement>> GangPlacer::Place(const GangRequest& req, ClusterSnapshot& snap,
                                                         Framework& fw, const CycleContext& ctx) {
  const PodSpec& task = *req.task;
  if (req.tasks <= 1) {
    CycleContext c = ctx;
    c.allowed = {};
    AWAN_ASSIGN_OR_RETURN(Decision d, fw.Schedule(task, snap, c));
    if (!d.placed) return std::optional<GangPlacement>();
    AWAN_RETURN_IF_ERROR(snap.Assign(task, d.placement));
    return std::optional<GangPlacement>(GangPlacement{{d.placement}, TopologyLevel::kSupernode});
  }
  // Per domain, at every level: how many tasks fit and how much GPU is free.
  struct Room {
    int64_t tasks = 0, free_gpu = 0;
  };
  std::vector<std::map<uint32_t, Room>> rooms(kTopologyLevels);
  for (uint32_t i = 0; i < snap.size(); ++i) {
    if (ctx.residency_enforced && (i >= ctx.residency.size() || !ctx.residency[i])) continue;
    if (i < ctx.reserved.size() && ctx.reserved[i]) continue;
    const NodeState& n = snap.node(NodeIndex(i));
    const int k = TasksThatFit(task, n);
    if (k == 0) continue;
    for (int l = 0; l < kTopologyLevels; ++l) {
      Room& r = rooms[l][fleet_->node(NodeIndex(i)).topology.domain[l].value];
      r.tasks += k;
      r.free_gpu += n.gpu_left_total;
    }
  }
  const int tightest =
      req.topology_aware ? static_cast<int>(TopologyLevel::kSupernode) : static_cast<int>(req.widest);
  for (int l = tightest; l >= static_cast<int>(req.widest); --l) {
    if (l < static_cast<int>(TopologyLevel::kZone)) break;  // gangs never span zones
    std::vector<std::pair<Room, uint32_t>> candidates;
    for (const auto& [dom, room] : rooms[l])
      if (room.tasks >= req.tasks) candidates.push_back({room, dom});
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      return a.first.free_gpu != b.first.free_gpu ? a.first.free_gpu < b.first.free_gpu : a.second < b.second;
    });
    for (const auto& [room, dom] : candidates) {
      for (uint32_t i = 0; i < snap.size(); ++i) {
        allowed_[i] = fleet_->node(NodeIndex(i)).topology.domain[l].value == dom;
      }
      CycleContext c = ctx;
      c.allowed = allowed_;
      Statement st(snap);
      bool all = true;
      for (int t = 0; t < req.tasks && all; ++t) {
        AWAN_ASSIGN_OR_RETURN(Decision d, fw.Schedule(task, snap, c));
        all = d.placed && st.Assign(task, d.placement).ok();
      }
      if (!all) continue;  // the statement's destructor discards the partial gang
      GangPlacement out{st.placements(), SpanLevel(*fleet_, st.placements())};
      st.Commit();
      return std::optional<GangPlacement>(std::move(out));
    }
  }
  return std::optional<GangPlacement>();
}

}  // namespace awan
