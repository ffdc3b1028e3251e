#include "server/control_plane.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "core/residency.h"
#include "core/static_fit.h"
#include "policies/builtin.h"
#include "policies/ordering/orderings.h"
#include "server/diagnoses.h"
#include "serving/cold_start.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;

// The manifest as stored: JSON, so that a restart parses exactly what was accepted.
std::string ManifestJson(const config::JobManifest& m, const std::string& tenant) {
  const JobSpec& j = m.job;
  Json spec = {{"tasks", j.tasks}};
  if (j.task.gpu_milli < kWholeGpu) {
    spec["gpus"] = static_cast<double>(j.task.gpu_milli.value) / 1000.0;
  } else {
    spec["gpus"] = j.task.gpu_count;
  }
  if (!j.task.model_constraint.empty()) spec["accelerator"] = j.task.model_constraint;
  spec["cpu"] = static_cast<double>(j.task.cpu.value) / 1000.0;
  spec["memory_gib"] = static_cast<double>(j.task.memory.value) / 1024.0;
  spec["topology"] = std::string(TopologyLevelName(j.widest));
  if (!j.reads.empty()) spec["reads"] = j.reads;
  if (!j.writes.empty()) spec["writes"] = j.writes;
  if (!j.user_location.empty()) spec["user"] = j.user_location;
  if (j.priority != 0) spec["priority"] = j.priority;
  if (j.task.long_running) spec["long_running"] = true;
  if (!m.command.empty()) spec["command"] = m.command;
  if (!m.env.empty()) spec["env"] = m.env;
  if (j.duration_s > 0) spec["duration_s"] = j.duration_s;
  if (m.time_limit_s > 0) spec["time_limit"] = std::to_string(m.time_limit_s);
  if (!m.workdir.empty()) spec["workdir"] = m.workdir;
  if (!m.image.empty()) spec["image"] = m.image;
  if (!m.dependencies.empty()) spec["dependency"] = config::DependencyText(m.dependencies);
  Json metadata = {{"name", j.name}, {"tenant", tenant}};
  if (m.array_index >= 0) metadata["array"] = {{"index", m.array_index}, {"count", m.array_count}};
  return Json{{"apiVersion", "awan/v1"}, {"kind", "Job"}, {"metadata", metadata}, {"spec", spec}}.dump();
}

// Appends to a job's history (StoredJob::events), keeping the latest kMaxJobEvents.
void AddEvent(StoredJob& row, int64_t t_ms, std::string event) {
  Json events = row.events.empty() ? Json::array() : Json::parse(row.events, nullptr, false);
  if (!events.is_array()) events = Json::array();
  events.push_back({{"t_ms", t_ms}, {"event", std::move(event)}});
  if (events.size() > kMaxJobEvents)
    events.erase(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(events.size() - kMaxJobEvents));
  row.events = events.dump();
}

// " by alice"; " by a member of lab" or " by an admin" for a token that names no user.
std::string By(const Principal& who) {
  if (!who.user.empty()) return " by " + who.user;
  if (who.role == Role::kAdmin || who.tenant.empty()) return " by an admin";
  return std::string(" by a ") + RoleName(who.role) + " of " + who.tenant;
}

// The nodes of a run's tasks, each once, with the region: "my-kl-a100-0, my-kl-a100-1 (my-kl)".
std::string NodesOf(const Fleet& fleet, const std::vector<Placement>& tasks) {
  std::vector<std::string> nodes;
  for (const Placement& p : tasks) {
    if (std::find(nodes.begin(), nodes.end(), fleet.node(p.node).name) == nodes.end())
      nodes.push_back(fleet.node(p.node).name);
  }
  const std::string region =
      tasks.empty() ? ""
                    : fleet.topology().DomainName(TopologyLevel::kRegion, fleet.region_of(tasks[0].node));
  return fmt::format("{} ({})", fmt::join(nodes, ", "), region);
}

Status CheckJobPriority(int64_t p) {
  if (p >= -kMaxJobPriority && p <= kMaxJobPriority) return Status::Ok();
  return InvalidArgument(
      fmt::format("priority {}: expected an integer from {} to {}", p, -kMaxJobPriority, kMaxJobPriority));
}

}  // namespace

namespace {

SchedulerOptions SchedulerOptionsOf(const ControlPlaneOptions& o) {
  SchedulerOptions s;
  s.policies.backfill = o.backfill;
  s.policies.preemption = o.preemption;
  s.min_run_s = o.min_run_s;
  s.checkpoint_s = o.checkpoint_s;
  return s;
}

}  // namespace

StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(std::unique_ptr<config::FleetFile> fleet,
                                                             std::unique_ptr<StateStore> store,
                                                             std::unique_ptr<Executor> exec, Clock& clock,
                                                             ControlPlaneOptions o) {
  std::unique_ptr<ControlPlane> cp(new ControlPlane());
  cp->fleet_ = std::move(fleet);
  cp->store_ = std::move(store);
  cp->exec_ = std::move(exec);
  cp->clock_ = &clock;
  cp->o_ = o;
  cp->submit_limit_ = std::make_unique<RateLimiter>(o.submits_per_s, 2 * o.submits_per_s, clock);
  cp->heavy_limit_ = std::make_unique<RateLimiter>(o.heavy_reads_per_s, 2 * o.heavy_reads_per_s, clock);
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<QueueOrder> order, policies::MakeQueueOrder(o.ordering));
  AWAN_ASSIGN_OR_RETURN(cp->state_,
                        SchedulerState::Create(cp->fleet_->fleet, policies::BuiltinRegistry(), o.placement,
                                               std::move(order), SchedulerOptionsOf(o)));
  AWAN_RETURN_IF_ERROR(cp->state_->PreferWarmNodes(&cp->images_));
  cp->snap_ = &cp->state_->snapshot();
  cp->sched_ = &cp->state_->scheduler();
  cp->sched_->set_ticks(&cp->stage_ticks_);
  for (const TenantSpec& t : cp->fleet_->tenants) cp->tenant_index_[t.name] = cp->sched_->AddTenant(t);
  // Every listed tenant gets its own Unix identity: two sharing a uid could read each other's work.
  std::map<int64_t, std::string> owner;
  for (const TenantSpec& t : cp->fleet_->tenants) {
    const auto [uid, gid] = cp->TaskIdentity(t);
    (void)gid;
    auto [it, fresh] = owner.emplace(uid, t.name);
    if (!fresh) {
      return InvalidArgument(
          fmt::format("tenants '{}' and '{}' would both run tasks as uid {}: give one of them its own "
                      "uid in the fleet file",
                      it->second, t.name, uid));
    }
  }
  return cp;
}

StatusOr<JobResidency> ControlPlane::ResidencyOf(const JobSpec& job, const TenantSpec& tenant) const {
  // The job's data under its tenant's defaults (datasets are not declared through the API yet).
  const std::map<std::string, TenantSpec> tenants{{job.tenant, tenant}};
  AWAN_ASSIGN_OR_RETURN(DataCatalog catalog, DataCatalog::Build(fleet_->fleet, {}, {job}, tenants));
  return catalog.ForJob(job, tenant);
}

std::pair<int64_t, int64_t> ControlPlane::TaskIdentity(const TenantSpec& t) const {
  if (t.uid > 0) return {t.uid, t.gid > 0 ? t.gid : t.uid};
  // FNV-1a of the name: the same tenant keeps its uid across restarts and fleet-file edits.
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : t.name) h = (h ^ c) * 1099511628211ULL;
  const int64_t uid = o_.task_uid_base + static_cast<int64_t>(h % static_cast<uint64_t>(kTaskUidRange));
  return {uid, uid};
}

bool ControlPlane::ready() const {
  std::lock_guard<std::mutex> lock(mu_);
  return recovered_;
}

