#include "core/job_scheduler.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>

#include "core/statement.h"

namespace awan {

const char* WaitReasonName(WaitReason r) {
  static constexpr const char* kNames[] = {"queue",    "capacity",  "quota",   "fragmentation",
                                           "topology", "residency", "reserved"};
  static_assert(std::size(kNames) == kWaitReasons);
  return kNames[static_cast<int>(r)];
}

SchedulerOptions LegacyStarvationOptions(SchedulerOptions o) {
  o.policies.backfill = "none";
  o.max_preemptions = 0;
  o.aging = 0;
  o.policies.preemption = "plain";
  o.max_starts_per_cycle = 0;
  o.bound_regions_last = false;
  o.relocate = false;
  return o;
}

const char* PreemptReasonName(PreemptReason r) {
  static constexpr const char* kNames[] = {"Priority", "ReclaimGuarantee", "TenantPriority", "Relocate"};
  static_assert(std::size(kNames) == static_cast<size_t>(PreemptReason::kRelocate) + 1);
  return kNames[static_cast<int>(r)];
}

const char* CycleStageName(CycleStage s) {
  static constexpr const char* kNames[] = {"decay", "place", "fair-share", "preempt", "reserve"};
  static_assert(std::size(kNames) == kCycleStages);
  return kNames[static_cast<int>(s)];
}

JobScheduler::JobScheduler(const Fleet& fleet, ClusterSnapshot& snap, Framework& framework, QueueOrder& order,
                           std::shared_ptr<const CyclePolicies> policies, SchedulerOptions options)
    : fleet_(&fleet),
      snap_(&snap),
      fw_(&framework),
      order_(&order),
      policies_(std::move(policies)),
      o_(std::move(options)),
      gangs_(fleet),
      runs_(RunModelOptions{o_.slowdown_supernode, o_.slowdown_block, o_.slowdown_zone, o_.checkpoint_s,
                            o_.restart_s}) {
  ctx_.rng = &rng_;
  const uint32_t n = static_cast<uint32_t>(fleet.size());
  if (o_.sample_nodes_above > 0 && n >= o_.sample_nodes_above) {
    const uint32_t percent = std::max<uint32_t>(5, 50 > n / 125 ? 50 - n / 125 : 0);
    ctx_.max_feasible = std::max<uint32_t>(100, static_cast<uint32_t>(uint64_t{n} * percent / 100));
  }
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

// The job's entry in the pending set, as inserted (its key was computed once, when it joined).
JobScheduler::PendingKey JobScheduler::PendingEntry(size_t i) const { return entry_[i]; }

JobScheduler::PendingKey JobScheduler::OwnEntry(size_t i) const {
  return {{-tenants_[static_cast<size_t>(jobs_[i].tenant)].priority, queue_key_[i]}, jobs_[i].submit_s, i, i};
}

void JobScheduler::Reslot(size_t t) {
  std::vector<PendingKey> places;
  std::vector<size_t> jobs;
  for (const PendingKey& k : pending_of_[t]) {
    places.push_back(OwnEntry(k.job));
    jobs.push_back(k.job);
  }
  std::sort(places.begin(), places.end());
  std::sort(jobs.begin(), jobs.end(), [&](size_t a, size_t b) {
    return jobs_[a].priority != jobs_[b].priority ? jobs_[a].priority > jobs_[b].priority
                                                  : OwnEntry(a) < OwnEntry(b);
  });
  for (size_t j : jobs) ErasePending(entry_[j]);
  for (size_t n = 0; n < jobs.size(); ++n) {
    PendingKey k = places[n];
    k.job = jobs[n];
    AddPending(k);
  }
  reslot_[t] = 0;
}

std::vector<size_t> JobScheduler::PendingInOrder() const {
  std::vector<size_t> out;
  out.reserve(pending_.size());
  for (const PendingKey& k : pending_) out.push_back(k.job);
  return out;
}

bool JobScheduler::is_pending(size_t i) const { return pending_.count(PendingEntry(i)) > 0; }

// Puts job i in the queue under the key its ordering gives it now.
void JobScheduler::Enqueue(size_t i, int64_t now) {
  queue_key_[i] = QueueKey(i, now);
  AddPending(OwnEntry(i));
}

void JobScheduler::AddPending(const PendingKey& k) {
  pending_.insert(k);
  entry_[k.job] = k;
  CountPendingMask(region_mask_[k.job], +1);
  const size_t t = static_cast<size_t>(jobs_[k.job].tenant);
  if (pending_of_.size() <= t) pending_of_.resize(t + 1);
  if (prioritized_.size() <= t) prioritized_.resize(t + 1, 0), reslot_.resize(t + 1, 0);
  pending_of_[t].insert(k);
  // A job that joins a tenant whose jobs differ in priority may deserve a better place than its own.
  if (jobs_[k.job].priority != 0) ++prioritized_[t];
  if (prioritized_[t] > 0 && k.slot == k.job) reslot_[t] = 1;
}

// Waiting jobs per set of allowed regions: a set leaves the map when its last job does.
void JobScheduler::CountPendingMask(uint64_t mask, int delta) {
  if ((pending_by_mask_[mask] += delta) == 0) pending_by_mask_.erase(mask);
}

void JobScheduler::ErasePending(PendingKey k) {
  if (pending_.erase(k) == 0) return;
  CountPendingMask(region_mask_[k.job], -1);
  const size_t t = static_cast<size_t>(jobs_[k.job].tenant);
  if (t < pending_of_.size()) pending_of_[t].erase(k);
  if (jobs_[k.job].priority != 0) --prioritized_[t];
}

void JobScheduler::SetResidency(size_t i, JobResidency residency) {
  residency_[i] = std::move(residency);
  OrderRegions(i);
}

// A waiting job's key names its tenant's priority: a change of it moves the tenant's waiting jobs.
void JobScheduler::SetTenant(int t, TenantSpec spec) {
  const size_t ti = static_cast<size_t>(t);
  std::vector<PendingKey> moved;
  if (spec.priority != tenants_[ti].priority && ti < pending_of_.size())
    moved.assign(pending_of_[ti].begin(), pending_of_[ti].end());
  for (const PendingKey& k : moved) ErasePending(k);
  tenants_[ti] = std::move(spec);
  for (PendingKey k : moved) {
    k.rank.tenant = -tenants_[ti].priority;
    AddPending(k);
  }
}

void JobScheduler::SetJobPriority(size_t i, int priority) {
  const bool waiting = is_pending(i);
  if (waiting) ErasePending(entry_[i]);
  jobs_[i].priority = priority;
  if (!waiting) return;
  AddPending(entry_[i]);
  reslot_[static_cast<size_t>(jobs_[i].tenant)] = 1;  // at the next cycle: it moves among its tenant's jobs
}

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
  const std::vector<double>& price = CheapestByRegion(spec.task);
  std::vector<std::pair<double, uint32_t>> scored;
  for (uint32_t r = 0; r < fleet_->region_count(); ++r) {
    const DomainId region(r);
    if (!res.Allows(region) || price[r] < 0) continue;
    double to_data = 0;
    for (uint32_t home : res.data_homes)
      to_data = std::max(to_data, fleet_->latency_ms(DomainId(home), region));
    const double latency =
        to_data + (spec.user_location.empty() ? 0.0 : fleet_->user_latency_ms(spec.user_location, region));
    scored.push_back({policies_->region->Score(
                          RegionOffer{price[r], latency, o_.region_price_weight, o_.region_latency_weight}),
                      r});
  }
  std::sort(scored.begin(), scored.end());
  region_order_[i].clear();
  for (const auto& [score, r] : scored) region_order_[i].push_back(r);
  // The regions its data allows (not those its shape rules out): what bound_regions_last and relocation
  // compare.
  uint64_t mask = 0;
  for (uint32_t r = 0; r < fleet_->region_count() && fleet_->region_count() <= 64; ++r)
    if (res.Allows(DomainId(r))) mask |= uint64_t{1} << r;
  if (mask != region_mask_[i] && is_pending(i)) {  // a waiting job's residency or spec changed
    CountPendingMask(region_mask_[i], -1);
    CountPendingMask(mask, +1);
  }
  region_mask_[i] = mask;
}

// The cheapest node per region that could ever take one task of this shape (-1: none), computed once per
// shape (GPUs per task, accelerator models): the fleet does not change.
const std::vector<double>& JobScheduler::CheapestByRegion(const PodSpec& task) {
  const std::tuple<int, uint64_t, bool> shape{task.gpu_count, task.allowed_models.mask(), task.wants_gpu()};
  auto it = cheapest_by_shape_.find(shape);
  if (it != cheapest_by_shape_.end()) return it->second;
  std::vector<double> price(fleet_->region_count(), -1);
  for (uint32_t n = 0; n < fleet_->size(); ++n) {
    const NodeSpec& ns = fleet_->node(NodeIndex(n));
    if (ns.gpu_count < task.gpu_count) continue;
    if (task.wants_gpu() && (ns.model == kNoAccelerator || !task.allowed_models.Allows(ns.model))) continue;
    double& p = price[fleet_->region_of(NodeIndex(n)).value];
    if (p < 0 || ns.price_per_gpu_hour < p) p = ns.price_per_gpu_hour;
  }
  return cheapest_by_shape_.emplace(shape, std::move(price)).first->second;
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
  r.priority = spec.priority;
  r.submit_s = submit_s;
  r.gpus = spec.total_gpus();
  runs_.Add(static_cast<double>(spec.duration_s));
  jobs_.push_back(r);
  placed_.emplace_back();
  running_key_.push_back(0);
  running_key_pass_.push_back(0);
  queue_key_.push_back(0);
  entry_.push_back({{}, 0, jobs_.size() - 1, jobs_.size() - 1});  // names the job: never another's entry
  residency_.push_back(std::move(residency));
  region_order_.emplace_back();
  region_mask_.push_back(0);
  OrderRegions(jobs_.size() - 1);
  return jobs_.size() - 1;
}

// Stage 2, admit: may tenant `t` start `need` more GPUs now?
bool JobScheduler::Admit(int t, int64_t need) const {
  return policies_->admission->Admit(QuotaState{tenants_, cohort_, used_}, static_cast<size_t>(t), need);
}

// What the ordering may see of job i at `now` (attained service includes the current run).
QueuedJob JobScheduler::View(size_t i, int64_t now) const {
  const JobRecord& r = jobs_[i];
  const int64_t run_s = r.running ? now - r.started : 0;  // into the current run
  return QueuedJob{r.submit_s,
                   r.gpus,
                   r.spec->tasks,
                   r.tenant,
                   r.attained_gpu_s + r.gpus * run_s,
                   r.spec->duration_s,
                   now,
                   r.running,
                   r.spec->time_limit_s,
                   run_s};
}

// A job's key in the queue (after its tenant's priority): the ordering's key, lowered by aging.
double JobScheduler::QueueKey(size_t i, int64_t now) const {
  const double key = order_->Key(View(i, now));
  return o_.aging > 0 ? key + o_.aging * static_cast<double>(jobs_[i].submit_s) : key;
}

// A running job's key as the preempt stage compares it with a waiting job's (aged the same way), computed
// once per preempt pass: it does not change during one (a job started in the pass is no victim in it).
double JobScheduler::RunningKeyInPass(size_t v, int64_t now) const {
  if (running_key_pass_[v] == preempt_pass_) return running_key_[v];
  const double key = order_->Key(View(v, now));
  running_key_[v] = o_.aging > 0 ? key + o_.aging * static_cast<double>(jobs_[v].submit_s) : key;
  running_key_pass_[v] = preempt_pass_;
  return running_key_[v];
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
  return policies_->fair_share->Share(
      TenantUsage{DominantShare(t), decayed_share_s_[t], o_.fair_share_half_life_s, tenants_[t].weight});
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
  Enqueue(i, now);
}

Status JobScheduler::Start(size_t i, int64_t now, GangPlacement g) {
  // The filter already confined every task to the allowed regions; a placement outside them is a bug.
  if (std::optional<std::string> v = CheckResidency(*fleet_, residency_[i], g.tasks)) {
    for (const Placement& p : g.tasks) AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[i].spec->task, p));
    return Internal("job " + jobs_[i].spec->name + ": placement breaks residency: " + *v);
  }
  JobRecord& r = jobs_[i];
  if (r.spec->tasks > 1) r.level = static_cast<int>(g.level);
  if (r.first_start_s < 0) r.first_start_s = now;
  DropReservation(i);
  Account(i, now, -1);
  r.started = now;
  r.running = true;
  const int64_t end = now + runs_.Start(i, r.level, r.preemptions + r.failure_requeues > 0);
  r.expected_end_s = end;
  const std::optional<double> left = order_->ExpectedRemainingS(View(i, now));
  r.estimated_end_s = left ? now + runs_.RunSeconds(i, *left) : -1;
  placed_[i] = std::move(g.tasks);
  Use(i, +1);
  running_.insert(i);
  order_->RunStarted(i, View(i, now));
  started_.push_back({i, r.run_id, now, end, placed_[i]});
  return Status::Ok();
}

