#include "core/job_scheduler.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace awan {

const char* WaitReasonName(WaitReason r) {
  static constexpr const char* kNames[] = {"queue",         "capacity", "quota",
                                           "fragmentation", "topology", "residency"};
  return kNames[static_cast<int>(r)];
}

JobScheduler::JobScheduler(const Fleet& fleet, ClusterSnapshot& snap, Framework& framework, QueueOrder& order,
                           SchedulerOptions options)
    : fleet_(&fleet), snap_(&snap), fw_(&framework), order_(&order), o_(options), gangs_(fleet), ctx_{&rng_,
                                                                                                      {},
                                                                                                      nullptr,
                                                                                                      {},
                                                                                                      false,
                                                                                                      {}} {
  for (const NodeSpec& n : fleet.nodes()) {
    capacity_gpu_ += n.gpu_count;
    capacity_cpu_ += static_cast<double>(n.cpu.value);
    capacity_mem_ += static_cast<double>(n.memory.value);
  }
  region_nodes_.assign(fleet.region_count(), std::vector<uint8_t>(fleet.size(), 0));
  for (uint32_t n = 0; n < fleet.size(); ++n) region_nodes_[fleet.region_of(NodeIndex(n)).value][n] = 1;
}

std::unique_ptr<JobScheduler> JobScheduler::Clone(ClusterSnapshot& snap, Framework& framework,
                                                  QueueOrder& order) const {
  std::unique_ptr<JobScheduler> c(new JobScheduler(*this));
  c->snap_ = &snap;
  c->fw_ = &framework;
  c->order_ = &order;
  c->ctx_.rng = &c->rng_;
  return c;
}

// The job's entry in the pending set (its key was computed once, when it joined).
JobScheduler::PendingKey JobScheduler::PendingEntry(size_t i) const {
  return {queue_key_[i], jobs_[i].submit_s, i};
}

bool JobScheduler::is_pending(size_t i) const { return pending_.count(PendingEntry(i)) > 0; }

// Puts job i in the queue under the key its ordering gives it now.
void JobScheduler::Enqueue(size_t i) {
  queue_key_[i] = QueueKey(i);
  AddPending(PendingEntry(i));
}

void JobScheduler::AddPending(const PendingKey& k) {
  pending_.insert(k);
  const size_t t = static_cast<size_t>(jobs_[std::get<2>(k)].tenant);
  if (pending_of_.size() <= t) pending_of_.resize(t + 1);
  pending_of_[t].insert(k);
}

void JobScheduler::ErasePending(PendingKey k) {
  pending_.erase(k);
  const size_t t = static_cast<size_t>(jobs_[std::get<2>(k)].tenant);
  if (t < pending_of_.size()) pending_of_[t].erase(k);
}

void JobScheduler::SetResidency(size_t i, JobResidency residency) {
  residency_[i] = std::move(residency);
  OrderRegions(i);
}

void JobScheduler::SetTenant(int t, TenantSpec spec) { tenants_[static_cast<size_t>(t)] = std::move(spec); }

void JobScheduler::ReplaceSpec(size_t i, const JobSpec& spec) {
  JobRecord& r = jobs_[i];
  r.spec = &spec;
  r.gpus = spec.total_gpus();
  OrderRegions(i);
}

StatusOr<std::optional<WaitReason>> JobScheduler::TryStartOne(size_t i, int64_t now) {
  auto it = pending_.find(PendingEntry(i));
  if (it == pending_.end()) return FailedPrecondition("job " + jobs_[i].spec->name + " is not waiting");
  AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, TryStart(i, now));
  if (!why) ErasePending(*it);
  return why;
}