// Registers a stored job with the scheduler and queues it.
StatusOr<ControlPlane::Live*> ControlPlane::Enqueue(StoredJob row, bool recovering,
                                                    const config::JobManifest* parsed) {
  config::JobManifest m;
  if (parsed != nullptr) {  // Submit parsed it outside the lock: not again under it
    m = *parsed;
  } else {
    AWAN_ASSIGN_OR_RETURN(m, config::ParseJobManifest(row.manifest, "job " + row.id, fleet_->fleet));
  }
  auto t = tenant_index_.find(row.tenant);
  if (t == tenant_index_.end()) {
    AWAN_ASSIGN_OR_RETURN(TenantSpec spec, fleet_->Tenant(row.tenant));
    t = tenant_index_.emplace(row.tenant, sched_->AddTenant(std::move(spec))).first;
  }
  JobSpec spec = m.job;
  spec.name = row.id;
  spec.tenant = row.tenant;
  spec.task.name = row.id;
  if (spec.duration_s <= 0) spec.duration_s = m.time_limit_s > 0 ? m.time_limit_s : o_.default_duration_s;
  spec.time_limit_s = m.time_limit_s;  // what the orderings may read as an upper bound on its run time
  // Everything that can fail before the job joins live_: a failure leaves no half-made entry behind.
  AWAN_ASSIGN_OR_RETURN(JobResidency res, ResidencyOf(spec, sched_->tenant(t->second)));
  AWAN_RETURN_IF_ERROR(state_->Observe(spec));  // the placement's target workload, if it follows one
  live_.push_back(Live{});
  Live& l = live_.back();
  l.row = std::move(row);
  l.spec = std::move(spec);
  l.command = std::move(m.command);
  l.env = std::move(m.env);
  l.time_limit_s = m.time_limit_s;
  l.workdir = std::move(m.workdir);
  l.image = std::move(m.image);
  if (m.array_index >= 0) {
    l.awan_env["AWAN_ARRAY_INDEX"] = std::to_string(m.array_index);
    l.awan_env["AWAN_ARRAY_COUNT"] = std::to_string(m.array_count);
  }
  const int64_t now_s = clock_->NowMs() / 1000;
  residency_.push_back(res);
  l.index = sched_->AddJob(l.spec, t->second, recovering ? l.row.created_ms / 1000 : now_s, std::move(res));
  l.queued_ms = l.row.created_ms;
  if (l.row.state == JobState::kPending) l.deps = m.dependencies;
  if (l.row.state != JobState::kPending || (!l.row.held && l.deps.empty())) {
    sched_->Submit(l.index, now_s);
    l.in_queue = true;
  }
  by_id_[l.row.id] = live_.size() - 1;
  if (l.row.state == JobState::kPending) ++waiting_[l.row.tenant];
  return &l;
}

Status ControlPlane::Recover() {
  std::lock_guard<std::mutex> lock(mu_);
  // The audit chain continues from its last entry.
  for (int64_t after = 0;;) {
    AWAN_ASSIGN_OR_RETURN(std::vector<std::string> lines, store_->ReadAudit(after, 1000));
    if (lines.empty()) break;
    const auto last = nlohmann::json::parse(lines.back(), nullptr, false);
    if (last.is_discarded() || !last.is_object() || !last.contains("seq") ||
        !last["seq"].is_number_integer() || !last.contains("hash") || !last["hash"].is_string()) {
      return DataLoss("audit log: a damaged last entry");
    }
    after = last["seq"].get<int64_t>();
    audit_.Resume(after, last["hash"].get<std::string>());
  }
  AWAN_RETURN_IF_ERROR(LoadHolds());  // before the jobs: none starts on a node held out
  JobFilter f;
  f.limit = 1000;
  for (;;) {
    AWAN_ASSIGN_OR_RETURN(std::vector<StoredJob> page, store_->ListJobs(f));
    if (page.empty()) break;
    f.after_id = page.back().id;
    for (StoredJob& j : page) {
      if (j.state != JobState::kPending && j.state != JobState::kRunning) continue;
      const bool was_running = j.state == JobState::kRunning;
      StatusOr<Live*> l = Enqueue(j, /*recovering=*/true);
      if (!l.ok()) {  // a manifest that no longer fits the fleet (the fleet file changed): fail it, keep
                      // going
        j.state = JobState::kFailed;
        j.message = "cannot requeue after a restart: " + l.status().message();
        j.updated_ms = clock_->NowMs();
        AWAN_RETURN_IF_ERROR(store_->UpdateJob(j));
        continue;
      }
      if (was_running && !Readopt(**l))
        Save(**l, JobState::kPending, "requeued: the server restarted while it ran");
    }
  }
  // Whatever a previous server left running that was not adopted stops before anything is launched again.
  if (const int n = exec_->ReapUnadopted(); n > 0) {
    fmt::print("awan serve: stopped {} task(s) a previous server left running that could not be adopted\n",
               n);
  }
  AWAN_RETURN_IF_ERROR(Flush());
  recovered_ = true;
  return Status::Ok();
}

TaskLaunch ControlPlane::LaunchOf(const Live& l, size_t k, const Placement& p) const {
  TaskLaunch t;
  t.job_id = l.row.id;
  t.task = static_cast<int>(k);
  t.node = fleet_->fleet.node(p.node).name;
  t.devices = p.devices.ToString();
  t.command = l.command;
  t.env = l.env;
  t.awan_env = l.awan_env;
  t.duration_s = l.command.empty() ? l.spec.duration_s : 0;
  t.gpus = l.spec.task.gpu_count;
  t.cpus = static_cast<int>((l.spec.task.cpu.value + 999) / 1000);
  t.mem_mib = l.spec.task.memory.value;
  t.tenant = l.row.tenant;
  t.workdir = l.workdir;
  t.image = l.image;
  t.run = l.row.runs;
  t.time_limit_s = l.time_limit_s;
  const auto [uid, gid] = TaskIdentity(sched_->tenant(sched_->job(l.index).tenant));
  t.uid = uid;
  t.gid = gid;
  return t;
}

// A job that ran when the previous server stopped: if every task still runs (or ended meanwhile), it runs on,
// where it was, without a restart; false if it must be requeued (a task is gone, or its placement is).
bool ControlPlane::Readopt(Live& l) {
  const auto tasks = nlohmann::json::parse(l.row.placement, nullptr, false);
  if (tasks.is_discarded() || !tasks.is_array() || static_cast<int>(tasks.size()) != l.spec.tasks)
    return false;
  std::vector<Placement> placements;
  for (const auto& t : tasks) {
    NodeIndex n;
    if (!t.is_object() || !fleet_->fleet.FindNode(t.value("node", ""), &n)) return false;
    Placement p;
    p.node = n;
    std::stringstream ss(t.value("devices", ""));
    for (std::string d; std::getline(ss, d, ',');) {
      if (d.empty() || d.size() > 2 || !std::isdigit(static_cast<unsigned char>(d[0]))) return false;
      const int dev = std::stoi(d);
      if (dev >= fleet_->fleet.node(n).gpu_count || p.devices.count >= kMaxGpusPerNode) return false;
      p.devices.Add(dev);
    }
    placements.push_back(p);
  }
  int alive = 0, never_started = 0;
  bool lost = false;
  for (size_t k = 0; k < placements.size() && !lost; ++k) {
    const Executor::Adoption a = exec_->Adopt(LaunchOf(l, k, placements[k]), l.row.updated_ms);
    never_started += a == Executor::Adoption::kNeverStarted;
    lost = a == Executor::Adoption::kLost || a == Executor::Adoption::kNeverStarted;
    alive += !lost;
  }
  if (lost || !sched_->Resume(l.index, clock_->NowMs() / 1000, l.row.updated_ms / 1000, placements).ok()) {
    exec_->Kill(l.row.id);  // what was adopted stops: the job runs again from the start, once
    // A start recorded ahead of a launch that never happened is not a run.
    if (never_started == 1 && alive == 0 && l.row.runs > 0) --l.row.runs;
    return false;
  }
  l.tasks_running = alive;
  l.run_id = sched_->job(l.index).run_id;
  return true;
}

std::pair<double, double> ControlPlane::RunRate(const Live& l) const {
  const double gpu_per_task =
      static_cast<double>(l.spec.task.total_gpu().value) / static_cast<double>(kWholeGpu.value);
  const Json tasks = Json::parse(l.row.placement, nullptr, false);
  double gpus = 0, usd_per_hour = 0;
  if (!tasks.is_array()) return {0, 0};
  for (const Json& t : tasks) {
    NodeIndex n;
    if (!t.is_object() || !fleet_->fleet.FindNode(t.value("node", ""), &n)) continue;
    gpus += gpu_per_task;
    usd_per_hour += gpu_per_task * fleet_->fleet.node(n).price_per_gpu_hour;
  }
  return {gpus, usd_per_hour};
}

void ControlPlane::Account(StoredJob& row, const Live& l, JobState to, int64_t now_ms) const {
  const bool was_running = row.state == JobState::kRunning, runs = to == JobState::kRunning;
  if (was_running && !runs && row.run_started_ms > 0) {
    const auto [gpus, usd_per_hour] = RunRate(l);
    const int64_t ms = std::max<int64_t>(0, now_ms - row.run_started_ms);
    row.gpu_ms += static_cast<int64_t>(gpus * static_cast<double>(ms));
    row.cost_usd += usd_per_hour * static_cast<double>(ms) / 3.6e6;
    row.run_started_ms = 0;
  }
  if (!was_running && runs) {
    row.run_started_ms = now_ms;
    if (row.started_ms == 0) row.started_ms = now_ms;
  }
  if (!IsActive(to) && row.ended_ms == 0) row.ended_ms = now_ms;
}

