#include "sim/jobs_sim.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <queue>
#include <set>
#include <tuple>

#include "core/framework.h"
#include "core/gang.h"
#include "policies/builtin.h"
#include "policies/ordering/orderings.h"

namespace awan::sim {
namespace {

struct Quota {
  std::vector<TenantSpec> spec;   // by tenant index
  std::vector<int> cohort;        // by tenant index; -1 = none
  std::vector<int64_t> used;      // GPUs in use
  bool isolated = false;

  // Stage 2, admit: may `t` start `need` more GPUs now?
  bool Admit(int t, int64_t need) const {
    const TenantSpec& s = spec[t];
    if (used[t] + need <= s.guaranteed_gpus) return true;
    if (isolated || cohort[t] < 0) return false;
    const int64_t over = used[t] + need - s.guaranteed_gpus;
    if (s.borrowing_limit_gpus != kUnlimited && over > s.borrowing_limit_gpus) return false;
    // The cohort as a whole stays within its guarantees, less the idle quota lenders do not lend.
    int64_t used_sum = 0, guaranteed_sum = 0, locked = 0;
    for (size_t o = 0; o < spec.size(); ++o) {
      if (cohort[o] != cohort[t]) continue;
      used_sum += used[o];
      guaranteed_sum += spec[o].guaranteed_gpus;
      if (static_cast<int>(o) != t && spec[o].lending_limit_gpus != kUnlimited) {
        locked += std::max<int64_t>(0, spec[o].guaranteed_gpus - used[o] - spec[o].lending_limit_gpus);
      }
    }
    return used_sum + need <= guaranteed_sum - locked;
  }
};

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
  GangPlacer gangs(fleet);
  ClusterSnapshot snap(fleet);
  Rng rng(1);  // the placement profiles used here draw nothing; a fixed stream keeps runs reproducible
  const CycleContext ctx{&rng, {}, nullptr, {}};

  JobsSimResult out;
  out.summary.policy = o.policy;
  out.summary.oracle = order->reads_true_duration();
  out.summary.isolated = o.isolated;
  Quota quota;
  quota.isolated = o.isolated;
  std::map<std::string, int> tenant_index, cohort_index;
  auto add_tenant = [&](TenantSpec t) {
    tenant_index.emplace(t.name, static_cast<int>(out.tenant_names.size()));
    out.tenant_names.push_back(t.name);
    int c = -1;
    if (!t.cohort.empty()) c = cohort_index.emplace(t.cohort, static_cast<int>(cohort_index.size())).first->second;
    quota.cohort.push_back(c);
    quota.spec.push_back(std::move(t));
    quota.used.push_back(0);
  };
  // Every tenant of the file lends its idle quota, whether or not it submits anything.
  for (const TenantSpec& t : file.tenants) add_tenant(t);
  std::vector<int> tenant_of(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto it = tenant_index.find(jobs[i].tenant);
    if (it == tenant_index.end()) {
      AWAN_ASSIGN_OR_RETURN(TenantSpec t, file.Tenant(jobs[i].tenant));
      add_tenant(std::move(t));
      it = tenant_index.find(jobs[i].tenant);
    }
    tenant_of[i] = it->second;
    if (jobs[i].tasks < 1 || jobs[i].task.gpu_count < 1 || jobs[i].duration_s < 1) {
      return InvalidArgument("job " + jobs[i].name + ": needs at least one task with a GPU and a duration of 1 s");
    }
  }
  // Submit times, rescaled to the target load (durations unchanged).
  const double native = OfferedLoad(jobs, fleet.total_gpus());
  const double scale = o.target_load > 0 && native > 0 ? native / o.target_load : 1.0;
  out.summary.offered_load = o.target_load > 0 && native > 0 ? o.target_load : native;
  out.jobs.resize(jobs.size());
  std::vector<size_t> by_submit(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    by_submit[i] = i;
    JobOutcome& r = out.jobs[i];
    r.submit_s = std::llround(static_cast<double>(jobs[i].submit_s) * scale);
    r.duration_s = jobs[i].duration_s;
    r.gpus = jobs[i].total_gpus();
    r.tasks = jobs[i].tasks;
    r.tenant = tenant_of[i];
  }
  std::stable_sort(by_submit.begin(), by_submit.end(),
                   [&](size_t a, size_t b) { return out.jobs[a].submit_s < out.jobs[b].submit_s; });

