#include "sim/serve_sim.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <charconv>
#include <cmath>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>

#include "common/rng.h"
#include "core/autoscaler.h"
#include "core/router.h"
#include "model/hardware.h"
#include "policies/builtin.h"
#include "serving/replica_engine.h"
#include "serving/routers.h"
#include "serving/scale_signals.h"

namespace awan::sim {

const char* ServePrefetchName(ServePrefetch p) {
  switch (p) {
    case ServePrefetch::kNone:
      return "none";
    case ServePrefetch::kForecast:
      return "forecast";
    case ServePrefetch::kAll:
      return "all";
  }
  return "?";
}

std::string AutoscalerLabel(const ServeSummary& s) {
  return s.autoscaler == "oracle" ? fmt::format("oracle@{:g}", s.oracle_headroom) : s.autoscaler;
}

namespace {

constexpr int64_t kUsPerS = 1'000'000;
constexpr int64_t kReplicaDurationS = int64_t{10} * 365 * 86400;  // a replica's job runs until cancelled

// One request as the simulation follows it.
struct Req {
  int64_t arrive_us = 0;
  int service = 0;
  int32_t prompt = 0, output = 0;
  uint16_t location = 0;
  const std::vector<uint64_t>* hash_ids = nullptr;
  int64_t net_us = 0;  // round trip from the user to the replica's region
  int64_t first_us = -1, done_us = -1;
  bool dropped = false, outside = false;
  bool warmup = false;  // replayed before the measured trace: not counted
  int32_t region = -1;  // where it was served
};

double TtftMs(const Req& r) { return static_cast<double>(r.first_us - r.arrive_us) / 1000; }
double TpotMs(const Req& r) {
  return r.output > 1 ? static_cast<double>(r.done_us - r.first_us) / 1000 / (r.output - 1) : 0;
}
// Both objectives (a request not finished misses).
bool MetSlo(const Req& r, const ServiceSpec& s) {
  return r.done_us >= 0 && TtftMs(r) <= static_cast<double>(s.slo.ttft_ms) &&
         TpotMs(r) <= static_cast<double>(s.slo.tpot_ms);
}

enum class RState : uint8_t { kPending, kStarting, kReady, kDraining, kGone };

struct Replica {
  int service = 0;
  size_t job = 0;
  int shape = 0;
  bool surge = false;  // started beside replicas on a shape that no longer fits (serving::PlanReplacement)
  RState state = RState::kPending;
  NodeIndex node{0};
  DomainId region{0};
  std::optional<serving::ReplicaEngine> engine;  // while placed
  double gpus = 0;                               // GPUs' worth, fractional pro rata
  int64_t start_us = -1, ready_us = -1, end_us = -1;
};

struct Svc {
  const ServiceSpec* spec = nullptr;
  const ServedModel* model = nullptr;
  int tenant = 0;
  JobResidency rules;  // the service's residency (its data), as the catalog says
  std::unique_ptr<Autoscaler> scaler;
  int64_t next_decide_us = 0;
  std::deque<uint32_t> buffer;  // requests that found no replica
  int64_t arrivals_in_timeline = 0;
  // The trace in 10-s buckets (requests, prompt and output tokens), for the oracle and the static split.
  struct Bucket {
    double requests = 0, prompt = 0, output = 0;
  };
  std::vector<Bucket> buckets;
  int last_dir = 0, peak = 0;
  int64_t oscillations = 0, cold_starts = 0, replaced = 0;
  double gpu_s = 0;
  int64_t cold_start_ms = 0;  // expected where its next replica would land (as its scaler is told)
  int64_t warm_start_ms = 0, cold_start_far_ms = 0;  // on a node that holds its image and weights, or not
  std::set<uint32_t> pulling;                        // nodes its image and weights are being prefetched to
  std::vector<uint32_t> replicas;                    // ids, not gone
  std::map<uint32_t, double> gpu_s_by_region;        // where its replicas ran, GPU-seconds there
  std::vector<uint16_t> users;                       // location indices
  // The mix, the capacity for it (of the preferred usable shape, from which the scaler counts), the samples:
  // computed as `awan serve` computes them.
  std::optional<serving::ScaleSignals> signals;
};

// A service's weights in a node's cache (NodeCache key); its image is "image", one for every service.
std::string WeightsKey(const Svc& s) { return "weights/" + s.model->name; }

class ServeSimulation {
 public:
  ServeSimulation(const config::FleetFile& fleet, const config::ServicesFile& services,
                  const ServeSimOptions& o)
      : file_(fleet), fleet_(fleet.fleet), services_(services), o_(o) {}
  Status Init(const std::vector<ServiceLoad>& loads, const std::vector<JobSpec>& jobs);
  Status Run(std::atomic<int64_t>* progress);
  ServeSimResult Result() const;

 private:
  Status InitServices(const std::vector<ServiceLoad>& loads);
  Status InitRequests(const std::vector<ServiceLoad>& loads);
  // Puts service s's image and weights in node's cache; what it held of them before.
  struct Held {
    bool image = false, weights = false;
  };
  Held Fill(uint32_t node, const Svc& s);
  void PrefetchAll();
  void PrefetchAhead(int s, int64_t t);
  void FinishPulls(int64_t t);
  Status Tick(int64_t t);
  Status Decide(int s, int64_t t);
  Status AddReplica(int s, int64_t t);
  Status RemoveReplica(uint32_t id, int64_t t);
  Status ApplyRuns(int64_t t);
  void Started(uint32_t id, const Placement& p, int64_t t);
  void MakeReady(uint32_t id, int64_t t);
  void Stopped(uint32_t id, int64_t t);
  void Arrive(uint32_t r, int64_t t);
  bool Dispatch(uint32_t r, int64_t t);
  void StartIteration(uint32_t id, int64_t t);
  void EndIteration(uint32_t id, int64_t t);
  void Drop(uint32_t r) { reqs_[r].dropped = true; }
  // Drops every request the replica holds (it stopped or was removed).
  void DropHeld(Replica& rep) {
    if (!rep.engine) return;
    for (uint64_t r : rep.engine->Clear()) Drop(static_cast<uint32_t>(r));
  }
  static int64_t Outstanding(const Replica& rep) { return rep.engine ? rep.engine->outstanding_tokens() : 0; }
  void Apply(int64_t t);
  // Round trip in ms from the request's user to a region (0 in a fleet without user locations).
  double LatencyMs(const Req& r, DomainId region) const {
    return locations_.empty() ? 0 : fleet_.user_latency_ms(locations_[r.location], region);
  }
  // The index of a user location of the fleet, or -1.
  int LocationIndex(const std::string& name) const {
    const auto it = std::lower_bound(locations_.begin(), locations_.end(), name);
    return it == locations_.end() || *it != name ? -1 : static_cast<int>(it - locations_.begin());
  }
  // The index of the service a load names, or -1.
  int ServiceIndex(const std::string& name) const {
    for (size_t i = 0; i < svcs_.size(); ++i)
      if (svcs_[i].spec->name == name) return static_cast<int>(i);
    return -1;
  }
  // Which nodes hold a replica's weights (its model's, in the node's cache): the core's ImageLocality scorer
  // reads it, so that a replica lands where its start is warm when it can, as in awan serve.
  class WarmView final : public NodeImages {
   public:
    explicit WarmView(const ServeSimulation& sim) : sim_(&sim) {}
    bool Warm(const PodSpec& pod, NodeIndex node) const override;

   private:
    const ServeSimulation* sim_;
  };

  void Account(Replica& rep, int64_t t);
  struct Census {
    int fitting_ready = 0, unfit_ready = 0, unfit_starting = 0, surging = 0;
  };
  bool Fits(const Svc& s, const Replica& r) const;
  int Alive(const Svc& s) const;
  Census Count(const Svc& s) const;
  Status ReplaceUnfit(int si, int desired, int64_t t);
  int ChooseShape(int s) const;
  void Sample(int64_t t);
  Status Split(JobsSimOptions& services, JobsSimOptions& batch);