Status JobScheduler::Resume(size_t i, int64_t now, int64_t started_s, const std::vector<Placement>& tasks) {
  JobRecord& r = jobs_[i];
  auto it = pending_.find(entry_[i]);
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
void JobScheduler::Stop(size_t i, int64_t now, bool node_failed, std::optional<size_t> by,
                        PreemptReason reason) {
  JobRecord& r = jobs_[i];
  runs_.Stop(i, now - r.started);
  r.attained_gpu_s += r.gpus * (now - r.started);
  r.cost_usd += RunCost(i, now);
  r.running = false;
  stopped_.push_back({i, r.run_id, node_failed, by, reason});
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
  order_->RunEnded(i);
  r.last_reason = static_cast<int>(WaitReason::kCapacity);  // stopped: it waits for GPUs again
  r.last_seen = now;
  Enqueue(i, now);
}

Status JobScheduler::Finish(size_t i, int64_t now) {
  JobRecord& r = jobs_[i];
  if (!r.running) return FailedPrecondition("job " + r.spec->name + " finished but is not running");
  r.cost_usd += RunCost(i, now);
  for (const Placement& p : placed_[i]) AWAN_RETURN_IF_ERROR(snap_->Release(r.spec->task, p));
  placed_[i].clear();
  running_.erase(i);
  order_->RunEnded(i);
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
    order_->RunEnded(i);
    r.running = false;
    ++r.run_id;  // a finish reported for this run is stale
    Use(i, -1);
    return Status::Ok();
  }
  if (pending_.count(PendingEntry(i)) > 0) {
    ErasePending(PendingEntry(i));
    DropReservation(i);
    Account(i, now, -1);
    return Status::Ok();
  }
  return NotFound("job " + r.spec->name + " is neither waiting nor running");
}