StoredJob ControlPlane::SoFar(const Live& l, int64_t now_ms) const {
  StoredJob out = l.row;
  if (out.state == JobState::kRunning) {
    Account(out, l, JobState::kPending, now_ms);  // as if its run stopped now
    out.run_started_ms = l.row.run_started_ms;
  }
  return out;
}

void ControlPlane::Save(Live& l, JobState state, const std::string& message, const std::string& event) {
  AddEvent(l.row, clock_->NowMs(), event.empty() ? std::string(JobStateName(state)) + ": " + message : event);
  Account(l.row, l, state, clock_->NowMs());
  if (l.row.state == JobState::kPending) --waiting_[l.row.tenant];
  if (state == JobState::kPending) ++waiting_[l.row.tenant];
  l.row.state = state;
  l.row.message = message;
  l.row.updated_ms = clock_->NowMs();
  dirty_.push_back(by_id_.at(l.row.id));
}

Status ControlPlane::Flush() {
  // A failed write keeps what it was to write: the next Flush (the next tick) tries again, so nothing the
  // scheduler decided is dropped (a cancelled job never comes back as Running).
  if (Status s = store_->AppendAudit(audit_pending_); !s.ok()) {
    ++stats_.store_errors;
    // Another server wrote entries with our sequence numbers: it schedules from this store too. Going on
    // would break the chain and run work twice: stop (serve exits on fenced()).
    if (s.code() == StatusCode::kAlreadyExists) fenced_ = true;
    return s;
  }
  audit_pending_.clear();
  for (; !holds_pending_.empty(); holds_pending_.erase(holds_pending_.begin())) {
    const auto& [node, value] = holds_pending_.front();
    Status s = value.empty() ? store_->DeleteObject("node", node) : store_->PutObject("node", node, value);
    if (!s.ok()) {
      ++stats_.store_errors;
      return s;
    }
  }
  std::vector<StoredJob> rows;
  std::vector<uint8_t> seen(live_.size(), 0);
  for (size_t i : dirty_) {
    if (!seen[i]) rows.push_back(live_[i].row), seen[i] = 1;
  }
  if (Status s = store_->UpdateJobs(rows); !s.ok()) {
    ++stats_.store_errors;
    return s;
  }
  dirty_.clear();
  return Status::Ok();
}

// What Submit and DryRun check before anything is stored: the manifest, the tenant, and that the job could
// start at all (on an empty fleet).
StatusOr<ControlPlane::Checked> ControlPlane::CheckSubmit(const Principal& who, std::string_view text,
                                                          std::string_view source) const {
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot submit");
  // Parse outside the lock: it needs only the fleet, which never changes.
  Checked c;
  AWAN_ASSIGN_OR_RETURN(c.manifest, config::ParseJobManifest(text, source, fleet_->fleet));
  c.tenant = c.manifest.job.tenant.empty() ? who.tenant : c.manifest.job.tenant;
  if (c.tenant.empty()) return InvalidArgument("metadata.tenant is required with an admin token");
  if (who.role != Role::kAdmin && c.tenant != who.tenant) {
    return PermissionDenied("forbidden: this token may submit only for tenant " + who.tenant);
  }
  StatusOr<TenantSpec> tenant_spec = fleet_->Tenant(c.tenant);
  if (!tenant_spec.ok())
    return InvalidArgument("unknown tenant '" + c.tenant + "': the fleet file does not list it");
  // An admin naming a tenant that the fleet file does not list (its default_tenant would apply) and that no
  // token was made for: most likely a typo, refused rather than queued under a tenant nobody can see.
  if (who.role == Role::kAdmin && std::none_of(fleet_->tenants.begin(), fleet_->tenants.end(),
                                               [&](const TenantSpec& t) { return t.name == c.tenant; })) {
    AWAN_ASSIGN_OR_RETURN(std::vector<TokenRecord> tokens, store_->ListTokens());
    if (std::none_of(tokens.begin(), tokens.end(),
                     [&](const TokenRecord& t) { return t.tenant == c.tenant; }))
      return InvalidArgument("unknown tenant '" + c.tenant +
                             "': the fleet file does not list it and no token was made for it");
  }
  // A job that could never start, even on an empty fleet, is refused now rather than left waiting forever.
  c.manifest.job.tenant = c.tenant;
  AWAN_ASSIGN_OR_RETURN(c.residency, ResidencyOf(c.manifest.job, *tenant_spec));
  const StaticFit fit = CheckStaticFit(fleet_->fleet, c.manifest.job, c.residency);
  if (!fit.fits()) {
    return InvalidArgument(
        fmt::format("this job can never start ({}): {}", StaticBlockerName(fit.blocker), fit.detail));
  }
  return c;
}

StatusOr<ControlPlane::Checked> ControlPlane::Admit(const Principal& who, std::string_view text,
                                                    std::string_view source, const SubmitOptions& options,
                                                    int64_t jobs) {
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot submit");
  if (const int64_t wait_ms = submit_limit_->Take(who.tenant.empty() ? "(admin)" : who.tenant); wait_ms > 0) {
    return ResourceExhausted(fmt::format("too many submits: retry after {} ms", wait_ms));
  }
  AWAN_ASSIGN_OR_RETURN(Checked checked, CheckSubmit(who, text, source));
  AWAN_RETURN_IF_ERROR(ApplyOptions(who, options, checked.tenant, &checked.manifest));
  const std::string& tenant = checked.tenant;
  if (o_.max_waiting_per_tenant > 0) {
    std::lock_guard<std::mutex> lock(mu_);
    if (jobs == 1 && waiting_[tenant] >= o_.max_waiting_per_tenant) {
      return ResourceExhausted(
          fmt::format("tenant {} already has {} jobs waiting, the most allowed: retry after 1000 ms", tenant,
                      waiting_[tenant]));
    }
    if (waiting_[tenant] + jobs > o_.max_waiting_per_tenant) {
      return ResourceExhausted(fmt::format("tenant {} has {} jobs waiting; {} more would pass the {} allowed",
                                           tenant, waiting_[tenant], jobs, o_.max_waiting_per_tenant));
    }
  }
  return checked;
}

StatusOr<std::vector<StoredJob>> ControlPlane::StoreAndQueue(const Principal& who, const std::string& tenant,
                                                             const SubmitOptions& options,
                                                             const std::vector<config::JobManifest>& jobs) {
  std::vector<StoredJob> rows(jobs.size());
  const int64_t now_ms = clock_->NowMs();
  for (size_t k = 0; k < jobs.size(); ++k) {
    rows[k].tenant = tenant;
    rows[k].name = jobs[k].job.name;
    rows[k].manifest = ManifestJson(jobs[k], tenant);
    rows[k].created_ms = rows[k].updated_ms = now_ms;
    rows[k].message = options.hold ? "held" : "queued";
    rows[k].held = options.hold;
    rows[k].user = who.user;
    std::string event = "submitted" + By(who);
    if (jobs[k].job.priority != 0) event += fmt::format(", priority {}", jobs[k].job.priority);
    if (options.hold) event += ", held";
    if (!jobs[k].dependencies.empty()) event += ", after " + config::DependencyText(jobs[k].dependencies);
    AddEvent(rows[k], now_ms, std::move(event));
  }
  // Durable first (group-committed with concurrent submits, outside the control plane's lock), then queued.
  AWAN_ASSIGN_OR_RETURN(rows, store_->CreateJobs(std::move(rows)));
  std::vector<StoredJob> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t k = 0; k < rows.size(); ++k) {
    ++stats_.submitted;
    StatusOr<Live*> l = Enqueue(rows[k], false, &jobs[k]);
    if (!l.ok()) {
      rows[k].state = JobState::kFailed;
      rows[k].message = l.status().message();
      AddEvent(rows[k], now_ms, "Failed: " + rows[k].message);
      AWAN_RETURN_IF_ERROR(store_->UpdateJob(rows[k]));
      out.push_back(rows[k]);
      continue;
    }
    out.push_back((*l)->row);
  }
  return out;
}

StatusOr<StoredJob> ControlPlane::Submit(const Principal& who, std::string_view text, std::string_view source,
                                         const SubmitOptions& options) {
  AWAN_ASSIGN_OR_RETURN(Checked checked, Admit(who, text, source, options, 1));
  AWAN_ASSIGN_OR_RETURN(std::vector<StoredJob> rows,
                        StoreAndQueue(who, checked.tenant, options, {checked.manifest}));
  return std::move(rows[0]);
}

