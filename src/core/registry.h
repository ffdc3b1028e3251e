// PluginRegistry: the one explicit table from plugin names to factories, and from policy names to profile
// configurations (lists of plugin names with weights). Policies are chosen by name, never by number.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/profile.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan {

// What a plugin factory may look at when it is built: the fleet, and the workload's pod list as known
// before the run (FGD estimates its target workload from it, as the paper does). Either may be null.
struct PluginContext {
  const Fleet* fleet = nullptr;
  const std::vector<PodSpec>* workload = nullptr;
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
};

}  // namespace awan