Status JobScheduler::NodeDown(NodeIndex node, int64_t now) {
  Cordon(node, true);
  for (size_t v : RunningOn(node)) AWAN_RETURN_IF_ERROR(Requeue(v, now));
  return Status::Ok();
}

std::vector<size_t> JobScheduler::RunningOn(NodeIndex node, int device) const {
  std::vector<size_t> hit;
  for (size_t v : running_) {
    const bool on = std::any_of(placed_[v].begin(), placed_[v].end(), [&](const Placement& p) {
      if (p.node != node) return false;
      if (device < 0) return true;
      return std::find(p.devices.index.begin(), p.devices.index.begin() + p.devices.count, device) !=
             p.devices.index.begin() + p.devices.count;
    });
    if (on) hit.push_back(v);
  }
  return hit;
}

Status JobScheduler::Requeue(size_t job, int64_t now) {
  if (job >= jobs_.size() || !running_.count(job)) return FailedPrecondition("the job does not run");
  for (const Placement& p : placed_[job]) AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[job].spec->task, p));
  Stop(job, now, /*node_failed=*/true);
  return Status::Ok();
}

void JobScheduler::Cordon(NodeIndex node, bool on) {
  snap_->SetUnavailable(node, on);
  replan_ = replan_ || !reservations_.empty();
}

Status JobScheduler::SetDeviceHealthy(NodeIndex node, int device, bool healthy, int64_t now) {
  if (!healthy) {
    for (size_t v : RunningOn(node, device)) AWAN_RETURN_IF_ERROR(Requeue(v, now));
  }
  replan_ = replan_ || !reservations_.empty();
  return snap_->SetDeviceHealthy(node, device, healthy);
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

// What the preempt stage may do for pending job b, whatever the victim: reclaim its tenant's guarantee
// from borrowers of its cohort, and (under a preemptive ordering) overtake running jobs the ordering puts
// after it. Computed once per waiting job, not once per running job.
JobScheduler::Preemptor JobScheduler::PreemptorOf(size_t b, const PendingKey& b_key, int64_t now) const {
  const JobRecord& rb = jobs_[b];
  const size_t tb = static_cast<size_t>(rb.tenant);
  Preemptor p{b, b_key, false, false};
  if (policies_->admission->lends() && cohort_[tb] >= 0 &&
      used_[tb] + rb.gpus <= tenants_[tb].guaranteed_gpus) {
    for (size_t tv = 0; tv < tenants_.size() && !p.may_reclaim; ++tv)
      p.may_reclaim = tv != tb && cohort_[tv] == cohort_[tb] && used_[tv] > tenants_[tv].guaranteed_gpus;
  }
  // Whether it may overtake anyone at all (the preemption policy's call: its wait against the ordering's
  // estimate of its run).
  p.may_overtake = order_->preemptive() && policies_->preemption->MayOvertake(
                                               order_->ExpectedRemainingS(View(b, now)), now - rb.submit_s);
  // Whether jobs that may also run elsewhere make room for it (relocate): residency is what keeps it
  // waiting.
  p.may_relocate =
      o_.relocate && region_mask_[b] != 0 && rb.last_reason == static_cast<int>(WaitReason::kResidency);
  return p;
}

// May pending job b take running job v's place, and why? Reclaiming a guarantee from a borrower (any
// ordering); a higher tenant priority; moving v, which may also run where b may not, to a region with room
// for it when residency blocks b (relocate); or a preemptive ordering putting b strictly before v. Never
// before v ran min_run_s, nor before its run saved a checkpoint: every stopped run has made progress that
// survives, so no preemption cycle can go on for ever; and never a job already stopped max_preemptions times.
std::optional<PreemptReason> JobScheduler::PreemptionOf(const Preemptor& b, size_t v, int64_t now) const {
  const JobRecord& rb = jobs_[b.job];
  const JobRecord& rv = jobs_[v];
  if (o_.max_preemptions > 0 && rv.preemptions >= o_.max_preemptions) return std::nullopt;
  if (now - rv.started < std::max(o_.min_run_s, runs_.FirstCheckpointS(v))) return std::nullopt;
  const size_t tb = static_cast<size_t>(rb.tenant), tv = static_cast<size_t>(rv.tenant);
  const bool reclaim =
      b.may_reclaim && tv != tb && cohort_[tv] == cohort_[tb] && used_[tv] > tenants_[tv].guaranteed_gpus;
  if (reclaim) return PreemptReason::kReclaim;
  const bool lends = policies_->admission->lends();
  // A tenant of higher priority stops lower-priority work of its cohort (a service's replicas, batch jobs),
  // whatever the ordering's keys; the bounds above still hold.
  const bool same_cohort = cohort_[tv] == cohort_[tb] && cohort_[tb] >= 0;
  if ((b.may_reclaim || b.may_overtake) && tenants_[tb].priority > tenants_[tv].priority && same_cohort &&
      lends)
    return PreemptReason::kPriority;
  // Relocation moves a job of the waiting job's tenant, or of its cohort at no higher a priority.
  const bool movable = tv == tb || (lends && same_cohort && tenants_[tv].priority <= tenants_[tb].priority);
  if (b.may_relocate && movable && HasRoomElsewhere(v, b.job)) {
    const RelocateCase c{now - rb.submit_s, rv.gpus, LostWork(v, now), runs_.restart_s()};
    if (policies_->preemption->Relocates(c)) return PreemptReason::kRelocate;
  }
  if (!b.may_overtake || (!lends && tv != tb)) return std::nullopt;
  OvertakeCase c;
  c.waiter_key = b.key.rank;
  c.victim_key = {-tenants_[tv].priority, RunningKeyInPass(v, now)};
  c.waiter_gpus = rb.gpus;
  c.victim_gpus = rv.gpus;
  c.victim_tasks = rv.spec->tasks;
  c.victim_lost_gpu_s = LostWork(v, now);
  c.restart_s = runs_.restart_s();
  if (policies_->preemption->Overtakes(c)) return PreemptReason::kOvertake;
  return std::nullopt;
}

// Does running job v fit, by free GPUs, in one of its allowed regions where waiting job b may not run (as
// of this preempt pass; free GPUs on nodes a reservation holds count: a job that ends before the
// reservation's start may use them)?
bool JobScheduler::HasRoomElsewhere(size_t v, size_t b) const {
  const uint64_t elsewhere = region_mask_[v] & ~region_mask_[b];
  for (uint32_t r = 0; elsewhere != 0 && r < region_free_.size(); ++r) {
    if (((elsewhere >> r) & 1) != 0 && region_free_[r] >= jobs_[v].gpus * kWholeGpu.value) return true;
  }
  return false;
}

// GPU-seconds of work a stop of v would lose now (progress since its last checkpoint).
double JobScheduler::LostWork(size_t v, int64_t now) const {
  const JobRecord& r = jobs_[v];
  return runs_.LostWorkS(v, now - r.started) * static_cast<double>(r.gpus);
}

// May job i use node n? Its allowed regions, and no other job's reservation.
bool JobScheduler::Usable(size_t i, NodeIndex n) const {
  if (!NodeAllowed(i, n)) return false;
  if (reserved_.empty() || !reserved_[n.value]) return true;
  const Reservation* own = reservation(i);
  return own != nullptr && std::find(own->nodes.begin(), own->nodes.end(), n) != own->nodes.end();
}

// Placement for job i: its allowed regions one at a time, best first by the region objective (with
// bound_regions_last, those where jobs allowed in fewer regions wait after the others); the first that
// holds the job wins. Nodes another job's reservation holds are out of reach.
StatusOr<std::optional<GangPlacement>> JobScheduler::PlaceInRegions(size_t i, std::span<const uint8_t> held) {
  const JobRecord& r = jobs_[i];
  const GangRequest req{&r.spec->task, r.spec->tasks, r.spec->widest, o_.topology_aware};
  CycleContext base = ctx_;
  base.reserved = held;
  // One region, allowed: the whole fleet, no mask needed.
  if (region_nodes_.size() == 1 && region_order_[i].size() == 1) return gangs_.Place(req, *snap_, *fw_, base);
  // Regions where jobs allowed in fewer regions than this one wait are tried last.
  uint64_t contested = 0;
  const uint64_t own = region_mask_[i];
  if (own != 0 && o_.bound_regions_last) {
    for (const auto& [m, n] : pending_by_mask_)
      if (m != own && (m & ~own) == 0) contested |= m;
  }
  for (int pass = 0; pass < (contested != 0 ? 2 : 1); ++pass) {
    for (uint32_t region : region_order_[i]) {
      if (contested != 0 && (((contested >> region) & 1) != 0) != (pass == 1)) continue;
      CycleContext c = base;
      c.residency_enforced = true;
      c.residency = region_nodes_[region];
      AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g, gangs_.Place(req, *snap_, *fw_, c));
      if (g) return g;
    }
  }
  return std::optional<GangPlacement>();
}