StatusOr<std::vector<StoredJob>> ControlPlane::SubmitArray(const Principal& who, std::string_view text,
                                                           std::string_view source,
                                                           const std::vector<int>& indices,
                                                           const SubmitOptions& options) {
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot submit");
  if (indices.empty() || indices.size() > static_cast<size_t>(config::kMaxArrayJobs))
    return InvalidArgument(fmt::format("an array has 1 to {} jobs", config::kMaxArrayJobs));
  // Every element keeps its own copy of the manifest: bounded in all (the body is bounded alone).
  constexpr size_t kMaxArrayBytes = size_t{32} << 20;
  if (indices.size() * (text.size() + 256) > kMaxArrayBytes) {
    return InvalidArgument(
        fmt::format("an array of {} jobs of a {}-byte manifest is more than {} MiB in all: "
                    "fewer jobs or a smaller manifest",
                    indices.size(), text.size(), kMaxArrayBytes >> 20));
  }
  AWAN_ASSIGN_OR_RETURN(Checked checked,
                        Admit(who, text, source, options, static_cast<int64_t>(indices.size())));
  if (checked.manifest.job.name.size() + 7 > 253)
    return InvalidArgument("metadata name: at most 246 characters for an array (its jobs are NAME-INDEX)");
  // Each element's manifest: the name and environment of its index.
  std::vector<config::JobManifest> elements(indices.size(), checked.manifest);
  for (size_t k = 0; k < indices.size(); ++k) {
    elements[k].job.name = fmt::format("{}-{}", checked.manifest.job.name, indices[k]);
    elements[k].array_index = indices[k];
    elements[k].array_count = static_cast<int>(indices.size());
  }
  return StoreAndQueue(who, checked.tenant, options, elements);
}

Status ControlPlane::ApplyOptions(const Principal& who, const SubmitOptions& o, const std::string& tenant,
                                  config::JobManifest* m) {
  if (o.priority) {
    AWAN_RETURN_IF_ERROR(CheckJobPriority(*o.priority));
    m->job.priority = static_cast<int>(*o.priority);
  }
  if (o.time_limit_s) m->time_limit_s = *o.time_limit_s;  // parsed and range-checked by ParseTimeLimit
  if (!o.dependency.empty()) {
    AWAN_ASSIGN_OR_RETURN(m->dependencies, config::ParseDependencies(o.dependency));
  }
  if (m->dependencies.empty()) return Status::Ok();
  // A dependency is a job of the same tenant (an admin can't tie two tenants' jobs together: the waiting
  // job's reason would name the other's). Live jobs under the lock, older ones from the store after it.
  std::vector<std::string> stored;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const config::Dependency& d : m->dependencies) {
      auto it = by_id_.find(d.job);
      if (it == by_id_.end()) {
        stored.push_back(d.job);
      } else if (!who.sees(live_[it->second].row.tenant) || live_[it->second].row.tenant != tenant) {
        return InvalidArgument("dependency: no job " + d.job + " of tenant " + tenant);
      }
    }
  }
  for (const std::string& id : stored) {
    AWAN_ASSIGN_OR_RETURN(std::optional<StoredJob> j, store_->GetJob(id));
    if (!j || !who.sees(j->tenant) || j->tenant != tenant)
      return InvalidArgument("dependency: no job " + id + " of tenant " + tenant);
  }
  return Status::Ok();
}

// A dependency's state now: live jobs from memory, older ones from the store (remembered once ended);
// nullopt for a job that is gone; an error when the store could not say (the caller tries again later).
StatusOr<std::optional<JobState>> ControlPlane::StateOf(const std::string& id) {
  if (auto it = by_id_.find(id); it != by_id_.end())
    return std::optional<JobState>(live_[it->second].row.state);
  if (auto it = ended_.find(id); it != ended_.end()) return std::optional<JobState>(it->second);
  AWAN_ASSIGN_OR_RETURN(std::optional<StoredJob> j, store_->GetJob(id));
  if (!j) return std::optional<JobState>();
  if (!IsActive(j->state)) ended_[id] = j->state;
  return std::optional<JobState>(j->state);
}

std::string ControlPlane::WaitingFor(const Live& l) const {
  if (l.row.held) return "held: awan release " + l.row.id + " lets it run";
  std::string out = "waiting for dependency " + config::DependencyText(l.deps) + " (";
  for (size_t i = 0; i < l.deps.size(); ++i) {
    auto it = by_id_.find(l.deps[i].job);
    out += (i ? ", " : "") + l.deps[i].job + " " +
           (it != by_id_.end() ? std::string(JobStateName(live_[it->second].row.state)) : "ended");
  }
  return out + ")";
}

void ControlPlane::ResolveDependencies(int64_t now_s) {
  for (Live& l : live_) {
    if (l.in_queue || l.row.state != JobState::kPending || l.row.held) continue;
    std::string never;
    bool all = true;
    for (const config::Dependency& d : l.deps) {
      const StatusOr<std::optional<JobState>> known = StateOf(d.job);
      if (!known.ok()) {  // the store could not say: not now
        all = false;
        break;
      }
      const std::optional<JobState>& s = *known;
      if (!s) {
        never = d.job + " is gone";
      } else if (IsActive(*s)) {
        all = false;
      } else if (d.kind == config::DependencyKind::kAfterOk && *s != JobState::kSucceeded) {
        never = d.job + " ended " + std::string(JobStateName(*s));
      }
      if (!never.empty()) break;
    }
    if (!never.empty()) {
      Save(l, JobState::kCancelled, "dependency never satisfied: " + never);
      continue;
    }
    if (!all) continue;
    l.deps.clear();
    sched_->Submit(l.index, now_s);
    l.in_queue = true;
    l.queued_ms = now_s * 1000;
    Save(l, JobState::kPending, "queued (its dependencies were met)");
  }
}

StatusOr<StoredJob> ControlPlane::Hold(const Principal& who, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  AWAN_ASSIGN_OR_RETURN(Live * l, Find(who, id));
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot hold jobs");
  if (l->row.state != JobState::kPending)
    return FailedPrecondition("job " + id + " is " + std::string(JobStateName(l->row.state)) +
                              ": only a waiting job can be held");
  if (l->row.held) return l->row;
  StoredJob held = l->row;
  held.held = true;
  held.message = "held";
  held.updated_ms = clock_->NowMs();
  AddEvent(held, held.updated_ms, "held" + By(who));
  AWAN_RETURN_IF_ERROR(store_->UpdateJob(held));  // durable first
  if (l->in_queue) AWAN_RETURN_IF_ERROR(sched_->Cancel(l->index, clock_->NowMs() / 1000));
  l->in_queue = false;
  l->row = held;
  StoredJob out = l->row;
  out.message = LiveMessage(*l);
  return out;
}

StatusOr<StoredJob> ControlPlane::SetPriority(const Principal& who, const std::string& id, int64_t priority) {
  AWAN_RETURN_IF_ERROR(CheckJobPriority(priority));
  std::lock_guard<std::mutex> lock(mu_);
  AWAN_ASSIGN_OR_RETURN(Live * l, Find(who, id));
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot change a job's priority");
  if (!IsActive(l->row.state))
    return FailedPrecondition("job " + id + " is " + std::string(JobStateName(l->row.state)) +
                              ": only a waiting or running job's priority can change");
  StoredJob changed = l->row;
  Json manifest = Json::parse(changed.manifest, nullptr, false);
  if (!manifest.is_object() || !manifest.contains("spec"))
    return Internal("job " + id + ": stored manifest unreadable");
  if (priority == 0) {
    manifest["spec"].erase("priority");
  } else {
    manifest["spec"]["priority"] = priority;
  }
  changed.manifest = manifest.dump();
  changed.updated_ms = clock_->NowMs();
  AddEvent(changed, changed.updated_ms, fmt::format("priority set to {}{}", priority, By(who)));
  AWAN_RETURN_IF_ERROR(store_->UpdateJob(changed));  // durable first
  l->row = changed;
  l->spec.priority = static_cast<int>(priority);
  sched_->SetJobPriority(l->index, static_cast<int>(priority));
  StoredJob out = l->row;
  out.message = LiveMessage(*l);
  return out;
}

StatusOr<StoredJob> ControlPlane::Release(const Principal& who, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  AWAN_ASSIGN_OR_RETURN(Live * l, Find(who, id));
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot release jobs");
  if (l->row.state != JobState::kPending || !l->row.held)
    return FailedPrecondition("job " + id + " is not held");
  StoredJob released = l->row;
  released.held = false;
  released.message = "queued";
  released.updated_ms = clock_->NowMs();
  AddEvent(released, released.updated_ms, "released" + By(who));
  AWAN_RETURN_IF_ERROR(store_->UpdateJob(released));
  l->row = released;
  if (l->deps.empty()) {
    sched_->Submit(l->index, clock_->NowMs() / 1000);
    l->in_queue = true;
    l->queued_ms = clock_->NowMs();
  }
  StoredJob out = l->row;
  out.message = LiveMessage(*l);
  return out;
}

