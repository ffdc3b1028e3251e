#include "sim/fault_injector.h"

#include <algorithm>

#include "diagnosis/actions.h"
#include "diagnosis/faults.h"

namespace awan::sim {
namespace {

diagnosis::DiagTopology TopologyOf(const Fleet& fleet) {
  diagnosis::DiagTopology t;
  for (uint32_t n = 0; n < fleet.size(); ++n) t.nodes.push_back({fleet.node(NodeIndex(n)).name, {}});
  return t;
}

}  // namespace

FaultInjector::FaultInjector(const Fleet& fleet, FaultInjectionOptions o)
    : fleet_(fleet), o_(std::move(o)), engine_(*o_.catalog, TopologyOf(fleet)), rng_(o_.seed) {
  std::stable_sort(o_.faults.begin(), o_.faults.end(),
                   [](const SimFault& a, const SimFault& b) { return a.at_s < b.at_s; });
}

// When a run on a broken node fails: fail_after_s after it began there (its start, or the fault).
int64_t FaultInjector::DueAt(const JobScheduler& sched, size_t job, const Broken& b) const {
  return std::max(sched.job(job).started, b.fault->at_s) + o_.fail_after_s;
}

int64_t FaultInjector::NextEvent(const JobScheduler& sched) const {
  int64_t t = next_fault_ < o_.faults.size() ? o_.faults[next_fault_].at_s : INT64_MAX;
  t = std::min(t, next_diagnose_s_);
  for (const auto& [node, b] : broken_) {
    if (b.drained) {
      t = std::min(t, b.drained_at + o_.repair_s);
      continue;
    }
    t = std::min(t, b.fault->at_s + o_.manual_detect_s);
    for (size_t v : sched.RunningOn(NodeIndex(node), b.fault->gpu)) t = std::min(t, DueAt(sched, v, b));
  }
  return t;
}

bool FaultInjector::pending() const {
  return next_fault_ < o_.faults.size() || !broken_.empty() || next_diagnose_s_ != INT64_MAX;
}

// A drain: the node takes no new work and its runs requeue from their last checkpoint; a broken GPU alone is
// taken out of service instead. Repaired repair_s later.
Status FaultInjector::Drain(int64_t now, JobScheduler& sched, uint32_t node, Broken* b, bool by_diagnosis) {
  if (b->drained) return Status::Ok();
  b->drained = true, b->drained_at = now;
  (by_diagnosis ? stats_.drained_by_diagnosis : stats_.drained_by_operator) += 1;
  stats_.detect_s.push_back(now - b->fault->at_s);
  if (b->fault->gpu >= 0) return sched.SetDeviceHealthy(NodeIndex(node), b->fault->gpu, false, now);
  sched.Cordon(NodeIndex(node), true);
  for (size_t v : sched.RunningOn(NodeIndex(node))) AWAN_RETURN_IF_ERROR(sched.Requeue(v, now));
  return Status::Ok();
}

// The engine's view now: whether each broken node's injected scenario comes first at its place, and (with
// remediation) the actions the one policy calls for.
void FaultInjector::Diagnose(int64_t now, JobScheduler& sched) {
  const std::vector<diagnosis::Diagnosis> found = engine_.Diagnose(now * 1000);
  for (auto& [node, b] : broken_) {
    if (b.diagnosed) continue;
    const std::string place = diagnosis::PlaceOf(diagnosis::Scope::kNode, fleet_.node(NodeIndex(node)).name);
    for (const diagnosis::Diagnosis& d : found) {
      if (diagnosis::PlaceOf(d.scope, d.entity) != place) continue;
      b.diagnosed = d.scenario == b.fault->scenario;
      stats_.diagnosed_top1 += b.diagnosed;
      break;
    }
  }
  if (!o_.remediate) return;
  for (const diagnosis::Action& a : diagnosis::ActionsFor(*o_.catalog, engine_, found)) {
    NodeIndex n;
    if (a.node.empty() || !fleet_.FindNode(a.node, &n)) continue;
    auto it = broken_.find(n.value);
    if (it == broken_.end()) {
      ++stats_.false_drains;
      continue;
    }
    if (!it->second.drained) (void)Drain(now, sched, n.value, &it->second, /*by_diagnosis=*/true);
  }
}

Status FaultInjector::Step(int64_t now, JobScheduler& sched, const std::function<std::string(size_t)>& name,
                           const std::function<std::string(size_t)>& tenant) {
  bool signals = false;
  auto show = [&](uint32_t node, const SimFault& f, std::optional<size_t> job) {
    for (diagnosis::Signal& s : diagnosis::NodeFaultSignals(
             *o_.catalog, f.scenario, fleet_.node(NodeIndex(node)).name, f.gpu, job ? name(*job) : "",
             job ? tenant(*job) : "", now * 1000, o_.missing, rng_))
      engine_.Add(std::move(s));
    signals = true;
  };
  for (; next_fault_ < o_.faults.size() && o_.faults[next_fault_].at_s == now; ++next_fault_) {
    const SimFault& f = o_.faults[next_fault_];
    if (broken_.count(f.node)) continue;  // already broken: one fault at a time per node
    broken_[f.node] = {&f};
    ++stats_.faults;
    const std::vector<size_t> on = sched.RunningOn(NodeIndex(f.node), f.gpu);
    show(f.node, f, on.empty() ? std::nullopt : std::optional<size_t>(on.front()));
  }
  for (auto it = broken_.begin(); it != broken_.end();) {
    Broken& b = it->second;
    const uint32_t node = it->first;
    if (b.drained && now >= b.drained_at + o_.repair_s) {  // repaired
      if (b.fault->gpu >= 0) {
        AWAN_RETURN_IF_ERROR(sched.SetDeviceHealthy(NodeIndex(node), b.fault->gpu, true, now));
      } else {
        sched.Cordon(NodeIndex(node), false);
      }
      if (!b.diagnosed)
        stats_.undiagnosed.push_back(o_.catalog->at(static_cast<size_t>(b.fault->scenario)).id);
      it = broken_.erase(it);
      continue;
    }
    if (!b.drained) {
      for (size_t v : sched.RunningOn(NodeIndex(node), b.fault->gpu)) {
        if (DueAt(sched, v, b) > now) continue;
        show(node, *b.fault, v);
        AWAN_RETURN_IF_ERROR(sched.Requeue(v, now));
        ++stats_.runs_failed;
      }
      if (now >= b.fault->at_s + o_.manual_detect_s)
        AWAN_RETURN_IF_ERROR(Drain(now, sched, node, &b, /*by_diagnosis=*/false));
    }
    ++it;
  }
  // The lines just shown spread over the next 30 s: the engine looks once they have all arrived.
  if (signals) next_diagnose_s_ = std::min(next_diagnose_s_, now + 31);
  if (now >= next_diagnose_s_) {
    next_diagnose_s_ = INT64_MAX;
    Diagnose(now, sched);
    engine_.Forget(now * 1000 - 1'200'000);
  }
  return Status::Ok();
}

std::vector<SimFault> GenerateSimFaults(const Fleet& fleet, const diagnosis::Catalog& catalog, int count,
                                        int64_t horizon_s, uint64_t seed) {
  std::vector<int> scenarios;
  for (size_t i = 0; i < catalog.size(); ++i) {
    const diagnosis::Scenario& s = catalog.at(i);
    const bool node_wide = s.auto_action == diagnosis::AutoAction::kCordonNode ||
                           s.auto_action == diagnosis::AutoAction::kDrainNode ||
                           s.auto_action == diagnosis::AutoAction::kMarkGpuUnhealthy;
    if (node_wide && s.severity == diagnosis::Severity::kCritical &&
        (s.scope == diagnosis::Scope::kNode || s.scope == diagnosis::Scope::kGpu))
      scenarios.push_back(static_cast<int>(i));
  }
  std::vector<uint32_t> nodes;
  for (uint32_t n = 0; n < fleet.size(); ++n)
    if (fleet.node(NodeIndex(n)).gpu_count > 0) nodes.push_back(n);
  std::vector<SimFault> out;
  if (scenarios.empty() || nodes.empty() || horizon_s <= 0) return out;
  Rng rng(seed);
  for (int k = 0; k < count; ++k) {
    SimFault f;
    f.at_s = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(horizon_s)));
    f.node = nodes[rng.Uniform(nodes.size())];
    f.scenario = scenarios[rng.Uniform(scenarios.size())];
    if (catalog.at(static_cast<size_t>(f.scenario)).scope == diagnosis::Scope::kGpu)
      f.gpu = static_cast<int>(rng.Uniform(static_cast<uint64_t>(fleet.node(NodeIndex(f.node)).gpu_count)));
    out.push_back(f);
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const SimFault& a, const SimFault& b) { return a.at_s < b.at_s; });
  return out;
}

}  // namespace awan::sim