// Admission and placement for pending job i: why it cannot start, or nullopt when it started.
StatusOr<std::optional<WaitReason>> JobScheduler::TryStart(size_t i, int64_t now) {
  const JobRecord& r = jobs_[i];
  const int64_t free_milli = snap_->gpu_capacity_milli() - snap_->gpu_allocated_milli();
  if (r.gpus * kWholeGpu.value > free_milli) return std::optional<WaitReason>(WaitReason::kCapacity);
  if (!Admit(r.tenant, r.gpus)) return std::optional<WaitReason>(WaitReason::kQuota);
  const std::span<const uint8_t> held = ReservedMaskFor(i, now);
  // Room only on held nodes: no placement is tried (a reservation can hold idle GPUs for many cycles).
  if (r.gpus * kWholeGpu.value > free_milli - HeldFree(held))
    return std::optional<WaitReason>(WaitReason::kReserved);
  AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g, PlaceInRegions(i, held));
  if (g) {
    AWAN_RETURN_IF_ERROR(Start(i, now, std::move(*g)));
    return std::optional<WaitReason>();
  }
  return WhyNot(i);
}

// Why job i, which fits in the fleet's free GPUs and its quota, found no placement.
std::optional<WaitReason> JobScheduler::WhyNot(size_t i) const {
  const JobRecord& r = jobs_[i];
  // Would the tasks fit one by one in the allowed regions, ignoring topology? Then topology is what blocks
  // the gang. Not enough room there although the fleet has it: residency. Enough only with the nodes held
  // for others: the reservation.
  int64_t fit = 0, fit_held = 0, free_allowed = 0;
  const bool restricted = !residency_[i].unrestricted();
  const bool held = !reserved_.empty();
  // (an unrestricted job stops counting once its tasks fit; a restricted one also sums its regions' free
  // GPUs)
  for (uint32_t n = 0; n < snap_->size() && (restricted || held || fit < r.spec->tasks); ++n) {
    if (restricted && !NodeAllowed(i, NodeIndex(n))) continue;
    const NodeState& ns = snap_->node(NodeIndex(n));
    if (restricted && !ns.unavailable) free_allowed += ns.gpu_left_total;
    const int k = GangPlacer::TasksThatFit(r.spec->task, ns);
    if (held && !Usable(i, NodeIndex(n))) {
      fit_held += k;
    } else if (fit < r.spec->tasks) {
      fit += k;
    }
  }
  if (restricted && (fit + fit_held < r.spec->tasks || free_allowed < r.gpus * kWholeGpu.value)) {
    return WaitReason::kResidency;
  }
  if (fit < r.spec->tasks && fit + fit_held >= r.spec->tasks) return WaitReason::kReserved;
  return r.spec->tasks > 1 && fit >= r.spec->tasks ? WaitReason::kTopology : WaitReason::kFragmentation;
}

