// The control plane's node holds: cordons, drains and GPUs out of service, asked by an operator
// (`awan nodes cordon|drain|uncordon|gpu-unhealthy|gpu-healthy`) or by the diagnosis's remediation. One path
// for both: ApplyNodeOp changes the hold, tells the scheduler, requeues what must move (each job from its
// last checkpoint, audited one by one), keeps the hold in the store and audits the action.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "server/control_plane.h"
#include "server/diagnoses.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;

constexpr std::pair<NodeOp, std::string_view> kOps[] = {{NodeOp::kCordon, "cordon"},
                                                        {NodeOp::kDrain, "drain"},
                                                        {NodeOp::kUncordon, "uncordon"},
                                                        {NodeOp::kGpuUnhealthy, "gpu-unhealthy"},
                                                        {NodeOp::kGpuHealthy, "gpu-healthy"}};

// The audit log's name of an op: the diagnosis's action names where they exist.
std::string AuditKind(NodeOp op) {
  switch (op) {
    case NodeOp::kCordon:
      return "cordon_node";
    case NodeOp::kDrain:
      return "drain_node";
    case NodeOp::kUncordon:
      return "uncordon_node";
    case NodeOp::kGpuUnhealthy:
      return "mark_gpu_unhealthy";
    case NodeOp::kGpuHealthy:
      return "mark_gpu_healthy";
  }
  return "";
}

std::string HoldJson(const NodeHold& h) {
  return Json{{"cordoned", h.cordoned},
              {"unhealthy_gpus", h.unhealthy_gpus},
              {"reason", h.reason},
              {"by", h.by},
              {"since_s", h.since_s}}
      .dump();
}

}  // namespace

std::optional<NodeOp> ParseNodeOp(std::string_view s) {
  for (const auto& [op, name] : kOps)
    if (name == s) return op;
  return std::nullopt;
}

std::string_view Name(NodeOp op) {
  for (const auto& [o, name] : kOps)
    if (o == op) return name;
  return "";
}

void ControlPlane::AuditAction(int64_t now_s, audit::AuditChain::Action a) {
  audit_pending_.push_back({audit_.entries() + 1, audit_.AppendAction(now_s, a)});
}

Status ControlPlane::RequeueRunning(Live& l, audit::AuditChain::Action a, std::string note, int64_t now_s,
                                    bool in_core) {
  AuditAction(now_s, std::move(a));
  l.stop_note = std::move(note);
  return in_core ? sched_->Requeue(l.index, now_s) : Status::Ok();
}

StatusOr<bool> ControlPlane::ApplyNodeOp(uint32_t n, NodeOp op, int gpu, const std::string& by,
                                         const std::string& scenario, const std::string& reason,
                                         int64_t now_s, std::string kind) {
  if (kind.empty()) kind = AuditKind(op);
  if (down_.size() != fleet_->fleet.size()) down_.assign(fleet_->fleet.size(), 0);
  const NodeIndex node(n);
  const std::string& name = fleet_->fleet.node(node).name;
  const NodeHold before = holds_.count(n) ? holds_.at(n) : NodeHold{};
  NodeHold h = before;
  const uint32_t bit = gpu >= 0 ? uint32_t{1} << gpu : 0;
  std::vector<size_t> requeue;  // jobs the op moves off the node
  switch (op) {
    case NodeOp::kCordon:
      h.cordoned = true;
      break;
    case NodeOp::kDrain:
      h.cordoned = true;
      requeue = sched_->RunningOn(node);
      break;
    case NodeOp::kUncordon:
      h.cordoned = false, h.unhealthy_gpus = 0;
      break;
    case NodeOp::kGpuUnhealthy:
      h.unhealthy_gpus |= bit;
      requeue = sched_->RunningOn(node, gpu);
      break;
    case NodeOp::kGpuHealthy:
      h.unhealthy_gpus &= ~bit;
      break;
  }
  if (h.cordoned == before.cordoned && h.unhealthy_gpus == before.unhealthy_gpus && requeue.empty())
    return false;
  const std::string why =
      fmt::format("{} {}{}: {}", kind, name, gpu >= 0 ? fmt::format(" GPU {}", gpu) : "", reason);
  for (size_t v : requeue) {
    Live& l = live_[by_id_.at(sched_->job(v).spec->name)];
    AWAN_RETURN_IF_ERROR(RequeueRunning(l, {"requeue_job", name, gpu, l.row.id, scenario, by, "applied", why},
                                        "requeued from its last checkpoint, off " + name + " (" + why + ")",
                                        now_s, /*in_core=*/op != NodeOp::kGpuUnhealthy));
  }
  for (int d = 0; d < fleet_->fleet.node(node).gpu_count; ++d) {
    const uint32_t b = uint32_t{1} << d;
    if ((h.unhealthy_gpus & b) != (before.unhealthy_gpus & b))
      AWAN_RETURN_IF_ERROR(sched_->SetDeviceHealthy(node, d, (h.unhealthy_gpus & b) == 0, now_s));
  }
  StopRuns();
  if (h.cordoned != before.cordoned && !down_[n]) sched_->Cordon(node, h.cordoned);
  if (h.cordoned != before.cordoned || h.unhealthy_gpus != before.unhealthy_gpus)
    h.reason = reason, h.by = by, h.since_s = now_s;
  AuditAction(now_s, {kind, name, gpu, "", scenario, by, "applied", reason});
  if (h.empty()) {
    holds_.erase(n);
    holds_pending_.push_back({name, ""});
  } else {
    holds_[n] = h;
    holds_pending_.push_back({name, HoldJson(h)});
  }
  return true;
}

