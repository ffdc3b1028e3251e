#include "sim/jobs_sim.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <set>
#include <tuple>

#include "core/framework.h"
#include "core/gang.h"
#include "core/job_scheduler.h"
#include "policies/builtin.h"
#include "policies/ordering/orderings.h"

namespace awan::sim {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k =
      std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - (q > 0));
  return v[k];
}

StatusOr<LoadedWorkload> LoadWorkload(const config::FleetFile& fleet, const std::string& path) {
  AWAN_ASSIGN_OR_RETURN(config::WorkloadFile wl, config::ReadWorkloadFile(path, fleet.fleet));
  std::map<std::string, TenantSpec> tenants;
  for (const JobSpec& j : wl.jobs) {
    if (tenants.count(j.tenant)) continue;
    auto t = fleet.Tenant(j.tenant);
    if (!t.ok()) return InvalidArgument(path + ": job " + j.name + ": " + t.status().message());
    tenants.emplace(j.tenant, *t);
  }
  auto c = DataCatalog::Build(fleet.fleet, wl.datasets, wl.jobs, tenants);
  if (!c.ok()) return InvalidArgument(path + ": " + c.status().message());
  return LoadedWorkload{std::move(wl), std::move(tenants), std::move(*c)};
}

double OfferedLoad(const std::vector<JobSpec>& jobs, int64_t gpus) {
  if (jobs.empty() || gpus <= 0) return 0;
  int64_t lo = jobs[0].submit_s, hi = jobs[0].submit_s;
  double gpu_s = 0;
  for (const JobSpec& j : jobs) {
    lo = std::min(lo, j.submit_s), hi = std::max(hi, j.submit_s);
    gpu_s += static_cast<double>(j.total_gpus()) * static_cast<double>(j.duration_s);
  }
  if (hi == lo) return 0;
  return gpu_s / (static_cast<double>(gpus) * static_cast<double>(hi - lo));
}