// For a waiting gang, topology-aware victims: free one supernode (else one block) rather than scatter
// victims: the domain where idle GPUs plus the victims' GPUs there cover the gang at the least lost work.
// Otherwise (or if no domain will do) the victims in order until enough GPUs are free. Empty: not enough.
std::vector<size_t> JobScheduler::ChooseVictims(size_t b, const std::vector<size_t>& victims,
                                                int64_t now) const {
  const JobRecord& rb = jobs_[b];
  const int64_t need = rb.gpus * kWholeGpu.value;
  std::vector<size_t> chosen;
  if (o_.topology_aware && rb.spec->tasks > 1) {
    double best_cost = -1;
    for (int l = static_cast<int>(TopologyLevel::kSupernode);
         l >= static_cast<int>(TopologyLevel::kBlock) && best_cost < 0; --l) {
      std::map<uint32_t, int64_t> idle;  // free GPU milli per domain
      for (uint32_t n = 0; n < snap_->size(); ++n) {
        const NodeState& ns = snap_->node(NodeIndex(n));
        if (!Usable(b, NodeIndex(n))) continue;  // a domain lies inside one region
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
    if (!chosen.empty()) return chosen;
  }
  int64_t freeable = 0;  // only room where b may run counts
  for (uint32_t n = 0; n < snap_->size(); ++n) {
    const NodeState& ns = snap_->node(NodeIndex(n));
    if (!ns.unavailable && Usable(b, NodeIndex(n))) freeable += ns.gpu_left_total;
  }
  for (size_t v : victims) {
    if (freeable >= need) break;
    chosen.push_back(v);
    for (const Placement& p : placed_[v])
      if (Usable(b, p.node)) freeable += jobs_[v].spec->task.gpu_count * kWholeGpu.value;
  }
  if (freeable < need) chosen.clear();
  return chosen;
}

// Preemption for pending job b: choose victims, release them in a Statement, try b; discard the statement
// (the victims keep running where they were) if b still does not fit.
StatusOr<bool> JobScheduler::TryPreempt(const Preemptor& who, int64_t now) {
  if (!who.may_reclaim && !who.may_overtake && !who.may_relocate)
    return false;  // no running job could be a victim
  const size_t b = who.job;
  const JobRecord& rb = jobs_[b];
  // Least lost work first, then the most recently started: (lost work, -start, job), smallest first.
  std::vector<std::tuple<double, int64_t, size_t>> order;
  for (size_t v : running_) {
    if (!PreemptionOf(who, v, now) || jobs_[v].spec->task.gpu_count == 0) continue;
    bool usable = false;
    for (const Placement& p : placed_[v]) usable = usable || Usable(b, p.node);
    if (usable) order.emplace_back(LostWork(v, now), -jobs_[v].started, v);
  }
  // A gang weighs every domain's victims (the whole order); a single task needs only the first victims that
  // free enough room: a prefix is sorted, and a longer one only if that was not enough (same choice).
  const bool whole = o_.topology_aware && rb.spec->tasks > 1;
  std::vector<size_t> chosen;
  for (size_t k = whole ? order.size() : std::min<size_t>(order.size(), 64);;
       k = std::min(order.size(), k * 8)) {
    std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end());
    std::vector<size_t> victims(k);
    for (size_t x = 0; x < k; ++x) victims[x] = std::get<2>(order[x]);
    chosen = ChooseVictims(b, victims, now);
    if (!chosen.empty() || k == order.size()) break;
  }
  if (chosen.empty()) return false;
  // Why each victim stops, decided before any of them does (a stop changes its tenant's usage).
  std::vector<PreemptReason> why;
  for (size_t v : chosen) why.push_back(PreemptionOf(who, v, now).value_or(PreemptReason::kOvertake));
  Statement evict(*snap_);
  for (size_t v : chosen) {
    for (const Placement& p : placed_[v]) AWAN_RETURN_IF_ERROR(evict.Release(jobs_[v].spec->task, p));
    Use(v, -1);
  }
  std::optional<GangPlacement> g;
  const bool admitted = Admit(rb.tenant, rb.gpus);
  for (size_t v : chosen) Use(v, +1);
  if (admitted) {
    AWAN_ASSIGN_OR_RETURN(g, PlaceInRegions(b, ReservedMaskFor(b, now)));
  }
  if (!g) return false;  // the statement puts the victims back
  // A relocated job must start again at once: where each would run, with b in place; if one has no room
  // after all, nothing happens (b's placement is released, the statement puts every victim back).
  AWAN_ASSIGN_OR_RETURN(std::optional<Relocations> moved, PlaceRelocated(b, chosen, why, now));
  if (!moved) {
    for (const Placement& p : g->tasks) AWAN_RETURN_IF_ERROR(snap_->Release(rb.spec->task, p));
    return false;
  }
  evict.Commit();
  for (size_t k = 0; k < chosen.size(); ++k) Stop(chosen[k], now, /*node_failed=*/false, b, why[k]);
  AWAN_RETURN_IF_ERROR(Start(b, now, std::move(*g)));
  for (auto& [v, placement] : *moved) {
    const PendingKey entry = PendingEntry(v);
    AWAN_RETURN_IF_ERROR(Start(v, now, std::move(placement)));
    ErasePending(entry);
  }
  return true;
}

// Where each relocated victim (why[k] == kRelocate) starts again, b being placed (assigned in the snapshot,
// as PlaceInRegions leaves a placement): each admitted again with the usage it would then see and placed,
// one after another (assigned). nullopt, with those placements released again, if one has no room or its
// tenant may not start it.
StatusOr<std::optional<JobScheduler::Relocations>> JobScheduler::PlaceRelocated(
    size_t b, const std::vector<size_t>& chosen, const std::vector<PreemptReason>& why, int64_t now) {
  Relocations moved;
  // Usage as it would be: b running, the other victims stopped.
  Use(b, +1);
  for (size_t k = 0; k < chosen.size(); ++k)
    if (why[k] != PreemptReason::kRelocate) Use(chosen[k], -1);
  Status error = Status::Ok();
  bool ok = true;
  for (size_t k = 0; k < chosen.size() && ok && error.ok(); ++k) {
    if (why[k] != PreemptReason::kRelocate) continue;
    const size_t v = chosen[k];
    Use(v, -1);
    ok = Admit(jobs_[v].tenant, jobs_[v].gpus);
    Use(v, +1);
    if (!ok) break;
    StatusOr<std::optional<GangPlacement>> at = PlaceInRegions(v, ReservedMaskFor(v, now));
    if (!at.ok()) error = at.status();
    ok = at.ok() && at->has_value();
    if (ok) moved.emplace_back(v, std::move(**at));
  }
  Use(b, -1);
  for (size_t k = 0; k < chosen.size(); ++k)
    if (why[k] != PreemptReason::kRelocate) Use(chosen[k], +1);
  if (ok && error.ok()) return std::optional<Relocations>(std::move(moved));
  for (const auto& [v, at] : moved)
    for (const Placement& p : at.tasks) AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[v].spec->task, p));
  AWAN_RETURN_IF_ERROR(error);
  return std::optional<Relocations>();
}

// --- Reservations -------------------------------------------------------------------------------------