// The job's allowed regions, best first by the region objective; regions with no node that could ever take
// one of its tasks are left out.
void JobScheduler::OrderRegions(size_t i) {
  const JobSpec& spec = *jobs_[i].spec;
  const JobResidency& res = residency_[i];
  // The cheapest node per region that could ever take one task (-1: none).
  std::vector<double> price(fleet_->region_count(), -1);
  for (uint32_t n = 0; n < fleet_->size(); ++n) {
    const NodeSpec& ns = fleet_->node(NodeIndex(n));
    if (ns.gpu_count < spec.task.gpu_count) continue;
    if (spec.task.wants_gpu() && (ns.model == kNoAccelerator || !spec.task.allowed_models.Allows(ns.model)))
      continue;
    double& p = price[fleet_->region_of(NodeIndex(n)).value];
    if (p < 0 || ns.price_per_gpu_hour < p) p = ns.price_per_gpu_hour;
  }
  std::vector<std::pair<double, uint32_t>> scored;
  for (uint32_t r = 0; r < fleet_->region_count(); ++r) {
    const DomainId region(r);
    if (!res.Allows(region) || price[r] < 0) continue;
    double to_data = 0;
    for (uint32_t home : res.data_homes)
      to_data = std::max(to_data, fleet_->latency_ms(DomainId(home), region));
    const double latency =
        to_data + (spec.user_location.empty() ? 0.0 : fleet_->user_latency_ms(spec.user_location, region));
    scored.push_back({o_.region_price_weight * price[r] + o_.region_latency_weight * latency, r});
  }
  std::sort(scored.begin(), scored.end());
  region_order_[i].clear();
  for (const auto& [score, r] : scored) region_order_[i].push_back(r);
}

int JobScheduler::AddTenant(TenantSpec t) {
  int c = -1;
  if (!t.cohort.empty()) {
    auto it = std::find(cohort_names_.begin(), cohort_names_.end(), t.cohort);
    c = static_cast<int>(it - cohort_names_.begin());
    if (it == cohort_names_.end()) cohort_names_.push_back(t.cohort);
  }
  cohort_.push_back(c);
  tenants_.push_back(std::move(t));
  used_.push_back(0);
  used_cpu_.push_back(0);
  used_mem_.push_back(0);
  decayed_share_s_.push_back(0);
  return static_cast<int>(tenants_.size() - 1);
}

size_t JobScheduler::AddJob(const JobSpec& spec, int tenant, int64_t submit_s, JobResidency residency) {
  JobRecord r;
  r.spec = &spec;
  r.tenant = tenant;
  r.submit_s = submit_s;
  r.gpus = spec.total_gpus();
  r.work_left = static_cast<double>(spec.duration_s);
  jobs_.push_back(r);
  placed_.emplace_back();
  running_key_.push_back(0);
  queue_key_.push_back(0);
  residency_.push_back(std::move(residency));
  region_order_.emplace_back();
  OrderRegions(jobs_.size() - 1);
  return jobs_.size() - 1;
}

// Stage 2, admit: may tenant `t` start `need` more GPUs now?
bool JobScheduler::Admit(int t, int64_t need) const {
  const size_t ti = static_cast<size_t>(t);
  const TenantSpec& s = tenants_[ti];
  if (used_[ti] + need <= s.guaranteed_gpus) return true;
  if (o_.isolated || cohort_[ti] < 0) return false;
  const int64_t over = used_[ti] + need - s.guaranteed_gpus;
  if (s.borrowing_limit_gpus != kUnlimited && over > s.borrowing_limit_gpus) return false;
  // The cohort as a whole stays within its guarantees, less the idle quota lenders do not lend.
  int64_t used_sum = 0, guaranteed_sum = 0, locked = 0;
  for (size_t x = 0; x < tenants_.size(); ++x) {
    if (cohort_[x] != cohort_[ti]) continue;
    used_sum += used_[x];
    guaranteed_sum += tenants_[x].guaranteed_gpus;
    if (x != ti && tenants_[x].lending_limit_gpus != kUnlimited) {
      locked += std::max<int64_t>(0, tenants_[x].guaranteed_gpus - used_[x] - tenants_[x].lending_limit_gpus);
    }
  }
  return used_sum + need <= guaranteed_sum - locked;
}

// What the ordering may see of job i at `now` (attained service includes the current run).
QueuedJob JobScheduler::View(size_t i, int64_t now) const {
  const JobRecord& r = jobs_[i];
  const int64_t current = r.running ? r.gpus * (now - r.started) : 0;
  return QueuedJob{r.submit_s,        r.gpus, r.spec->tasks, r.tenant, r.attained_gpu_s + current,
                   r.spec->duration_s};
}