  const config::FleetFile& file_;
  const Fleet& fleet_;
  const config::ServicesFile& services_;
  ServeSimOptions o_;
  std::unique_ptr<JobsSimulation> jobs_;
  std::vector<JobSpec> batch_;
  std::unique_ptr<Router> router_;
  std::vector<Svc> svcs_;
  std::vector<Req> reqs_;
  std::deque<std::vector<uint64_t>> hash_store_;  // stable addresses
  std::vector<std::string> locations_;
  std::vector<Replica> replicas_;
  std::map<size_t, uint32_t> replica_of_job_;
  std::vector<serving::NodeCache> caches_;
  struct Pull {  // a forecast-driven prefetch in flight
    int64_t done_us = 0;
    uint32_t node = 0;
    int service = 0;
  };
  std::vector<Pull> pulls_;
  int64_t prefetches_ = 0, prefetched_bytes_ = 0;
  std::priority_queue<std::pair<int64_t, uint32_t>, std::vector<std::pair<int64_t, uint32_t>>, std::greater<>>
      iterations_, readies_;
  std::vector<serving::ReplicaEngine::Event> events_;  // of the iteration being started or ended
  std::vector<double> cold_start_s_;
  std::vector<ServeTimelinePoint> timeline_;
  std::vector<uint32_t> reserved_nodes_;
  std::vector<std::string> warnings_;
  int64_t end_us_ = 0;
  int64_t placed_outside_ = 0;
  std::optional<JobsSimResult> split_batch_;  // static split: the batch jobs' run on the other nodes
  WarmView warm_view_{*this};
};

bool ServeSimulation::WarmView::Warm(const PodSpec& pod, NodeIndex node) const {
  const size_t at = pod.name.rfind("/replica-");  // a replica's pod: "<its tenant>/replica-<id>"
  if (at == std::string::npos || node.value >= sim_->caches_.size()) return false;
  uint32_t id = 0;
  const char* first = pod.name.data() + at + 9;
  const char* last = pod.name.data() + pod.name.size();
  if (std::from_chars(first, last, id).ec != std::errc() || id >= sim_->replicas_.size()) return false;
  const Svc& s = sim_->svcs_[static_cast<size_t>(sim_->replicas_[id].service)];
  return sim_->caches_[node.value].Contains(WeightsKey(s));
}

std::string ReplicaTenant(const ServiceSpec& s) { return "svc/" + s.name; }

Status ServeSimulation::Init(const std::vector<ServiceLoad>& loads, const std::vector<JobSpec>& jobs) {
  if (o_.sample_ms < 1000 || o_.sample_ms % 1000 != 0)
    return InvalidArgument("sample_ms must be a whole number of seconds");
  if (o_.rate <= 0 || o_.scale < 1) return InvalidArgument("rate must be > 0 and scale >= 1");
  AWAN_ASSIGN_OR_RETURN(router_, policies::BuiltinRegistry().BuildRouter(o_.router));
  caches_.assign(fleet_.size(), serving::NodeCache(o_.node_cache_bytes));
  locations_ = fleet_.user_locations();
  AWAN_RETURN_IF_ERROR(InitServices(loads));
  AWAN_RETURN_IF_ERROR(InitRequests(loads));
  JobsSimOptions jo = o_.jobs;
  jo.ignore_residency = jo.ignore_residency || o_.ignore_residency;
  jo.cycle_period_s = std::max<int64_t>(1, std::min<int64_t>(jo.cycle_period_s, 60));
  // A replica that must preempt batch work cannot wait for a 5-minute preempt pass: at most 15 s.
  jo.scheduler.preempt_interval_s = std::min<int64_t>(jo.scheduler.preempt_interval_s, 15);
  if (o_.static_split) {
    JobsSimOptions batch = jo;
    AWAN_RETURN_IF_ERROR(Split(jo, batch));
    AWAN_ASSIGN_OR_RETURN(JobsSimResult r, RunJobsSim(file_, jobs, batch));
    split_batch_ = std::move(r);
  } else {
    batch_ = jobs;
  }
  for (Svc& s : svcs_) s.signals->ResetMix();  // counted again as requests arrive
  AWAN_ASSIGN_OR_RETURN(jobs_, JobsSimulation::Create(file_, batch_, jo));
  AWAN_RETURN_IF_ERROR(jobs_->PreferWarmNodes(&warm_view_));
  for (Svc& s : svcs_) {
    AWAN_ASSIGN_OR_RETURN(TenantSpec owner, file_.Tenant(s.spec->tenant));
    // The replicas' own tenant: the owner's cohort, guaranteed the service's peak, lending all of it.
    TenantSpec t;
    t.name = ReplicaTenant(*s.spec);
    t.cohort = owner.cohort;
    t.priority = s.spec->priority;
    int widest = 1;  // its replicas never borrow, whichever shape they land on
    for (const ReplicaShape& sh : s.spec->shapes) widest = std::max(widest, sh.gpus);
    t.guaranteed_gpus = static_cast<int64_t>(s.spec->max_replicas) * widest;
    t.data_class = owner.data_class;
    t.data_places = owner.data_places;
    s.tenant = jobs_->AddTenant(t);
  }
  if (o_.prefetch == ServePrefetch::kAll) PrefetchAll();
  return Status::Ok();
}

// The static split: per service, whole nodes of its regions for the replicas its busiest minute needs
// (its shapes in order, those that fit its mix); the services run only there, the batch jobs only elsewhere
// until the requests end.
Status ServeSimulation::Split(JobsSimOptions& services, JobsSimOptions& batch) {
  std::vector<uint8_t> reserved(fleet_.size(), 0);
  for (Svc& s : svcs_) {
    double peak_rps = 0;
    const double mean_prompt = s.signals->MeanPrompt(), mean_output = s.signals->MeanOutput();
    for (const Svc::Bucket& b : s.buckets)
      peak_rps = std::max(
          peak_rps, serving::EquivalentRps(b.requests, b.prompt, b.output, mean_prompt, mean_output, 10));
    if (peak_rps <= 0) continue;
    const serving::SloCapacity cap = s.signals->Capacity();  // of the whole trace's mix, read ahead
    int64_t need = cap.rps > 0 ? static_cast<int64_t>(std::ceil(peak_rps / cap.rps)) : s.spec->max_replicas;
    need = std::clamp<int64_t>(need, std::max(1, s.spec->min_replicas), std::max(1, s.spec->max_replicas));
    for (size_t k = 0; k < s.spec->shapes.size(); ++k) {
      const ReplicaShape& sh = s.spec->shapes[k];
      if (!s.signals->Fits(static_cast<int>(k))) continue;
      for (uint32_t n = 0; n < fleet_.size() && need > 0; ++n) {
        const NodeSpec& node = fleet_.node(NodeIndex(n));
        if (reserved[n] || node.model != sh.model || !s.rules.Allows(fleet_.region_of(NodeIndex(n))))
          continue;
        reserved[n] = 1;
        reserved_nodes_.push_back(n);
        need -= sh.gpu_milli.value < 1000 ? node.gpu_count * (1000 / std::max<int64_t>(1, sh.gpu_milli.value))
                                          : node.gpu_count / std::max(1, sh.gpus);
      }
    }
  }
  const int64_t end_s = end_us_ / kUsPerS + 1;
  for (uint32_t n = 0; n < fleet_.size(); ++n) {
    if (reserved[n]) {
      batch.node_events.push_back({0, n, true});
      batch.node_events.push_back({end_s, n, false});
    } else {
      services.node_events.push_back({0, n, true});
    }
  }
  return Status::Ok();
}

Status ServeSimulation::InitServices(const std::vector<ServiceLoad>& loads) {
  const PluginRegistry& registry = policies::BuiltinRegistry();
  svcs_.resize(services_.services.size());
  for (size_t i = 0; i < svcs_.size(); ++i) {
    Svc& s = svcs_[i];
    s.spec = &services_.services[i];
    s.model = services_.FindModel(s.spec->model);
    if (s.model == nullptr) return InvalidArgument("service " + s.spec->name + ": unknown model");
    AWAN_ASSIGN_OR_RETURN(s.scaler, registry.BuildAutoscaler(o_.autoscaler));
    AWAN_ASSIGN_OR_RETURN(TenantSpec owner, file_.Tenant(s.spec->tenant));
    JobSpec probe;
    probe.name = ReplicaTenant(*s.spec);
    probe.tenant = s.spec->tenant;
    probe.reads = s.spec->reads;
    AWAN_ASSIGN_OR_RETURN(s.rules, o_.jobs.catalog->ForJob(probe, owner));
    for (const std::string& u : s.spec->users) {
      const int loc = LocationIndex(u);
      if (loc < 0) return InvalidArgument("service " + s.spec->name + ": unknown user location " + u);
      s.users.push_back(static_cast<uint16_t>(loc));
    }
    std::vector<serving::ReplicaModel> models;
    std::vector<bool> usable;  // meets the TPOT objective and exists in its regions
    for (const ReplicaShape& sh : s.spec->shapes) {
      const std::optional<AcceleratorHardware> hw = FindHardware(sh.accelerator);
      if (!hw)
        return InvalidArgument("service " + s.spec->name + ": no hardware figures for " + sh.accelerator);
      AWAN_ASSIGN_OR_RETURN(
          serving::ReplicaModel m,
          serving::ReplicaModel::Create(*s.model, *hw, std::max(1, sh.gpus),
                                        static_cast<double>(sh.gpu_milli.value) / 1000, o_.replica));
      models.push_back(m);
      // A shape whose replica cannot meet the TPOT objective even for one sequence is never used.
      const double alone_ms = m.DecodeStepS(1, 1152) * 1000;
      // Nor a shape whose accelerator the service's regions do not have.
      bool placeable = false;
      for (uint32_t n = 0; n < fleet_.size() && !placeable; ++n)
        placeable = fleet_.node(NodeIndex(n)).model == sh.model &&
                    (o_.ignore_residency || s.rules.Allows(fleet_.region_of(NodeIndex(n))));
      usable.push_back(placeable && alone_ms <= static_cast<double>(s.spec->slo.tpot_ms));
      if (placeable && !usable.back())
        warnings_.push_back(
            fmt::format("service {}: {} x {} cannot meet {} ms per output token ({:.0f} ms alone); "
                        "that shape is not used",
                        s.spec->name, sh.gpu_milli.value < 1000 ? sh.gpu_milli.value / 1000.0 : sh.gpus,
                        sh.accelerator, s.spec->slo.tpot_ms, alone_ms));
    }
    s.signals.emplace(*s.spec, std::move(models), std::move(usable), o_.max_batched_tokens, o_.max_seqs);
    if (!s.signals->servable()) {  // it never gets a replica: every request misses
      warnings_.push_back(
          fmt::format("service {}: no replica shape both exists in its regions and meets {} ms per output "
                      "token; it is not "
                      "served",
                      s.spec->name, s.spec->slo.tpot_ms));
    }
    // Expected cold start where a replica would land: warm (prefetched) or cold. With forecast-driven
    // prefetch it is warm while a node with room holds the image and weights (PrefetchAhead).
    auto ms = [&](bool warm) {
      const serving::ColdStart c = serving::EstimateColdStart(
          warm, o_.image_bytes, warm ? serving::WeightSource::kNodeNvme : serving::WeightSource::kObjectStore,
          s.model->weight_bytes, o_.cold);
      return static_cast<int64_t>(std::llround(c.total_s() * 1000));
    };
    s.warm_start_ms = ms(true), s.cold_start_far_ms = ms(false);
    s.cold_start_ms = o_.prefetch == ServePrefetch::kAll ? s.warm_start_ms : s.cold_start_far_ms;
  }
  for (const ServiceLoad& l : loads)
    if (ServiceIndex(l.service) < 0) return InvalidArgument("requests for unknown service " + l.service);
  return Status::Ok();
}

Status ServeSimulation::InitRequests(const std::vector<ServiceLoad>& loads) {
  Rng rng(o_.seed);
  for (const ServiceLoad& l : loads) {
    const int si = ServiceIndex(l.service);
    Svc& s = svcs_[static_cast<size_t>(si)];
    const std::vector<InferenceRequest> shaped = ShapeLoad(l.requests, o_.rate, o_.scale);
    auto add = [&](const InferenceRequest& in, int64_t at_ms, bool warmup) -> Status {
      Req r;
      r.arrive_us = at_ms * 1000;
      r.service = si;
      r.warmup = warmup;
      r.prompt = std::max<int32_t>(1, in.prompt_tokens);
      r.output = std::max<int32_t>(1, in.output_tokens);
      if (!in.user.empty()) {
        const int loc = LocationIndex(in.user);
        if (loc < 0)
          return InvalidArgument("request for " + l.service + " from unknown user location " + in.user);
        r.location = static_cast<uint16_t>(loc);
      } else if (!s.users.empty()) {
        r.location = s.users[rng.Uniform(s.users.size())];
      }
      if (!in.hash_ids.empty()) {
        hash_store_.push_back(in.hash_ids);
        r.hash_ids = &hash_store_.back();
      }
      s.signals->CountMix(r.prompt, r.output);
      const auto bucket = static_cast<size_t>(at_ms / 10000);
      if (s.buckets.size() <= bucket) s.buckets.resize(bucket + 1);
      s.buckets[bucket].requests += 1, s.buckets[bucket].prompt += r.prompt,
          s.buckets[bucket].output += r.output;
      reqs_.push_back(r);
      return Status::Ok();
    };
    // The warm-up replays the trace's first warmup_ms (not measured), then the trace runs.
    for (const InferenceRequest& in : shaped) {
      if (in.at_ms >= o_.warmup_ms) break;
      AWAN_RETURN_IF_ERROR(add(in, in.at_ms, true));
    }
    for (const InferenceRequest& in : shaped) AWAN_RETURN_IF_ERROR(add(in, in.at_ms + o_.warmup_ms, false));
  }
  std::stable_sort(reqs_.begin(), reqs_.end(),
                   [](const Req& a, const Req& b) { return a.arrive_us < b.arrive_us; });
  end_us_ = (reqs_.empty() ? 0 : reqs_.back().arrive_us) + o_.drain_ms * 1000;
  return Status::Ok();
}

ServeSimulation::Held ServeSimulation::Fill(uint32_t node, const Svc& s) {
  Held h;
  h.image = caches_[node].Use("image", o_.image_bytes);
  h.weights = caches_[node].Use(WeightsKey(s), s.model->weight_bytes);
  return h;
}

// Images and weights of every service on the nodes of its allowed regions whose accelerator it may use.
void ServeSimulation::PrefetchAll() {
  for (const Svc& s : svcs_) {
    for (uint32_t n = 0; n < fleet_.size(); ++n) {
      const NodeSpec& node = fleet_.node(NodeIndex(n));
      if (!s.rules.Allows(fleet_.region_of(NodeIndex(n)))) continue;
      const bool fits = std::any_of(s.spec->shapes.begin(), s.spec->shapes.end(),
                                    [&](const ReplicaShape& sh) { return sh.model == node.model; });
      if (!fits) continue;
      const Held h = Fill(n, s);
      if (h.image && h.weights) continue;  // another service of the same model pulled both
      ++prefetches_;
      prefetched_bytes_ += (h.image ? 0 : o_.image_bytes) + (h.weights ? 0 : s.model->weight_bytes);
    }
  }
}

// Forecast-driven prefetch (ServePrefetch::kForecast), after each of the service's decisions: its image and
// weights go to nodes with room for its next replica's shape until its free slots on warm nodes (those that
// hold them or are pulling them) reach serving::PrefetchWant of its scaler's forecast one pull, one warm
// start and one period ahead (never beyond its max replicas). Nodes of the regions the scheduler tries first
// for its replicas (JobScheduler::region_order: its region objective) come first, then those with the least
// room (where best-fit would put the replica: whole free nodes stay for gangs), then by index; only nodes the
// free-GPU index shows with room are read. Its scaler is told the warm start while a pulled node has room.
void ServeSimulation::PrefetchAhead(int si, int64_t t) {
  Svc& s = svcs_[static_cast<size_t>(si)];
  if (!s.signals->servable()) return;
  const int k = ChooseShape(si);
  const ReplicaShape& sh = s.spec->shapes[static_cast<size_t>(k)];
  const ClusterSnapshot& snap = jobs_->state().snapshot();
  const std::string weights = WeightsKey(s);
  // The regions in the order the scheduler tries them for a replica of that shape.
  std::vector<uint32_t> rank(fleet_.region_count(), UINT32_MAX);
  for (uint32_t id : s.replicas) {
    if (replicas_[id].shape != k) continue;
    const std::vector<uint32_t>& order = jobs_->scheduler().region_order(replicas_[id].job);
    for (uint32_t j = 0; j < order.size(); ++j) rank[order[j]] = j;
    break;
  }
  struct Candidate {
    uint32_t rank = 0;
    serving::PrefetchNode room;
    uint32_t node = 0;
  };
  std::vector<Candidate> candidates;
  bool pulled = false;  // a node with room holds them
  PodSpec pod;          // one replica of the shape: the free-GPU index skips the nodes without room
  pod.gpu_count = std::max(1, sh.gpus), pod.gpu_milli = sh.gpu_milli;
  const std::span<const uint64_t> room_bits = snap.GpuRoom(pod);
  for (size_t w = 0; w < room_bits.size(); ++w) {
    for (uint64_t bits = room_bits[w]; bits != 0; bits &= bits - 1) {
      const uint32_t n = static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(std::countr_zero(bits));
      const NodeState& ns = snap.node(NodeIndex(n));
      if (ns.unavailable || ns.model != sh.model) continue;
      const DomainId region = fleet_.region_of(NodeIndex(n));
      if (!o_.ignore_residency && !s.rules.Allows(region)) continue;
      const int slots = serving::ReplicaSlots(ns, sh);
      if (slots == 0) continue;
      const bool held = caches_[n].Contains(weights);
      pulled = pulled || held;
      candidates.push_back({rank[region.value], {slots, held || s.pulling.count(n) > 0}, n});
    }
  }
  s.cold_start_ms = pulled ? s.warm_start_ms : s.cold_start_far_ms;
  const int64_t horizon_ms = serving::PrefetchHorizonMs(s.cold_start_far_ms, s.scaler->period_ms());
  int pending = 0;  // decided, not placed yet: each takes a free slot (a warm one if it can)
  for (uint32_t id : s.replicas) pending += replicas_[id].state == RState::kPending;
  const int want =
      serving::PrefetchWant(s.scaler->ForecastRps(t / 1000, horizon_ms), s.signals->last_capacity().rps,
                            Alive(s), pending, s.spec->max_replicas);
  // serving::PlanPrefetch counts the warm slots wherever they stand, then pulls onto cold nodes in order, at
  // least one slot each: only the first (want - warm) cold nodes need their order (not a sort of all of a
  // national fleet's nodes with room).
  const auto cold =
      std::partition(candidates.begin(), candidates.end(), [](const Candidate& c) { return c.room.warm; });
  int warm = 0;
  for (auto c = candidates.begin(); c != cold; ++c) warm += c->room.slots;
  const auto ordered = cold + std::min<ptrdiff_t>(candidates.end() - cold, std::max(0, want - warm));
  std::partial_sort(cold, ordered, candidates.end(), [](const Candidate& a, const Candidate& b) {
    return std::make_tuple(a.rank, a.room.slots, a.node) < std::make_tuple(b.rank, b.room.slots, b.node);
  });
  candidates.erase(ordered, candidates.end());
  std::vector<serving::PrefetchNode> room(candidates.size());
  for (size_t i = 0; i < candidates.size(); ++i) room[i] = candidates[i].room;
  for (size_t i : serving::PlanPrefetch(room, want)) {
    const uint32_t node = candidates[i].node;
    const bool image = caches_[node].Contains("image");
    const serving::ColdStart pull = serving::EstimateColdStart(
        image, o_.image_bytes, serving::WeightSource::kObjectStore, s.model->weight_bytes, o_.cold);
    if (t < o_.warmup_ms * 1000) {
      Fill(node, s);  // in the warm-up: the caches a running service would have, at once
    } else {
      pulls_.push_back({t + std::llround((pull.image_s + pull.weights_s) * kUsPerS), node, si});
      s.pulling.insert(node);
    }
    ++prefetches_, prefetched_bytes_ += (image ? 0 : o_.image_bytes) + s.model->weight_bytes;
  }
}

// Prefetches whose transfer is done fill their node's caches.
void ServeSimulation::FinishPulls(int64_t t) {
  size_t kept = 0;
  for (const Pull& p : pulls_) {
    if (p.done_us > t) {
      pulls_[kept++] = p;
      continue;
    }
    Svc& s = svcs_[static_cast<size_t>(p.service)];
    Fill(p.node, s);
    s.pulling.erase(p.node);
  }
  pulls_.resize(kept);
}

bool ServeSimulation::Fits(const Svc& s, const Replica& r) const { return s.signals->Fits(r.shape); }

// Replicas not draining.
int ServeSimulation::Alive(const Svc& s) const {
  int n = 0;
  for (uint32_t id : s.replicas) n += replicas_[id].state != RState::kDraining;
  return n;
}

// The service's replicas not draining, by whether their shape fits the mix and whether they are ready.
ServeSimulation::Census ServeSimulation::Count(const Svc& s) const {
  Census c;
  for (uint32_t id : s.replicas) {
    const Replica& r = replicas_[id];
    if (r.state == RState::kDraining) continue;
    const bool ready = r.state == RState::kReady;
    c.surging += r.surge;
    if (Fits(s, r)) {
      c.fitting_ready += ready;
    } else {
      (ready ? c.unfit_ready : c.unfit_starting) += 1;
    }
  }
  return c;
}

// Replicas on a shape that no longer fits the mix are replaced (serving::PlanReplacement).
Status ServeSimulation::ReplaceUnfit(int si, int desired, int64_t t) {
  Svc& s = svcs_[static_cast<size_t>(si)];
  const Census c = Count(s);
  const serving::ReplacementStep step =
      serving::PlanReplacement(c.fitting_ready, c.surging, c.unfit_ready, c.unfit_starting, desired);
  std::vector<uint32_t> unready, ready, surge;
  for (uint32_t id : s.replicas) {
    const Replica& r = replicas_[id];
    if (r.state == RState::kDraining) continue;
    if (r.surge) surge.push_back(id);
    if (!Fits(s, r)) (r.state == RState::kReady ? ready : unready).push_back(id);
  }
  if (step.cancel_unready_unfit)
    for (uint32_t id : unready) AWAN_RETURN_IF_ERROR(RemoveReplica(id, t));
  auto by_work = [&](uint32_t a, uint32_t b) {
    return std::make_pair(Outstanding(replicas_[a]), a) < std::make_pair(Outstanding(replicas_[b]), b);
  };
  std::sort(ready.begin(), ready.end(), by_work);
  const int drained = std::min(step.drain_ready_unfit, static_cast<int>(ready.size()));
  for (int k = 0; k < drained; ++k) replicas_[ready[static_cast<size_t>(k)]].state = RState::kDraining;
  for (int k = 0; k < step.surge_counted && k < static_cast<int>(surge.size()); ++k)
    replicas_[surge[static_cast<size_t>(k)]].surge = false;
  s.replaced += drained + (step.cancel_unready_unfit ? static_cast<int>(unready.size()) : 0);
  if (step.add_surge) {
    AWAN_RETURN_IF_ERROR(AddReplica(si, t));
    replicas_.back().surge = true;
  }
  return Status::Ok();
}

// The first shape with room now in the service's regions (after the replicas already waiting for it), else
// the first: that one waits, or preempts batch work.
int ServeSimulation::ChooseShape(int si) const {
  const Svc& s = svcs_[static_cast<size_t>(si)];
  const ClusterSnapshot& snap = jobs_->state().snapshot();
  for (size_t k = 0; k < s.spec->shapes.size(); ++k) {
    const ReplicaShape& sh = s.spec->shapes[k];
    if (!s.signals->Fits(static_cast<int>(k))) continue;  // not for the mix, or not for its long prompts
    const int32_t milli = sh.gpu_milli.value;
    const int per = std::max(1, sh.gpus);
    int64_t slots = 0;
    for (uint32_t n = 0; n < snap.size(); ++n) {
      const NodeState& ns = snap.node(NodeIndex(n));
      if (ns.unavailable || ns.model != sh.model) continue;
      if (!o_.ignore_residency && !s.rules.Allows(fleet_.region_of(NodeIndex(n)))) continue;
      slots += ns.DevicesWithAtLeast(milli) / per;
    }
    for (uint32_t id : s.replicas)
      slots -= replicas_[id].state == RState::kPending && replicas_[id].shape == static_cast<int>(k);
    if (slots > 0) return static_cast<int>(k);
  }
  return s.signals->capacity_shape();
}

Status ServeSimulation::AddReplica(int si, int64_t t) {
  Svc& s = svcs_[static_cast<size_t>(si)];
  const int k = ChooseShape(si);
  const ReplicaShape& sh = s.spec->shapes[static_cast<size_t>(k)];
  const auto id = static_cast<uint32_t>(replicas_.size());
  JobSpec spec;
  spec.name = ReplicaTenant(*s.spec) + "/replica-" + std::to_string(id);
  spec.tenant = ReplicaTenant(*s.spec);
  spec.submit_s = t / kUsPerS;
  spec.duration_s = kReplicaDurationS;
  spec.tasks = 1;
  spec.task.name = spec.name;
  spec.task.cpu = sh.cpu;
  spec.task.memory = sh.memory;
  spec.task.gpu_count = std::max(1, sh.gpus);
  spec.task.gpu_milli = sh.gpu_milli;
  spec.task.allowed_models = AcceleratorSet::Of({sh.model});
  spec.task.model_constraint = sh.accelerator;
  spec.task.long_running = true;
  spec.reads = s.spec->reads;
  AWAN_ASSIGN_OR_RETURN(size_t job, jobs_->AddJob(spec, s.tenant, s.rules, t / kUsPerS));
  Replica r;
  r.service = si;
  r.job = job;
  r.shape = k;
  r.gpus = static_cast<double>(spec.task.gpu_count) * sh.gpu_milli.value / 1000.0;
  replicas_.push_back(std::move(r));
  replica_of_job_[job] = id;
  s.replicas.push_back(id);
  return Status::Ok();
}

void ServeSimulation::Account(Replica& rep, int64_t t) {
  if (rep.start_us >= 0 && rep.end_us < 0) {
    rep.end_us = t;
    const int64_t from = std::max(rep.start_us, o_.warmup_ms * 1000);  // from the first arrival
    const double gpu_s = rep.gpus * static_cast<double>(std::max<int64_t>(0, t - from)) / kUsPerS;
    Svc& s = svcs_[static_cast<size_t>(rep.service)];
    s.gpu_s += gpu_s;
    s.gpu_s_by_region[rep.region.value] += gpu_s;
  }
}

Status ServeSimulation::RemoveReplica(uint32_t id, int64_t t) {
  Replica& rep = replicas_[id];
  AWAN_RETURN_IF_ERROR(jobs_->CancelJob(rep.job, t / kUsPerS));
  Account(rep, t);
  DropHeld(rep);
  rep.state = RState::kGone;
  Svc& s = svcs_[static_cast<size_t>(rep.service)];
  s.replicas.erase(std::find(s.replicas.begin(), s.replicas.end(), id));
  return Status::Ok();
}

// Scale the service to what its autoscaler wants: add replicas, or take away those on shapes that no longer
// fit first, then the pending ones, then the starting ones, then drain the ready ones with the least work
// (they finish what they hold); then a step of replacing those on shapes that no longer fit.
Status ServeSimulation::Decide(int si, int64_t t) {
  Svc& s = svcs_[static_cast<size_t>(si)];
  ScaleBounds b = s.signals->Bounds(s.cold_start_ms + o_.sample_ms);
  b.future_rps = [&s, headroom = o_.oracle_headroom](int64_t from_ms, int64_t to_ms) {
    double peak = 0;
    for (int64_t k = std::max<int64_t>(0, from_ms / 10000); k <= (to_ms - 1) / 10000; ++k) {
      if (static_cast<size_t>(k) >= s.buckets.size()) break;
      const Svc::Bucket& x = s.buckets[static_cast<size_t>(k)];
      peak = std::max(peak, serving::EquivalentRps(x.requests, x.prompt, x.output, s.signals->mix_prompt(),
                                                   s.signals->mix_output(), 10));
    }
    return peak / headroom;
  };
  const int current = serving::CountedReplicas(Alive(s), Count(s).surging);
  const int desired = !s.signals->servable() ? 0 : s.scaler->Decide(t / 1000, current, b);
  if (desired != current) {
    const int dir = desired > current ? 1 : -1;
    if (s.last_dir != 0 && dir != s.last_dir) ++s.oscillations;
    s.last_dir = dir;
  }
  for (int k = current; k < desired; ++k) AWAN_RETURN_IF_ERROR(AddReplica(si, t));
  for (int k = desired; k < current; ++k) {
    uint32_t pick = UINT32_MAX;
    auto rank = [&](uint32_t id) {  // unfit replicas first
      const Replica& r = replicas_[id];
      const int st = r.state == RState::kPending ? 0 : r.state == RState::kStarting ? 1 : 2;
      return std::make_tuple(Fits(s, r), st, st == 2 ? Outstanding(r) : 0, -static_cast<int64_t>(id));
    };
    for (uint32_t id : s.replicas)
      if (replicas_[id].state != RState::kDraining && (pick == UINT32_MAX || rank(id) < rank(pick)))
        pick = id;
    if (pick == UINT32_MAX) break;
    if (replicas_[pick].state == RState::kReady) {
      replicas_[pick].state = RState::kDraining;
    } else {
      AWAN_RETURN_IF_ERROR(RemoveReplica(pick, t));
    }
  }
  AWAN_RETURN_IF_ERROR(ReplaceUnfit(si, desired, t));
  s.peak = std::max(s.peak, Alive(s));
  return Status::Ok();
}

void ServeSimulation::Started(uint32_t id, const Placement& p, int64_t t) {
  Replica& rep = replicas_[id];
  Svc& s = svcs_[static_cast<size_t>(rep.service)];
  rep.node = p.node;
  rep.region = fleet_.region_of(p.node);
  rep.start_us = t;
  rep.end_us = -1;
  const ReplicaShape& sh = s.spec->shapes[static_cast<size_t>(rep.shape)];
  const NodeSpec& node = fleet_.node(p.node);
  const ReplicaShape* actual = &sh;
  for (const ReplicaShape& x : s.spec->shapes)
    if (x.model == node.model && x.gpus == sh.gpus && x.gpu_milli == sh.gpu_milli) actual = &x;
  const serving::ReplicaModel& model =
      s.signals->models()[static_cast<size_t>(actual - s.spec->shapes.data())];
  rep.engine.emplace(model, serving::TokenBudget(model, s.spec->slo, o_.max_batched_tokens), o_.max_seqs);
  // Cold start: the image and weights from the node's cache, a ready peer in the region, or far away.
  serving::WeightSource src = serving::WeightSource::kObjectStore;
  if (caches_[p.node.value].Contains(WeightsKey(s))) src = serving::WeightSource::kNodeNvme;
  if (o_.prefetch != ServePrefetch::kNone && src == serving::WeightSource::kObjectStore) {
    for (uint32_t other : s.replicas)
      if (other != id && replicas_[other].state == RState::kReady && replicas_[other].region == rep.region)
        src = serving::WeightSource::kPeerGpu;
  }
  const bool image = Fill(p.node.value, s).image;
  const serving::ColdStart c =
      serving::EstimateColdStart(image, o_.image_bytes, src, s.model->weight_bytes, o_.cold);
  const bool at_once = o_.start_ready && t == 0;
  if (t >= o_.warmup_ms * 1000 && !at_once) cold_start_s_.push_back(c.total_s()), ++s.cold_starts;
  if (!s.rules.Allows(rep.region)) ++placed_outside_;
  s.gpu_s_by_region.try_emplace(rep.region.value, 0.0);
  rep.state = RState::kStarting;
  if (at_once) {
    rep.ready_us = t;
    MakeReady(id, t);
    return;
  }
  rep.ready_us = t + static_cast<int64_t>(std::llround(c.total_s() * kUsPerS));
  readies_.push({rep.ready_us, id});
}

// The replica serves from `t`: the requests its service buffered while none was ready go out.
void ServeSimulation::MakeReady(uint32_t id, int64_t t) {
  Replica& rep = replicas_[id];
  rep.state = RState::kReady;
  Svc& s = svcs_[static_cast<size_t>(rep.service)];
  std::deque<uint32_t> buffered = std::move(s.buffer);
  s.buffer.clear();
  for (uint32_t r : buffered)
    if (!Dispatch(r, t)) s.buffer.push_back(r);
}

// Its node failed or it was preempted: what it held is lost, it waits again.
void ServeSimulation::Stopped(uint32_t id, int64_t t) {
  Replica& rep = replicas_[id];
  Account(rep, t);
  DropHeld(rep);
  rep.start_us = -1;
  if (rep.state != RState::kGone) rep.state = RState::kPending;
}

Status ServeSimulation::ApplyRuns(int64_t t) {
  for (const JobsSimulation::AddedRun& run : jobs_->TakeAddedRuns()) {
    const auto it = replica_of_job_.find(run.job);
    if (it == replica_of_job_.end()) return Internal("a run of an unknown added job");
    if (replicas_[it->second].state == RState::kGone) continue;
    if (run.started) {
      Started(it->second, run.tasks.front(), std::max(t, run.at_s * kUsPerS));
    } else {
      Stopped(it->second, t);
    }
  }
  return Status::Ok();
}

// Routes a request: residency first (core/router.h), then the router among the ready replicas.
bool ServeSimulation::Dispatch(uint32_t ri, int64_t t) {
  Req& r = reqs_[ri];
  Svc& s = svcs_[static_cast<size_t>(r.service)];
  std::vector<ReplicaView> views;
  RouteRequest rr;
  rr.prompt_tokens = r.prompt;
  if (r.hash_ids) rr.hash_ids = *r.hash_ids;  // a view: no copy per request
  for (uint32_t id : s.replicas) {
    const Replica& rep = replicas_[id];
    if (rep.state != RState::kReady) continue;
    ReplicaView v;
    v.replica = id;
    v.allowed = o_.ignore_residency || s.rules.Allows(rep.region);
    v.latency_ms = LatencyMs(r, rep.region);
    v.outstanding_tokens = rep.engine->outstanding_tokens();
    v.cached_prefix_blocks = r.hash_ids ? rep.engine->CachedPrefixBlocks(*r.hash_ids) : 0;
    views.push_back(v);
  }
  const std::optional<uint32_t> pick = RouteWith(*router_, rr, views);
  if (!pick) return false;
  Replica& rep = replicas_[*pick];
  r.outside = !s.rules.Allows(rep.region);
  r.region = static_cast<int32_t>(rep.region.value);
  r.net_us = static_cast<int64_t>(std::llround(LatencyMs(r, rep.region) * 1000));
  rep.engine->Add(ri, r.prompt, r.output, r.hash_ids);
  if (!rep.engine->busy()) StartIteration(*pick, t);
  return true;
}

void ServeSimulation::Arrive(uint32_t ri, int64_t t) {
  Req& r = reqs_[ri];
  Svc& s = svcs_[static_cast<size_t>(r.service)];
  ++s.arrivals_in_timeline;
  s.signals->Arrive(r.prompt, r.output);
  if (!Dispatch(ri, t)) s.buffer.push_back(ri);
}

// One iteration of the replica's engine (serving::ReplicaEngine), ended at t + its duration.
void ServeSimulation::StartIteration(uint32_t id, int64_t t) {
  Replica& rep = replicas_[id];
  events_.clear();
  const std::optional<double> secs = rep.engine->StartIteration(events_);
  Apply(t);
  if (!secs) return;
  iterations_.push({t + std::max<int64_t>(1, static_cast<int64_t>(std::llround(*secs * kUsPerS))), id});
}

void ServeSimulation::EndIteration(uint32_t id, int64_t t) {
  Replica& rep = replicas_[id];
  events_.clear();
  rep.engine->EndIteration(events_);
  Apply(t);
  if (!rep.engine->idle()) StartIteration(id, t);
}

// What an iteration did to its requests.
void ServeSimulation::Apply(int64_t t) {
  using Kind = serving::ReplicaEngine::EventKind;
  for (const serving::ReplicaEngine::Event& e : events_) {
    Req& r = reqs_[static_cast<uint32_t>(e.id)];
    if (e.kind == Kind::kFirstToken) {
      r.first_us = t + r.net_us;
      // What it prefilled: the long-prompt check's input, as `awan serve` reads it from the usage.
      svcs_[static_cast<size_t>(r.service)].signals->Prefilled(
          static_cast<double>(r.prompt - e.cached_tokens), static_cast<double>(r.prompt));
    }
    if (e.kind == Kind::kDone) r.done_us = t + r.net_us;
    if (e.kind == Kind::kDropped) Drop(static_cast<uint32_t>(e.id));
  }
}

void ServeSimulation::Sample(int64_t t) {
  for (size_t si = 0; si < svcs_.size(); ++si) {
    Svc& s = svcs_[si];
    double in_flight = static_cast<double>(s.buffer.size());
    int ready = 0;
    for (uint32_t id : s.replicas) {
      const Replica& rep = replicas_[id];
      if (rep.engine) in_flight += static_cast<double>(rep.engine->waiting() + rep.engine->running());
      ready += rep.state == RState::kReady;
    }
    s.scaler->Observe(
        s.signals->TakeSample(t / 1000, static_cast<double>(o_.sample_ms) / 1000, in_flight, ready));
  }
}

Status ServeSimulation::Tick(int64_t t) {
  const int64_t now_s = t / kUsPerS;
  AWAN_RETURN_IF_ERROR(jobs_->RunUntil(now_s));
  AWAN_RETURN_IF_ERROR(ApplyRuns(t));
  for (Svc& s : svcs_) {  // a request no replica took in time is dropped
    while (!s.buffer.empty() && t - reqs_[s.buffer.front()].arrive_us > o_.queue_timeout_ms * 1000) {
      Drop(s.buffer.front());
      s.buffer.pop_front();
    }
  }
  // Drained replicas give their GPUs back.
  for (uint32_t id = 0; id < replicas_.size(); ++id) {
    const Replica& rep = replicas_[id];
    if (rep.state == RState::kDraining && (!rep.engine || rep.engine->idle()))
      AWAN_RETURN_IF_ERROR(RemoveReplica(id, t));
  }
  Sample(t);
  FinishPulls(t);
  for (size_t si = 0; si < svcs_.size(); ++si) {
    Svc& s = svcs_[si];
    if (t < s.next_decide_us) continue;
    AWAN_RETURN_IF_ERROR(Decide(static_cast<int>(si), t));
    if (o_.prefetch == ServePrefetch::kForecast) PrefetchAhead(static_cast<int>(si), t);
    s.next_decide_us = t + s.scaler->period_ms() * 1000;
  }
  AWAN_RETURN_IF_ERROR(jobs_->RunUntil(now_s));  // the new replicas are placed at once when they can be
  AWAN_RETURN_IF_ERROR(ApplyRuns(t));
  if (timeline_.empty() || t >= timeline_.back().t_s * kUsPerS + o_.timeline_ms * 1000) {
    ServeTimelinePoint p;
    p.t_s = now_s;
    const double span_s = timeline_.empty() ? 1.0 : static_cast<double>(now_s - timeline_.back().t_s);
    for (Svc& s : svcs_) {
      p.replicas.push_back(Alive(s));
      p.ready.push_back(
          static_cast<int>(std::count_if(s.replicas.begin(), s.replicas.end(), [&](uint32_t id) {
            return replicas_[id].state == RState::kReady || replicas_[id].state == RState::kDraining;
          })));
      p.arrival_rps.push_back(static_cast<double>(s.arrivals_in_timeline) / std::max(1.0, span_s));
      s.arrivals_in_timeline = 0;
    }
    int64_t replica_milli = 0;
    for (const Replica& rep : replicas_)
      if (rep.start_us >= 0 && rep.end_us < 0)
        replica_milli += static_cast<int64_t>(std::llround(rep.gpus * 1000));
    p.batch_running_gpus = (jobs_->state().snapshot().gpu_allocated_milli() - replica_milli) / 1000;
    timeline_.push_back(std::move(p));
  }
  return Status::Ok();
}

Status ServeSimulation::Run(std::atomic<int64_t>* progress) {
  size_t next = 0;
  int64_t tick = 0;
  while (true) {
    const int64_t arrival = next < reqs_.size() ? reqs_[next].arrive_us : INT64_MAX;
    const int64_t iter = iterations_.empty() ? INT64_MAX : iterations_.top().first;
    const int64_t ready = readies_.empty() ? INT64_MAX : readies_.top().first;
    const int64_t t = std::min({arrival, iter, ready, tick});
    if (t > end_us_) break;
    if (ready == t) {
      const uint32_t id = readies_.top().second;
      readies_.pop();
      Replica& rep = replicas_[id];
      if (rep.state != RState::kStarting || rep.ready_us != t) continue;
      MakeReady(id, t);
    } else if (iter == t) {
      const uint32_t id = iterations_.top().second;
      iterations_.pop();
      const Replica& rep = replicas_[id];
      if (rep.state == RState::kGone || !rep.engine || !rep.engine->busy()) continue;
      EndIteration(id, t);
    } else if (arrival == t) {
      Arrive(static_cast<uint32_t>(next++), t);
      if (progress && next % 4096 == 0)
        progress->store(static_cast<int64_t>(next), std::memory_order_relaxed);
    } else {
      AWAN_RETURN_IF_ERROR(Tick(t));
      tick += o_.sample_ms * 1000;
    }
  }
  for (Replica& rep : replicas_) Account(rep, end_us_);
  for (Req& r : reqs_)
    if (r.done_us < 0) r.dropped = true;
  // The batch jobs run to their end on the whole fleet (the same for a shared and a split fleet).
  if (!batch_.empty()) {
    for (uint32_t id = 0; id < replicas_.size(); ++id)
      if (replicas_[id].state != RState::kGone) AWAN_RETURN_IF_ERROR(RemoveReplica(id, end_us_));
    AWAN_RETURN_IF_ERROR(jobs_->RunUntil(INT64_MAX));
  }
  if (progress) progress->store(static_cast<int64_t>(reqs_.size()), std::memory_order_relaxed);
  return Status::Ok();
}

struct Tally {
  int64_t requests = 0, met = 0, dropped = 0;
  std::vector<double> ttft_ms, tpot_ms;
  double attainment() const { return requests == 0 ? 100.0 : 100.0 * static_cast<double>(met) / requests; }
};

// The minutes of the measured requests (from the first one's) in which the load rises (ServeSummary::
// ramp_requests): the 5 minutes up to one brought more requests than the 5 before them.
class RampMinutes {
 public:
  explicit RampMinutes(const std::vector<Req>& reqs) {
    std::vector<int64_t> per_minute;
    for (const Req& r : reqs) {
      if (r.warmup) continue;
      if (per_minute.empty()) first_ = r.arrive_us / kUsPerMin;
      const size_t k = Minute(r.arrive_us);
      if (k >= per_minute.size()) per_minute.resize(k + 1, 0);
      ++per_minute[k];
    }
    rising_.assign(per_minute.size(), false);
    int64_t recent = 0, before = 0;  // the requests of minutes (k-5, k] and (k-10, k-5]
    for (size_t k = 0; k < per_minute.size(); ++k) {
      recent += per_minute[k];
      if (k >= kWindow) recent -= per_minute[k - kWindow], before += per_minute[k - kWindow];
      if (k >= 2 * kWindow) before -= per_minute[k - 2 * kWindow];
      rising_[k] = k + 1 >= 2 * kWindow && recent > before;
    }
  }
  bool Contains(int64_t arrive_us) const {
    const size_t k = Minute(arrive_us);
    return k < rising_.size() && rising_[k];
  }

