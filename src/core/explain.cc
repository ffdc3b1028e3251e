#include "core/explain.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/static_fit.h"

namespace awan {

const char* CounterfactualKindName(CounterfactualKind k) {
  switch (k) {
    case CounterfactualKind::kReclassify:
      return "reclassify";
    case CounterfactualKind::kFewerGpus:
      return "fewer_gpus";
    case CounterfactualKind::kLendQuota:
      return "lend_quota";
    case CounterfactualKind::kBorrowLimit:
      return "borrow_limit";
    case CounterfactualKind::kWait:
      return "wait";
  }
  return "?";
}

nlohmann::json ToJson(const PendingExplanation& e) {
  nlohmann::json cfs = nlohmann::json::array();
  for (const Counterfactual& c : e.counterfactuals) {
    cfs.push_back({{"kind", CounterfactualKindName(c.kind)},
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

// The one place a counterfactual's change is made, on a clone's scheduler: explaining tries candidates with
// it and CounterfactualHolds checks a stated one with it. `storage` keeps a changed spec alive (REQUIRES: it
// outlives the clone).
Status Apply(const Counterfactual& cf, const ExplainSource& src, const CatalogInputs& in, size_t i,
             JobScheduler& s, JobSpec& storage) {
  switch (cf.kind) {
    case CounterfactualKind::kReclassify: {
      AWAN_ASSIGN_OR_RETURN(JobResidency r, Reclassified(src, in, i, cf.datasets));
      s.SetResidency(i, std::move(r));
      return Status::Ok();
    }
    case CounterfactualKind::kFewerGpus:
      storage = src.spec(i);
      storage.tasks = cf.tasks;
      storage.task.gpu_count = cf.gpus_per_task;
      s.ReplaceSpec(i, storage);
      return Status::Ok();
    case CounterfactualKind::kLendQuota:
    case CounterfactualKind::kBorrowLimit:
      for (size_t t = 0; t < s.tenant_count(); ++t) {
        if (s.tenant(static_cast<int>(t)).name != cf.tenant) continue;
        TenantSpec spec = s.tenant(static_cast<int>(t));
        (cf.kind == CounterfactualKind::kLendQuota ? spec.lending_limit_gpus : spec.borrowing_limit_gpus) =
            kUnlimited;
        s.SetTenant(static_cast<int>(t), spec);
      }
      return Status::Ok();
    case CounterfactualKind::kWait:
      return Status::Ok();  // nothing changes but time
  }
  return InvalidArgument("unknown counterfactual kind");
}

// A counterfactual tried alone now on a fresh clone: the probe (the clone, and why the job still waits if
// it does), and the changed spec the clone's scheduler points to.
struct Tried {
  Probe probe;
  JobSpec storage;
};
StatusOr<std::unique_ptr<Tried>> TryCounterfactual(const ExplainSource& src, const CatalogInputs& in,
                                                   size_t i, const Counterfactual& cf) {
  auto t = std::make_unique<Tried>();
  AWAN_ASSIGN_OR_RETURN(
      t->probe, TryAlone(src, i, [&](JobScheduler& c) { return Apply(cf, src, in, i, c, t->storage); }));
  return t;
}

// The constraints that block job i now, with figures (`probe`: the job tried alone on a clone).
void DescribeBlocking(const ExplainSource& src, size_t i, const Probe& probe, PendingExplanation& e) {
  const Fleet& fleet = *src.fleet;
  const JobScheduler& s = *src.sched;
  const JobRecord& r = s.job(i);
  const JobResidency& res = s.residency(i);
  int64_t free_all = 0, free_allowed = 0;
  for (uint32_t n = 0; n < fleet.size(); ++n) {
    const NodeState& ns = probe.st->snapshot().node(NodeIndex(n));
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
      e.blocking.push_back(fmt::format(
          "residency: {} is {} and may be processed only in {}{}", c.data, DataClassName(c.cls),
          c.places.ToString(),
          c.inherited.empty() ? ""
                              : " (inherited from " + fmt::format("{}", fmt::join(c.inherited, ", ")) + ")"));
    }
    e.blocking.push_back(
        fmt::format("allowed regions {}: {:.1f} GPUs free there (the fleet has {:.1f}); the job "
                    "needs {:.0f}",
                    allowed.empty() ? "none" : allowed, free_allowed / 1000.0, free_all / 1000.0, need));
  }
  const TenantSpec& ts = s.tenant(r.tenant);
  const WaitReason why = *probe.why;
  if (why == WaitReason::kQuota) {
    e.blocking.push_back(fmt::format(
        "quota: tenant {} is guaranteed {} GPUs{}{}; the job needs {:.0f} more", ts.name, ts.guaranteed_gpus,
        ts.cohort.empty() ? "" : ", cohort " + ts.cohort,
        ts.borrowing_limit_gpus == kUnlimited ? "" : fmt::format(", may borrow {}", ts.borrowing_limit_gpus),
        need));
  } else if (why == WaitReason::kCapacity) {
    e.blocking.push_back(fmt::format("capacity: {:.1f} GPUs free in the fleet; the job needs {:.0f}",
                                     free_all / 1000.0, need));
  } else if (why == WaitReason::kFragmentation || why == WaitReason::kTopology) {
    e.blocking.push_back(fmt::format("{}: {:.1f} GPUs free where it may run, but no {} holds {}", e.reason,
                                     free_allowed / 1000.0, why == WaitReason::kTopology ? "zone" : "node",
                                     why == WaitReason::kTopology ? "the whole gang" : "one of its tasks"));
  } else if (why == WaitReason::kReserved) {
    e.blocking.push_back(fmt::format(
        "reserved: the room it would fit in is held for jobs that waited longer ({} reservation(s))",
        s.reservations().size()));
  }
  if (const Reservation* rv = s.reservation(i)) {
    std::vector<std::string> nodes;
    for (NodeIndex n : rv->nodes) nodes.push_back(fleet.node(n).name);
    e.blocking.push_back(fmt::format("reserved to start at t={} s (in about {} min) on {}", rv->start_s,
                                     std::max<int64_t>(0, rv->start_s - src.now + 59) / 60,
                                     fmt::join(nodes, ", ")));
    return;
  }
  // GPUs that no reservation can plan on (PlanReservation): long-running work never ends by itself.
  int64_t held_milli = 0;
  for (size_t k = 0; k < s.job_count(); ++k) {
    const JobRecord& rk = s.job(k);
    if (!rk.running || !rk.spec->task.long_running) continue;
    for (const Placement& p : s.placements(k))
      if (res.Allows(fleet.region_of(p.node))) held_milli += rk.spec->task.total_gpu().value;
  }
  if (held_milli > 0)
    e.blocking.push_back(fmt::format(
        "long-running work (services' replicas) holds {:.1f} GPUs where it may run; it never ends by itself, "
        "so no start can be planned on them",
        held_milli / 1000.0));
}

// Reclassification candidates: each bound item (its sources if inherited), an item with everything it
// inherits from, then all of them together.
std::vector<Counterfactual> ReclassifyCandidates(const JobResidency& res) {
  std::vector<Counterfactual> out;
  std::vector<std::string> all;
  auto reclassify = [&out](std::vector<std::string> items) {
    Counterfactual cf;
    cf.kind = CounterfactualKind::kReclassify;
    cf.datasets = std::move(items);
    out.push_back(std::move(cf));
  };
  for (const RuleCitation& c : res.binding) {
    for (const std::string& item : Sources(c)) {
      if (std::find(all.begin(), all.end(), item) != all.end()) continue;
      all.push_back(item);
      reclassify({item});
    }
  }
  for (const RuleCitation& c : res.binding)
    if (!c.inherited.empty()) reclassify(Sources(c));
  if (all.size() > 1) reclassify(all);
  return out;
}

// The candidates in groups; in each, the first that holds is kept (the smallest change that works):
// reclassifications, fewer GPUs (largest first), a cohort member lending its idle quota, the tenant borrowing
// without limit.
std::vector<std::vector<Counterfactual>> Candidates(const ExplainSource& src, size_t i, WaitReason why) {
  const JobScheduler& s = *src.sched;
  const JobRecord& r = s.job(i);
  const JobSpec& spec = src.spec(i);
  std::vector<std::vector<Counterfactual>> groups{ReclassifyCandidates(s.residency(i)), {}, {}};
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
    Counterfactual cf;
    cf.kind = CounterfactualKind::kFewerGpus;
    cf.tasks = t;
    cf.gpus_per_task = g;
    groups[1].push_back(std::move(cf));
  }
  const TenantSpec& ts = s.tenant(r.tenant);
  if (why != WaitReason::kQuota || ts.cohort.empty()) return groups;
  for (size_t t = 0; t < s.tenant_count(); ++t) {
    const TenantSpec& lender = s.tenant(static_cast<int>(t));
    if (lender.name == ts.name || lender.cohort != ts.cohort || lender.lending_limit_gpus == kUnlimited)
      continue;
    Counterfactual cf;
    cf.kind = CounterfactualKind::kLendQuota;
    cf.tenant = lender.name;
    groups[2].push_back(std::move(cf));
  }
  if (ts.borrowing_limit_gpus != kUnlimited) {
    Counterfactual cf;
    cf.kind = CounterfactualKind::kBorrowLimit;
    cf.tenant = ts.name;
    groups.push_back({std::move(cf)});
  }
  return groups;
}

// What a counterfactual that holds says, in words.
std::string Describe(const ExplainSource& src, size_t i, const Counterfactual& cf) {
  const JobScheduler& s = *src.sched;
  switch (cf.kind) {
    case CounterfactualKind::kReclassify: {
      const std::vector<std::string>& items = cf.datasets;
      std::string names = items[0];
      for (size_t k = 1; k < items.size(); ++k) names += (k + 1 == items.size() ? " and " : ", ") + items[k];
      return fmt::format("would start now in {} if {} {} {} classified internal", cf.region,
                         items.size() == 1 ? "dataset" : "datasets", names,
                         items.size() == 1 ? "were" : "were all");
    }
    case CounterfactualKind::kFewerGpus:
      return fmt::format("would start now in {} with {} GPUs instead of {} ({} task{} of {})", cf.region,
                         cf.tasks * cf.gpus_per_task, s.job(i).gpus, cf.tasks, cf.tasks > 1 ? "s" : "",
                         cf.gpus_per_task);
    case CounterfactualKind::kLendQuota:
      for (size_t t = 0; t < s.tenant_count(); ++t) {
        const TenantSpec& lender = s.tenant(static_cast<int>(t));
        if (lender.name != cf.tenant) continue;
        return fmt::format(
            "would start now in {} if tenant {} lent its idle quota (its lending limit is {} GPUs)",
            cf.region, lender.name, lender.lending_limit_gpus);
      }
      return "";
    case CounterfactualKind::kBorrowLimit:
      return fmt::format("would start now in {} if tenant {} could borrow beyond its limit of {} GPUs",
                         cf.region, cf.tenant, s.tenant(s.job(i).tenant).borrowing_limit_gpus);
    case CounterfactualKind::kWait:
      return fmt::format("would start in about {} min (at t={} s) when job {} ends, if no new work arrives",
                         (cf.start_s - src.now + 59) / 60, cf.start_s, cf.after_job);
  }
  return "";
}

// One waiting job: its reason, what blocks it, and every counterfactual that holds (computed, not written).
StatusOr<PendingExplanation> ExplainOne(const ExplainSource& src, const CatalogInputs& in, size_t i) {
  const JobScheduler& s = *src.sched;
  const JobSpec& spec = src.spec(i);
  PendingExplanation e;
  e.job = spec.name;
  e.tenant = spec.tenant;
  e.submit_s = s.job(i).submit_s;
  e.gpus = s.job(i).gpus;
  e.tasks = spec.tasks;
  // The reason now, asked afresh of a clone (and proof that it cannot start as things are).
  AWAN_ASSIGN_OR_RETURN(Probe now_probe, TryAlone(src, i, [](JobScheduler&) { return Status::Ok(); }));
  if (!now_probe.why) {
    e.reason = "none";
    e.blocking.push_back("it fits now: it waits only for the next scheduling cycle");
    return e;
  }
  e.reason = WaitReasonName(*now_probe.why);
  // A job that could not start even on an empty fleet: its shape is the blocker, whatever the cycle said.
  if (const StaticFit fit = CheckStaticFit(*src.fleet, spec, s.residency(i)); !fit.fits()) {
    e.reason = std::string("never-fits:") + StaticBlockerName(fit.blocker);
    e.blocking.push_back(fit.detail);
    return e;
  }
  DescribeBlocking(src, i, now_probe, e);
  for (const std::vector<Counterfactual>& group : Candidates(src, i, *now_probe.why)) {
    for (Counterfactual cf : group) {
      AWAN_ASSIGN_OR_RETURN(std::unique_ptr<Tried> t, TryCounterfactual(src, in, i, cf));
      if (t->probe.why) continue;
      cf.region = StartedIn(*src.fleet, t->probe.st->scheduler(), i);
      cf.text = Describe(src, i, cf);
      e.counterfactuals.push_back(std::move(cf));
      break;
    }
  }
  // Waiting: run the clone forward.
  AWAN_ASSIGN_OR_RETURN(auto w, WaitForStart(src, i));
  if (w.first >= 0) {
    Counterfactual cf;
    cf.kind = CounterfactualKind::kWait;
    cf.start_s = w.first;
    cf.after_job = w.second;
    cf.text = Describe(src, i, cf);
    e.counterfactuals.push_back(std::move(cf));
  }
  return e;
}

}  // namespace

StatusOr<bool> CounterfactualHolds(const ExplainSource& src, const CatalogInputs& in, size_t i,
                                   const Counterfactual& cf) {
  if (cf.kind == CounterfactualKind::kWait) {
    AWAN_ASSIGN_OR_RETURN(auto w, WaitForStart(src, i));
    return w.first >= 0 && w.first <= cf.start_s;
  }
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<Tried> t, TryCounterfactual(src, in, i, cf));
  return !t->probe.why.has_value();
}

StatusOr<std::vector<PendingExplanation>> ExplainPending(const ExplainSource& src, const CatalogInputs& in,
                                                         const std::string& job_name) {
  const JobScheduler& s = *src.sched;
  std::vector<PendingExplanation> out;
  for (size_t i = 0; i < s.job_count(); ++i) {
    const JobRecord& r = s.job(i);
    if (!job_name.empty() && src.spec(i).name != job_name) continue;
    if (r.running || r.end_s >= 0 || r.submit_s > src.now || !s.is_pending(i)) continue;
    AWAN_ASSIGN_OR_RETURN(PendingExplanation e, ExplainOne(src, in, i));
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace awan