// A job's place in the queue: its tenant's priority first (higher first), then the ordering's key.
double JobScheduler::QueueKey(size_t i) const {
  return order_->Key(View(i, 0)) -
         static_cast<double>(tenants_[static_cast<size_t>(jobs_[i].tenant)].priority) * 1e12;
}

// The largest of tenant t's shares of the fleet's GPUs, CPU and memory in use now.
double JobScheduler::DominantShare(size_t t) const {
  double s = capacity_gpu_ > 0 ? static_cast<double>(used_[t]) / capacity_gpu_ : 0.0;
  if (capacity_cpu_ > 0) s = std::max(s, static_cast<double>(used_cpu_[t]) / capacity_cpu_);
  if (capacity_mem_ > 0) s = std::max(s, static_cast<double>(used_mem_[t]) / capacity_mem_);
  return s;
}

// Fair share: the dominant share, decayed over time with a half-life plus the current one, per unit of
// weight.
double JobScheduler::Share(size_t t) const {
  return (decayed_share_s_[t] / static_cast<double>(o_.fair_share_half_life_s) + DominantShare(t)) /
         tenants_[t].weight;
}

// Adds (sign +1) or removes (-1) job i's resources from its tenant's usage.
void JobScheduler::Use(size_t i, int sign) {
  const JobRecord& r = jobs_[i];
  const size_t t = static_cast<size_t>(r.tenant);
  used_[t] += sign * r.gpus;
  used_cpu_[t] += sign * r.spec->tasks * r.spec->task.cpu.value;
  used_mem_[t] += sign * r.spec->tasks * r.spec->task.memory.value;
}

void JobScheduler::Account(size_t i, int64_t now, int reason) {
  JobRecord& r = jobs_[i];
  if (r.last_reason >= 0) r.waited_s[static_cast<size_t>(r.last_reason)] += now - r.last_seen;
  r.last_reason = reason;
  r.last_seen = now;
}

void JobScheduler::Submit(size_t i, int64_t now) {
  jobs_[i].last_reason = static_cast<int>(WaitReason::kQueue);
  jobs_[i].last_seen = now;
  Enqueue(i);
}

Status JobScheduler::Start(size_t i, int64_t now, GangPlacement g) {
  // The filter already confined every task to the allowed regions; a placement outside them is a bug.
  if (std::optional<std::string> v = CheckResidency(*fleet_, residency_[i], g.tasks)) {
    for (const Placement& p : g.tasks) AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[i].spec->task, p));
    return Internal("job " + jobs_[i].spec->name + ": placement breaks residency: " + *v);
  }
  JobRecord& r = jobs_[i];
  r.factor = 1.0;
  if (r.spec->tasks > 1) {
    r.level = static_cast<int>(g.level);
    r.factor = g.level == TopologyLevel::kSupernode ? o_.slowdown_supernode
               : g.level == TopologyLevel::kBlock   ? o_.slowdown_block
                                                    : o_.slowdown_zone;
  }
  if (r.first_start_s < 0) r.first_start_s = now;
  Account(i, now, -1);
  r.started = now;
  r.overhead = r.preemptions + r.failure_requeues > 0 ? o_.restart_s : 0;
  r.running = true;
  // (the small epsilon keeps 100 x 1.1 at 110, not 111)
  const int64_t end =
      now + r.overhead + std::max<int64_t>(1, static_cast<int64_t>(std::ceil(r.work_left * r.factor - 1e-9)));
  r.expected_end_s = end;
  placed_[i] = std::move(g.tasks);
  Use(i, +1);
  running_.insert(i);
  started_.push_back({i, r.run_id, now, end, placed_[i]});
  return Status::Ok();
}