Status ControlPlane::LoadHolds() {
  AWAN_ASSIGN_OR_RETURN(auto rows, store_->ListObjects("node"));
  for (const auto& [name, value] : rows) {
    NodeIndex n;
    const Json j = Json::parse(value, nullptr, false);
    if (!fleet_->fleet.FindNode(name, &n) || !j.is_object()) {
      fmt::print("awan serve: ignoring the stored hold of node {} (not in the fleet, or damaged)\n", name);
      continue;
    }
    NodeHold h;
    h.cordoned = j.value("cordoned", false);
    h.unhealthy_gpus = j.value("unhealthy_gpus", uint32_t{0});
    h.reason = j.value("reason", ""), h.by = j.value("by", ""), h.since_s = j.value("since_s", int64_t{0});
    if (h.cordoned) sched_->Cordon(n, true);
    for (int d = 0; d < fleet_->fleet.node(n).gpu_count; ++d) {
      if (h.unhealthy_gpus & (uint32_t{1} << d))
        AWAN_RETURN_IF_ERROR(sched_->SetDeviceHealthy(n, d, false, clock_->NowMs() / 1000));
    }
    h.unhealthy_gpus &=
        (fleet_->fleet.node(n).gpu_count >= 32 ? ~uint32_t{0}
                                               : (uint32_t{1} << fleet_->fleet.node(n).gpu_count) - 1);
    holds_[n.value] = h;
  }
  return Status::Ok();
}

NodeStatus ControlPlane::StatusOf(uint32_t n, const Principal& who) const {
  NodeStatus s;
  const NodeState& st = snap_->node(NodeIndex(n));
  s.name = fleet_->fleet.node(NodeIndex(n)).name;
  s.down = n < down_.size() && down_[n];
  if (auto it = holds_.find(n); it != holds_.end()) s.hold = it->second;
  s.free_milli = st.unavailable ? 0 : st.gpu_left_total;
  for (int d = 0; d < st.gpu_count; ++d) s.device_free_milli.push_back(st.gpu_left[d]);
  for (size_t v : sched_->RunningOn(NodeIndex(n))) {
    const auto it = by_id_.find(sched_->job(v).spec->name);
    if (it != by_id_.end() && who.sees(live_[it->second].row.tenant)) s.jobs.push_back(it->first);
  }
  return s;
}

std::vector<NodeStatus> ControlPlane::Nodes(const Principal& who) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<NodeStatus> out;
  for (uint32_t n = 0; n < snap_->size(); ++n) out.push_back(StatusOf(n, who));
  return out;
}

StatusOr<NodeStatus> ControlPlane::Node(const Principal& who, const std::string& node) const {
  NodeIndex n;
  if (!fleet_->fleet.FindNode(node, &n)) return NotFound("no node " + node);
  std::lock_guard<std::mutex> lock(mu_);
  return StatusOf(n.value, who);
}