StatusOr<ControlPlane::Live*> ControlPlane::Find(const Principal& who, const std::string& id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end() || !who.sees(live_[it->second].row.tenant)) return NotFound("no job " + id);
  return &live_[it->second];
}

// A waiting job's message: its wait reason now, and why it waits again when a run was stopped.
std::string ControlPlane::LiveMessage(const Live& l) const {
  if (l.row.state != JobState::kPending) return l.row.message;
  if (!l.in_queue) return WaitingFor(l);
  const JobRecord& r = sched_->job(l.index);
  if (r.last_reason < 0) return l.row.message;
  const bool stopped = l.row.message.rfind("requeued", 0) == 0 || l.row.message.rfind("preempted", 0) == 0;
  return std::string("waiting: ") + WaitReasonName(static_cast<WaitReason>(r.last_reason)) +
         (stopped ? " (" + l.row.message + ")" : "");
}

StatusOr<StoredJob> ControlPlane::Get(const Principal& who, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_id_.find(id);
  if (it != by_id_.end()) {
    if (!who.sees(live_[it->second].row.tenant)) return NotFound("no job " + id);
    Live& l = live_[it->second];
    StoredJob out = SoFar(l, clock_->NowMs());
    out.message = LiveMessage(l);
    return out;
  }
  AWAN_ASSIGN_OR_RETURN(std::optional<StoredJob> j,
                        store_->GetJob(id));  // finished before this server started
  if (!j || !who.sees(j->tenant)) return NotFound("no job " + id);
  return *j;
}

StatusOr<std::vector<StoredJob>> ControlPlane::List(const Principal& who, JobFilter f) {
  if (who.role != Role::kAdmin) {
    if (!f.tenant.empty() && f.tenant != who.tenant)
      return std::vector<StoredJob>{};  // foreign: nothing to see
    f.tenant = who.tenant;
  }
  f.limit = std::clamp(f.limit, 1, 1000);
  // The store is thread-safe: read without holding up scheduling; then the waiting ones' reasons now.
  AWAN_ASSIGN_OR_RETURN(std::vector<StoredJob> jobs, store_->ListJobs(f));
  std::lock_guard<std::mutex> lock(mu_);
  const int64_t now_ms = clock_->NowMs();
  for (StoredJob& j : jobs) {
    const auto it = by_id_.find(j.id);
    if (it == by_id_.end()) continue;
    if (j.state == JobState::kPending) j.message = LiveMessage(live_[it->second]);
    // The running run's GPU time and cost so far (the store has the ended runs').
    if (j.state == JobState::kRunning && live_[it->second].row.state == JobState::kRunning) {
      const StoredJob now = SoFar(live_[it->second], now_ms);
      j.gpu_ms = now.gpu_ms, j.cost_usd = now.cost_usd;
    }
  }
  return jobs;
}

StatusOr<StoredJob> ControlPlane::Cancel(const Principal& who, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  AWAN_ASSIGN_OR_RETURN(Live * l, Find(who, id));
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot cancel");
  if (l->row.state != JobState::kPending && l->row.state != JobState::kRunning)
    return l->row;  // already over: nothing to do
  // Durable first: the answer is given only once the cancel survives a crash; then the tasks stop.
  StoredJob cancelled = l->row;
  Account(cancelled, *l, JobState::kCancelled, clock_->NowMs());
  cancelled.state = JobState::kCancelled;
  cancelled.message = "cancelled by request";
  cancelled.updated_ms = clock_->NowMs();
  AddEvent(cancelled, cancelled.updated_ms, "Cancelled" + By(who));
  AWAN_RETURN_IF_ERROR(store_->UpdateJob(cancelled));
  exec_->Kill(l->row.id);
  if (l->in_queue) AWAN_RETURN_IF_ERROR(sched_->Cancel(l->index, clock_->NowMs() / 1000));
  l->in_queue = false;
  if (l->row.state == JobState::kPending) --waiting_[l->row.tenant];
  l->row = cancelled;
  return l->row;
}

StatusOr<StoredJob> ControlPlane::Requeue(const Principal& who, const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  AWAN_ASSIGN_OR_RETURN(Live * l, Find(who, id));
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot requeue");
  if (l->row.state != JobState::kRunning)
    return FailedPrecondition("job " + id + " is " + std::string(JobStateName(l->row.state)) +
                              ": only a running job can be requeued");
  const int64_t now_s = clock_->NowMs() / 1000;
  const std::string node = fleet_->fleet.node(sched_->placements(l->index).front().node).name;
  AWAN_RETURN_IF_ERROR(RequeueRunning(
      *l,
      {"requeue_job", node, -1, id, "", who.role == Role::kAdmin ? "admin" : "tenant " + who.tenant,
       "applied", "requeued by request"},
      "requeued by request: it restarts from its last checkpoint", now_s));
  StopRuns();
  AWAN_RETURN_IF_ERROR(Flush());
  return l->row;
}

StatusOr<Executor::LogChunk> ControlPlane::Logs(const Principal& who, const std::string& id, int task,
                                                int run, int64_t offset, int64_t max_bytes) {
  int tasks = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = by_id_.find(id);
    if (it != by_id_.end()) {
      if (!who.sees(live_[it->second].row.tenant)) return NotFound("no job " + id);
      tasks = live_[it->second].spec.tasks;
    }
  }
  if (tasks == 0) {  // ended before this server started: its log is still there
    AWAN_ASSIGN_OR_RETURN(std::optional<StoredJob> j, store_->GetJob(id));
    if (!j || !who.sees(j->tenant)) return NotFound("no job " + id);
    const auto m = nlohmann::json::parse(j->manifest, nullptr, false);
    tasks = m.is_discarded() ? 1 : m.value("/spec/tasks"_json_pointer, 1);
  }
  if (task < 0 || task >= tasks) return InvalidArgument("task " + std::to_string(task) + " out of range");
  // Read outside the lock: a large log never holds up scheduling or other callers.
  return exec_->ReadLog(id, task, run, offset, std::clamp<int64_t>(max_bytes, 0, kMaxLogChunk));
}

StatusOr<PendingExplanation> ControlPlane::Explain(const Principal& who, const std::string& id) {
  // Under the lock only a copy of the scheduler's state; the counterfactuals run on it outside, so an explain
  // never holds up scheduling or other callers.
  ExplainSource src;
  std::vector<const JobSpec*> specs;  // stable: a Live's spec never changes and never moves (deque)
  std::vector<JobSpec> jobs;
  CatalogInputs in;
  std::string tenant;
  std::unique_ptr<SchedulerState> base;
  {
    std::lock_guard<std::mutex> lock(mu_);
    AWAN_ASSIGN_OR_RETURN(Live * l, Find(who, id));
    if (l->row.state != JobState::kPending)
      return FailedPrecondition("job " + id + " is " + std::string(JobStateName(l->row.state)) +
                                ", not waiting");
    if (!l->in_queue) return FailedPrecondition("job " + id + " is not queued: " + WaitingFor(*l));
    AWAN_ASSIGN_OR_RETURN(base, state_->Clone());
    specs.assign(sched_->job_count(), nullptr);
    for (const Live& x : live_) specs[x.index] = &x.spec;
    tenant = l->row.tenant;
    // The catalog as the job was placed under: its own data under its tenant's defaults.
    jobs = {l->spec};
    in.tenants = {{tenant, sched_->tenant(sched_->job(l->index).tenant)}};
    src.now = clock_->NowMs() / 1000;
  }
  in.jobs = &jobs;
  src.fleet = &fleet_->fleet;
  src.sched = &base->scheduler();
  src.spec = [&specs](size_t i) -> const JobSpec& { return *specs[i]; };
  src.clone = [&base] { return base->Clone(); };
  AWAN_ASSIGN_OR_RETURN(std::vector<PendingExplanation> ex, ExplainPending(src, in, jobs[0].name));
  if (ex.empty()) return FailedPrecondition("job " + id + " is not waiting");
  // Nothing about other tenants' work: not their jobs' ids, not their names.
  for (Counterfactual& cf : ex[0].counterfactuals) {
    if (cf.kind == CounterfactualKind::kWait && !cf.after_job.empty()) {
      bool own = false;
      for (const JobSpec* s : specs) own = own || (s && s->name == cf.after_job && s->tenant == tenant);
      if (!own) {
        cf.after_job.clear();
        cf.text = fmt::format(
            "would start in about {} min when a job of another tenant ends, if no new work arrives",
            std::max<int64_t>(1, (cf.start_s - src.now + 59) / 60));
      }
    } else if (cf.kind == CounterfactualKind::kLendQuota && cf.tenant != tenant) {
      cf.tenant.clear();
      cf.text = "would start now in " + cf.region + " if another tenant lent its idle quota";
    }
  }
  return ex[0];
}