Status JobScheduler::Resume(size_t i, int64_t now, int64_t started_s, const std::vector<Placement>& tasks) {
  JobRecord& r = jobs_[i];
  auto it = std::find_if(pending_.begin(), pending_.end(),
                         [i](const PendingKey& k) { return std::get<2>(k) == i; });
  if (it == pending_.end() || r.running) return FailedPrecondition("job " + r.spec->name + " is not waiting");
  if (static_cast<int>(tasks.size()) != r.spec->tasks) {
    return FailedPrecondition("job " + r.spec->name + ": " + std::to_string(tasks.size()) +
                              " placements for " + std::to_string(r.spec->tasks) + " tasks");
  }
  if (std::optional<std::string> v = CheckResidency(*fleet_, residency_[i], tasks)) {
    return FailedPrecondition("job " + r.spec->name + ": placement breaks residency: " + *v);
  }
  for (size_t k = 0; k < tasks.size(); ++k) {
    if (Status s = snap_->Assign(r.spec->task, tasks[k]); !s.ok()) {
      for (size_t u = 0; u < k; ++u) AWAN_RETURN_IF_ERROR(snap_->Release(r.spec->task, tasks[u]));
      return FailedPrecondition("job " + r.spec->name + ": its placement no longer fits: " + s.message());
    }
  }
  ErasePending(*it);
  GangPlacement g{tasks, TopologyLevel::kZone};
  for (TopologyLevel l : {TopologyLevel::kSupernode, TopologyLevel::kBlock, TopologyLevel::kZone}) {
    bool same = true;
    for (const Placement& p : tasks)
      same = same && fleet_->node(p.node).topology.at(l) == fleet_->node(tasks[0].node).topology.at(l);
    if (same) {
      g.level = l;
      break;
    }
  }
  AWAN_RETURN_IF_ERROR(Start(i, started_s, std::move(g)));
  started_.pop_back();  // nothing to launch: its tasks run already
  Account(i, now, -1);
  return Status::Ok();
}

// What job i's current run has cost until `now`: each task's GPUs (fractions pro rata) x its node's price.
double JobScheduler::RunCost(size_t i, int64_t now) const {
  const JobRecord& r = jobs_[i];
  const double gpu_per_task =
      static_cast<double>(r.spec->task.total_gpu().value) / static_cast<double>(kWholeGpu.value);
  double per_hour = 0;
  for (const Placement& p : placed_[i]) per_hour += gpu_per_task * fleet_->node(p.node).price_per_gpu_hour;
  return per_hour * static_cast<double>(now - r.started) / 3600.0;
}

// Stops job i's current run (its placements are already released by the caller): progress since the last
// checkpoint is lost; the job waits again with a key computed from what is known now.
void JobScheduler::Stop(size_t i, int64_t now, bool node_failed) {
  JobRecord& r = jobs_[i];
  const double done = std::max<double>(0, static_cast<double>(now - r.started - r.overhead)) / r.factor;
  const double saved =
      o_.checkpoint_s > 0 ? std::floor(done / static_cast<double>(o_.checkpoint_s)) * o_.checkpoint_s : done;
  r.work_left = std::max(1.0, r.work_left - saved);
  r.attained_gpu_s += r.gpus * (now - r.started);
  r.cost_usd += RunCost(i, now);
  r.running = false;
  stopped_.push_back({i, r.run_id, node_failed});
  ++r.run_id;
  if (node_failed) {
    ++r.failure_requeues;
    ++failure_requeues_;
  } else {
    ++r.preemptions;
    ++preemptions_;
  }
  placed_[i].clear();
  Use(i, -1);
  running_.erase(i);
  r.last_reason = static_cast<int>(WaitReason::kCapacity);  // stopped: it waits for GPUs again
  r.last_seen = now;
  Enqueue(i);
}

Status JobScheduler::Finish(size_t i, int64_t now) {
  JobRecord& r = jobs_[i];
  if (!r.running) return FailedPrecondition("job " + r.spec->name + " finished but is not running");
  r.cost_usd += RunCost(i, now);
  for (const Placement& p : placed_[i]) AWAN_RETURN_IF_ERROR(snap_->Release(r.spec->task, p));
  placed_[i].clear();
  running_.erase(i);
  r.running = false;
  r.attained_gpu_s += r.gpus * (now - r.started);
  Use(i, -1);
  r.end_s = now;
  r.gpu_s = r.attained_gpu_s;
  order_->Finished(View(i, 0), r.spec->duration_s);
  return Status::Ok();
}

