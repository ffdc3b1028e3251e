#include "core/explain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/static_fit.h"

namespace awan {

nlohmann::json ToJson(const PendingExplanation& e) {
  nlohmann::json cfs = nlohmann::json::array();
  for (const Counterfactual& c : e.counterfactuals) {
    cfs.push_back({{"kind", c.kind},
                   {"text", c.text},
                   {"region", c.region},
                   {"datasets", c.datasets},
                   {"tasks", c.tasks},
                   {"gpus_per_task", c.gpus_per_task},
                   {"tenant", c.tenant},
                   {"start_s", c.start_s},
                   {"after_job", c.after_job}});
  }
  return {{"job", e.job},     {"tenant", e.tenant}, {"submit_s", e.submit_s}, {"gpus", e.gpus},
          {"tasks", e.tasks}, {"reason", e.reason}, {"blocking", e.blocking}, {"counterfactuals", cfs}};
}

namespace {

std::string RegionName(const Fleet& fleet, uint32_t r) {
  return fleet.topology().DomainName(TopologyLevel::kRegion, DomainId(r));
}

// The region of the first task of job i in `s` (after it started).
std::string StartedIn(const Fleet& fleet, const JobScheduler& s, size_t i) {
  const auto& p = s.placements(i);
  return p.empty() ? std::string() : RegionName(fleet, fleet.region_of(p[0].node).value);
}

// Rebuilds the catalog with `items` classified internal; returns the job's new residency.
StatusOr<JobResidency> Reclassified(const ExplainSource& src, const CatalogInputs& in, size_t i,
                                    const std::vector<std::string>& items) {
  std::vector<DataSpec> declared = in.declared;
  for (const std::string& name : items) {
    auto it =
        std::find_if(declared.begin(), declared.end(), [&](const DataSpec& d) { return d.name == name; });
    if (it == declared.end()) {
      declared.push_back(DataSpec{name, DataClass::kInternal, {}, ""});
    } else {
      it->cls = DataClass::kInternal;
    }
  }
  AWAN_ASSIGN_OR_RETURN(DataCatalog c, DataCatalog::Build(*src.fleet, declared, *in.jobs, in.tenants));
  const JobScheduler& s = *src.sched;
  return c.ForJob(src.spec(i), s.tenant(s.job(i).tenant));
}

// The items that would have to be reclassified to lift citation c: the item itself and the bound items it
// inherits from (an undeclared output also carries its tenant's default).
std::vector<std::string> Sources(const RuleCitation& c) {
  std::vector<std::string> v = c.inherited;
  v.insert(v.begin(), c.data);
  return v;
}

struct Probe {
  std::unique_ptr<SchedulerState> st;
  std::optional<WaitReason> why;
};

template <typename Change>
StatusOr<Probe> TryAlone(const ExplainSource& src, size_t i, Change change) {
  Probe p;
  AWAN_ASSIGN_OR_RETURN(p.st, src.clone());
  AWAN_RETURN_IF_ERROR(change(p.st->scheduler()));
  AWAN_ASSIGN_OR_RETURN(p.why, p.st->scheduler().TryStartOne(i, src.now));
  return p;
}

// Runs the clone forward: running jobs end at their expected ends, a full cycle after each instant.
StatusOr<std::pair<int64_t, std::string>> WaitForStart(const ExplainSource& src, size_t i) {
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<SchedulerState> st, src.clone());
  JobScheduler& s = st->scheduler();
  for (int step = 0; step < 100000; ++step) {
    int64_t t = INT64_MAX;
    for (size_t r : s.running_jobs()) t = std::min(t, s.job(r).expected_end_s);
    if (t == INT64_MAX) return std::pair<int64_t, std::string>(-1, "");
    std::string last;
    std::vector<size_t> ending;
    for (size_t r : s.running_jobs())
      if (s.job(r).expected_end_s == t) ending.push_back(r);
    for (size_t r : ending) {
      AWAN_RETURN_IF_ERROR(s.Finish(r, t));
      last = src.spec(r).name;
    }
    AWAN_RETURN_IF_ERROR(s.Cycle(t));
    (void)s.TakeStarted();
    (void)s.TakeStopped();
    if (s.job(i).running) return std::pair<int64_t, std::string>(t, last);
  }
  return std::pair<int64_t, std::string>(-1, "");
}

}  // namespace