Status ControlPlane::ChargeHeavyRead(const Principal& who) {
  if (const int64_t wait_ms = heavy_limit_->Take(who.tenant.empty() ? "(admin)" : who.tenant); wait_ms > 0) {
    return ResourceExhausted(
        fmt::format("too many expensive reads (explain, logs, lists): retry after {} ms", wait_ms));
  }
  return Status::Ok();
}

StatusOr<std::vector<std::string>> ControlPlane::Audit(const Principal& who, int64_t after, int limit) {
  if (who.role != Role::kAdmin) return PermissionDenied("forbidden: the audit log needs an admin token");
  return store_->ReadAudit(after, std::clamp(limit, 1, 10000));
}

std::string ControlPlane::PlacementJson(size_t index) const {
  Json tasks = Json::array();
  const Fleet& fleet = fleet_->fleet;
  for (const Placement& p : sched_->placements(index)) {
    tasks.push_back(
        {{"node", fleet.node(p.node).name},
         {"devices", p.devices.ToString()},
         {"region", fleet.topology().DomainName(TopologyLevel::kRegion, fleet.region_of(p.node))}});
  }
  return tasks.dump();
}

Status ControlPlane::Heartbeat(const Principal& who, const std::string& node) {
  if (who.role != Role::kAdmin && !(who.role == Role::kNode && who.tenant == node))
    return PermissionDenied("forbidden: heartbeats need an admin token or this node's own token");
  NodeIndex n;
  if (!fleet_->fleet.FindNode(node, &n)) return NotFound("no node " + node);
  std::lock_guard<std::mutex> lock(mu_);
  last_beat_ms_[n.value] = clock_->NowMs();
  return Status::Ok();
}

// Heartbeats: a watched node silent for too long goes down (its jobs stop and requeue); one that beats again
// comes back.
Status ControlPlane::CheckHeartbeats(int64_t now_s) {
  if (down_.size() != fleet_->fleet.size()) down_.assign(fleet_->fleet.size(), 0);
  const int64_t now_ms = clock_->NowMs();
  for (const auto& [n, beat] : last_beat_ms_) {
    const bool silent = now_ms - beat > o_.heartbeat_timeout_ms;
    if (silent && !down_[n]) {
      down_[n] = 1;
      if (diagnoses_ != nullptr) {
        diagnosis::Signal sig;
        sig.kind = diagnosis::SignalKind::kHeartbeat;
        sig.node = fleet_->fleet.node(NodeIndex(n)).name;
        sig.text = fmt::format("lost after {} s (last seen {} ms ago)", o_.heartbeat_timeout_ms / 1000,
                               now_ms - beat);
        diagnoses_->Add(std::move(sig));
      }
      AWAN_RETURN_IF_ERROR(sched_->NodeDown(NodeIndex(n), now_s));
    } else if (!silent && down_[n]) {
      down_[n] = 0;
      if (!(holds_.count(n) && holds_.at(n).cordoned)) sched_->NodeUp(NodeIndex(n));
    }
  }
  return Status::Ok();
}

// Tasks that ended: a time limit or a non-zero exit ends the job (its other tasks are stopped); the last task
// to exit 0 finishes it.
Status ControlPlane::CollectEnds(int64_t now_s) {
  for (const TaskExit& e : exec_->Poll()) {
    auto it = by_id_.find(e.job_id);
    if (it == by_id_.end()) continue;
    Live& l = live_[it->second];
    if (l.row.state != JobState::kRunning) continue;
    if (e.timed_out || e.exit_code != 0) {
      if (diagnoses_ != nullptr) {
        const std::vector<Placement>& ps = sched_->placements(l.index);
        const size_t k = static_cast<size_t>(e.task);
        ReportFailure(l, e, k < ps.size() ? fleet_->fleet.node(ps[k].node).name : std::string());
      }
      exec_->Kill(l.row.id);
      AWAN_RETURN_IF_ERROR(sched_->Cancel(l.index, now_s));
      l.row.exit_code = e.exit_code;
      Save(l, e.timed_out ? JobState::kTimedOut : JobState::kFailed,
           e.timed_out
               ? fmt::format("task {} reached its time limit of {} s and was killed", e.task, l.time_limit_s)
               : "task " + std::to_string(e.task) + " exited with code " + std::to_string(e.exit_code));
      continue;
    }
    if (--l.tasks_running > 0) continue;
    AWAN_RETURN_IF_ERROR(sched_->Finish(l.index, now_s));
    l.row.exit_code = 0;
    Save(l, JobState::kSucceeded, "every task exited with code 0");
  }
  return Status::Ok();
}

// A preemption is a scheduler fact for the victim's diagnosis: who took its GPUs and why, and whether it has
// now reached the bound (it is not preempted again).
void ControlPlane::ReportPreemption(const Live& victim, const Live& by, const JobScheduler::RunStopped& s) {
  const int count = sched_->job(s.job).preemptions, max = sched_->options().max_preemptions;
  auto fact = [&](std::string text) {
    diagnosis::Signal sig;
    sig.kind = diagnosis::SignalKind::kScheduler;
    sig.job = victim.row.id, sig.tenant = victim.row.tenant;
    sig.text = std::move(text);
    diagnoses_->Add(std::move(sig));
  };
  fact(fmt::format("preempted job={} tenant={} by={} by_tenant={} reason={} count={}", victim.row.id,
                   victim.row.tenant, by.row.id, by.row.tenant, PreemptReasonName(s.reason), count));
  if (max > 0 && count >= max) {
    fact(fmt::format("preemption_limit job={} tenant={} count={} max_preemptions={}: not preempted again",
                     victim.row.id, victim.row.tenant, count, max));
  }
}

// What a wait's fact says beyond its reason: for quota, whether the tenant may borrow and how many GPUs its
// cohort's other tenants leave idle under their guarantees (lending limits not counted); for residency, the
// GPUs free in the regions the job may use against the fleet's.
std::string ControlPlane::WaitDetail(const Live& l, WaitReason reason) const {
  if (reason == WaitReason::kQuota) {
    const int mine = sched_->job(l.index).tenant;
    const std::string& cohort = sched_->tenant(mine).cohort;
    if (cohort.empty()) return " borrowing=off";
    int64_t idle = 0;
    for (int t = 0; t < static_cast<int>(sched_->tenant_count()); ++t) {
      if (t != mine && sched_->tenant(t).cohort == cohort)
        idle += std::max<int64_t>(0, sched_->tenant(t).guaranteed_gpus - sched_->used_gpus(t));
    }
    return fmt::format(" borrowing=on cohort={} cohort_free_gpus={}", cohort, idle);
  }
  if (reason == WaitReason::kResidency) {
    const std::vector<uint32_t>& allowed = sched_->region_order(l.index);
    int64_t free_allowed = 0, free_all = 0;
    for (uint32_t n = 0; n < snap_->size(); ++n) {
      const NodeState& st = snap_->node(NodeIndex(n));
      if (st.unavailable) continue;
      free_all += st.gpu_left_total;
      const uint32_t r = fleet_->fleet.region_of(NodeIndex(n)).value;
      if (std::find(allowed.begin(), allowed.end(), r) != allowed.end()) free_allowed += st.gpu_left_total;
    }
    std::vector<std::string> names;
    for (uint32_t r : allowed)
      names.push_back(fleet_->fleet.topology().DomainName(TopologyLevel::kRegion, DomainId(r)));
    return fmt::format(" residency: allowed regions {}: {:.1f} GPUs free there (the fleet has {:.1f})",
                       names.empty() ? "none" : fmt::format("{}", fmt::join(names, ",")),
                       static_cast<double>(free_allowed) / 1000, static_cast<double>(free_all) / 1000);
  }
  return "";
}

// A node state the executor reports (new, or changed since the last poll) is a fact for the diagnosis; one
// that cleared is forgotten (so that it is told again if it comes back).
void ControlPlane::ReportNodeStates(const std::vector<std::pair<std::string, std::string>>& states) {
  std::map<std::string, std::string> now(states.begin(), states.end());
  for (const auto& [node, state] : now) {
    NodeIndex n;
    if (!fleet_->fleet.FindNode(node, &n)) continue;
    auto [it, fresh] = node_states_.emplace(node, state);
    if (!fresh && it->second == state) continue;
    it->second = state;
    diagnosis::Signal s;
    s.kind = diagnosis::SignalKind::kSlurm;
    s.node = node, s.text = state;
    diagnoses_->Add(std::move(s));
  }
  std::erase_if(node_states_, [&](const auto& kv) { return !now.count(kv.first); });
}