Status JobScheduler::Cancel(size_t i, int64_t now) {
  JobRecord& r = jobs_[i];
  if (r.running) {
    for (const Placement& p : placed_[i]) AWAN_RETURN_IF_ERROR(snap_->Release(r.spec->task, p));
    r.cost_usd += RunCost(i, now);
    r.attained_gpu_s += r.gpus * (now - r.started);
    placed_[i].clear();
    running_.erase(i);
    r.running = false;
    ++r.run_id;  // a finish reported for this run is stale
    Use(i, -1);
    return Status::Ok();
  }
  if (pending_.count(PendingEntry(i)) > 0) {
    ErasePending(PendingEntry(i));
    Account(i, now, -1);
    return Status::Ok();
  }
  return NotFound("job " + r.spec->name + " is neither waiting nor running");
}

Status JobScheduler::NodeDown(NodeIndex node, int64_t now) {
  snap_->SetUnavailable(node, true);
  std::vector<size_t> hit;
  for (size_t v : running_) {
    for (const Placement& p : placed_[v]) {
      if (p.node == node) {
        hit.push_back(v);
        break;
      }
    }
  }
  for (size_t v : hit) {
    for (const Placement& p : placed_[v]) AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[v].spec->task, p));
    Stop(v, now, /*node_failed=*/true);
  }
  return Status::Ok();
}

void JobScheduler::NodeUp(NodeIndex node) { snap_->SetUnavailable(node, false); }

std::vector<JobScheduler::RunStopped> JobScheduler::TakeStopped() {
  std::vector<RunStopped> out;
  out.swap(stopped_);
  return out;
}

std::vector<RunStarted> JobScheduler::TakeStarted() {
  std::vector<RunStarted> out;
  out.swap(started_);
  return out;
}

// May pending job b take running job v's place? Reclaiming a guarantee from a borrower (any ordering), or a
// preemptive ordering putting b strictly before v. Never before v ran min_run_s, nor before its run saved
// a checkpoint: every stopped run has made progress that survives, so a job is stopped at most
// duration / checkpoint_s times and no preemption cycle can go on for ever.
bool JobScheduler::Preemptible(size_t b, double b_key, size_t v, int64_t now) const {
  const JobRecord& rb = jobs_[b];
  const JobRecord& rv = jobs_[v];
  const int64_t first_checkpoint =
      rv.overhead + static_cast<int64_t>(std::ceil(static_cast<double>(o_.checkpoint_s) * rv.factor));
  if (now - rv.started < std::max(o_.min_run_s, first_checkpoint)) return false;
  const size_t tb = static_cast<size_t>(rb.tenant), tv = static_cast<size_t>(rv.tenant);
  const bool reclaim = !o_.isolated && tv != tb && cohort_[tv] >= 0 && cohort_[tv] == cohort_[tb] &&
                       used_[tb] + rb.gpus <= tenants_[tb].guaranteed_gpus &&
                       used_[tv] > tenants_[tv].guaranteed_gpus;
  if (reclaim) return true;
  if (!order_->preemptive() || (o_.isolated && tv != tb)) return false;
  return running_key_[v] > b_key;
}

// GPU-seconds of work a stop of v would lose now (progress since its last checkpoint).
double JobScheduler::LostWork(size_t v, int64_t now) const {
  const JobRecord& r = jobs_[v];
  const double done = std::max<double>(0, static_cast<double>(now - r.started - r.overhead)) / r.factor;
  const double since = o_.checkpoint_s > 0 ? std::fmod(done, static_cast<double>(o_.checkpoint_s)) : 0.0;
  return since * static_cast<double>(r.gpus);
}

// Stage 3 for job i: its allowed regions one at a time, best first; the first that holds the job wins.
StatusOr<std::optional<GangPlacement>> JobScheduler::PlaceInRegions(size_t i) {
  const JobRecord& r = jobs_[i];
  const GangRequest req{&r.spec->task, r.spec->tasks, r.spec->widest, o_.topology_aware};
  // One region, allowed: the whole fleet, no mask needed.
  if (region_nodes_.size() == 1 && region_order_[i].size() == 1) return gangs_.Place(req, *snap_, *fw_, ctx_);
  for (uint32_t region : region_order_[i]) {
    CycleContext c = ctx_;
    c.residency_enforced = true;
    c.residency = region_nodes_[region];
    AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g, gangs_.Place(req, *snap_, *fw_, c));
    if (g) return g;
  }
  return std::optional<GangPlacement>();
}