StatusOr<NodeStatus> ControlPlane::ChangeNode(const Principal& who, const std::string& node, NodeOp op,
                                              int gpu, const std::string& reason) {
  if (who.role != Role::kAdmin) return PermissionDenied("forbidden: changing a node needs an admin token");
  if (reason.size() > 1024) return InvalidArgument("reason: at most 1024 bytes");
  NodeIndex n;
  if (!fleet_->fleet.FindNode(node, &n)) return NotFound("no node " + node);
  const bool gpu_op = op == NodeOp::kGpuUnhealthy || op == NodeOp::kGpuHealthy;
  if (gpu_op && (gpu < 0 || gpu >= fleet_->fleet.node(n).gpu_count)) {
    return NotFound(
        fmt::format("node {} has no GPU {} (it has {})", node, gpu, fleet_->fleet.node(n).gpu_count));
  }
  std::lock_guard<std::mutex> lock(mu_);
  AWAN_ASSIGN_OR_RETURN(const bool changed,
                        ApplyNodeOp(n.value, op, gpu_op ? gpu : -1, "admin", "",
                                    reason.empty() ? "by an operator" : reason, clock_->NowMs() / 1000));
  if (changed) AWAN_RETURN_IF_ERROR(Flush());  // durable (and audited) before the answer
  return StatusOf(n.value, who);
}

// What the diagnosis calls for, once per (scenario, node or job): in dry-run only audited; on, applied
// through the same path as an operator's change. A critical fault on a node drains it (its jobs would hang
// in their collectives until NCCL's timeout: they requeue from their last checkpoint now, off the node); a
// GPU named by its signals is taken out of service alone.
Status ControlPlane::Remediate(int64_t now_s, const std::vector<NodeAction>& actions) {
  for (const NodeAction& a : actions) {
    if (a.risk > o_.remediation_max_risk) continue;
    if (!remediated_.insert(a.scenario + "/" + (a.job.empty() ? a.node : "job/" + a.job)).second) continue;
    const bool apply = o_.remediation == Remediation::kOn;
    const std::string action(diagnosis::Name(a.action));
    if (!a.job.empty()) {  // requeue one job, or restart a replica (its service starts another), running
      const auto it = by_id_.find(a.job);
      if (it == by_id_.end() || live_[it->second].row.state != JobState::kRunning) continue;
      Live& l = live_[it->second];
      const std::string node = fleet_->fleet.node(sched_->placements(l.index).front().node).name;
      const audit::AuditChain::Action entry{
          action, node, -1, a.job, a.scenario, "", apply ? "applied" : "dry-run", a.reason};
      if (!apply) {
        AuditAction(now_s, entry);
        continue;
      }
      if (a.action == diagnosis::AutoAction::kRestartReplica) {
        AuditAction(now_s, entry);
        exec_->Kill(l.row.id);
        AWAN_RETURN_IF_ERROR(sched_->Cancel(l.index, now_s));
        Save(l, JobState::kCancelled, "restarted by the diagnosis (" + a.scenario + ": " + a.reason + ")");
        continue;
      }
      AWAN_RETURN_IF_ERROR(RequeueRunning(
          l, entry, "requeued from its last checkpoint (" + a.scenario + ": " + a.reason + ")", now_s));
      StopRuns();
      continue;
    }
    NodeIndex n;
    if (!fleet_->fleet.FindNode(a.node, &n)) continue;
    const bool one_gpu = a.action == diagnosis::AutoAction::kMarkGpuUnhealthy && a.gpu >= 0 &&
                         a.gpu < fleet_->fleet.node(n).gpu_count;
    if (!apply) {
      AuditAction(now_s, {action, a.node, one_gpu ? a.gpu : -1, "", a.scenario, "", "dry-run", a.reason});
      continue;
    }
    // The audit names the scenario's own action; a node-wide one also requeues the node's jobs.
    AWAN_RETURN_IF_ERROR(ApplyNodeOp(n.value, one_gpu ? NodeOp::kGpuUnhealthy : NodeOp::kDrain,
                                     one_gpu ? a.gpu : -1, "diagnosis", a.scenario, a.reason, now_s, action)
                             .status());
  }
  return Status::Ok();
}

}  // namespace awan::server