StatusOr<std::unique_ptr<JobsSimulation>> JobsSimulation::Create(const config::FleetFile& file,
                                                                 const std::vector<JobSpec>& jobs,
                                                                 const JobsSimOptions& options) {
  std::unique_ptr<JobsSimulation> sim(new JobsSimulation());
  sim->file_ = &file;
  sim->jobs_ = &jobs;
  sim->o_ = options;
  JobsSimOptions& o = sim->o_;
  if (o.policy ==
      "cheapest-unaware") {  // the baseline: the awan ordering, cheapest region first, rules ignored
    // (whatever the objective flags say: it is defined by price alone)
    o.ignore_residency = true;
    o.scheduler.region_price_weight = 1.0;
    o.scheduler.region_latency_weight = 0.0;
  }
  const Fleet& fleet = file.fleet;
  if (fleet.total_gpus() == 0) return InvalidArgument("the fleet has no GPUs");
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<QueueOrder> order,
                        policies::MakeQueueOrder(o.policy == "cheapest-unaware" ? "awan" : o.policy));
  AWAN_ASSIGN_OR_RETURN(sim->state_, SchedulerState::Create(fleet, policies::BuiltinRegistry(), o.placement,
                                                            std::move(order), o.scheduler));
  JobScheduler& sched = sim->state_->scheduler();
  sched.set_ticks(o.ticks);

  // Tenants: every tenant of the file lends its idle quota, whether or not it submits anything; a tenant
  // only the job table names gets the file's default.
  std::map<std::string, int> tenant_index;
  for (const TenantSpec& t : file.tenants) {
    tenant_index.emplace(t.name, sched.AddTenant(t));
    sim->tenant_names_.push_back(t.name);
  }
  // Jobs, with submit times rescaled to the target load (durations unchanged).
  const double native = OfferedLoad(jobs, fleet.total_gpus());
  const double scale = o.target_load > 0 && native > 0 ? native / o.target_load : 1.0;
  sim->offered_load_ = o.target_load > 0 && native > 0 ? o.target_load : native;
  sim->by_submit_.resize(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].tasks < 1 || jobs[i].task.gpu_count < 1 || jobs[i].duration_s < 1) {
      return InvalidArgument("job " + jobs[i].name +
                             ": needs at least one task with a GPU and a duration of 1 s");
    }
    auto it = tenant_index.find(jobs[i].tenant);
    if (it == tenant_index.end()) {
      AWAN_ASSIGN_OR_RETURN(TenantSpec t, file.Tenant(jobs[i].tenant));
      it = tenant_index.emplace(jobs[i].tenant, sched.AddTenant(std::move(t))).first;
      sim->tenant_names_.push_back(jobs[i].tenant);
    }
    JobResidency rules;
    if (o.catalog != nullptr) {
      AWAN_ASSIGN_OR_RETURN(rules, o.catalog->ForJob(jobs[i], sched.tenant(it->second)));
    }
    sim->true_res_.push_back(rules);
    if (o.ignore_residency) rules.region_ok.clear();
    sched.AddJob(jobs[i], it->second, std::llround(static_cast<double>(jobs[i].submit_s) * scale),
                 std::move(rules));
    sim->by_submit_[i] = i;
  }
  std::stable_sort(sim->by_submit_.begin(), sim->by_submit_.end(),
                   [&](size_t a, size_t b) { return sched.job(a).submit_s < sched.job(b).submit_s; });
  sim->node_events_ = o.node_events;
  for (const NodeEvent& e : sim->node_events_) {
    if (e.node >= fleet.size())
      return InvalidArgument("node event for node index " + std::to_string(e.node) + " beyond the fleet");
  }
  std::stable_sort(sim->node_events_.begin(), sim->node_events_.end(),
                   [](const NodeEvent& a, const NodeEvent& b) { return a.at_s < b.at_s; });
  if (o.faults != nullptr) {
    if (o.faults->catalog == nullptr) return InvalidArgument("fault injection needs the diagnosis catalog");
    for (const SimFault& f : o.faults->faults) {
      if (f.node >= fleet.size() || f.scenario < 0 ||
          static_cast<size_t>(f.scenario) >= o.faults->catalog->size())
        return InvalidArgument("a fault on a node or with a scenario that does not exist");
    }
    sim->injector_ = std::make_unique<FaultInjector>(fleet, *o.faults);
  }
  return sim;
}

ExplainSource SourceOf(const JobsSimulation& sim) {
  ExplainSource s;
  s.fleet = &sim.fleet_file().fleet;
  s.sched = &sim.scheduler();
  s.spec = [&sim](size_t i) -> const JobSpec& { return sim.jobs()[i]; };
  s.now = sim.now();
  s.clone = [&sim] { return sim.Clone(); };
  return s;
}

bool JobsSimulation::done() const {
  return next_submit_ >= by_submit_.size() && finishes_.empty() && next_node_event_ >= node_events_.size() &&
         late_.empty() && (injector_ == nullptr || !injector_->pending() || !scheduler().has_pending());
}

int JobsSimulation::AddTenant(TenantSpec t) {
  tenant_names_.push_back(t.name);
  return scheduler().AddTenant(std::move(t));
}

StatusOr<size_t> JobsSimulation::AddJob(JobSpec spec, int tenant, JobResidency rules, int64_t at_s) {
  if (at_s < now_) return InvalidArgument("a job added in the past");
  if (tenant < 0 || static_cast<size_t>(tenant) >= scheduler().tenant_count())
    return InvalidArgument("no such tenant");
  added_.push_back(std::move(spec));
  true_res_.push_back(rules);
  if (o_.ignore_residency) rules.region_ok.clear();
  const size_t i = scheduler().AddJob(added_.back(), tenant, at_s, std::move(rules));
  late_.push({at_s, i});
  return i;
}

Status JobsSimulation::CancelJob(size_t job, int64_t at_s) {
  if (!is_added(job) || job >= scheduler().job_count()) return InvalidArgument("not an added job");
  if (at_s < now_) return InvalidArgument("a job cancelled in the past");
  if (!scheduler().job(job).running && !scheduler().is_pending(job)) {  // not yet submitted
    dropped_.insert(job);
    return Status::Ok();
  }
  AWAN_RETURN_IF_ERROR(scheduler().Cancel(job, at_s));
  next_tick_ = std::min(next_tick_, at_s);  // what it held may start others now
  return Status::Ok();
}