// Stages 2 and 3 for pending job i: why it cannot start, or nullopt when it started.
StatusOr<std::optional<WaitReason>> JobScheduler::TryStart(size_t i, int64_t now) {
  const JobRecord& r = jobs_[i];
  const int64_t free_milli = snap_->gpu_capacity_milli() - snap_->gpu_allocated_milli();
  if (r.gpus * kWholeGpu.value > free_milli) return std::optional<WaitReason>(WaitReason::kCapacity);
  if (!Admit(r.tenant, r.gpus)) return std::optional<WaitReason>(WaitReason::kQuota);
  AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g, PlaceInRegions(i));
  if (g) {
    AWAN_RETURN_IF_ERROR(Start(i, now, std::move(*g)));
    return std::optional<WaitReason>();
  }
  // Would the tasks fit one by one in the allowed regions, ignoring topology? Then topology is what blocks
  // the gang. Not enough room there although the fleet has it: residency.
  int64_t fit = 0, free_allowed = 0;
  const bool restricted = !residency_[i].unrestricted();
  // (an unrestricted job stops counting once its tasks fit; a restricted one also sums its regions' free
  // GPUs)
  for (uint32_t n = 0; n < snap_->size() && (restricted || fit < r.spec->tasks); ++n) {
    if (restricted && !NodeAllowed(i, NodeIndex(n))) continue;
    const NodeState& ns = snap_->node(NodeIndex(n));
    if (restricted && !ns.unavailable) free_allowed += ns.gpu_left_total;
    if (fit < r.spec->tasks) fit += GangPlacer::TasksThatFit(r.spec->task, ns);
  }
  if (restricted && (fit < r.spec->tasks || free_allowed < r.gpus * kWholeGpu.value)) {
    return std::optional<WaitReason>(WaitReason::kResidency);
  }
  return std::optional<WaitReason>(r.spec->tasks > 1 && fit >= r.spec->tasks ? WaitReason::kTopology
                                                                             : WaitReason::kFragmentation);
}

