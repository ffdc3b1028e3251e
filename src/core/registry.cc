#include "core/registry.h"

#include <stdexcept>

namespace awan {
namespace {

std::string JoinKeys(const auto& m) {
  std::string s;
  for (const auto& [k, v] : m) s += (s.empty() ? "" : ", ") + k;
  return s;
}

std::vector<std::string> Keys(const auto& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

// The factory registered as `name` in `m`, built; NotFound naming the kind and the known names.
template <typename Map>
auto BuildNamed(const Map& m, const std::string& kind, const std::string& name)
    -> decltype(m.begin()->second()) {
  auto it = m.find(name);
  if (it == m.end())
    return NotFound("unknown " + kind + " policy '" + name + "' (known: " + JoinKeys(m) + ")");
  return it->second();
}

}  // namespace

StatusOr<std::unique_ptr<QueueOrder>> PluginRegistry::BuildOrdering(const std::string& name) const {
  return BuildNamed(orderings_, "ordering", name);
}

StatusOr<CyclePolicies> PluginRegistry::BuildCyclePolicies(const CyclePolicyNames& n) const {
  CyclePolicies p;
  AWAN_ASSIGN_OR_RETURN(p.admission, BuildNamed(admissions_, "admission", n.admission));
  AWAN_ASSIGN_OR_RETURN(p.backfill, BuildNamed(backfills_, "backfill", n.backfill));
  AWAN_ASSIGN_OR_RETURN(p.preemption, BuildNamed(preemptions_, "preemption", n.preemption));
  AWAN_ASSIGN_OR_RETURN(p.fair_share, BuildNamed(fair_shares_, "fair-share", n.fair_share));
  AWAN_ASSIGN_OR_RETURN(p.region, BuildNamed(regions_, "region objective", n.region));
  return p;
}

StatusOr<std::unique_ptr<Autoscaler>> PluginRegistry::BuildAutoscaler(const std::string& name) const {
  return BuildNamed(autoscalers_, "autoscaler", name);
}

std::vector<std::string> PluginRegistry::AutoscalerNames() const { return Keys(autoscalers_); }

StatusOr<std::unique_ptr<Router>> PluginRegistry::BuildRouter(const std::string& name) const {
  return BuildNamed(routers_, "router", name);
}

std::vector<std::string> PluginRegistry::RouterNames() const { return Keys(routers_); }
std::vector<std::string> PluginRegistry::AdmissionNames() const { return Keys(admissions_); }
std::vector<std::string> PluginRegistry::BackfillNames() const { return Keys(backfills_); }
std::vector<std::string> PluginRegistry::PreemptionNames() const { return Keys(preemptions_); }
std::vector<std::string> PluginRegistry::FairShareNames() const { return Keys(fair_shares_); }
std::vector<std::string> PluginRegistry::RegionObjectiveNames() const { return Keys(regions_); }

StatusOr<ProfileConfig> ParseProfileExpression(const std::string& text) {
  ProfileConfig c;
  c.name = text;
  c.description = "inline profile";
  c.filters = {"NodeResourcesFit", "GpuFit"};
  c.device_selector = "best";
  std::string body = text;
  const size_t at = body.find('@');
  if (at != std::string::npos) {
    c.device_selector = body.substr(at + 1);
    body.resize(at);
  }
  size_t start = 0;
  while (start <= body.size()) {
    size_t plus = body.find('+', start);
    if (plus == std::string::npos) plus = body.size();
    std::string term = body.substr(start, plus - start);
    start = plus + 1;
    int64_t weight = 1;
    const size_t star = term.find('*');
    if (star != std::string::npos) {
      try {
        size_t used = 0;
        weight = std::stoll(term.substr(star + 1), &used);
        if (used != term.size() - star - 1) throw std::invalid_argument("trailing");
      } catch (const std::exception&) {
        return InvalidArgument("profile expression '" + text + "': bad weight in '" + term + "'");
      }
      term.resize(star);
    }
    if (term.empty()) return InvalidArgument("profile expression '" + text + "': empty scorer name");
    c.scorers.emplace_back(term, weight);
  }
  return c;
}

StatusOr<Profile> PluginRegistry::BuildProfile(const std::string& policy, const PluginContext& ctx) const {
  auto it = profiles_.find(policy);
  if (it != profiles_.end()) return Build(it->second, ctx);
  if (policy.find_first_of("*+@") != std::string::npos || scorers_.count(policy)) {
    AWAN_ASSIGN_OR_RETURN(ProfileConfig c, ParseProfileExpression(policy));
    return Build(c, ctx);
  }
  return NotFound("unknown policy '" + policy + "' (known: " + JoinKeys(profiles_) +
                  "; or an expression such as FgdScore*1000+BestFitScore@fgd)");
}

bool PluginRegistry::Knows(const std::string& policy) const {
  if (profiles_.count(policy)) return true;
  auto c = ParseProfileExpression(policy);
  if (!c.ok()) return false;
  for (const auto& [name, w] : c->scorers)
    if (!scorers_.count(name)) return false;
  return selectors_.count(c->device_selector) > 0;
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
  if (it == scorers_.end())
    return NotFound("unknown score plugin '" + name + "' (known: " + JoinKeys(scorers_) + ")");
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
