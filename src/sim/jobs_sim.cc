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
namespace {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(std::ceil(q * static_cast<double>(v.size()))) - (q > 0));
  return v[k];
}

}  // namespace

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

StatusOr<JobsSimResult> RunJobsSim(const config::FleetFile& file, const std::vector<JobSpec>& jobs,
                                   const JobsSimOptions& o, std::atomic<int64_t>* progress) {
  const Fleet& fleet = file.fleet;
  if (fleet.total_gpus() == 0) return InvalidArgument("the fleet has no GPUs");
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<QueueOrder> order, policies::MakeQueueOrder(o.policy));
  std::vector<PodSpec> no_pods;
  AWAN_ASSIGN_OR_RETURN(Profile profile, policies::BuiltinRegistry().BuildProfile(o.placement, PluginContext{&fleet, &no_pods}));
  Framework fw(std::move(profile));
  ClusterSnapshot snap(fleet);
  SchedulerOptions so;
  so.isolated = o.isolated;
  so.topology_aware = o.topology_aware;
  so.slowdown_supernode = o.slowdown_supernode;
  so.slowdown_block = o.slowdown_block;
  so.slowdown_zone = o.slowdown_zone;
  so.backfill_window = o.backfill_window;
  so.min_run_s = o.min_run_s;
  so.checkpoint_s = o.checkpoint_s;
  so.restart_s = o.restart_s;
  so.preempt_window = o.preempt_window;
  so.preempt_interval_s = o.preempt_interval_s;
  so.fair_share = o.fair_share;
  so.fair_share_half_life_s = o.fair_share_half_life_s;
  JobScheduler sched(fleet, snap, fw, *order, so);

  JobsSimResult out;
  out.summary.policy = o.policy;
  out.summary.oracle = order->reads_true_duration();
  out.summary.isolated = o.isolated;
  // Tenants: every tenant of the file lends its idle quota, whether or not it submits anything; a tenant
  // only the job table names gets the file's default.
  std::map<std::string, int> tenant_index;
  for (const TenantSpec& t : file.tenants) {
    tenant_index.emplace(t.name, sched.AddTenant(t));
    out.tenant_names.push_back(t.name);
  }
  // Jobs, with submit times rescaled to the target load (durations unchanged).
  const double native = OfferedLoad(jobs, fleet.total_gpus());
  const double scale = o.target_load > 0 && native > 0 ? native / o.target_load : 1.0;
  out.summary.offered_load = o.target_load > 0 && native > 0 ? o.target_load : native;
  std::vector<size_t> by_submit(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    if (jobs[i].tasks < 1 || jobs[i].task.gpu_count < 1 || jobs[i].duration_s < 1) {
      return InvalidArgument("job " + jobs[i].name + ": needs at least one task with a GPU and a duration of 1 s");
    }
    auto it = tenant_index.find(jobs[i].tenant);
    if (it == tenant_index.end()) {
      AWAN_ASSIGN_OR_RETURN(TenantSpec t, file.Tenant(jobs[i].tenant));
      it = tenant_index.emplace(jobs[i].tenant, sched.AddTenant(std::move(t))).first;
      out.tenant_names.push_back(jobs[i].tenant);
    }
    sched.AddJob(jobs[i], it->second, std::llround(static_cast<double>(jobs[i].submit_s) * scale));
    by_submit[i] = i;
  }
  std::stable_sort(by_submit.begin(), by_submit.end(),
                   [&](size_t a, size_t b) { return sched.job(a).submit_s < sched.job(b).submit_s; });

  struct Finish {
    int64_t at;
    size_t job;
    uint32_t id;
    bool operator>(const Finish& f) const { return std::tie(at, job) > std::tie(f.at, f.job); }
  };
  std::priority_queue<Finish, std::vector<Finish>, std::greater<>> finishes;
  auto collect_starts = [&] {
    for (const RunStarted& r : sched.TakeStarted()) finishes.push({r.expected_end_s, r.job, r.run_id});
  };
  std::vector<NodeEvent> node_events = o.node_events;
  for (const NodeEvent& e : node_events) {
    if (e.node >= fleet.size()) return InvalidArgument("node event for node index " + std::to_string(e.node) + " beyond the fleet");
  }
  std::stable_sort(node_events.begin(), node_events.end(), [](const NodeEvent& a, const NodeEvent& b) { return a.at_s < b.at_s; });

  // The event loop: finishes, node events, then submissions of one instant; then one scheduling cycle (also
  // every cycle_period_s while jobs wait). A job that waits while nothing runs and nothing else will happen
  // can never start; the loop ends.
  size_t next_submit = 0, next_node_event = 0;
  int64_t next_tick = INT64_MAX;
  while (next_submit < by_submit.size() || !finishes.empty() || next_node_event < node_events.size()) {
    int64_t now = next_tick;
    if (next_submit < by_submit.size()) now = std::min(now, sched.job(by_submit[next_submit]).submit_s);
    if (!finishes.empty()) now = std::min(now, finishes.top().at);
    if (next_node_event < node_events.size()) now = std::min(now, node_events[next_node_event].at_s);
    while (!finishes.empty() && finishes.top().at == now) {
      const Finish f = finishes.top();
      finishes.pop();
      if (f.id != sched.job(f.job).run_id || !sched.job(f.job).running) continue;  // stopped since
      AWAN_RETURN_IF_ERROR(sched.Finish(f.job, now));
      if (progress) progress->fetch_add(1, std::memory_order_relaxed);
    }
    while (next_node_event < node_events.size() && node_events[next_node_event].at_s == now) {
      const NodeEvent& e = node_events[next_node_event++];
      if (e.down) {
        AWAN_RETURN_IF_ERROR(sched.NodeDown(NodeIndex(e.node), now));
      } else {
        sched.NodeUp(NodeIndex(e.node));
      }
    }
    while (next_submit < by_submit.size() && sched.job(by_submit[next_submit]).submit_s == now) {
      sched.Submit(by_submit[next_submit++], now);
    }
    const bool timed = o.ticks != nullptr && o.cycle_ns != nullptr && sched.has_pending();
    const int64_t t0 = timed ? o.ticks->NowNanos() : 0;
    AWAN_RETURN_IF_ERROR(sched.Cycle(now));
    if (timed) o.cycle_ns->push_back(o.ticks->NowNanos() - t0);
    collect_starts();
    if (out.timeline.empty() || now >= out.timeline.back().t_s + o.sample_s) {
      out.timeline.push_back({now, static_cast<int64_t>(sched.pending_count()), snap.gpu_allocated_milli() / kWholeGpu.value});
    }
    next_tick = !sched.has_pending() || o.cycle_period_s <= 0 ? INT64_MAX : now + o.cycle_period_s;
  }

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
    r.failure_requeues = j.failure_requeues;
    r.gpu_s = j.gpu_s;
    r.waited_s = j.waited_s;
  }
  out.summary.preemptions = sched.preemptions();
  out.summary.failure_requeues = sched.failure_requeues();

  // Summary.
  JobsSummary& s = out.summary;
  s.jobs = static_cast<int64_t>(jobs.size());
  std::vector<double> jct;
  double queue_sum = 0, slow_sum = 0, gpu_run_s = 0, multi = 0, multi_sn = 0, multi_block = 0;
  int64_t first = INT64_MAX, last = INT64_MIN;
  std::vector<double> tenant_jct(out.tenant_names.size(), 0), tenant_slow(out.tenant_names.size(), 0);
  std::vector<int64_t> tenant_n(out.tenant_names.size(), 0);
  for (const JobOutcome& r : out.jobs) {
    first = std::min(first, r.submit_s);
    if (r.end_s < 0) continue;
    ++s.finished;
    last = std::max(last, r.end_s);
    const double j = static_cast<double>(r.end_s - r.submit_s);
    jct.push_back(j);
    queue_sum += j - static_cast<double>(r.gpu_s) / static_cast<double>(r.gpus);  // all time not running
    slow_sum += j / static_cast<double>(r.duration_s);
    const double gh = static_cast<double>(r.gpu_s);
    gpu_run_s += gh;
    if (r.tasks > 1) {
      ++s.gangs;
      s.gang_avg_jct_s += j;
      multi += gh;
      if (r.level >= static_cast<int>(TopologyLevel::kSupernode)) multi_sn += gh;
      if (r.level >= static_cast<int>(TopologyLevel::kBlock)) multi_block += gh;
    }
    for (int k = 0; k < kWaitReasons; ++k) s.waited_s[static_cast<size_t>(k)] += static_cast<double>(r.waited_s[static_cast<size_t>(k)]);
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
    s.tenants.push_back({out.tenant_names[t], tenant_n[t], tenant_jct[t] / static_cast<double>(tenant_n[t])});
    const double v = tenant_slow[t] / static_cast<double>(tenant_n[t]);
    x += v, x2 += v * v, ++m;
  }
  s.jain_fairness = m > 0 && x2 > 0 ? x * x / (m * x2) : 1.0;
  return out;
}

}  // namespace awan::sim