void ControlPlane::ReportWaits(int64_t now_ms) {
  if (diagnoses_ == nullptr || now_ms < next_wait_report_ms_) return;
  next_wait_report_ms_ = now_ms + 5000;
  if (waits_reported_.size() > 100000) waits_reported_.clear();
  for (const Live& l : live_) {
    if (l.row.state != JobState::kPending || now_ms - l.queued_ms < o_.report_waits_after_ms) continue;
    const int reason = sched_->job(l.index).last_reason;
    if (reason < 0) continue;
    auto [it, fresh] = waits_reported_.emplace(l.row.id, reason);
    if (!fresh && it->second == reason) continue;
    it->second = reason;
    diagnosis::Signal s;
    s.kind = diagnosis::SignalKind::kScheduler;
    s.job = l.row.id, s.tenant = l.row.tenant;
    const std::string detail = WaitDetail(l, static_cast<WaitReason>(reason));
    s.text = fmt::format("pending reason={} job={} tenant={} waited_s={}{}: waiting",
                         WaitReasonName(static_cast<WaitReason>(reason)), l.row.id, l.row.tenant,
                         (now_ms - l.queued_ms) / 1000, detail);
    diagnoses_->Add(std::move(s));
  }
}

void ControlPlane::ReportFailure(const Live& l, const TaskExit& e, const std::string& node) {
  static const std::map<int, const char*> kSignals = {{1, "SIGHUP"},  {2, "SIGINT"},   {4, "SIGILL"},
                                                      {6, "SIGABRT"}, {7, "SIGBUS"},   {8, "SIGFPE"},
                                                      {9, "SIGKILL"}, {11, "SIGSEGV"}, {15, "SIGTERM"}};
  auto signal_of = [&](int code) -> std::string {
    const auto it = kSignals.find(code - 128);
    return code > 128 && it != kSignals.end() ? it->second : "none";
  };
  auto fact = [&](diagnosis::SignalKind kind, std::string text) {
    diagnosis::Signal s;
    s.kind = kind, s.text = std::move(text), s.node = node, s.job = l.row.id, s.tenant = l.row.tenant;
    s.rank = e.task;
    diagnoses_->Add(std::move(s));
  };
  // The last lines of its output first (up to 64 KiB, 200 lines), then how it ended.
  const Executor::LogChunk tail = exec_->ReadLog(l.row.id, e.task, 0, -65536, 65536);
  std::vector<std::string_view> lines;
  for (size_t at = 0; at < tail.data.size();) {
    const size_t end = std::min(tail.data.find('\n', at), tail.data.size());
    if (end > at) lines.emplace_back(tail.data.data() + at, end - at);
    at = end + 1;
  }
  for (size_t i = lines.size() > 200 ? lines.size() - 200 : 0; i < lines.size(); ++i)
    fact(diagnosis::SignalKind::kLog, std::string(lines[i]));
  if (e.oom_limit_bytes > 0) {  // the memory cgroup's OOM killer, as such
    fact(diagnosis::SignalKind::kOomKill,
         fmt::format("oom_kill memory.max={} task={} job={}", e.oom_limit_bytes, e.task, l.row.id));
  }
  fact(diagnosis::SignalKind::kExit,
       e.timed_out ? fmt::format("exit_code={} signal=SIGKILL timed_out", e.exit_code)
                   : fmt::format("exit_code={} signal={}", e.exit_code, signal_of(e.exit_code)));
}

bool ControlPlane::WarmImages::Warm(const PodSpec& pod, NodeIndex node) const {
  const auto job = image_of.find(pod.name);
  if (job == image_of.end()) return false;
  const auto held = nodes.find(job->second);
  return held != nodes.end() && node.value < held->second.size() && held->second[node.value] != 0;
}

void ControlPlane::RefreshImages() {
  images_.image_of.clear();
  for (const Live& l : live_)
    if (l.row.state == JobState::kPending && !l.image.empty()) images_.image_of[l.row.id] = l.image;
  std::map<std::string, std::vector<uint8_t>> nodes;
  for (const auto& [job, image] : images_.image_of) {
    std::vector<uint8_t>& held = nodes[image];
    if (!held.empty()) continue;
    held.resize(snap_->size());
    for (uint32_t n = 0; n < snap_->size(); ++n)
      held[n] = exec_->HasImage(fleet_->fleet.node(NodeIndex(n)).name, image) ? 1 : 0;
  }
  images_.nodes = std::move(nodes);
}

// The runs the core stopped (preempted, or off a node that went down or was drained): their tasks are killed
// and the jobs wait again.
void ControlPlane::StopRuns() {
  for (const JobScheduler::RunStopped& s : sched_->TakeStopped()) {
    Live& l = live_[by_id_.at(sched_->job(s.job).spec->name)];
    exec_->Kill(l.row.id);
    ++stats_.preemptions;
    Save(l, JobState::kPending,
         !l.stop_note.empty() ? l.stop_note
         : s.node_failed      ? "requeued: a node it ran on went down"
                              : "preempted");
    l.stop_note.clear();
    l.queued_ms = clock_->NowMs();
    if (s.by && diagnoses_ != nullptr)
      ReportPreemption(l, live_[by_id_.at(sched_->job(*s.by).spec->name)], s);
  }
}

// One core cycle, and what it decided: runs it stopped (preemption) have their processes stopped and wait
// again; runs it started are recorded as Running with their placement and audit entry, to be launched once
// that is durable.
Status ControlPlane::Schedule(int64_t now_s) {
  const int64_t t0 = stage_ticks_.NowNanos();
  RefreshImages();
  AWAN_RETURN_IF_ERROR(sched_->Cycle(now_s));
  ++stats_.cycles;
  stats_.cycle_seconds.push_back(static_cast<double>(stage_ticks_.NowNanos() - t0) / 1e9);
  StopRuns();
  for (RunStarted& r : sched_->TakeStarted()) {
    Live& l = live_[by_id_.at(sched_->job(r.job).spec->name)];
    ++stats_.decisions;
    l.row.placement = PlacementJson(r.job);
    audit_pending_.push_back({audit_.entries() + 1, audit_.Append(fleet_->fleet, r.at_s, l.spec, r.run_id,
                                                                  r.tasks, residency_[r.job])});
    l.tasks_running = static_cast<int>(r.tasks.size());
    l.run_id = r.run_id;
    ++l.row.runs;
    Save(l, JobState::kRunning, "running on " + std::to_string(r.tasks.size()) + " task(s)",
         fmt::format("Running: run {} started on {}", l.row.runs, NodesOf(fleet_->fleet, r.tasks)));
    to_launch_.push_back(std::move(r));
  }
  return Status::Ok();
}

// Launches what the last Schedule started, now that it is durable (cancelled or preempted meanwhile: not).
Status ControlPlane::LaunchStarted(int64_t now_s) {
  for (const RunStarted& r : to_launch_) {
    Live& l = live_[by_id_.at(sched_->job(r.job).spec->name)];
    if (l.row.state != JobState::kRunning || l.run_id != r.run_id) continue;
    for (size_t k = 0; k < r.tasks.size(); ++k) {
      if (Status s = exec_->Launch(LaunchOf(l, k, r.tasks[k])); !s.ok()) {
        exec_->Kill(l.row.id);
        AWAN_RETURN_IF_ERROR(sched_->Cancel(r.job, now_s));
        Save(l, JobState::kFailed, "launch failed: " + s.message());
        break;
      }
    }
  }
  to_launch_.clear();
  return Status::Ok();
}

