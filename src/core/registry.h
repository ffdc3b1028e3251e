// PluginRegistry: the one explicit table from plugin names to factories, and from policy names to profile
// configurations (lists of plugin names with weights); and of the job cycle's stage policies (orderings,
// admission, backfill, preemption: core/cycle_policy.h) by name. Policies are chosen by name, never by
// number.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/autoscaler.h"
#include "core/cycle_policy.h"
#include "core/node_images.h"
#include "core/profile.h"
#include "core/queue_order.h"
#include "core/router.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan {

// What a plugin factory may look at when it is built: the fleet, and the workload's pod list as known
// before the run (FGD estimates its target workload from it, as the paper does), and the images nodes hold.
// Any may be null.
struct PluginContext {
  const Fleet* fleet = nullptr;
  const std::vector<PodSpec>* workload = nullptr;
  const NodeImages* images = nullptr;  // which nodes hold which pods' images (the server's executor's view)
};

struct ProfileConfig {
  std::string name;
  std::string description;
  std::vector<std::string> filters;
  std::vector<std::pair<std::string, int64_t>> scorers;  // plugin name, weight
  std::string device_selector;
};

// A profile written inline: "Scorer[*weight]+Scorer[*weight]...[@device_selector]", filtered by
// NodeResourcesFit and GpuFit, e.g. "FgdScore*1000+BestFitScore@fgd" (device selector default: best).
StatusOr<ProfileConfig> ParseProfileExpression(const std::string& text);

class PluginRegistry {
 public:
  using FilterFactory = std::function<StatusOr<std::unique_ptr<FilterPlugin>>(const PluginContext&)>;
  using ScorerFactory = std::function<StatusOr<std::unique_ptr<ScorePlugin>>(const PluginContext&)>;
  using SelectorFactory = std::function<StatusOr<std::unique_ptr<DeviceSelector>>(const PluginContext&)>;

  void AddFilter(std::string name, FilterFactory f) { filters_[std::move(name)] = std::move(f); }
  void AddScorer(std::string name, ScorerFactory f) { scorers_[std::move(name)] = std::move(f); }
  void AddSelector(std::string name, SelectorFactory f) { selectors_[std::move(name)] = std::move(f); }
  void AddProfile(ProfileConfig c) { profiles_[c.name] = std::move(c); }

  // The job cycle's stage policies.
  using OrderingFactory = std::function<StatusOr<std::unique_ptr<QueueOrder>>()>;
  using AdmissionFactory = std::function<StatusOr<std::unique_ptr<AdmissionPolicy>>()>;
  using BackfillFactory = std::function<StatusOr<std::unique_ptr<BackfillPolicy>>()>;
  using PreemptionFactory = std::function<StatusOr<std::unique_ptr<PreemptionPolicy>>()>;
  using FairShareFactory = std::function<StatusOr<std::unique_ptr<FairSharePolicy>>()>;
  using RegionFactory = std::function<StatusOr<std::unique_ptr<RegionObjective>>()>;
  using AutoscalerFactory = std::function<StatusOr<std::unique_ptr<Autoscaler>>()>;
  using RouterFactory = std::function<StatusOr<std::unique_ptr<Router>>()>;
  void AddOrdering(std::string name, OrderingFactory f) { orderings_[std::move(name)] = std::move(f); }
  void AddAdmission(std::string name, AdmissionFactory f) { admissions_[std::move(name)] = std::move(f); }
  void AddBackfill(std::string name, BackfillFactory f) { backfills_[std::move(name)] = std::move(f); }
  void AddPreemption(std::string name, PreemptionFactory f) { preemptions_[std::move(name)] = std::move(f); }
  void AddFairShare(std::string name, FairShareFactory f) { fair_shares_[std::move(name)] = std::move(f); }
  void AddRegionObjective(std::string name, RegionFactory f) { regions_[std::move(name)] = std::move(f); }
  void AddAutoscaler(std::string name, AutoscalerFactory f) { autoscalers_[std::move(name)] = std::move(f); }
  StatusOr<std::unique_ptr<Autoscaler>> BuildAutoscaler(const std::string& name) const;
  std::vector<std::string> AutoscalerNames() const;
  void AddRouter(std::string name, RouterFactory f) { routers_[std::move(name)] = std::move(f); }
  StatusOr<std::unique_ptr<Router>> BuildRouter(const std::string& name) const;
  std::vector<std::string> RouterNames() const;
  // NotFound (listing the known names) for a name not registered.
  StatusOr<std::unique_ptr<QueueOrder>> BuildOrdering(const std::string& name) const;
  StatusOr<CyclePolicies> BuildCyclePolicies(const CyclePolicyNames& names) const;
  std::vector<std::string> AdmissionNames() const;
  std::vector<std::string> BackfillNames() const;
  std::vector<std::string> PreemptionNames() const;
  std::vector<std::string> FairShareNames() const;
  std::vector<std::string> RegionObjectiveNames() const;

  // Builds the named policy's profile, or a profile expression (see ParseProfileExpression). NotFound lists
  // the known policies.
  StatusOr<Profile> BuildProfile(const std::string& policy, const PluginContext& ctx) const;
  // True if `policy` names a registered profile or is a valid profile expression.
  bool Knows(const std::string& policy) const;
  StatusOr<Profile> Build(const ProfileConfig& config, const PluginContext& ctx) const;

  std::vector<std::string> ProfileNames() const;
  std::vector<std::string> ScorerNames() const;
  const ProfileConfig* FindProfile(const std::string& name) const;
  StatusOr<std::unique_ptr<ScorePlugin>> BuildScorer(const std::string& name, const PluginContext& ctx) const;

 private:
  std::map<std::string, FilterFactory> filters_;
  std::map<std::string, ScorerFactory> scorers_;
  std::map<std::string, SelectorFactory> selectors_;
  std::map<std::string, ProfileConfig> profiles_;
  std::map<std::string, OrderingFactory> orderings_;
  std::map<std::string, AdmissionFactory> admissions_;
  std::map<std::string, BackfillFactory> backfills_;
  std::map<std::string, PreemptionFactory> preemptions_;
  std::map<std::string, FairShareFactory> fair_shares_;
  std::map<std::string, RegionFactory> regions_;
  std::map<std::string, AutoscalerFactory> autoscalers_;
  std::map<std::string, RouterFactory> routers_;
};

}  // namespace awan