// Free GPU milli on the reservations' nodes that `held` marks.
int64_t JobScheduler::HeldFree(std::span<const uint8_t> held) const {
  if (held.empty()) return 0;
  int64_t free = 0;
  for (const Reservation& r : reservations_) {
    for (NodeIndex n : r.nodes) {
      const NodeState& ns = snap_->node(n);
      if (held[n.value] && !ns.unavailable) free += ns.gpu_left_total;
    }
  }
  return free;
}

const Reservation* JobScheduler::reservation(size_t i) const {
  for (const Reservation& r : reservations_)
    if (r.job == i) return &r;
  return nullptr;
}

// The union of the held nodes, and the same by expected start: held_by_start_[k] holds the nodes of the k+1
// reservations expected to start first.
void JobScheduler::RebuildReservedMask() {
  held_by_start_.clear();
  held_starts_.clear();
  if (reservations_.empty()) {
    reserved_.clear();
    return;
  }
  reserved_.assign(fleet_->size(), 0);
  for (const Reservation& r : reservations_)
    for (NodeIndex n : r.nodes) reserved_[n.value] = 1;
  std::vector<const Reservation*> by_start;
  for (const Reservation& r : reservations_) by_start.push_back(&r);
  std::stable_sort(by_start.begin(), by_start.end(),
                   [](const Reservation* a, const Reservation* b) { return a->start_s < b->start_s; });
  std::vector<uint8_t> mask(fleet_->size(), 0);
  for (const Reservation* r : by_start) {
    for (NodeIndex n : r->nodes) mask[n.value] = 1;
    held_by_start_.push_back(mask);
    held_starts_.push_back(r->start_s);
  }
}

void JobScheduler::DropReservation(size_t i) {
  auto it = std::find_if(reservations_.begin(), reservations_.end(),
                         [i](const Reservation& r) { return r.job == i; });
  if (it == reservations_.end()) return;
  reservations_.erase(it);
  RebuildReservedMask();
}

// The nodes job i may not use now because they are held for another job (empty: none). A job the ordering
// expects to end before a reservation's start may use its nodes (it cannot delay it, if the estimate holds);
// a long-running one (a service's replica) never ends by itself, whatever the ordering estimates.
std::span<const uint8_t> JobScheduler::ReservedMaskFor(size_t i, int64_t now) {
  if (reserved_.empty()) return {};
  const Reservation* own = reservation(i);
  if (own != nullptr) {
    reserved_scratch_ = reserved_;
    for (NodeIndex n : own->nodes) reserved_scratch_[n.value] = 0;
    return reserved_scratch_;
  }
  // A job ranked above every holder goes first, reservations or not: its tenant's priority is higher, or it
  // is of the holder's tenant with a higher priority of its own (never above another tenant's by its own).
  const JobRecord& ri = jobs_[i];
  const int64_t prio = tenants_[static_cast<size_t>(ri.tenant)].priority;
  bool above = true;
  for (const Reservation& r : reservations_) {
    const JobRecord& holder = jobs_[r.job];
    above = above && (prio > tenants_[static_cast<size_t>(holder.tenant)].priority ||
                      (ri.tenant == holder.tenant && ri.priority > holder.priority));
  }
  if (above) return {};
  if (ri.spec->task.long_running) return reserved_;
  const std::optional<double> left = order_->ExpectedRemainingS(View(i, now));
  if (!left) return reserved_;
  const int64_t end = now + static_cast<int64_t>(std::ceil(*left)) +
                      runs_.StartOverheadS(jobs_[i].preemptions + jobs_[i].failure_requeues > 0);
  // Reservations starting before the job's expected end hold their nodes against it.
  const size_t k = static_cast<size_t>(std::lower_bound(held_starts_.begin(), held_starts_.end(), end) -
                                       held_starts_.begin());
  if (k == 0) return {};
  return held_by_start_[k - 1];
}

// When running job v is expected to end: from the ordering's estimate of its remaining run time when it
// started (an overdue job any moment now), else (no estimate) after running as long again as it has run,
// at least min_run_s.
int64_t JobScheduler::ExpectedEnd(size_t v, int64_t now) const {
  const JobRecord& r = jobs_[v];
  if (r.estimated_end_s >= 0) return std::max(r.estimated_end_s, now + 1);  // overdue: any moment now
  return now + std::max<int64_t>(1, std::max<int64_t>(o_.min_run_s, now - r.started));
}

// Where and when job h could start if the running jobs end as expected: release them (tentatively, in a
// Statement) in order of expected end, and after each instant try to place h. At most kMaxTries placements
// are tried (a gang blocked by topology may need many ends); nullopt if none succeeds. Long-running work
// (a service's replica, PodSpec::long_running) never ends by itself: no reservation counts on its GPUs (a
// reservation that did would hold back, for ever, the jobs that could use the rest).
StatusOr<std::optional<Reservation>> JobScheduler::PlanReservation(size_t h, int64_t now) {
  static constexpr int kMaxTries = 16;
  const int64_t need = jobs_[h].gpus * kWholeGpu.value;
  std::vector<std::pair<int64_t, size_t>> ends;  // (expected end, job) of running jobs with room h may use
  for (size_t v : running_) {
    bool usable = false;
    for (const Placement& p : placed_[v]) usable = usable || Usable(h, p.node);
    if (usable && !jobs_[v].spec->task.long_running) ends.push_back({ExpectedEnd(v, now), v});
  }
  // Soonest first, taken from a heap: usually a few ends make the room, of thousands running.
  std::make_heap(ends.begin(), ends.end(), std::greater<>());
  auto pop = [&ends]() {
    std::pop_heap(ends.begin(), ends.end(), std::greater<>());
    const std::pair<int64_t, size_t> e = ends.back();
    ends.pop_back();
    return e;
  };
  // Free GPUs, and tasks of h that fit one by one, on the nodes h may use: no placement is tried before
  // both suffice (releases of small runs that leave every node too full for a task cost no try).
  const PodSpec& task = jobs_[h].spec->task;
  int64_t free_milli = 0, fit = 0;
  for (uint32_t n = 0; n < snap_->size(); ++n) {
    const NodeState& ns = snap_->node(NodeIndex(n));
    if (ns.unavailable || !Usable(h, NodeIndex(n))) continue;
    free_milli += ns.gpu_left_total;
    fit += GangPlacer::TasksThatFit(task, ns);
  }
  Statement st(*snap_);
  int tries = 0;
  bool tried_early = false;
  while (!ends.empty() && tries < kMaxTries) {
    const auto [end, v] = pop();
    for (const Placement& p : placed_[v]) {
      const NodeState& ns = snap_->node(p.node);
      const int64_t before = ns.gpu_left_total;
      const int fit_before = GangPlacer::TasksThatFit(task, ns);
      AWAN_RETURN_IF_ERROR(st.Release(jobs_[v].spec->task, p));
      if (Usable(h, p.node)) {
        free_milli += ns.gpu_left_total - before;
        fit += GangPlacer::TasksThatFit(task, ns) - fit_before;
      }
    }
    if (free_milli < need || fit < jobs_[h].spec->tasks) continue;
    // More runs end at the same instant: try once as soon as there is room (a valid placement at `end`
    // without releasing thousands of runs), and again once the instant is whole.
    if (!ends.empty() && ends.front().first == end) {
      if (tried_early) continue;
      tried_early = true;
    } else {
      tried_early = false;
      ++tries;
    }
    AWAN_ASSIGN_OR_RETURN(std::optional<GangPlacement> g, PlaceInRegions(h, reserved_));
    if (!g) continue;
    Reservation r{h, end, {}, region_order_[h]};
    std::sort(r.regions.begin(), r.regions.end());
    for (const Placement& p : g->tasks) {
      AWAN_RETURN_IF_ERROR(snap_->Release(jobs_[h].spec->task, p));
      if (std::find(r.nodes.begin(), r.nodes.end(), p.node) == r.nodes.end()) r.nodes.push_back(p.node);
    }
    std::sort(r.nodes.begin(), r.nodes.end());
    return std::optional<Reservation>(std::move(r));
  }
  return std::optional<Reservation>();
}