int64_t JobsSimulation::NextEvent() const {
  int64_t t = next_tick_;
  if (next_submit_ < by_submit_.size()) t = std::min(t, scheduler().job(by_submit_[next_submit_]).submit_s);
  if (!finishes_.empty()) t = std::min(t, finishes_.top().at);
  if (!late_.empty()) t = std::min(t, late_.top().first);
  if (next_node_event_ < node_events_.size()) t = std::min(t, node_events_[next_node_event_].at_s);
  if (injector_ != nullptr) t = std::min(t, injector_->NextEvent(scheduler()));
  return t;
}

// Runs the scheduler started, checked against the catalog's rules (and reported for the audit log).
Status JobsSimulation::CollectStarts() {
  // The simulator keeps no processes: a stopped run just waits again (an added job's stop is reported).
  for (const JobScheduler::RunStopped& r : scheduler().TakeStopped())
    if (is_added(r.job)) added_runs_.push_back({false, r.job, now_, {}});
  for (RunStarted& r : scheduler().TakeStarted()) {
    if (is_added(r.job)) {
      if (CheckResidency(file_->fleet, true_res_[r.job], r.tasks)) ++violations_;
      finishes_.push({r.expected_end_s, r.job, r.run_id});
      added_runs_.push_back({true, r.job, r.at_s, std::move(r.tasks)});
      continue;
    }
    if (o_.catalog != nullptr && CheckResidency(file_->fleet, true_res_[r.job], r.tasks)) ++violations_;
    if (o_.on_start) AWAN_RETURN_IF_ERROR(o_.on_start(r, (*jobs_)[r.job], true_res_[r.job]));
    finishes_.push({r.expected_end_s, r.job, r.run_id});
  }
  return Status::Ok();
}

// The event loop: finishes, node events, then submissions of one instant; then one scheduling cycle (also
// every cycle_period_s while jobs wait, and again at once after a cycle cut short at its start budget). A job
// that waits while nothing runs and nothing else will happen can never start; the loop ends.
Status JobsSimulation::RunUntil(int64_t until, std::atomic<int64_t>* progress) {
  JobScheduler& sched = scheduler();
  while (!done() && NextEvent() <= until) {
    const int64_t now = NextEvent();
    now_ = now;
    while (!finishes_.empty() && finishes_.top().at == now) {
      const Finish f = finishes_.top();
      finishes_.pop();
      if (f.id != sched.job(f.job).run_id || !sched.job(f.job).running) continue;  // stopped since
      AWAN_RETURN_IF_ERROR(sched.Finish(f.job, now));
      if (progress) progress->fetch_add(1, std::memory_order_relaxed);
    }
    while (next_node_event_ < node_events_.size() && node_events_[next_node_event_].at_s == now) {
      const NodeEvent& e = node_events_[next_node_event_++];
      if (e.down) {
        AWAN_RETURN_IF_ERROR(sched.NodeDown(NodeIndex(e.node), now));
      } else {
        sched.NodeUp(NodeIndex(e.node));
      }
    }
    if (injector_ != nullptr) {
      AWAN_RETURN_IF_ERROR(injector_->Step(
          now, sched, [this](size_t j) { return spec(j).name; },
          [this, &sched](size_t j) { return tenant_names_[static_cast<size_t>(sched.job(j).tenant)]; }));
    }
    while (next_submit_ < by_submit_.size() && sched.job(by_submit_[next_submit_]).submit_s == now) {
      const size_t i = by_submit_[next_submit_++];
      AWAN_RETURN_IF_ERROR(state_->Observe((*jobs_)[i]));  // the placement's target workload, if it has one
      sched.Submit(i, now);
    }
    while (!late_.empty() && late_.top().first == now) {
      const size_t i = late_.top().second;
      late_.pop();
      if (dropped_.count(i) > 0) continue;
      AWAN_RETURN_IF_ERROR(state_->Observe(spec(i)));
      sched.Submit(i, now);
    }
    const bool timed = o_.ticks != nullptr && o_.cycle_ns != nullptr && sched.has_pending();
    const int64_t t0 = timed ? o_.ticks->NowNanos() : 0;
    const CycleStats before = sched.cycle_stats();
    AWAN_RETURN_IF_ERROR(sched.Cycle(now));
    if (timed) {
      o_.cycle_ns->push_back(o_.ticks->NowNanos() - t0);
      if (o_.cycle_at_s != nullptr) o_.cycle_at_s->push_back(now);
      if (o_.cycle_stage_ns != nullptr) {
        std::array<int64_t, kCycleStages> d{};
        for (size_t k = 0; k < d.size(); ++k) d[k] = sched.cycle_stats().stage_ns[k] - before.stage_ns[k];
        o_.cycle_stage_ns->push_back(d);
      }
    }
    AWAN_RETURN_IF_ERROR(CollectStarts());
    if (timeline_.empty() || now >= timeline_.back().t_s + o_.sample_s) {
      timeline_.push_back({now, static_cast<int64_t>(sched.pending_count()),
                           snapshot().gpu_allocated_milli() / kWholeGpu.value,
                           snapshot().gpu_capacity_milli() / kWholeGpu.value});
    }
    // A cycle cut short at its start budget is followed by another at the same instant.
    next_tick_ = sched.cut_short()                                ? now
                 : !sched.has_pending() || o_.cycle_period_s <= 0 ? INT64_MAX
                                                                  : now + o_.cycle_period_s;
  }
  return Status::Ok();
}

