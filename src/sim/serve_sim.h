// The serving simulator (`awan sim serve`, issue 17): services of a services file (config/service_file.h)
// serve request traces on a fleet, scaled by one autoscaler and routed by one router from the registry,
// optionally beside a batch workload on the same fleet.
//
// One core for services and jobs: every replica is a job of the one JobScheduler of a JobsSimulation
// (sim/jobs_sim.h), so it is placed by the same framework (accelerator shape, whole or fractional GPUs,
// residency filter), waits with a wait reason, and preempts batch work through the core's preemption stage.
// Each service's replicas belong to a tenant of their own, "svc/NAME", in its owner's cohort, guaranteed the
// GPUs of the service's largest replica count and lending all of it: batch jobs borrow what the replicas do
// not use and are reclaimed (checkpoint-aware, core/job_scheduler.h) when a scale-up needs it; a service's
// priority against batch work is its tenant's priority. A scale-down cancels the replica's job, so its GPUs
// go back to the batch queues at once.
//
// Per replica, the engine runs iteration by iteration (vLLM-like, the replica model of serving/
// replica_model.h): continuous batching, chunked prefill within a token budget, admission while the KV cache
// holds the sequence's prompt and answer (no KV preemption), a prefix cache of KV blocks (Mooncake hash ids)
// that skips the cached part of a prompt. A replica serves after its cold start (serving/cold_start.h): its
// node's image and weight caches (LRU by bytes), or weights from a ready peer of the same model in the same
// region; images and weights are prefetched to nodes ahead of the replicas, to all the nodes a service may
// use or as its scaler's forecast asks (ServePrefetch).
//
// Requests carry their user's location (from the trace, else one of the service's users drawn with the seed)
// and the service's residency: the router only sees replicas where the service's data may be processed
// (core/router.h), except in the residency-blind baseline (`ignore_residency`), which places and routes
// anywhere and counts what it sent outside. A request that finds no replica waits in the service's buffer
// (as Knative's activator) and is dropped after `queue_timeout_ms`; a dropped request misses its SLO.
//
// Deterministic: same inputs and seed, same result. Time is simulated (microseconds); nothing reads a clock.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/fleet_file.h"
#include "config/service_file.h"
#include "model/job.h"
#include "model/request.h"
#include "serving/cold_start.h"
#include "serving/replica_model.h"
#include "sim/jobs_sim.h"