  auto view = [&](size_t i) {
    return QueuedJob{out.jobs[i].submit_s, out.jobs[i].gpus, out.jobs[i].tasks, tenant_of[i], 0, jobs[i].duration_s};
  };
  std::set<std::tuple<double, int64_t, size_t>> pending;
  using Finish = std::pair<int64_t, size_t>;
  std::priority_queue<Finish, std::vector<Finish>, std::greater<>> running;
  std::vector<std::vector<Placement>> placed(jobs.size());
  const int64_t capacity_milli = snap.gpu_capacity_milli();
  size_t next_submit = 0;

  auto cycle = [&](int64_t now) -> Status {
    int blocked = 0;
    for (auto it = pending.begin(); it != pending.end() && blocked <= o.backfill_window;) {
      const int64_t free_milli = capacity_milli - snap.gpu_allocated_milli();
      if (free_milli <= 0) break;
      const size_t i = std::get<2>(*it);
      JobOutcome& r = out.jobs[i];
      // 2. admit, 3. place; 4. a job that cannot start is skipped (backfill).
      if (r.gpus * kWholeGpu.value > free_milli || !quota.Admit(r.tenant, r.gpus)) {
        ++blocked, ++it;
        continue;
      }
      const GangRequest req{&jobs[i].task, jobs[i].tasks, TopologyLevel::kZone};
      AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g, gangs.Place(req, snap, fw, ctx));
      if (!g) {
        ++blocked, ++it;
        continue;
      }
      double factor = 1.0;
      if (r.tasks > 1) {
        r.level = static_cast<int>(g->level);
        factor = g->level == TopologyLevel::kSupernode ? o.slowdown_supernode
                 : g->level == TopologyLevel::kBlock   ? o.slowdown_block
                                                       : o.slowdown_zone;
      }
      r.start_s = now;
      r.end_s = now + std::max<int64_t>(1, std::llround(static_cast<double>(r.duration_s) * factor));
      placed[i] = std::move(g->tasks);
      quota.used[r.tenant] += r.gpus;
      running.push({r.end_s, i});
      it = pending.erase(it);
    }
    (void)now;
    return Status::Ok();
  };

  // The event loop: finishes, then submissions, of one instant; then one scheduling cycle.
  while (next_submit < by_submit.size() || !running.empty()) {
    int64_t now = INT64_MAX;
    if (next_submit < by_submit.size()) now = out.jobs[by_submit[next_submit]].submit_s;
    if (!running.empty()) now = std::min(now, running.top().first);
    while (!running.empty() && running.top().first == now) {
      const size_t i = running.top().second;
      running.pop();
      for (const Placement& p : placed[i]) AWAN_RETURN_IF_ERROR(snap.Release(jobs[i].task, p));
      placed[i].clear();
      quota.used[out.jobs[i].tenant] -= out.jobs[i].gpus;
      order->Finished(view(i), out.jobs[i].end_s - out.jobs[i].start_s);
      if (progress) progress->fetch_add(1, std::memory_order_relaxed);
    }
    while (next_submit < by_submit.size() && out.jobs[by_submit[next_submit]].submit_s == now) {
      const size_t i = by_submit[next_submit++];
      pending.insert({order->Key(view(i)), out.jobs[i].submit_s, i});
    }
    AWAN_RETURN_IF_ERROR(cycle(now));
    if (running.empty() && next_submit == by_submit.size()) break;  // what is left can never start
  }

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
    queue_sum += static_cast<double>(r.start_s - r.submit_s);
    slow_sum += j / static_cast<double>(r.duration_s);
    const double gh = static_cast<double>(r.gpus) * static_cast<double>(r.end_s - r.start_s);
    gpu_run_s += gh;
    if (r.tasks > 1) {
      multi += gh;
      if (r.level >= static_cast<int>(TopologyLevel::kSupernode)) multi_sn += gh;
      if (r.level >= static_cast<int>(TopologyLevel::kBlock)) multi_block += gh;
    }
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
