#include "diagnosis/actions.h"

#include <set>

namespace awan::diagnosis {

std::vector<Action> ActionsFor(const Catalog& catalog, const Engine& engine,
                               const std::vector<Diagnosis>& found) {
  std::vector<Action> out;
  for (const Diagnosis& d : found) {
    const Scenario& s = catalog.at(static_cast<size_t>(d.scenario));
    if (s.severity == Severity::kBenign) continue;
    const bool node_wide = s.auto_action == AutoAction::kCordonNode ||
                           s.auto_action == AutoAction::kDrainNode ||
                           s.auto_action == AutoAction::kMarkGpuUnhealthy;
    if (node_wide && s.severity == Severity::kCritical &&
        (d.scope == Scope::kNode || d.scope == Scope::kGpu)) {
      const int gpu = s.auto_action == AutoAction::kMarkGpuUnhealthy ? d.gpu : -1;
      out.push_back({s.id, d.entity, s.title, s.auto_action, s.auto_risk, gpu, ""});
    } else if (s.auto_action == AutoAction::kRequeueJob && d.scope == Scope::kJob) {
      out.push_back({s.id, "", s.title, s.auto_action, s.auto_risk, -1, d.entity});
    } else if (s.auto_action == AutoAction::kRestartReplica && d.scope == Scope::kService) {
      std::set<std::string> replicas;  // the replicas its signals name
      for (uint32_t id : d.evidence)
        if (!engine.signal(id).replica.empty()) replicas.insert(engine.signal(id).replica);
      for (const std::string& r : replicas)
        out.push_back({s.id, "", s.title, s.auto_action, s.auto_risk, -1, r});
    }
  }
  return out;
}

}  // namespace awan::diagnosis