// The reserve stage: plan the holders' nodes again when due, then give reservations to the first jobs
// that could not start for want of room (EASY: one per set of allowed regions; conservative: each).
Status JobScheduler::ReserveStage(int64_t now, Scan& s) {
  if (!policies_->backfill->reserves() || (s.heads.empty() && reservations_.empty())) return Status::Ok();
  // A periodic pass (as Slurm's backfill runs every bf_interval), or at once after a node went down.
  if (!replan_ && now < next_reserve_pass_) return Status::Ok();
  next_reserve_pass_ = now + o_.reserve_interval_s;
  if (!reservations_.empty()) {
    std::vector<Reservation> old;
    old.swap(reservations_);
    reserved_.clear();
    for (const Reservation& r : old) {
      if (!is_pending(r.job)) continue;
      AWAN_ASSIGN_OR_RETURN(std::optional<Reservation> again, PlanReservation(r.job, now));
      if (!again) continue;
      reservations_.push_back(std::move(*again));
      RebuildReservedMask();
    }
    replan_ = false;
  }
  for (size_t h : s.heads) {
    if (static_cast<int>(reservations_.size()) >= o_.max_reservations) break;
    if (!is_pending(h) || reservation(h) != nullptr) continue;
    std::vector<uint32_t> regions = region_order_[h];
    std::sort(regions.begin(), regions.end());
    const ReserveCase c{regions, now - jobs_[h].submit_s, order_->ExpectedRemainingS(View(h, now))};
    if (!policies_->backfill->Reserves(c, reservations_)) continue;
    AWAN_ASSIGN_OR_RETURN(std::optional<Reservation> r, PlanReservation(h, now));
    if (!r) continue;
    reservations_.push_back(std::move(*r));
    RebuildReservedMask();
  }
  return Status::Ok();
}

// --- The cycle ----------------------------------------------------------------------------------------

// Fair-share usage, decayed to now.
void JobScheduler::DecayShares(int64_t now) {
  if (now <= decayed_at_) return;
  const double keep =
      std::exp2(-static_cast<double>(now - decayed_at_) / static_cast<double>(o_.fair_share_half_life_s));
  for (size_t t = 0; t < decayed_share_s_.size(); ++t) {
    decayed_share_s_[t] =
        decayed_share_s_[t] * keep + DominantShare(t) * static_cast<double>(now - decayed_at_);
  }
  decayed_at_ = now;
}

// Job k could not start now (why): accounted, a candidate for preemption and for a reservation.
void JobScheduler::Blocked(const PendingKey& k, int64_t now, WaitReason why, Scan& s) {
  const size_t i = k.job;
  Account(i, now, static_cast<int>(why));
  // A holder that is now blocked by something other than room (its quota) gives its nodes back: it would
  // hold them while it cannot start.
  if (why == WaitReason::kQuota) DropReservation(i);
  if (s.waiting.size() < static_cast<size_t>(o_.preempt_window)) s.waiting.push_back(k);
  const bool room = why != WaitReason::kQuota && why != WaitReason::kReserved;
  if (room && policies_->backfill->reserves() && s.heads.size() < static_cast<size_t>(o_.max_reservations))
    s.heads.push_back(i);
}

// Examines pending job k: true if it started (the caller drops it from the pending sets). With fair share
// on, a job that would borrow is deferred to the fair-share stage.
StatusOr<bool> JobScheduler::Examine(const PendingKey& k, int64_t now, Scan& s) {
  const size_t i = k.job;
  const JobRecord& r = jobs_[i];
  const size_t t = static_cast<size_t>(r.tenant);
  // GPUs free outside every reservation: once none are, the scan may stop.
  const int64_t free_milli = snap_->gpu_capacity_milli() - snap_->gpu_allocated_milli() - HeldFree(reserved_);
  if (o_.fair_share && policies_->admission->lends() && cohort_[t] >= 0 &&
      used_[t] + r.gpus > tenants_[t].guaranteed_gpus && s.deferred < o_.backfill_window) {
    s.borrowers[t].push_back(k);
    ++s.deferred;
    return false;
  }
  AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, TryStart(i, now));
  if (!why) {
    CountStart(s);
    return true;
  }
  Blocked(k, now, *why, s);
  ++s.blocked, ++s.blocked_of[t];
  if (free_milli <= 0 && s.waiting.size() >= static_cast<size_t>(o_.preempt_window)) s.stop = true;
  return false;
}

bool JobScheduler::CountStart(Scan& s) const {
  ++s.started;
  if (o_.max_starts_per_cycle > 0 && s.started >= o_.max_starts_per_cycle) s.stop = s.cut = true;
  return s.cut;
}

// The place stage: the pending set in order, each job admitted and placed or passed over (backfill). The
// backfill window is shared among tenants: once it is spent, each tenant that has not yet had its share of
// it (window / tenants) goes on from where the scan stopped, in its own queue order, so that one tenant's
// backlog of jobs that cannot start never hides another tenant's job that can. Until then the scan is the
// plain one (and when the window is not spent, nothing differs).
Status JobScheduler::PlaceStage(int64_t now, Scan& s) {
  const int share = std::max(1, o_.backfill_window / std::max(1, static_cast<int>(tenants_.size())));
  std::optional<PendingKey> last;  // the last entry the plain scan examined
  for (auto it = pending_.begin(); it != pending_.end() && s.blocked <= o_.backfill_window && !s.stop;) {
    const PendingKey k = *it;
    ++it;
    last = k;
    AWAN_ASSIGN_OR_RETURN(bool started, Examine(k, now, s));
    if (started) ErasePending(k);
  }
  if (s.blocked <= o_.backfill_window || s.stop || !last) return Status::Ok();
  for (size_t t = 0; t < pending_of_.size() && !s.stop; ++t) {
    for (auto it = pending_of_[t].upper_bound(*last);
         it != pending_of_[t].end() && s.blocked_of[t] < share && !s.stop;) {
      const PendingKey k = *it;
      ++it;
      AWAN_ASSIGN_OR_RETURN(bool started, Examine(k, now, s));
      if (started) ErasePending(k);
    }
  }
  return Status::Ok();
}