StatusOr<bool> CounterfactualHolds(const ExplainSource& src, const CatalogInputs& in, size_t i,
                                   const Counterfactual& cf) {
  if (cf.kind == "wait") {
    AWAN_ASSIGN_OR_RETURN(auto w, WaitForStart(src, i));
    return w.first >= 0 && w.first <= cf.start_s;
  }
  JobSpec smaller = src.spec(i);
  auto change = [&](JobScheduler& s) -> Status {
    if (cf.kind == "reclassify") {
      AWAN_ASSIGN_OR_RETURN(JobResidency r, Reclassified(src, in, i, cf.datasets));
      s.SetResidency(i, std::move(r));
    } else if (cf.kind == "fewer_gpus") {
      smaller.tasks = cf.tasks;
      smaller.task.gpu_count = cf.gpus_per_task;
      s.ReplaceSpec(i, smaller);
    } else if (cf.kind == "lend_quota" || cf.kind == "borrow_limit") {
      for (size_t t = 0; t < s.tenant_count(); ++t) {
        if (s.tenant(static_cast<int>(t)).name != cf.tenant) continue;
        TenantSpec spec = s.tenant(static_cast<int>(t));
        (cf.kind == "lend_quota" ? spec.lending_limit_gpus : spec.borrowing_limit_gpus) = kUnlimited;
        s.SetTenant(static_cast<int>(t), spec);
      }
    } else {
      return InvalidArgument("unknown counterfactual kind '" + cf.kind + "'");
    }
    return Status::Ok();
  };
  AWAN_ASSIGN_OR_RETURN(Probe p, TryAlone(src, i, change));
  return !p.why.has_value();
}

