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

const char* WaitReasonName(WaitReason r) {
  static constexpr const char* kNames[] = {"queue", "capacity", "quota", "fragmentation", "topology"};
  return kNames[static_cast<int>(r)];
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

  // Per-job run state. Work is counted in seconds at full speed; a run at factor f needs work x f seconds.
  struct Run {
    double work_left = 0;      // seconds of work still to do (at factor 1)
    int64_t started = -1;      // start of the current run
    int64_t overhead = 0;      // restart cost at the start of the current run
    double factor = 1.0;
    int64_t attained_gpu_s = 0;
    uint32_t id = 0;           // bumped on preemption: stale finish events are ignored
    bool running = false;
  };
  std::vector<Run> run(jobs.size());
  // Why each waiting job waits: the reason the cycle gave last, and since when.
  std::vector<int> last_reason(jobs.size(), -1);
  std::vector<int64_t> last_seen(jobs.size(), 0);
  auto account = [&](size_t i, int64_t now, int reason) {
    if (last_reason[i] >= 0) out.jobs[i].waited_s[static_cast<size_t>(last_reason[i])] += now - last_seen[i];
    last_reason[i] = reason;
    last_seen[i] = now;
  };
  for (size_t i = 0; i < jobs.size(); ++i) run[i].work_left = static_cast<double>(jobs[i].duration_s);
  // What the ordering may see of job i at time `now` (attained service includes the current run).
  auto view_at = [&](size_t i, int64_t now) {
    const int64_t current = run[i].running ? out.jobs[i].gpus * (now - run[i].started) : 0;
    return QueuedJob{out.jobs[i].submit_s, out.jobs[i].gpus, out.jobs[i].tasks, tenant_of[i],
                     run[i].attained_gpu_s + current, jobs[i].duration_s};
  };
  auto view = [&](size_t i) { return view_at(i, 0); };  // for jobs that are not running
  std::set<std::tuple<double, int64_t, size_t>> pending;
  // A job's place in the queue: its tenant's priority first (higher first), then the ordering's key.
  auto QueueKey = [&](size_t i) {
    return order->Key(view(i)) - static_cast<double>(quota.spec[tenant_of[i]].priority) * 1e12;
  };
  // Fair share: each tenant's GPU usage, decayed with a half-life, per unit of weight. Among jobs that would
  // borrow, the tenant with the smallest share goes first (dominant-resource fairness: GPUs are the dominant
  // resource of every job here).
  std::vector<double> decayed_gpu_s(quota.spec.size(), 0.0);
  int64_t decayed_at = 0;
  auto share = [&](size_t t) {
    return (decayed_gpu_s[t] / static_cast<double>(o.fair_share_half_life_s) + static_cast<double>(quota.used[t])) /
           quota.spec[t].weight;
  };
  struct Finish {
    int64_t at;
    size_t job;
    uint32_t id;
    bool operator>(const Finish& o) const { return std::tie(at, job) > std::tie(o.at, o.job); }
  };
  std::priority_queue<Finish, std::vector<Finish>, std::greater<>> finishes;
  std::set<size_t> running;  // job indices, for victim selection
  std::vector<std::vector<Placement>> placed(jobs.size());
  const int64_t capacity_milli = snap.gpu_capacity_milli();
  size_t next_submit = 0;
  const bool preemptive_order = order->preemptive();
  int64_t next_preempt_pass = INT64_MIN;

  auto start = [&](size_t i, int64_t now, GangPlacement g) {
    JobOutcome& r = out.jobs[i];
    Run& u = run[i];
    u.factor = 1.0;
    if (r.tasks > 1) {
      r.level = static_cast<int>(g.level);
      u.factor = g.level == TopologyLevel::kSupernode ? o.slowdown_supernode
                 : g.level == TopologyLevel::kBlock   ? o.slowdown_block
                                                      : o.slowdown_zone;
    }
    if (r.start_s < 0) r.start_s = now;
    account(i, now, -1);
    u.started = now;
    u.overhead = r.preemptions + r.failure_requeues > 0 ? o.restart_s : 0;
    u.running = true;
    // (the small epsilon keeps 100 x 1.1 at 110, not 111)
    const int64_t end =
        now + u.overhead + std::max<int64_t>(1, static_cast<int64_t>(std::ceil(u.work_left * u.factor - 1e-9)));
    placed[i] = std::move(g.tasks);
    quota.used[r.tenant] += r.gpus;
    running.insert(i);
    finishes.push({end, i, u.id});
  };
  // Stops job i's current run (its placements are already released by the caller): progress since the
  // last checkpoint is lost, the job waits again with a key computed from what is known now.
  auto preempt = [&](size_t i, int64_t now, bool node_failed = false) {
    JobOutcome& r = out.jobs[i];
    Run& u = run[i];
    const double done = std::max<double>(0, static_cast<double>(now - u.started - u.overhead)) / u.factor;
    const double saved = o.checkpoint_s > 0 ? std::floor(done / static_cast<double>(o.checkpoint_s)) * o.checkpoint_s : done;
    u.work_left = std::max(1.0, u.work_left - saved);
    u.attained_gpu_s += r.gpus * (now - u.started);
    u.running = false;
    ++u.id;
    if (node_failed) {
      ++r.failure_requeues;
      ++out.summary.failure_requeues;
    } else {
      ++r.preemptions;
      ++out.summary.preemptions;
    }
    placed[i].clear();
    quota.used[r.tenant] -= r.gpus;
    running.erase(i);
    last_reason[i] = static_cast<int>(WaitReason::kCapacity);  // stopped: it waits for GPUs again
    last_seen[i] = now;
    pending.insert({QueueKey(i), r.submit_s, i});
  };
  // May pending job b take running job v's place? Reclaiming a guarantee from a borrower (any policy), or a
  // preemptive ordering (srtf, tiresias) putting b strictly before v; never before v ran min_run_s.
  std::vector<double> running_key(jobs.size(), 0);  // the ordering's key of each running job, per stage 5
  auto preemptible = [&](size_t b, double b_key, size_t v, int64_t now) {
    const JobOutcome& rb = out.jobs[b];
    const JobOutcome& rv = out.jobs[v];
    // Never before the minimum run time, nor before the run saved a checkpoint: every stopped run has made
    // progress that survives, so a job is stopped at most duration / checkpoint_s times and no preemption
    // cycle can go on for ever.
    const int64_t first_checkpoint =
        run[v].overhead + static_cast<int64_t>(std::ceil(static_cast<double>(o.checkpoint_s) * run[v].factor));
    if (now - run[v].started < std::max(o.min_run_s, first_checkpoint)) return false;
    const TenantSpec& tb = quota.spec[rb.tenant];
    const TenantSpec& tv = quota.spec[rv.tenant];
    const bool reclaim = !o.isolated && rv.tenant != rb.tenant && quota.cohort[rv.tenant] >= 0 &&
                         quota.cohort[rv.tenant] == quota.cohort[rb.tenant] &&
                         quota.used[rb.tenant] + rb.gpus <= tb.guaranteed_gpus &&
                         quota.used[rv.tenant] > tv.guaranteed_gpus;
    if (reclaim) return true;
    if (!preemptive_order || (o.isolated && rv.tenant != rb.tenant)) return false;
    return running_key[v] > b_key;
  };

  // Stage 5, preempt: make room for the first few pending jobs that could not start.
  auto try_preempt = [&](size_t b, double b_key, int64_t now) -> StatusOr<bool> {
    const JobOutcome& rb = out.jobs[b];
    std::vector<size_t> victims;
    int64_t freeable = capacity_milli - snap.gpu_allocated_milli();
    for (size_t v : running)
      if (preemptible(b, b_key, v, now)) victims.push_back(v);
    // Least lost work first (progress since the last checkpoint), then the most recently started.
    auto lost = [&](size_t v) {
      const double done = std::max<double>(0, static_cast<double>(now - run[v].started - run[v].overhead)) / run[v].factor;
      const double since = o.checkpoint_s > 0 ? std::fmod(done, static_cast<double>(o.checkpoint_s)) : 0.0;
      return since * static_cast<double>(out.jobs[v].gpus);
    };
    std::sort(victims.begin(), victims.end(), [&](size_t x, size_t y) {
      const double lx = lost(x), ly = lost(y);
      return lx != ly ? lx < ly : run[x].started != run[y].started ? run[x].started > run[y].started : x < y;
    });
    std::vector<size_t> chosen;
    // Topology-aware victims for a gang: free one supernode (else one block) rather than scatter victims:
    // the domain where idle GPUs plus the victims' GPUs there cover the gang at the least lost work.
    if (o.topology_aware && rb.tasks > 1) {
      const Fleet& f = fleet;
      double best_cost = -1;
      for (int l = static_cast<int>(TopologyLevel::kSupernode); l >= static_cast<int>(TopologyLevel::kBlock) && best_cost < 0; --l) {
        std::map<uint32_t, int64_t> idle;  // free GPU milli per domain
        for (uint32_t n = 0; n < snap.size(); ++n) {
          const NodeState& ns = snap.node(NodeIndex(n));
          if (!ns.unavailable) idle[f.node(NodeIndex(n)).topology.domain[l].value] += ns.gpu_left_total;
        }
        for (const auto& [dom, free_milli] : idle) {
          int64_t have = free_milli;
          double cost = 0;
          std::vector<size_t> pick;
          for (size_t v : victims) {
            if (have >= rb.gpus * kWholeGpu.value) break;
            int64_t here = 0;
            for (const Placement& p : placed[v]) {
              if (f.node(p.node).topology.domain[l].value == dom) here += jobs[v].task.gpu_count * kWholeGpu.value;
            }
            if (here == 0) continue;
            pick.push_back(v);
            have += here;
            cost += lost(v);
          }
          if (have >= rb.gpus * kWholeGpu.value && !pick.empty() && (best_cost < 0 || cost < best_cost)) {
            best_cost = cost;
            chosen = pick;
          }
        }
      }
      if (!chosen.empty()) freeable = rb.gpus * kWholeGpu.value;  // enough, inside one domain
    }
    if (chosen.empty()) {
      for (size_t v : victims) {
        if (freeable >= rb.gpus * kWholeGpu.value) break;
        chosen.push_back(v);
        freeable += out.jobs[v].gpus * kWholeGpu.value;
      }
    }
    if (freeable < rb.gpus * kWholeGpu.value || chosen.empty()) return false;
    for (size_t v : chosen) {
      for (const Placement& p : placed[v]) AWAN_RETURN_IF_ERROR(snap.Release(jobs[v].task, p));
      quota.used[out.jobs[v].tenant] -= out.jobs[v].gpus;
    }
    std::optional<GangPlacement> g;
    if (quota.Admit(rb.tenant, rb.gpus)) {
      AWAN_ASSIGN_OR_RETURN(g, gangs.Place(GangRequest{&jobs[b].task, jobs[b].tasks, jobs[b].widest, o.topology_aware}, snap, fw, ctx));
    }
    for (size_t v : chosen) quota.used[out.jobs[v].tenant] += out.jobs[v].gpus;
    if (!g) {  // undo: the victims keep running where they were
      for (size_t v : chosen)
        for (const Placement& p : placed[v]) AWAN_RETURN_IF_ERROR(snap.Assign(jobs[v].task, p));
      return false;
    }
    for (size_t v : chosen) preempt(v, now);
    start(b, now, std::move(*g));
    return true;
  };

  // Tries to start pending job i now (stages 2 and 3); returns why not, or nullopt when it started.
  auto try_start = [&](size_t i, int64_t now) -> StatusOr<std::optional<WaitReason>> {
    JobOutcome& r = out.jobs[i];
    const int64_t free_milli = capacity_milli - snap.gpu_allocated_milli();
    if (r.gpus * kWholeGpu.value > free_milli) return std::optional<WaitReason>(WaitReason::kCapacity);
    if (!quota.Admit(r.tenant, r.gpus)) return std::optional<WaitReason>(WaitReason::kQuota);
    AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g,
                          gangs.Place(GangRequest{&jobs[i].task, jobs[i].tasks, jobs[i].widest, o.topology_aware}, snap, fw, ctx));
    if (g) {
      start(i, now, std::move(*g));
      return std::optional<WaitReason>();
    }
    // Would the tasks fit one by one, ignoring topology? Then topology is what blocks the gang.
    int64_t fit = 0;
    for (uint32_t n = 0; n < snap.size() && fit < r.tasks; ++n) fit += GangPlacer::TasksThatFit(jobs[i].task, snap.node(NodeIndex(n)));
    return std::optional<WaitReason>(r.tasks > 1 && fit >= r.tasks ? WaitReason::kTopology : WaitReason::kFragmentation);
  };

  auto cycle = [&](int64_t now) -> Status {
    // Fair-share usage, decayed to now.
    if (now > decayed_at) {
      const double keep = std::exp2(-static_cast<double>(now - decayed_at) / static_cast<double>(o.fair_share_half_life_s));
      for (size_t t = 0; t < decayed_gpu_s.size(); ++t) {
        decayed_gpu_s[t] = decayed_gpu_s[t] * keep + static_cast<double>(quota.used[t]) * static_cast<double>(now - decayed_at);
      }
      decayed_at = now;
    }
    // 1. order (the pending set is kept sorted), 2. admit, 3. place, 4. backfill past jobs that cannot start.
    // A job that would borrow waits for the fair-share pass below.
    int blocked = 0;
    std::vector<std::pair<double, size_t>> waiting;  // the first jobs that could not start, for stage 5
    std::vector<std::vector<std::pair<double, size_t>>> borrowers(quota.spec.size());
    int deferred = 0;
    for (auto it = pending.begin(); it != pending.end() && blocked <= o.backfill_window;) {
      const size_t i = std::get<2>(*it);
      const double key = std::get<0>(*it);
      JobOutcome& r = out.jobs[i];
      const int64_t free_milli = capacity_milli - snap.gpu_allocated_milli();
      if (o.fair_share && !o.isolated && quota.cohort[r.tenant] >= 0 &&
          quota.used[r.tenant] + r.gpus > quota.spec[r.tenant].guaranteed_gpus && deferred < o.backfill_window) {
        borrowers[r.tenant].push_back({key, i});
        ++deferred, ++it;
        continue;
      }
      bool started = false;
      AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, try_start(i, now));
      started = !why.has_value();
      if (started) {
        it = pending.erase(it);
        continue;
      }
      (void)r;
      account(i, now, static_cast<int>(*why));
      if (waiting.size() < static_cast<size_t>(o.preempt_window)) waiting.push_back({key, i});
      ++blocked, ++it;
      if (free_milli <= 0 && waiting.size() >= static_cast<size_t>(o.preempt_window)) break;
    }
    // The fair-share pass: jobs that would borrow, the tenant with the smallest share first, each tenant's
    // jobs in queue order; a tenant's share grows with every job it starts.
    std::vector<size_t> next(quota.spec.size(), 0);
    for (;;) {
      int best = -1;
      for (size_t t = 0; t < borrowers.size(); ++t) {
        if (next[t] < borrowers[t].size() && (best < 0 || share(t) < share(static_cast<size_t>(best)))) best = static_cast<int>(t);
      }
      if (best < 0 || capacity_milli - snap.gpu_allocated_milli() <= 0) break;
      const auto [key, i] = borrowers[static_cast<size_t>(best)][next[static_cast<size_t>(best)]++];
      AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, try_start(i, now));
      if (!why) {
        pending.erase({key, out.jobs[i].submit_s, i});
        continue;
      }
      account(i, now, static_cast<int>(*why));
      if (waiting.size() < static_cast<size_t>(o.preempt_window)) waiting.push_back({key, i});
    }
    for (size_t t = 0; t < borrowers.size(); ++t) {
      for (size_t k = next[t]; k < borrowers[t].size(); ++k) {
        account(borrowers[t][k].second, now, static_cast<int>(WaitReason::kCapacity));
        if (waiting.size() < static_cast<size_t>(o.preempt_window)) waiting.push_back(borrowers[t][k]);
      }
    }
    // 5. preempt, for the first jobs that could not start: at most once per preempt_interval_s (a periodic
    // pass, as real schedulers run it), and only if some running job could be a victim at all.
    if (waiting.empty() || now < next_preempt_pass) return Status::Ok();
    next_preempt_pass = now + o.preempt_interval_s;
    bool borrowing = false;
    for (size_t t = 0; t < quota.spec.size() && !borrowing; ++t) borrowing = quota.used[t] > quota.spec[t].guaranteed_gpus;
    if (!borrowing && !preemptive_order) return Status::Ok();
    if (preemptive_order) {
      for (size_t v : running) running_key[v] = order->Key(view_at(v, now));
    }
    for (const auto& [key, i] : waiting) {
      auto it = pending.find({key, out.jobs[i].submit_s, i});
      if (it == pending.end()) continue;
      AWAN_ASSIGN_OR_RETURN(bool ok, try_preempt(i, key, now));
      if (ok) pending.erase(it);
    }
    return Status::Ok();
  };

  // The event loop: finishes, then submissions, of one instant; then one scheduling cycle. A job that
  // waits while nothing runs and nothing arrives can never start; the loop ends.
  std::vector<NodeEvent> node_events = o.node_events;
  for (const NodeEvent& e : node_events) {
    if (e.node >= fleet.size()) return InvalidArgument("node event for node index " + std::to_string(e.node) + " beyond the fleet");
  }
  std::stable_sort(node_events.begin(), node_events.end(), [](const NodeEvent& a, const NodeEvent& b) { return a.at_s < b.at_s; });
  size_t next_node_event = 0;
  int64_t next_tick = INT64_MAX;  // the periodic cycle, while jobs wait
  while (next_submit < by_submit.size() || !finishes.empty() || next_node_event < node_events.size()) {
    int64_t now = next_tick;
    if (next_submit < by_submit.size()) now = out.jobs[by_submit[next_submit]].submit_s;
    if (!finishes.empty()) now = std::min(now, finishes.top().at);
    if (next_node_event < node_events.size()) now = std::min(now, node_events[next_node_event].at_s);
    while (!finishes.empty() && finishes.top().at == now) {
      const Finish f = finishes.top();
      finishes.pop();
      if (f.id != run[f.job].id || !run[f.job].running) continue;  // preempted since
      const size_t i = f.job;
      for (const Placement& p : placed[i]) AWAN_RETURN_IF_ERROR(snap.Release(jobs[i].task, p));
      placed[i].clear();
      running.erase(i);
      run[i].running = false;
      run[i].attained_gpu_s += out.jobs[i].gpus * (now - run[i].started);
      quota.used[out.jobs[i].tenant] -= out.jobs[i].gpus;
      out.jobs[i].end_s = now;
      out.jobs[i].gpu_s = run[i].attained_gpu_s;
      order->Finished(view(i), jobs[i].duration_s);
      if (progress) progress->fetch_add(1, std::memory_order_relaxed);
    }
    while (next_node_event < node_events.size() && node_events[next_node_event].at_s == now) {
      const NodeEvent& e = node_events[next_node_event++];
      snap.SetUnavailable(NodeIndex(e.node), e.down);
      if (!e.down) continue;
      std::vector<size_t> hit;
      for (size_t v : running) {
        for (const Placement& p : placed[v]) {
          if (p.node.value == e.node) {
            hit.push_back(v);
            break;
          }
        }
      }
      for (size_t v : hit) {
        for (const Placement& p : placed[v]) AWAN_RETURN_IF_ERROR(snap.Release(jobs[v].task, p));
        preempt(v, now, /*node_failed=*/true);
      }
    }
    while (next_submit < by_submit.size() && out.jobs[by_submit[next_submit]].submit_s == now) {
      const size_t i = by_submit[next_submit++];
      last_reason[i] = static_cast<int>(WaitReason::kQueue);
      last_seen[i] = now;
      pending.insert({QueueKey(i), out.jobs[i].submit_s, i});
    }
    const bool timed = o.ticks != nullptr && o.cycle_ns != nullptr && !pending.empty();
    const int64_t t0 = timed ? o.ticks->NowNanos() : 0;
    AWAN_RETURN_IF_ERROR(cycle(now));
    if (timed) o.cycle_ns->push_back(o.ticks->NowNanos() - t0);
    if (out.timeline.empty() || now >= out.timeline.back().t_s + o.sample_s) {
      out.timeline.push_back({now, static_cast<int64_t>(pending.size()), snap.gpu_allocated_milli() / kWholeGpu.value});
    }
    next_tick = pending.empty() || o.cycle_period_s <= 0 ? INT64_MAX : now + o.cycle_period_s;
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