namespace awan::sim {

// One service's requests, as read (trace/request_trace.h) or generated.
struct ServiceLoad {
  std::string service;
  std::vector<InferenceRequest> requests;
};

// What is prefetched to nodes before replicas need it.
//   kAll: every service's image and weights to every node of the regions it may use whose accelerator one of
//     its shapes names, before the run (an upper bound: pulls and cache space are free).
//   kForecast: during the run, onto nodes with room until their free replica slots reach what its scaler's
//     forecast one pull ahead wants (serving::PrefetchWant, serving::PlanPrefetch); each pull takes its
//     transfer time from the registry and the object store. Pulls begun in the warm-up are done at once (the
//     caches a running service would have).
//   kNone: nothing; a replica's first start on a node pulls both, and no weights come from peers.
enum class ServePrefetch : uint8_t { kNone, kForecast, kAll };
const char* ServePrefetchName(ServePrefetch p);  // "none", "forecast", "all"

struct ServeSimOptions {
  std::string autoscaler = "awan";
  std::string router = "awan";
  bool ignore_residency = false;  // the baseline that places replicas and routes requests anywhere
  double rate = 1;                // > 1 compresses time: arrival times divided by it
  int scale = 1;  // copies of every trace, copy k shifted by k x 1000 / scale ms (load x scale)
  // Images and weights ahead of the replicas (ServePrefetch); with any but kNone, weights also come from a
  // ready peer of the same model in the replica's region.
  ServePrefetch prefetch = ServePrefetch::kAll;
  // The oracle provisions for its future load divided by this (< 1: more replicas). `awan sim serve` runs
  // it at several and takes the cheapest that meets the SLO target as the reference (serve_sim.h's users).
  double oracle_headroom = 1.0;
  uint64_t seed = 1;
  int64_t sample_ms = 1000;           // how often replicas report to the autoscaler
  int64_t max_batched_tokens = 8192;  // per iteration (vLLM's max_num_batched_tokens)
  int max_seqs = 256;                 // per replica (vLLM's max_num_seqs)
  int64_t queue_timeout_ms = 60000;   // a request no replica takes within this is dropped
  int64_t drain_ms = 300000;          // simulated after the last arrival
  // Warm-up, not measured: the trace's first warmup_ms are replayed before it, so that every autoscaler meets
  // the trace's start with the replicas and history a running service would have. Metrics, GPU-hours and
  // cold starts count from the end of the warm-up.
  int64_t warmup_ms = 300000;
  // The replicas placed at t = 0 are ready at once (a service deployed before the trace, as in `awan serve`
  // when a replay waits for the service's first ready replica); off: they pay their cold start too.
  bool start_ready = false;
  int64_t image_bytes = int64_t{10} << 30;      // the serving engine's image
  int64_t node_cache_bytes = int64_t{2} << 40;  // per node, images and weights (NVMe)
  int64_t timeline_ms = 60000;                  // resolution of the timeline
  serving::ColdStartOptions cold;
  serving::ReplicaModelOptions replica;
  // The batch side and the one scheduler (policy, placement, scheduler options, the data catalog, which
  // must also know the data the services read). The batch jobs' residency follows jobs.ignore_residency.
  // The scheduler cycles at least every minute and runs its preempt pass at most 15 s apart (a scale-up
  // that must stop batch work does not wait for a 5-minute pass).
  JobsSimOptions jobs;
  // Static split (the baseline for sharing): nodes reserved per service for its peak (ServeSimResult::
  // reserved_nodes); the services run only there and the batch jobs only on the rest.
  bool static_split = false;
};

struct ServeSummary {
  std::string autoscaler, router;
  double oracle_headroom = 0;  // the oracle's (0 for the others)
  int64_t requests = 0, dropped = 0;
  double slo_attainment_pct = 0;
  // During ramps: the requests that arrived in a minute whose last 5 minutes (that minute and the 4 before)
  // brought more requests, all services together, than the 5 minutes before them. The load alone says which
  // minutes those are, so every autoscaler is judged on the same requests: where cold starts cost the most.
  int64_t ramp_requests = 0;
  double ramp_slo_attainment_pct = 0;
  double gpu_hours = 0;  // replicas' GPUs from their start (cold start included) to their end, pro rata
  double p50_ttft_ms = 0, p99_ttft_ms = 0, p99_tpot_ms = 0;
  int64_t cold_starts = 0;
  double p99_cold_start_s = 0, avg_cold_start_s = 0;
  int64_t prefetches = 0, prefetched_bytes = 0;  // node pulls ahead of replicas (ServePrefetch), their bytes
  int64_t oscillations = 0;                      // direction changes of each service's replica count, summed
  int64_t routed_outside_allowed = 0;
  int64_t replicas_placed_outside = 0;
  double batch_avg_jct_s = 0, batch_p99_jct_s = 0;  // 0 without batch jobs
  int64_t batch_jobs = 0, batch_finished = 0;
  int64_t batch_preemptions = 0;  // stops of batch runs (for replicas or other batch work)
  int batch_max_preemptions_per_job = 0;
};
// The run's autoscaler as tables and charts name it: "oracle@0.9" for the oracle at a headroom.
std::string AutoscalerLabel(const ServeSummary& s);

struct ServiceOutcome {
  std::string name, tenant;
  std::vector<std::string> replica_regions, served_regions;  // where its replicas ran and served (sorted)
  std::vector<std::pair<std::string, double>> gpu_hours_by_region;  // its gpu_hours by region (sorted)
  int64_t requests = 0, dropped = 0;
  double slo_attainment_pct = 0, gpu_hours = 0, p99_ttft_ms = 0, p99_tpot_ms = 0;
  int peak_replicas = 0;
  int64_t replicas_replaced = 0;  // on a shape that no longer fit the mix (drained or cancelled)
  int64_t cold_starts = 0;
  double capacity_rps = 0;  // per replica within the SLO, on its first shape, at the run's request mix
  int capacity_concurrency = 0;
  double long_prompt_tokens = 0;     // the long prompts' prefill the capacity keeps in time (0: not known)
  bool long_prompts_in_time = true;  // false: no usable shape gives them their first token in time
};

// Attainment per user location or per tenant.
struct GroupOutcome {
  std::string name;
  int64_t requests = 0;
  double slo_attainment_pct = 0, p99_ttft_ms = 0;
};

struct ServeTimelinePoint {
  int64_t t_s = 0;
  std::vector<double> arrival_rps;  // per service, over the interval
  std::vector<int> replicas;        // per service: pending, starting and ready
  std::vector<int> ready;           // per service
  int64_t batch_running_gpus = 0;
  int64_t arrived = 0, met = 0;  // requests that arrived in the interval (all services), and met their SLO
};

struct ServeSimResult {
  ServeSummary summary;
  std::vector<ServiceOutcome> per_service;
  std::vector<GroupOutcome> per_location, per_tenant;
  std::vector<ServeTimelinePoint> timeline;
  std::vector<double> ttft_ms;           // every served request's TTFT (for a CDF)
  std::vector<double> cold_start_s;      // every replica start
  std::vector<uint32_t> reserved_nodes;  // the static split's service nodes
  std::vector<std::string> warnings;     // e.g. a replica shape that cannot meet its service's SLO
  JobsSimResult batch_run;               // the batch jobs (when there are any): summary, outcomes
};

// REQUIRES: every load names a service of `services`; `jobs` may be empty.
StatusOr<ServeSimResult> RunServeSim(const config::FleetFile& fleet, const config::ServicesFile& services,
                                     const std::vector<ServiceLoad>& loads, const std::vector<JobSpec>& jobs,
                                     const ServeSimOptions& options,
                                     std::atomic<int64_t>* progress = nullptr);

// The data catalog for a run: the declared datasets (a workload file's, or none), the batch jobs' data and
// the services' (a service reads like a job of its tenant: an item nobody declares takes its tenants'
// defaults).
StatusOr<DataCatalog> ServingCatalog(const config::FleetFile& fleet, const std::vector<DataSpec>& datasets,
                                     const std::vector<JobSpec>& jobs, const config::ServicesFile& services);

// The loads as the simulation replays them: rate-compressed and scaled copies, sorted by arrival.
std::vector<InferenceRequest> ShapeLoad(const std::vector<InferenceRequest>& requests, double rate,
                                        int scale);

}  // namespace awan::sim