// The fair-share stage: jobs that would borrow, the tenant with the smallest share first, each tenant's
// jobs in queue order; a tenant's share grows with every job it starts.
Status JobScheduler::FairShareStage(int64_t now, Scan& s) {
  const int64_t capacity = snap_->gpu_capacity_milli();
  std::vector<size_t> next(tenants_.size(), 0);
  for (;;) {
    int best = -1;
    for (size_t t = 0; t < s.borrowers.size(); ++t) {
      if (next[t] < s.borrowers[t].size() && (best < 0 || Share(t) < Share(static_cast<size_t>(best))))
        best = static_cast<int>(t);
    }
    if (best < 0 || capacity - snap_->gpu_allocated_milli() <= 0) break;
    const PendingKey k = s.borrowers[static_cast<size_t>(best)][next[static_cast<size_t>(best)]++];
    AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, TryStart(k.job, now));
    if (!why) {
      ErasePending(k);
      if (CountStart(s)) break;
      continue;
    }
    Blocked(k, now, *why, s);
  }
  for (size_t t = 0; t < s.borrowers.size(); ++t) {
    for (size_t k = next[t]; k < s.borrowers[t].size(); ++k) {
      Account(s.borrowers[t][k].job, now, static_cast<int>(WaitReason::kCapacity));
      if (s.waiting.size() < static_cast<size_t>(o_.preempt_window)) s.waiting.push_back(s.borrowers[t][k]);
    }
  }
  return Status::Ok();
}

// The preempt stage, for the first jobs that could not start: at most once per preempt_interval_s (a
// periodic pass, as real schedulers run it), and only if some running job could be a victim at all.
Status JobScheduler::PreemptStage(int64_t now, Scan& s) {
  if (s.waiting.empty() || now < next_preempt_pass_) return Status::Ok();
  next_preempt_pass_ = now + o_.preempt_interval_s;
  bool borrowing = false, ranked = false;  // someone borrows; tenants of different priorities
  for (size_t t = 0; t < tenants_.size(); ++t) {
    borrowing = borrowing || used_[t] > tenants_[t].guaranteed_gpus;
    ranked = ranked || tenants_[t].priority != tenants_[0].priority;
  }
  // Relocation is for jobs that residency keeps waiting; the free GPUs per region are counted only then.
  const bool relocating =
      o_.relocate && std::any_of(s.waiting.begin(), s.waiting.end(), [&](const PendingKey& k) {
        return jobs_[k.job].last_reason == static_cast<int>(WaitReason::kResidency);
      });
  if (!borrowing && !ranked && !order_->preemptive() && !relocating) return Status::Ok();
  if (relocating) {
    region_free_.assign(fleet_->region_count(), 0);
    for (uint32_t n = 0; n < snap_->size(); ++n) {
      const NodeState& ns = snap_->node(NodeIndex(n));
      if (!ns.unavailable) region_free_[fleet_->region_of(NodeIndex(n)).value] += ns.gpu_left_total;
    }
  }
  ++preempt_pass_;  // running jobs' keys are computed once per pass, when first compared
  for (const PendingKey& k : s.waiting) {
    if (pending_.find(k) == pending_.end()) continue;
    AWAN_ASSIGN_OR_RETURN(bool ok, TryPreempt(PreemptorOf(k.job, k, now), now));  // usage as of now
    if (ok) ErasePending(k);
  }
  return Status::Ok();
}

// Debug builds: what every stage must leave true. Tenants' usage is the sum of their running jobs; a job
// is pending or running, not both; reservations hold only pending jobs, on disjoint nodes.
Status JobScheduler::CheckInvariants(CycleStage after) const {
  std::vector<int64_t> used(tenants_.size(), 0);
  for (size_t v : running_) {
    if (!jobs_[v].running || is_pending(v))
      return Internal(std::string("after ") + CycleStageName(after) + ": job " + jobs_[v].spec->name +
                      " both running and waiting");
    used[static_cast<size_t>(jobs_[v].tenant)] += jobs_[v].gpus;
  }
  if (used != used_)
    return Internal(std::string("after ") + CycleStageName(after) + ": tenants' GPU usage out of step");
  std::vector<uint8_t> seen(fleet_->size(), 0);
  for (const Reservation& r : reservations_) {
    if (!is_pending(r.job))
      return Internal(std::string("after ") + CycleStageName(after) +
                      ": a reservation for a job that does not wait");
    for (NodeIndex n : r.nodes) {
      if (seen[n.value]++)
        return Internal(std::string("after ") + CycleStageName(after) + ": two reservations hold one node");
    }
  }
  return Status::Ok();
}

Status JobScheduler::Cycle(int64_t now) {
  Scan s;
  s.borrowers.resize(tenants_.size());
  s.blocked_of.assign(tenants_.size(), 0);
  NullTickSource none;
  TickSource& ticks = ticks_ != nullptr ? *ticks_ : none;
  auto run = [&](CycleStage stage, auto&& body) -> Status {
    const int64_t t0 = ticks.NowNanos();
    AWAN_RETURN_IF_ERROR(body());
    cycle_stats_.stage_ns[static_cast<size_t>(stage)] += ticks.NowNanos() - t0;
#ifndef NDEBUG
    AWAN_RETURN_IF_ERROR(CheckInvariants(stage));
#endif
    return Status::Ok();
  };
  ++cycle_stats_.cycles;
  AWAN_RETURN_IF_ERROR(run(CycleStage::kDecay, [&] {
    DecayShares(now);
    for (size_t t = 0; t < reslot_.size(); ++t)
      if (reslot_[t]) Reslot(t);
    return Status::Ok();
  }));
  AWAN_RETURN_IF_ERROR(run(CycleStage::kPlace, [&] { return PlaceStage(now, s); }));
  AWAN_RETURN_IF_ERROR(
      run(CycleStage::kFairShare, [&] { return s.cut ? Status::Ok() : FairShareStage(now, s); }));
  cut_short_ = s.cut;
  if (s.cut) return Status::Ok();  // preempt and reserve once the scan is whole, in the next cycle
  AWAN_RETURN_IF_ERROR(run(CycleStage::kPreempt, [&] { return PreemptStage(now, s); }));
  return run(CycleStage::kReserve, [&] { return ReserveStage(now, s); });
}

}  // namespace awan
