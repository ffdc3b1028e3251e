#include "core/registry.h"

namespace awan {
namespace {

std::string JoinKeys(const auto& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k;
  return s;
}

}  // namespace

StatusOr<Profile> PluginRegistry::BuildProfile(const std::string& policy, const PluginContext& ctx) const {
  auto it = profiles_.find(policy);
  if (it == profiles_.end()) return NotFound("unknown policy '" + policy + "' (known: " + JoinKeys(profiles_) + ")");
  return Build(it->second, ctx);
}

StatusOr<Profile> PluginRegistry::Build(const ProfileConfig& c, const PluginContext& ctx) const {
  Profile p;
  p.name = c.name;
  for (const auto& name : c.filters) {
    auto it = filters_.find(name);
    if (it == filters_.end()) return NotFound("unknown filter plugin '" + name + "'");
    AWAN_ASSIGN_OR_RETURN(auto f, it->second(ctx));
    p.filters.push_back(std::move(f));
  }
  for (const auto& [name, weight] : c.scorers) {
    if (weight <= 0) return InvalidArgument("scorer '" + name + "' needs a positive weight");
    AWAN_ASSIGN_OR_RETURN(auto s, BuildScorer(name, ctx));
    p.scorers.push_back(WeightedScorer{std::move(s), weight});
  }
  auto it = selectors_.find(c.device_selector);
  if (it == selectors_.end()) return NotFound("unknown device selector '" + c.device_selector + "'");
  AWAN_ASSIGN_OR_RETURN(p.device_selector, it->second(ctx));
  return p;
}

StatusOr<std::unique_ptr<ScorePlugin>> PluginRegistry::BuildScorer(const std::string& name,
                                                                   const PluginContext& ctx) const {
  auto it = scorers_.find(name);
  if (it == scorers_.end()) return NotFound("unknown score plugin '" + name + "' (known: " + JoinKeys(scorers_) + ")");
  return it->second(ctx);
}

std::vector<std::string> PluginRegistry::ProfileNames() const {
  std::vector<std::string> v;
  for (const auto& [k, c] : profiles_) v.push_back(k);
  return v;
}

std::vector<std::string> PluginRegistry::ScorerNames() const {
  std::vector<std::string> v;
  for (const auto& [k, c] : scorers_) v.push_back(k);
  return v;
}

const ProfileConfig* PluginRegistry::FindProfile(const std::string& name) const {
  auto it = profiles_.find(name);
  return it == profiles_.end() ? nullptr : &it->second;
}

}  // namespace awan