// Stage 5 for pending job b: choose victims, release them, try b; undo if b still does not fit.
StatusOr<bool> JobScheduler::TryPreempt(size_t b, double b_key, int64_t now) {
  const JobRecord& rb = jobs_[b];
  const int64_t need = rb.gpus * kWholeGpu.value;
  std::vector<size_t> victims;
  // Only room in the regions b may use counts: free GPUs there, and victims with tasks there.
  const bool restricted = !residency_[b].unrestricted();
  int64_t freeable = 0;
  for (uint32_t n = 0; n < snap_->size(); ++n) {
    const NodeState& ns = snap_->node(NodeIndex(n));
    if (!ns.unavailable && (!restricted || NodeAllowed(b, NodeIndex(n)))) freeable += ns.gpu_left_total;
  }
  auto gpus_allowed = [&](size_t v) {
    int64_t g = 0;
    for (const Placement& p : placed_[v]) {
      if (!restricted || NodeAllowed(b, p.node)) g += jobs_[v].spec->task.gpu_count * kWholeGpu.value;
    }
    return g;
  };
  for (size_t v : running_)
    if (Preemptible(b, b_key, v, now) && gpus_allowed(v) > 0) victims.push_back(v);
  // Least lost work first, then the most recently started.
  std::sort(victims.begin(), victims.end(), [&](size_t x, size_t y) {
    const double lx = LostWork(x, now), ly = LostWork(y, now);
    return lx != ly                               ? lx < ly
           : jobs_[x].started != jobs_[y].started ? jobs_[x].started > jobs_[y].started
                                                  : x < y;
  });
  std::vector<size_t> chosen;
  // Topology-aware victims for a gang: free one supernode (else one block) rather than scatter victims: the
  // domain where idle GPUs plus the victims' GPUs there cover the gang at the least lost work.
  if (o_.topology_aware && rb.spec->tasks > 1) {
    double best_cost = -1;
    for (int l = static_cast<int>(TopologyLevel::kSupernode);
         l >= static_cast<int>(TopologyLevel::kBlock) && best_cost < 0; --l) {
      std::map<uint32_t, int64_t> idle;  // free GPU milli per domain
      for (uint32_t n = 0; n < snap_->size(); ++n) {
        const NodeState& ns = snap_->node(NodeIndex(n));
        if (restricted && !NodeAllowed(b, NodeIndex(n))) continue;  // a domain lies inside one region
        if (!ns.unavailable) idle[fleet_->node(NodeIndex(n)).topology.domain[l].value] += ns.gpu_left_total;
      }
      for (const auto& [dom, free_milli] : idle) {
        int64_t have = free_milli;
        double cost = 0;
        std::vector<size_t> pick;
        for (size_t v : victims) {
          if (have >= need) break;
          int64_t here = 0;
          for (const Placement& p : placed_[v]) {
            if (fleet_->node(p.node).topology.domain[l].value == dom)
              here += jobs_[v].spec->task.gpu_count * kWholeGpu.value;
          }
          if (here == 0) continue;
          pick.push_back(v);
          have += here;
          cost += LostWork(v, now);
        }
        if (have >= need && !pick.empty() && (best_cost < 0 || cost < best_cost)) {
          best_cost = cost;
          chosen = pick;
        }
      }
    }
    if (!chosen.empty()) freeable = need;  // enough, inside one domain
  }
  if (chosen.empty()) {
    for (size_t v : victims) {
      if (freeable >= need) break;
      chosen.push_back(v);
      freeable += gpus_allowed(v);
    }
  }
  if (freeable < need || chosen.empty()) return false;
  for (size_t v : chosen) {
    for (const Placement& p : placed_[v]) AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[v].spec->task, p));
    Use(v, -1);
  }
  std::optional<GangPlacement> g;
  if (Admit(rb.tenant, rb.gpus)) {
    AWAN_ASSIGN_OR_RETURN(g, PlaceInRegions(b));
  }
  for (size_t v : chosen) Use(v, +1);
  if (!g) {  // undo: the victims keep running where they were
    for (size_t v : chosen)
      for (const Placement& p : placed_[v]) AWAN_RETURN_IF_ERROR(snap_->Assign(jobs_[v].spec->task, p));
    return false;
  }
  for (size_t v : chosen) Stop(v, now, /*node_failed=*/false);
  AWAN_RETURN_IF_ERROR(Start(b, now, std::move(*g)));
  return true;
}