// A server killed between Flush and launch leaves a Running job whose tasks never started (requeued at the
// next start: nothing ran), never a task the store does not know of (which a restart would kill and rerun).
Status ControlPlane::Tick() {
  // The diagnosis runs over its window without the control plane's lock, at most once a second (only the
  // scheduling thread ticks, so next_remediation_ms_ needs no lock).
  std::vector<NodeAction> actions;
  if (diagnoses_ != nullptr && o_.remediation != Remediation::kOff &&
      clock_->NowMs() >= next_remediation_ms_) {
    next_remediation_ms_ = clock_->NowMs() + 1000;
    actions = diagnoses_->NodeActions();
  }
  // The executor's own node states (Slurm's drains and downs with their reasons), every 10 s.
  std::vector<std::pair<std::string, std::string>> node_states;
  const bool poll_states = diagnoses_ != nullptr && clock_->NowMs() >= next_node_states_ms_;
  if (poll_states) {
    next_node_states_ms_ = clock_->NowMs() + 10000;
    node_states = exec_->NodeStates();
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (poll_states) ReportNodeStates(node_states);
  const int64_t now_s = clock_->NowMs() / 1000;
  AWAN_RETURN_IF_ERROR(CheckHeartbeats(now_s));
  AWAN_RETURN_IF_ERROR(CollectEnds(now_s));
  AWAN_RETURN_IF_ERROR(Remediate(now_s, actions));
  ResolveDependencies(now_s);
  AWAN_RETURN_IF_ERROR(Schedule(now_s));
  ReportWaits(clock_->NowMs());
  AWAN_RETURN_IF_ERROR(Flush());  // not launched until this succeeds: the next tick tries again
  AWAN_RETURN_IF_ERROR(LaunchStarted(now_s));
  SampleQueues(clock_->NowMs());
  return Flush();  // launch failures, if any
}

void ControlPlane::SampleQueues(int64_t now_ms) {
  if (now_ms < next_sample_ms_) return;
  next_sample_ms_ = now_ms + kQueueSampleMs;
  const auto load = TenantLoadLocked();
  QueueSample s{now_ms, {}};
  for (const TenantSpec& t : fleet_->tenants) s.tenants.push_back(load.at(t.name));
  history_.push_back(std::move(s));
  while (history_.size() > kQueueSamples) history_.pop_front();
}

ControlPlane::QueueHistory ControlPlane::History(const Principal& who) const {
  std::lock_guard<std::mutex> lock(mu_);
  QueueHistory h;
  for (const QueueSample& s : history_) h.t_ms.push_back(s.t_ms);
  for (size_t t = 0; t < fleet_->tenants.size(); ++t) {
    if (!who.sees(fleet_->tenants[t].name)) continue;
    QueueHistory::Series series{fleet_->tenants[t].name, {}, {}};
    for (const QueueSample& s : history_) {
      // A sample from before the fleet file listed this tenant has no entry for it.
      const auto v = t < s.tenants.size() ? s.tenants[t] : std::pair<int64_t, int64_t>{0, 0};
      series.waiting.push_back(v.first);
      series.gpus_milli.push_back(v.second);
    }
    h.tenants.push_back(std::move(series));
  }
  return h;
}

StatusOr<std::vector<ControlPlane::UsageRow>> ControlPlane::Usage(const Principal& who, int64_t since_ms) {
  std::map<std::pair<std::string, std::string>, UsageRow> rows;
  JobFilter f;
  f.limit = 1000;
  for (;;) {
    AWAN_ASSIGN_OR_RETURN(std::vector<StoredJob> page, List(who, f));
    for (const StoredJob& j : page) {
      if (j.started_ms == 0 || (j.ended_ms > 0 && j.ended_ms < since_ms)) continue;
      const Json tasks = Json::parse(j.placement, nullptr, false);
      const std::string region = tasks.is_array() && !tasks.empty() && tasks[0].is_object()
                                     ? tasks[0].value("region", "")
                                     : std::string();
      UsageRow& r = rows[{j.tenant, region}];
      r.tenant = j.tenant, r.region = region;
      ++r.jobs;
      r.gpu_ms += j.gpu_ms;
      r.cost_usd += j.cost_usd;
    }
    if (page.size() < 1000) break;
    f.after_id = page.back().id;
  }
  std::vector<UsageRow> out;
  for (auto& [key, r] : rows) out.push_back(std::move(r));
  return out;
}

StatusOr<audit::VerifyReport> ControlPlane::VerifyAudit(const Principal& who) {
  if (who.role != Role::kAdmin) return PermissionDenied("forbidden: the audit log needs an admin token");
  std::string text;
  for (int64_t after = 0;;) {
    AWAN_ASSIGN_OR_RETURN(std::vector<std::string> lines, store_->ReadAudit(after, 10000));
    for (const std::string& l : lines) text += l + "\n";
    if (lines.size() < 10000) break;
    after += static_cast<int64_t>(lines.size());
  }
  return audit::VerifyAuditLog(text, fleet_->fleet);
}

std::map<std::string, std::pair<int64_t, int64_t>> ControlPlane::TenantLoad() const {
  std::lock_guard<std::mutex> lock(mu_);
  return TenantLoadLocked();
}

std::map<std::string, std::pair<int64_t, int64_t>> ControlPlane::TenantLoadLocked() const {
  std::map<std::string, std::pair<int64_t, int64_t>> out;
  for (const TenantSpec& t : fleet_->tenants) out[t.name] = {0, 0};
  for (const Live& l : live_) {
    auto& v = out[l.row.tenant];
    if (l.row.state == JobState::kPending) ++v.first;
    if (l.row.state == JobState::kRunning) v.second += l.spec.task.total_gpu().value * l.spec.tasks;
  }
  return out;
}

int64_t ControlPlane::gpus_allocated_milli() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_->gpu_allocated_milli();
}

bool ControlPlane::more_to_start() const {
  std::lock_guard<std::mutex> lock(mu_);
  return sched_ != nullptr && sched_->cut_short();
}

ControlPlaneStats ControlPlane::TakeStats() {
  std::lock_guard<std::mutex> lock(mu_);
  ControlPlaneStats s = stats_;
  stats_.cycle_seconds.clear();
  return s;
}

std::vector<ControlPlane::QueueView> ControlPlane::Queues(const Principal& who) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::map<std::string, QueueView> by_tenant;
  for (const TenantSpec& t : fleet_->tenants) {
    if (who.sees(t.name)) by_tenant[t.name].tenant = t.name;
  }
  // Waiting jobs in the order the cycle tries them (tenant priority, the ordering's key, submit time).
  // Jobs outside the queue (held, waiting for dependencies) come after every queued one.
  std::vector<size_t> position(sched_->job_count(), std::numeric_limits<size_t>::max());
  size_t k = 0;
  for (size_t i : sched_->PendingInOrder()) position[i] = k++;
  std::vector<std::pair<size_t, const Live*>> waiting;
  for (const Live& l : live_) {
    if (!who.sees(l.row.tenant)) continue;
    QueueView& q = by_tenant[l.row.tenant];
    q.tenant = l.row.tenant;
    if (l.row.state == JobState::kRunning) q.running.push_back(l.row.id);
    if (l.row.state == JobState::kPending) waiting.push_back({position[l.index], &l});
  }
  std::sort(waiting.begin(), waiting.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [pos, l] : waiting) by_tenant[l->row.tenant].waiting.push_back(l->row.id);
  std::vector<QueueView> out;
  for (auto& [name, q] : by_tenant) out.push_back(std::move(q));
  return out;
}

ControlPlaneStats ControlPlane::Counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  ControlPlaneStats s = stats_;
  s.cycle_seconds.clear();
  s.stages = sched_->cycle_stats();
  return s;
}

bool ControlPlane::HasImage(const std::string& node, const std::string& image) const {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_->HasImage(node, image);
}

Status ControlPlane::Prepull(const std::string& node, const std::string& image) {
  std::lock_guard<std::mutex> lock(mu_);
  return exec_->Prepull(node, image);
}

std::vector<ControlPlane::NodeRoom> ControlPlane::NodesWithRoom(const ReplicaShape& shape,
                                                                const std::vector<std::string>& near) const {
  std::lock_guard<std::mutex> lock(mu_);
  std::set<uint32_t> regions;
  for (const std::string& name : near)
    if (NodeIndex i; fleet_->fleet.FindNode(name, &i)) regions.insert(fleet_->fleet.region_of(i).value);
  const AcceleratorId model =
      shape.accelerator.empty() ? kNoAccelerator : fleet_->fleet.models().Find(shape.accelerator);
  std::vector<NodeRoom> room;
  for (uint32_t n = 0; n < snap_->size(); ++n) {
    const NodeState& s = snap_->node(NodeIndex(n));
    const NodeSpec& spec = fleet_->fleet.node(NodeIndex(n));
    if (s.unavailable) continue;
    if (!regions.empty() && !regions.count(fleet_->fleet.region_of(NodeIndex(n)).value)) continue;
    if (!shape.accelerator.empty() && spec.model != model) continue;
    if (const int slots = serving::ReplicaSlots(s, shape); slots > 0) room.push_back({spec.name, slots});
  }
  std::sort(room.begin(), room.end(), [](const NodeRoom& a, const NodeRoom& b) {
    return std::tie(a.slots, a.name) < std::tie(b.slots, b.name);
  });
  return room;
}

}  // namespace awan::server