 private:
  static constexpr int64_t kUsPerMin = 60 * kUsPerS;
  static constexpr size_t kWindow = 5;
  size_t Minute(int64_t arrive_us) const {
    return static_cast<size_t>(std::max<int64_t>(0, arrive_us / kUsPerMin - first_));
  }
  int64_t first_ = 0;
  std::vector<bool> rising_;
};

ServeSimResult ServeSimulation::Result() const {
  ServeSimResult out;
  ServeSummary& sum = out.summary;
  sum.autoscaler = o_.autoscaler;
  sum.router = o_.router;
  if (o_.autoscaler == "oracle") sum.oracle_headroom = o_.oracle_headroom;
  out.timeline = timeline_;
  Tally all, ramp;
  const RampMinutes ramps(reqs_);
  std::vector<Tally> by_service(svcs_.size()), by_location(locations_.size());
  std::map<std::string, Tally> by_tenant;
  std::vector<std::set<uint32_t>> served(svcs_.size());
  for (const Req& r : reqs_) {
    if (r.warmup) continue;
    const Svc& s = svcs_[static_cast<size_t>(r.service)];
    const bool met = !r.dropped && MetSlo(r, *s.spec);
    double ttft = 0, tpot = 0;
    if (!r.dropped) {
      ttft = TtftMs(r), tpot = TpotMs(r);
      out.ttft_ms.push_back(ttft);
    }
    if (!timeline_.empty()) {  // the interval it arrived in
      const auto it = std::upper_bound(timeline_.begin(), timeline_.end(), r.arrive_us / kUsPerS,
                                       [](int64_t at, const ServeTimelinePoint& p) { return at < p.t_s; });
      ServeTimelinePoint& p =
          out.timeline[static_cast<size_t>(std::max<ptrdiff_t>(0, it - timeline_.begin() - 1))];
      ++p.arrived;
      p.met += met;
    }
    sum.routed_outside_allowed += r.outside;
    if (r.region >= 0) served[static_cast<size_t>(r.service)].insert(static_cast<uint32_t>(r.region));
    std::vector<Tally*> groups = {&all, &by_service[static_cast<size_t>(r.service)],
                                  &by_tenant[s.spec->tenant]};
    if (!locations_.empty()) groups.push_back(&by_location[r.location]);
    if (ramps.Contains(r.arrive_us)) groups.push_back(&ramp);
    for (Tally* t : groups) {
      ++t->requests;
      t->met += met;
      t->dropped += r.dropped;
      if (!r.dropped) t->ttft_ms.push_back(ttft), t->tpot_ms.push_back(tpot);
    }
  }
  sum.requests = all.requests;
  sum.dropped = all.dropped;
  sum.slo_attainment_pct = all.attainment();
  sum.ramp_requests = ramp.requests;
  sum.ramp_slo_attainment_pct = ramp.attainment();
  sum.p50_ttft_ms = Percentile(all.ttft_ms, 0.5);
  sum.p99_ttft_ms = Percentile(all.ttft_ms, 0.99);
  sum.p99_tpot_ms = Percentile(all.tpot_ms, 0.99);
  for (size_t i = 0; i < svcs_.size(); ++i) {
    const Svc& s = svcs_[i];
    const Tally& t = by_service[i];
    ServiceOutcome o;
    o.name = s.spec->name;
    o.tenant = s.spec->tenant;
    o.requests = t.requests;
    o.dropped = t.dropped;
    o.slo_attainment_pct = t.attainment();
    o.gpu_hours = s.gpu_s / 3600;
    o.p99_ttft_ms = Percentile(t.ttft_ms, 0.99);
    o.p99_tpot_ms = Percentile(t.tpot_ms, 0.99);
    o.peak_replicas = s.peak;
    o.replicas_replaced = s.replaced;
    o.cold_starts = s.cold_starts;
    o.capacity_rps = s.signals->last_capacity().rps;
    o.capacity_concurrency = s.signals->last_capacity().concurrency;
    o.long_prompt_tokens = s.signals->long_prompt_tokens();
    o.long_prompts_in_time = s.signals->long_prompts_in_time();
    if (!o.long_prompts_in_time)
      out.warnings.push_back("service " + s.spec->name + ": " + s.signals->LongPromptsLateWhy());
    auto names = [&](const std::set<uint32_t>& regions) {
      std::vector<std::string> v;
      for (uint32_t g : regions)
        v.push_back(fleet_.topology().DomainName(TopologyLevel::kRegion, DomainId(g)));
      std::sort(v.begin(), v.end());
      return v;
    };
    std::set<uint32_t> placed;
    for (const auto& [g, gpu_s] : s.gpu_s_by_region) {
      placed.insert(g);
      o.gpu_hours_by_region.emplace_back(fleet_.topology().DomainName(TopologyLevel::kRegion, DomainId(g)),
                                         gpu_s / 3600);
    }
    std::sort(o.gpu_hours_by_region.begin(), o.gpu_hours_by_region.end());
    o.replica_regions = names(placed);
    o.served_regions = names(served[i]);
    out.per_service.push_back(o);
    sum.gpu_hours += o.gpu_hours;
    sum.cold_starts += s.cold_starts;
    sum.oscillations += s.oscillations;
  }
  for (size_t l = 0; l < locations_.size(); ++l)
    if (by_location[l].requests > 0)
      out.per_location.push_back({locations_[l], by_location[l].requests, by_location[l].attainment(),
                                  Percentile(by_location[l].ttft_ms, 0.99)});
  for (const auto& [name, t] : by_tenant)
    out.per_tenant.push_back({name, t.requests, t.attainment(), Percentile(t.ttft_ms, 0.99)});
  out.cold_start_s = cold_start_s_;
  sum.p99_cold_start_s = Percentile(cold_start_s_, 0.99);
  sum.prefetches = prefetches_, sum.prefetched_bytes = prefetched_bytes_;
  double cs = 0;
  for (double c : cold_start_s_) cs += c;
  sum.avg_cold_start_s = cold_start_s_.empty() ? 0 : cs / static_cast<double>(cold_start_s_.size());
  sum.replicas_placed_outside = placed_outside_;
  out.reserved_nodes = reserved_nodes_;
  out.warnings.insert(out.warnings.begin(), warnings_.begin(), warnings_.end());
  if (split_batch_) {
    out.batch_run = *split_batch_;
  } else if (!batch_.empty()) {
    out.batch_run = jobs_->Result();
  }
  const JobsSummary& batch = out.batch_run.summary;
  sum.batch_avg_jct_s = batch.avg_jct_s;
  sum.batch_p99_jct_s = batch.p99_jct_s;
  sum.batch_preemptions = 0;  // the batch jobs' own (the scheduler's count includes replicas stopped)
  for (const JobOutcome& o : out.batch_run.jobs) sum.batch_preemptions += o.preemptions;
  sum.batch_max_preemptions_per_job = batch.max_preemptions_per_job;
  sum.batch_jobs = batch.jobs;
  sum.batch_finished = batch.finished;
  return out;
}

}  // namespace

std::vector<InferenceRequest> ShapeLoad(const std::vector<InferenceRequest>& requests, double rate,
                                        int scale) {
  std::vector<InferenceRequest> out;
  out.reserve(requests.size() * static_cast<size_t>(std::max(1, scale)));
  for (int k = 0; k < std::max(1, scale); ++k) {
    const int64_t shift = static_cast<int64_t>(k) * 1000 / std::max(1, scale);
    for (const InferenceRequest& r : requests) {
      InferenceRequest c = r;
      c.at_ms = static_cast<int64_t>(std::llround(static_cast<double>(r.at_ms) / rate)) + shift;
      out.push_back(std::move(c));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const InferenceRequest& a, const InferenceRequest& b) { return a.at_ms < b.at_ms; });
  return out;
}

StatusOr<DataCatalog> ServingCatalog(const config::FleetFile& fleet, const std::vector<DataSpec>& datasets,
                                     const std::vector<JobSpec>& jobs, const config::ServicesFile& services) {
  std::vector<JobSpec> all = jobs;
  std::map<std::string, TenantSpec> tenants;
  for (const ServiceSpec& s : services.services) {
    JobSpec probe;
    probe.name = ReplicaTenant(s);
    probe.tenant = s.tenant;
    probe.reads = s.reads;
    all.push_back(std::move(probe));
  }
  for (const JobSpec& j : all) {
    if (tenants.count(j.tenant)) continue;
    AWAN_ASSIGN_OR_RETURN(TenantSpec t, fleet.Tenant(j.tenant));
    tenants.emplace(j.tenant, std::move(t));
  }
  return DataCatalog::Build(fleet.fleet, datasets, all, tenants);
}

StatusOr<ServeSimResult> RunServeSim(const config::FleetFile& fleet, const config::ServicesFile& services,
                                     const std::vector<ServiceLoad>& loads, const std::vector<JobSpec>& jobs,
                                     const ServeSimOptions& options, std::atomic<int64_t>* progress) {
  ServeSimOptions o = options;
  std::optional<DataCatalog> own;
  if (o.jobs.catalog == nullptr) {
    AWAN_ASSIGN_OR_RETURN(own, ServingCatalog(fleet, {}, jobs, services));
    o.jobs.catalog = &*own;
  }
  config::ServicesFile used = services;  // services without requests are not deployed
  std::erase_if(used.services, [&](const ServiceSpec& s) {
    return std::none_of(loads.begin(), loads.end(),
                        [&](const ServiceLoad& l) { return l.service == s.name; });
  });
  ServeSimulation sim(fleet, used, o);
  AWAN_RETURN_IF_ERROR(sim.Init(loads, jobs));
  AWAN_RETURN_IF_ERROR(sim.Run(progress));
  return sim.Result();
}

}  // namespace awan::sim