Status JobScheduler::Cycle(int64_t now) {
  // Fair-share usage, decayed to now.
  if (now > decayed_at_) {
    const double keep =
        std::exp2(-static_cast<double>(now - decayed_at_) / static_cast<double>(o_.fair_share_half_life_s));
    for (size_t t = 0; t < decayed_share_s_.size(); ++t) {
      decayed_share_s_[t] =
          decayed_share_s_[t] * keep + DominantShare(t) * static_cast<double>(now - decayed_at_);
    }
    decayed_at_ = now;
  }
  const int64_t capacity = snap_->gpu_capacity_milli();
  // 1. order (the pending set is kept sorted), 2. admit, 3. place, 4. backfill past jobs that cannot start.
  // With fair share on, a job that would borrow waits for the fair-share pass below.
  int blocked = 0;
  std::vector<std::pair<double, size_t>> waiting;  // the first jobs that could not start, for stage 5
  std::vector<std::vector<std::pair<double, size_t>>> borrowers(tenants_.size());
  int deferred = 0;
  // The backfill window is shared among tenants: once it is spent, each tenant that has not yet had its share
  // of it (window / tenants) goes on from where the scan stopped, in its own queue order, so that one
  // tenant's backlog of jobs that cannot start never hides another tenant's job that can. Until then the scan
  // is the plain one (and when the window is not spent, nothing differs).
  const int share = std::max(1, o_.backfill_window / std::max(1, static_cast<int>(tenants_.size())));
  std::vector<int> blocked_of(tenants_.size(), 0);
  bool stop = false;
  // Examines pending job i (key `key`): true if it started (the caller drops it from the pending sets).
  auto examine = [&](size_t i, double key) -> StatusOr<bool> {
    const JobRecord& r = jobs_[i];
    const size_t t = static_cast<size_t>(r.tenant);
    const int64_t free_milli = capacity - snap_->gpu_allocated_milli();
    if (o_.fair_share && !o_.isolated && cohort_[t] >= 0 && used_[t] + r.gpus > tenants_[t].guaranteed_gpus &&
        deferred < o_.backfill_window) {
      borrowers[t].push_back({key, i});
      ++deferred;
      return false;
    }
    AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, TryStart(i, now));
    if (!why) return true;
    Account(i, now, static_cast<int>(*why));
    if (waiting.size() < static_cast<size_t>(o_.preempt_window)) waiting.push_back({key, i});
    ++blocked, ++blocked_of[t];
    if (free_milli <= 0 && waiting.size() >= static_cast<size_t>(o_.preempt_window)) stop = true;
    return false;
  };
  std::optional<PendingKey> last;  // the last entry the plain scan examined
  for (auto it = pending_.begin(); it != pending_.end() && blocked <= o_.backfill_window && !stop;) {
    const PendingKey k = *it;
    ++it;
    last = k;
    AWAN_ASSIGN_OR_RETURN(bool started, examine(std::get<2>(k), std::get<0>(k)));
    if (started) ErasePending(k);
  }
  if (blocked > o_.backfill_window && !stop && last) {
    for (size_t t = 0; t < pending_of_.size() && !stop; ++t) {
      for (auto it = pending_of_[t].upper_bound(*last);
           it != pending_of_[t].end() && blocked_of[t] < share && !stop;) {
        const PendingKey k = *it;
        ++it;
        AWAN_ASSIGN_OR_RETURN(bool started, examine(std::get<2>(k), std::get<0>(k)));
        if (started) ErasePending(k);
      }
    }
  }
  // The fair-share pass: jobs that would borrow, the tenant with the smallest share first, each tenant's jobs
  // in queue order; a tenant's share grows with every job it starts.
  std::vector<size_t> next(tenants_.size(), 0);
  for (;;) {
    int best = -1;
    for (size_t t = 0; t < borrowers.size(); ++t) {
      if (next[t] < borrowers[t].size() && (best < 0 || Share(t) < Share(static_cast<size_t>(best))))
        best = static_cast<int>(t);
    }
    if (best < 0 || capacity - snap_->gpu_allocated_milli() <= 0) break;
    const auto [key, i] = borrowers[static_cast<size_t>(best)][next[static_cast<size_t>(best)]++];
    AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, TryStart(i, now));
    if (!why) {
      ErasePending({key, jobs_[i].submit_s, i});
      continue;
    }
    Account(i, now, static_cast<int>(*why));
    if (waiting.size() < static_cast<size_t>(o_.preempt_window)) waiting.push_back({key, i});
  }
  for (size_t t = 0; t < borrowers.size(); ++t) {
    for (size_t k = next[t]; k < borrowers[t].size(); ++k) {
      Account(borrowers[t][k].second, now, static_cast<int>(WaitReason::kCapacity));
      if (waiting.size() < static_cast<size_t>(o_.preempt_window)) waiting.push_back(borrowers[t][k]);
    }
  }
  // 5. preempt, for the first jobs that could not start: at most once per preempt_interval_s (a periodic
  // pass, as real schedulers run it), and only if some running job could be a victim at all.
  if (waiting.empty() || now < next_preempt_pass_) return Status::Ok();
  next_preempt_pass_ = now + o_.preempt_interval_s;
  bool borrowing = false;
  for (size_t t = 0; t < tenants_.size() && !borrowing; ++t)
    borrowing = used_[t] > tenants_[t].guaranteed_gpus;
  if (!borrowing && !order_->preemptive()) return Status::Ok();
  if (order_->preemptive()) {
    for (size_t v : running_) running_key_[v] = order_->Key(View(v, now));
  }
  for (const auto& [key, i] : waiting) {
    auto it = pending_.find({key, jobs_[i].submit_s, i});
    if (it == pending_.end()) continue;
    AWAN_ASSIGN_OR_RETURN(bool ok, TryPreempt(i, key, now));
    if (ok) ErasePending(*it);
  }
  return Status::Ok();
}

}  // namespace awan