StatusOr<std::vector<PendingExplanation>> ExplainPending(const ExplainSource& src, const CatalogInputs& in,
                                                         const std::string& job_name) {
  const Fleet& fleet = *src.fleet;
  const JobScheduler& s = *src.sched;
  std::vector<PendingExplanation> out;
  const int64_t now = src.now;
  for (size_t i = 0; i < s.job_count(); ++i) {
    const JobRecord& r = s.job(i);
    const JobSpec& spec = src.spec(i);
    if (!job_name.empty() && spec.name != job_name) continue;
    if (r.running || r.end_s >= 0 || r.submit_s > now || !s.is_pending(i)) continue;
    PendingExplanation e;
    e.job = spec.name;
    e.tenant = spec.tenant;
    e.submit_s = r.submit_s;
    e.gpus = r.gpus;
    e.tasks = spec.tasks;
    // The reason now, asked afresh of a clone (and proof that it cannot start as things are).
    AWAN_ASSIGN_OR_RETURN(Probe now_probe, TryAlone(src, i, [](JobScheduler&) { return Status::Ok(); }));
    if (!now_probe.why) {
      e.reason = "none";
      e.blocking.push_back("it fits now: it waits only for the next scheduling cycle");
      out.push_back(std::move(e));
      continue;
    }
    e.reason = WaitReasonName(*now_probe.why);
    const JobResidency& res = s.residency(i);
    // A job that could not start even on an empty fleet: its shape is the blocker, whatever the cycle said.
    if (const StaticFit fit = CheckStaticFit(fleet, spec, res); !fit.fits()) {
      e.reason = std::string("never-fits:") + StaticBlockerName(fit.blocker);
      e.blocking.push_back(fit.detail);
      out.push_back(std::move(e));
      continue;
    }
    // Blocking constraints, with figures.
    int64_t free_all = 0, free_allowed = 0;
    for (uint32_t n = 0; n < fleet.size(); ++n) {
      const NodeState& ns = now_probe.st->snapshot().node(NodeIndex(n));
      if (ns.unavailable) continue;
      free_all += ns.gpu_left_total;
      if (res.Allows(fleet.region_of(NodeIndex(n)))) free_allowed += ns.gpu_left_total;
    }
    const double need = static_cast<double>(r.gpus);
    if (!res.unrestricted()) {
      std::string allowed;
      for (uint32_t g = 0; g < fleet.region_count(); ++g)
        if (res.Allows(DomainId(g))) allowed += (allowed.empty() ? "" : ", ") + RegionName(fleet, g);
      for (const RuleCitation& c : res.binding) {
        e.blocking.push_back(
            fmt::format("residency: {} is {} and may be processed only in {}{}", c.data, DataClassName(c.cls),
                        c.places.ToString(),
                        c.inherited.empty()
                            ? ""
                            : " (inherited from " + fmt::format("{}", fmt::join(c.inherited, ", ")) + ")"));
      }
      e.blocking.push_back(fmt::format(
          "allowed regions {}: {:.1f} GPUs free there (the fleet has {:.1f}); the job needs {:.0f}",
          allowed.empty() ? "none" : allowed, free_allowed / 1000.0, free_all / 1000.0, need));
    }
    const TenantSpec& ts = s.tenant(r.tenant);
    if (*now_probe.why == WaitReason::kQuota) {
      e.blocking.push_back(fmt::format(
          "quota: tenant {} is guaranteed {} GPUs{}{}; the job needs {:.0f} more", ts.name,
          ts.guaranteed_gpus, ts.cohort.empty() ? "" : ", cohort " + ts.cohort,
          ts.borrowing_limit_gpus == kUnlimited ? ""
                                                : fmt::format(", may borrow {}", ts.borrowing_limit_gpus),
          need));
    } else if (*now_probe.why == WaitReason::kCapacity) {
      e.blocking.push_back(fmt::format("capacity: {:.1f} GPUs free in the fleet; the job needs {:.0f}",
                                       free_all / 1000.0, need));
    } else if (*now_probe.why == WaitReason::kFragmentation || *now_probe.why == WaitReason::kTopology) {
      e.blocking.push_back(
          fmt::format("{}: {:.1f} GPUs free where it may run, but no {} holds {}", e.reason,
                      free_allowed / 1000.0, *now_probe.why == WaitReason::kTopology ? "zone" : "node",
                      *now_probe.why == WaitReason::kTopology ? "the whole gang" : "one of its tasks"));
    } else if (*now_probe.why == WaitReason::kReserved) {
      e.blocking.push_back(
          fmt::format("reserved: the room it would fit in is held for jobs that waited longer "
                      "({} reservation(s))",
                      s.reservations().size()));
    }
    if (const Reservation* rv = s.reservation(i)) {
      std::vector<std::string> nodes;
      for (NodeIndex n : rv->nodes) nodes.push_back(fleet.node(n).name);
      e.blocking.push_back(fmt::format("reserved to start at t={} s (in about {} min) on {}", rv->start_s,
                                       std::max<int64_t>(0, rv->start_s - src.now + 59) / 60,
                                       fmt::join(nodes, ", ")));
    }
    // Counterfactuals: reclassify each bound item (its sources if inherited), then all of them together.
    std::vector<std::vector<std::string>> tries;
    std::vector<std::string> all;
    for (const RuleCitation& c : res.binding) {
      for (const std::string& src : Sources(c)) {
        if (std::find(all.begin(), all.end(), src) == all.end()) {
          all.push_back(src);
          tries.push_back({src});
        }
      }
    }
    for (const RuleCitation& c : res.binding) {  // an item with everything it inherits from
      if (!c.inherited.empty()) tries.push_back(Sources(c));
    }
    if (all.size() > 1) tries.push_back(all);
    for (const std::vector<std::string>& items : tries) {
      Counterfactual cf;
      cf.kind = "reclassify";
      cf.datasets = items;
      AWAN_ASSIGN_OR_RETURN(Probe p, TryAlone(src, i, [&](JobScheduler& c) -> Status {
                              AWAN_ASSIGN_OR_RETURN(JobResidency nr, Reclassified(src, in, i, items));
                              c.SetResidency(i, std::move(nr));
                              return Status::Ok();
                            }));
      if (p.why) continue;
      cf.region = StartedIn(fleet, p.st->scheduler(), i);
      std::string names = items[0];
      for (size_t k = 1; k < items.size(); ++k) names += (k + 1 == items.size() ? " and " : ", ") + items[k];
      cf.text = fmt::format("would start now in {} if {} {} {} classified internal", cf.region,
                            items.size() == 1 ? "dataset" : "datasets", names,
                            items.size() == 1 ? "were" : "were all");
      e.counterfactuals.push_back(std::move(cf));
      break;  // the smallest change that works
    }
    // Fewer GPUs: the largest smaller request that starts now.
    std::vector<std::pair<int, int>> shapes;  // (tasks, gpus per task)
    if (spec.task.gpu_milli >= kWholeGpu) {
      for (int t = spec.tasks; t >= 1; --t) {
        for (int g = spec.task.gpu_count; g >= 1; g /= 2) {
          if (static_cast<int64_t>(t) * g < r.gpus) shapes.push_back({t, g});
          if (g == 1) break;
        }
      }
      std::stable_sort(shapes.begin(), shapes.end(),
                       [](auto a, auto b) { return a.first * a.second > b.first * b.second; });
    }
    for (const auto& [t, g] : shapes) {
      JobSpec smaller = spec;
      smaller.tasks = t;
      smaller.task.gpu_count = g;
      AWAN_ASSIGN_OR_RETURN(Probe p, TryAlone(src, i, [&](JobScheduler& c) {
                              c.ReplaceSpec(i, smaller);
                              return Status::Ok();
                            }));
      if (p.why) continue;
      Counterfactual cf;
      cf.kind = "fewer_gpus";
      cf.tasks = t;
      cf.gpus_per_task = g;
      cf.region = StartedIn(fleet, p.st->scheduler(), i);
      cf.text = fmt::format("would start now in {} with {} GPUs instead of {} ({} task{} of {})", cf.region,
                            t * g, r.gpus, t, t > 1 ? "s" : "", g);
      e.counterfactuals.push_back(std::move(cf));
      break;
    }
    // Quota: a cohort member lends all its idle quota; or the tenant borrows without limit.
    if (*now_probe.why == WaitReason::kQuota && !ts.cohort.empty()) {
      for (size_t t = 0; t < s.tenant_count(); ++t) {
        const TenantSpec& lender = s.tenant(static_cast<int>(t));
        if (lender.name == ts.name || lender.cohort != ts.cohort || lender.lending_limit_gpus == kUnlimited)
          continue;
        AWAN_ASSIGN_OR_RETURN(Probe p, TryAlone(src, i, [&](JobScheduler& c) {
                                TenantSpec l = lender;
                                l.lending_limit_gpus = kUnlimited;
                                c.SetTenant(static_cast<int>(t), l);
                                return Status::Ok();
                              }));
        if (p.why) continue;
        Counterfactual cf;
        cf.kind = "lend_quota";
        cf.tenant = lender.name;
        cf.region = StartedIn(fleet, p.st->scheduler(), i);
        cf.text = fmt::format(
            "would start now in {} if tenant {} lent its idle quota (its lending limit is {} GPUs)",
            cf.region, lender.name, lender.lending_limit_gpus);
        e.counterfactuals.push_back(std::move(cf));
        break;
      }
      if (ts.borrowing_limit_gpus != kUnlimited) {
        AWAN_ASSIGN_OR_RETURN(Probe p, TryAlone(src, i, [&](JobScheduler& c) {
                                TenantSpec b = ts;
                                b.borrowing_limit_gpus = kUnlimited;
                                c.SetTenant(r.tenant, b);
                                return Status::Ok();
                              }));
        if (!p.why) {
          Counterfactual cf;
          cf.kind = "borrow_limit";
          cf.tenant = ts.name;
          cf.region = StartedIn(fleet, p.st->scheduler(), i);
          cf.text = fmt::format("would start now in {} if tenant {} could borrow beyond its limit of {} GPUs",
                                cf.region, ts.name, ts.borrowing_limit_gpus);
          e.counterfactuals.push_back(std::move(cf));
        }
      }
    }
    // Waiting: run the clone forward.
    AWAN_ASSIGN_OR_RETURN(auto w, WaitForStart(src, i));
    if (w.first >= 0) {
      Counterfactual cf;
      cf.kind = "wait";
      cf.start_s = w.first;
      cf.after_job = w.second;
      const int64_t mins = (w.first - now + 59) / 60;
      cf.text =
          fmt::format("would start in about {} min (at t={} s) when job {} ends, if no new work arrives",
                      mins, w.first, w.second);
      e.counterfactuals.push_back(std::move(cf));
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace awan
