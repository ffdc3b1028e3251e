#include "diagnosis/engine.h"

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <tuple>

namespace awan::diagnosis {

namespace {

constexpr const char* kControlPlane = "control-plane";

bool Grouped(Scope s) { return s == Scope::kSwitch || s == Scope::kPowerFeed || s == Scope::kDataset; }

// What the signals in the window say about where jobs and services ran.
struct Whereabouts {
  std::map<std::string, std::set<std::string>> job_nodes, job_datasets, service_nodes;
  std::map<std::string, std::string> job_tenant;
};

}  // namespace

// The matches of one scenario at one entity: per member (a node of a switch or feed, a job of a dataset;
// "" otherwise) the key matchers seen.
struct Engine::Group {
  std::map<std::string, uint64_t> keys;
  uint64_t also = 0;
  std::vector<uint32_t> evidence;
  std::set<std::string> jobs;
  int64_t first = INT64_MAX, last = INT64_MIN;
  int gpu = -1;
};

std::string PlaceOf(Scope scope, const std::string& entity) {
  const Scope s = scope == Scope::kGpu ? Scope::kNode : scope;
  return std::string(Name(s)) + "/" + entity;
}

Engine::Engine(const Catalog& catalog, DiagTopology topology, EngineOptions options)
    : catalog_(&catalog), o_(options), by_kind_(kSignalKinds) {
  for (auto& [node, place] : topology.nodes) {
    ++switch_size_[place.switch_name];
    ++feed_size_[place.feed];
    place_.emplace(node, place);
  }
  for (size_t i = 0; i < catalog.size(); ++i) {
    const Scenario& s = catalog.at(i);
    for (size_t k = 0; k < s.key.size() && k < 64; ++k)
      by_kind_[static_cast<size_t>(s.key[k].kind)].push_back(
          {static_cast<uint16_t>(i), static_cast<uint8_t>(k), true, &s.key[k]});
    for (size_t k = 0; k < s.also.size() && k < 64; ++k)
      by_kind_[static_cast<size_t>(s.also[k].kind)].push_back(
          {static_cast<uint16_t>(i), static_cast<uint8_t>(k), false, &s.also[k]});
  }
}

uint32_t Engine::Add(Signal s) {
  Stored st;
  for (const Probe& p : by_kind_[static_cast<size_t>(s.kind)])
    if (p.m->Matches(s.kind, s.text)) st.hits.push_back({p.scenario, p.matcher, p.key});
  matched_ += !st.hits.empty();
  st.signal = std::move(s);
  signals_.push_back(std::move(st));
  while (signals_.size() > o_.max_signals) signals_.pop_front(), ++first_id_;
  return first_id_ + static_cast<uint32_t>(signals_.size() - 1);
}

void Engine::Forget(int64_t before_ms) {
  while (!signals_.empty() && signals_.front().signal.at_ms < before_ms) signals_.pop_front(), ++first_id_;
}

std::string Engine::EntityOf(Scope scope, const Signal& s, std::string* member) const {
  member->clear();
  switch (scope) {
    case Scope::kGpu:
    case Scope::kNode:
      return s.node;
    case Scope::kSwitch:
    case Scope::kPowerFeed: {
      const auto it = place_.find(s.node);
      if (it == place_.end()) return {};
      *member = s.node;
      return scope == Scope::kSwitch ? it->second.switch_name : it->second.feed;
    }
    case Scope::kJob:
      return s.job;
    case Scope::kDataset:
      *member = s.job;
      return s.job.empty() ? std::string() : s.dataset;
    case Scope::kService:
      return s.service;
    case Scope::kTenant:
      return s.tenant;
    case Scope::kControlPlane:
      return kControlPlane;
  }
  return {};
}

std::vector<Diagnosis> Engine::Diagnose(int64_t now_ms) const {
  std::vector<uint32_t> window;
  std::map<std::pair<int, std::string>, Group> groups;
  std::string member;
  for (size_t i = 0; i < signals_.size(); ++i) {
    const Stored& st = signals_[i];
    if (st.signal.at_ms <= now_ms - o_.window_ms || st.signal.at_ms > now_ms) continue;
    const uint32_t id = first_id_ + static_cast<uint32_t>(i);
    window.push_back(id);
    for (const Hit& h : st.hits) {
      const Scenario& sc = catalog_->at(h.scenario);
      std::string entity = EntityOf(sc.scope, st.signal, &member);
      if (entity.empty()) continue;
      Group& g = groups[{h.scenario, std::move(entity)}];
      if (h.key) {
        g.keys[member] |= uint64_t{1} << h.matcher;
      } else {
        g.also |= uint64_t{1} << h.matcher;
      }
      if (g.evidence.empty() || g.evidence.back() != id) g.evidence.push_back(id);
      g.first = std::min(g.first, st.signal.at_ms), g.last = std::max(g.last, st.signal.at_ms);
      if (st.signal.gpu >= 0 && g.gpu < 0) g.gpu = st.signal.gpu;
      if (!st.signal.job.empty()) g.jobs.insert(st.signal.job);
    }
  }
  std::vector<Diagnosis> found;
  for (auto& [at, g] : groups) {
    const Scenario& sc = catalog_->at(static_cast<size_t>(at.first));
    const size_t nkeys = std::min<size_t>(sc.key.size(), 64);
    const uint64_t full = nkeys == 64 ? ~uint64_t{0} : (uint64_t{1} << nkeys) - 1;
    std::vector<std::string> members;
    for (const auto& [m, mask] : g.keys)
      if ((mask & full) == full) members.push_back(m);
    double share = 1;
    if (Grouped(sc.scope)) {
      const auto& sizes = sc.scope == Scope::kSwitch ? switch_size_ : feed_size_;
      const auto it = sizes.find(at.second);
      if (sc.scope == Scope::kDataset) {
        if (static_cast<int>(members.size()) < o_.dataset_min_jobs) continue;
      } else {
        if (it == sizes.end() || static_cast<int>(members.size()) < o_.group_min) continue;
        share = static_cast<double>(members.size()) / it->second;
        if (share < o_.group_share) continue;
      }
    } else if (members.empty()) {
      continue;
    }
    Diagnosis d;
    d.scenario = at.first;
    d.scope = sc.scope;
    d.entity = at.second;
    d.gpu = sc.scope == Scope::kGpu ? g.gpu : -1;
    const int also = std::popcount(g.also);
    d.score =
        10.0 * static_cast<double>(nkeys) + 2.0 * also + (Grouped(sc.scope) ? 3.0 * std::min(1.0, share) : 0);
    const double also_frac =
        sc.also.empty() ? 1.0 : static_cast<double>(also) / static_cast<double>(sc.also.size());
    d.confidence =
        (0.75 + 0.25 * also_frac) * (sc.scope == Scope::kDataset ? 1.0 : 0.5 + 0.5 * std::min(1.0, share));
    d.first_ms = g.first, d.last_ms = g.last;
    d.evidence = std::move(g.evidence);
    if (Grouped(sc.scope)) d.members = std::move(members);
    d.jobs.assign(g.jobs.begin(), g.jobs.end());
    found.push_back(std::move(d));
  }
  Attribute(found, window);
  std::sort(found.begin(), found.end(), [&](const Diagnosis& a, const Diagnosis& b) {
    const auto sa = catalog_->at(static_cast<size_t>(a.scenario)).severity;
    const auto sb = catalog_->at(static_cast<size_t>(b.scenario)).severity;
    return std::make_tuple(-a.score, sa, a.scenario, a.entity) <
           std::make_tuple(-b.score, sb, b.scenario, b.entity);
  });
  return found;
}

// Symptoms to causes: each symptom goes to the best-scored cause that explains its class on a place the
// symptom's job, node or service touched; attributed symptoms leave the list.
void Engine::Attribute(std::vector<Diagnosis>& found, const std::vector<uint32_t>& window) const {
  Whereabouts w;
  for (uint32_t id : window) {
    const Signal& s = signal(id);
    if (!s.job.empty() && !s.node.empty()) w.job_nodes[s.job].insert(s.node);
    if (!s.job.empty() && !s.dataset.empty()) w.job_datasets[s.job].insert(s.dataset);
    if (!s.job.empty() && !s.tenant.empty()) w.job_tenant[s.job] = s.tenant;
    if (!s.service.empty() && !s.node.empty()) w.service_nodes[s.service].insert(s.node);
  }
  auto group_of = [&](const std::string& node, Scope scope) -> std::string {
    const auto it = place_.find(node);
    if (it == place_.end()) return {};
    return scope == Scope::kSwitch ? it->second.switch_name : it->second.feed;
  };
  auto touches_nodes = [&](const Diagnosis& c, const std::set<std::string>& nodes) {
    for (const std::string& n : nodes) {
      if ((c.scope == Scope::kGpu || c.scope == Scope::kNode) && c.entity == n) return true;
      if ((c.scope == Scope::kSwitch || c.scope == Scope::kPowerFeed) && group_of(n, c.scope) == c.entity)
        return true;
    }
    return false;
  };
  static const std::set<std::string> kNone;
  auto lookup = [](const std::map<std::string, std::set<std::string>>& m,
                   const std::string& k) -> const std::set<std::string>& {
    const auto it = m.find(k);
    return it == m.end() ? kNone : it->second;
  };
  auto relates = [&](const Diagnosis& c, const Diagnosis& d) {
    if (c.scope == d.scope && c.entity == d.entity) return true;
    switch (d.scope) {
      case Scope::kJob: {
        if (c.scope == Scope::kDataset) return lookup(w.job_datasets, d.entity).count(c.entity) > 0;
        if (c.scope == Scope::kTenant) {
          const auto t = w.job_tenant.find(d.entity);
          return t != w.job_tenant.end() && t->second == c.entity;
        }
        return touches_nodes(c, lookup(w.job_nodes, d.entity));
      }
      case Scope::kGpu:
      case Scope::kNode:
        if (c.scope == Scope::kJob) return lookup(w.job_nodes, c.entity).count(d.entity) > 0;
        return touches_nodes(c, {d.entity});
      case Scope::kService:
        return touches_nodes(c, lookup(w.service_nodes, d.entity));
      default:
        return false;
    }
  };
  // Each symptom's best cause: one that explains its class where it happened; a cause may itself be a
  // symptom of a wider or more specific cause when it scores higher (a dataset's I/O errors, explained by a
  // full filesystem behind them), so the symptom goes to the end of that chain.
  std::vector<int> best(found.size(), -1);
  for (size_t i = 0; i < found.size(); ++i) {
    const Scenario& sym = catalog_->at(static_cast<size_t>(found[i].scenario));
    if (!sym.is_symptom()) continue;
    for (size_t j = 0; j < found.size(); ++j) {
      const Scenario& cause = catalog_->at(static_cast<size_t>(found[j].scenario));
      if (j == i || !cause.Explains(sym.symptom_class) || !relates(found[j], found[i])) continue;
      // A symptom explains another when it ranks higher (score, then critical over warning), or as high and
      // not the other way round (an NCCL timeout explains the task's exit, not the reverse).
      if (cause.is_symptom()) {
        const auto rc = std::make_pair(found[j].score, cause.severity == Severity::kCritical);
        const auto rs = std::make_pair(found[i].score, sym.severity == Severity::kCritical);
        if (rc < rs || (rc == rs && sym.Explains(cause.symptom_class))) continue;
      }
      const int b = best[i];
      if (b < 0 || found[j].score > found[static_cast<size_t>(b)].score) best[i] = static_cast<int>(j);
    }
  }
  std::vector<int> explained(found.size(), 0);
  std::vector<bool> gone(found.size(), false);
  for (size_t i = 0; i < found.size(); ++i) {
    if (best[i] < 0) continue;
    size_t root = static_cast<size_t>(best[i]), steps = 0;  // ranks do not fall along the chain; a cycle of
    while (best[root] >= 0 && steps++ < found.size()) root = static_cast<size_t>(best[root]);  // equals: cut
    if (best[root] >= 0) continue;
    Diagnosis& c = found[root];
    c.explained.emplace_back(found[i].scenario, found[i].entity);
    for (const std::string& j : found[i].jobs)
      if (std::find(c.jobs.begin(), c.jobs.end(), j) == c.jobs.end()) c.jobs.push_back(j);
    ++explained[root];
    gone[i] = true;
  }
  // Benign causes leave with the symptoms they explain (a preempted job's NCCL timeouts are no fault).
  std::vector<Diagnosis> kept;
  for (size_t i = 0; i < found.size(); ++i) {
    if (gone[i] || catalog_->at(static_cast<size_t>(found[i].scenario)).severity == Severity::kBenign)
      continue;
    found[i].score += std::min(5, explained[i]);
    std::sort(found[i].jobs.begin(), found[i].jobs.end());
    kept.push_back(std::move(found[i]));
  }
  found = std::move(kept);
}

}  // namespace awan::diagnosis