StatusOr<JobsSimResult> RunJobsSim(const config::FleetFile& file, const std::vector<JobSpec>& jobs,
                                   const JobsSimOptions& o, std::atomic<int64_t>* progress) {
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<JobsSimulation> sim, JobsSimulation::Create(file, jobs, o));
  AWAN_RETURN_IF_ERROR(sim->RunUntil(INT64_MAX, progress));
  return sim->Result();
}

JobsSimResult JobsSimulation::Result() const {
  const Fleet& fleet = file_->fleet;
  const std::vector<JobSpec>& jobs = *jobs_;
  const JobScheduler& sched = scheduler();
  JobsSimResult out;
  out.summary.policy = o_.policy;
  out.summary.oracle = state_->order().reads_true_duration();
  out.summary.isolated = !scheduler().lends();
  out.summary.offered_load = offered_load_;
  out.summary.residency_violations = violations_;
  out.timeline = timeline_;
  out.tenant_names = tenant_names_;
  // Outcomes.
  out.jobs.resize(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const JobRecord& j = sched.job(i);
    JobOutcome& r = out.jobs[i];
    r.submit_s = j.submit_s;
    r.start_s = j.first_start_s;
    r.end_s = j.end_s;
    r.duration_s = jobs[i].duration_s;
    r.gpus = j.gpus;
    r.tasks = jobs[i].tasks;
    r.tenant = j.tenant;
    r.level = j.level;
    r.preemptions = j.preemptions;
    r.bound = true_res_[i].region_ok.size() > 0 && [&] {
      for (uint32_t g = 0; g < fleet.region_count(); ++g)
        if (!true_res_[i].Allows(DomainId(g))) return true;
      return false;
    }();
    r.failure_requeues = j.failure_requeues;
    r.gpu_s = j.gpu_s;
    r.cost_usd = j.cost_usd;
    r.waited_s = j.waited_s;
  }
  if (injector_ != nullptr) out.faults = injector_->stats();
  out.summary.preemptions = sched.preemptions();
  out.summary.failure_requeues = sched.failure_requeues();

  // Summary.
  JobsSummary& s = out.summary;
  s.jobs = static_cast<int64_t>(jobs.size());
  std::vector<double> jct;
  double queue_sum = 0, slow_sum = 0, gpu_run_s = 0, multi = 0, multi_sn = 0, multi_block = 0;
  int64_t first = INT64_MAX, last = INT64_MIN;
  std::vector<double> tenant_jct(out.tenant_names.size(), 0), tenant_slow(out.tenant_names.size(), 0),
      tenant_cost(out.tenant_names.size(), 0);
  std::vector<int64_t> tenant_n(out.tenant_names.size(), 0);
  std::vector<double> slowdowns, bound_waits;
  s.cycle_stats = sched.cycle_stats();
  for (const JobOutcome& r : out.jobs) {
    s.max_preemptions_per_job = std::max(s.max_preemptions_per_job, r.preemptions);
    first = std::min(first, r.submit_s);
    s.cost_usd += r.cost_usd;
    tenant_cost[static_cast<size_t>(r.tenant)] += r.cost_usd;
    if (r.end_s < 0) continue;
    ++s.finished;
    last = std::max(last, r.end_s);
    const double j = static_cast<double>(r.end_s - r.submit_s);
    jct.push_back(j);
    queue_sum += j - static_cast<double>(r.gpu_s) / static_cast<double>(r.gpus);  // all time not running
    slow_sum += j / static_cast<double>(r.duration_s);
    slowdowns.push_back(j / static_cast<double>(r.duration_s));
    if (r.tasks > 1 && r.bound) bound_waits.push_back(static_cast<double>(r.start_s - r.submit_s));
    const double gh = static_cast<double>(r.gpu_s);
    gpu_run_s += gh;
    if (r.tasks > 1) {
      ++s.gangs;
      s.gang_avg_jct_s += j;
      multi += gh;
      if (r.level >= static_cast<int>(TopologyLevel::kSupernode)) multi_sn += gh;
      if (r.level >= static_cast<int>(TopologyLevel::kBlock)) multi_block += gh;
    }
    for (int k = 0; k < kWaitReasons; ++k)
      s.waited_s[static_cast<size_t>(k)] += static_cast<double>(r.waited_s[static_cast<size_t>(k)]);
    tenant_jct[r.tenant] += j;
    tenant_slow[r.tenant] += j / static_cast<double>(r.duration_s);
    ++tenant_n[r.tenant];
  }
  if (s.finished > 0) {
    const double n = static_cast<double>(s.finished);
    double sum = 0;
    for (double v : jct) sum += v;
    s.avg_jct_s = sum / n;
    s.p50_jct_s = Percentile(jct, 0.5);
    s.p99_jct_s = Percentile(jct, 0.99);
    s.avg_queue_s = queue_sum / n;
    s.avg_slowdown = slow_sum / n;
    s.p99_slowdown = Percentile(slowdowns, 0.99);
    s.bound_gangs = static_cast<int64_t>(bound_waits.size());
    s.bound_gang_p99_wait_s = Percentile(bound_waits, 0.99);
    s.makespan_s = static_cast<double>(last - first);
    if (s.makespan_s > 0) {
      s.gpu_util_pct = 100.0 * gpu_run_s / (static_cast<double>(fleet.total_gpus()) * s.makespan_s);
    }
  }
  if (s.gangs > 0) s.gang_avg_jct_s /= static_cast<double>(s.gangs);
  if (multi > 0) {
    s.gang_locality_supernode = multi_sn / multi;
    s.gang_locality_block = multi_block / multi;
  }
  double x = 0, x2 = 0;
  int m = 0;
  for (size_t t = 0; t < out.tenant_names.size(); ++t) {
    if (tenant_n[t] == 0) continue;
    s.tenants.push_back(
        {out.tenant_names[t], tenant_n[t], tenant_jct[t] / static_cast<double>(tenant_n[t]), tenant_cost[t]});
    const double v = tenant_slow[t] / static_cast<double>(tenant_n[t]);
    x += v, x2 += v * v, ++m;
  }
  s.jain_fairness = m > 0 && x2 > 0 ? x * x / (m * x2) : 1.0;
  return out;
}

}  // namespace awan::sim
