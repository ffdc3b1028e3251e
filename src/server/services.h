// ServiceManager: inference services in `awan serve` (issue 18): the services API, their replicas as jobs of
// the control plane, the autoscaler on live load, and the OpenAI-compatible gateway.
//
// - A service (`kind: Service`, config/service_file.h) is stored as a named object in the StateStore (durable
//   before the API answers 201), under its tenant; names are unique per tenant.
// - Each replica is a one-task job of the service's tenant (named `svc-NAME-rN`), submitted through the
//   ControlPlane like any job: the same scheduler places it (accelerator, whole or fractional GPUs,
//   residency), the executor runs it isolated as the tenant, and the job's durability and re-adoption across
//   a restart are the replica's. Its command is this binary's `awan replica` (kSelfCommand) with the model,
//   the shape and the service's time scale; the manager reads the port it bound from its log and probes
//   /health before routing to it. A scale-down drains a replica (no new requests) and cancels its job once
//   idle.
// - The autoscaler and the router are the plugins `awan sim serve` runs (chosen by name in the manifest), fed
//   by serving::ScaleSignals as the simulator feeds them: arrivals counted by the gateway in requests of the
//   service's mix, requests in flight, ready replicas, every sample_ms of service time. Service time is wall
//   time x the service's time_scale, so a time-compressed load is scaled as its uncompressed original would
//   be.
// - The gateway: POST /v1/chat/completions and /v1/completions, GET /v1/models, with the tenants' API tokens;
//   `model` names a service of the caller's tenant (an admin writes TENANT/NAME). It routes with the router
//   plugin among ready replicas (their outstanding work, and the prompt's leading blocks each likely holds
//   in its prefix cache: the gateway remembers the block hashes it sent to each, bounded by its KV
//   capacity), streams the replica's answer back as it comes (server-sent events too),
//   answers 429 with Retry-After when the service's replicas hold more than twice what they sustain within
//   the SLO, and 503 with Retry-After when no replica becomes ready within queue_timeout. Per service: TTFT
//   and TPOT histograms and SLO attainment, in model time, in /metrics and `describe`.
//
// Thread-safe: one lock for the manager's state; it calls into the ControlPlane (which has its own) and never
// the other way.
#pragma once

#include <httplib.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "config/service_file.h"
#include "core/autoscaler.h"
#include "core/router.h"
#include "server/control_plane.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/replica_standin.h"
#include "serving/routers.h"
#include "serving/scale_signals.h"

namespace awan::server {

class DiagnosisHub;

struct ServiceManagerOptions {
  int64_t sample_ms = 1000;          // of service time: how often the autoscaler gets a sample
  int64_t queue_timeout_ms = 30000;  // wall time a request may wait for a ready replica (then 503)
  int max_proxied = 512;             // requests through the gateway at once (more: 429)
  int64_t max_batched_tokens = 8192, max_seqs = 256;  // the replicas' engine limits (as awan replica's)
  // A replica not ready this long after it was created (wall time) is reported to the diagnosis as a cold
  // start that timed out (it keeps starting).
  int64_t cold_start_timeout_ms = 600000;
  // How often (service time) the serving facts are checked: SLO attainment over the last period, refusals.
  int64_t facts_period_ms = 30000;
};

class ServiceManager {
 public:
  ServiceManager(ControlPlane& plane, Clock& clock, ServiceManagerOptions o = {});
  ~ServiceManager();

  // Loads the stored services and adopts their replicas' jobs (by name, in the service's tenant).
  Status Recover();
  // The services API. Create: 201-worthy JSON of the new service; AlreadyExists when the tenant has one of
  // that name; InvalidArgument for a bad manifest, an unknown autoscaler or router, or a tenant the fleet
  // does not list.
  StatusOr<nlohmann::json> Create(const Principal& who, std::string_view manifest);
  StatusOr<nlohmann::json> List(const Principal& who);
  StatusOr<nlohmann::json> Describe(const Principal& who, const std::string& name);
  // Cancels every replica and forgets the service (NotFound if the caller's tenant has none of that name).
  StatusOr<nlohmann::json> Delete(const Principal& who, const std::string& name);
  // One control step (from the control loop, after the plane's tick): replicas' readiness, samples and
  // decisions, replicas added and drained.
  void Tick();
  // The server is stopping: requests waiting for a replica are answered (503) at once. Thread-safe.
  void Stop();
  // Serving facts go to `hub` (may be null; it must outlive this): replicas that failed, cold starts past
  // their timeout, metrics that stopped answering, KV caches full, refusals, SLO breaches, scale-ups capped
  // at the maximum.
  void SetDiagnosisHub(DiagnosisHub* hub) { diagnoses_ = hub; }

  // The services API under /v1/services and the gateway (/v1/chat/completions, /v1/completions, /v1/models);
  // `authenticated` is the API's header check (it sets the Principal).
  void RegisterRoutes(HttpServer& http, const HeaderCheck& authenticated);
  // Per service: gateway requests, TTFT and TPOT histograms, attainment, replicas (the caller's tenant only,
  // or all for an admin).
  std::string RenderMetrics(const Principal& who) const;

 private:
  struct Replica {
    std::string job_id;
    std::string
        api_key;  // its own (VLLM_API_KEY in its job's environment): nothing else on the node may call it
    int64_t created_wall_ms = 0;
    std::string state = "Pending";  // the job's state
    int port = 0;
    bool ready = false, draining = false;
    int shape = -1;      // its index in the service's shapes (-1: not known, as after a restart that lost it)
    bool surge = false;  // started beside replicas on a shape that no longer fits (serving::PlanReplacement)
    int in_flight = 0;
    int64_t outstanding_tokens = 0;
    int64_t ready_after_ms = -1;  // service time from creation to ready (cold start)
    std::string node, devices;
    int warm = -1;  // its image: -1 unknown (or none), 0 pulled at start, 1 already on the node
    // Its engine's own metrics (vLLM's names), scraped once per sample period: -1 until known.
    double engine_running = -1, engine_waiting = -1, kv_usage = -1;
    int64_t scraped_wall_ms = 0;
    int failed_scrapes = 0;            // in a row, once ready
    bool cold_start_reported = false;  // past cold_start_timeout_ms, told once
    int64_t kv_full_reported_ms = 0;   // service time of the last kv_cache_full told
    // The gateway's view of its prefix cache: the KV blocks of the prompts routed to it, least recently
    // used out first, bounded by its shape's KV capacity (created on the first request routed to it).
    std::optional<serving::PrefixCache> prefix;
  };
  // A call to one replica made without the manager's lock: readiness (/health) or its metrics.
  struct Probe {
    std::string service, job, api_key;
    int port = 0;
    bool health = true;
    bool ok = false;
    int64_t at_wall_ms = 0;
    double running = -1, waiting = -1, kv_usage = -1;
  };
  struct Decision {
    int64_t at_ms = 0;  // service time
    int from = 0, to = 0;
    std::string why;
  };
  struct Service {
    std::string key;  // tenant/name
    std::string tenant, name, manifest_text;
    config::ServiceManifest m;
    int64_t created_ms = 0, created_wall_mono_ms = 0;
    std::unique_ptr<Autoscaler> scaler;
    std::unique_ptr<Router> router;
    std::unique_ptr<serving::ScaleSignals> signals;
    std::vector<Replica> replicas;
    int next_replica = 1;
    int64_t next_sample_ms = 0, next_decide_ms = 0;  // service time
    int waiting = 0;                                 // gateway requests waiting for a ready replica
    std::deque<Decision> decisions;
    int64_t requests = 0, met = 0, failed = 0;
    // Measured cold starts (service time), the last 1,000: all of them, and those that pulled the image.
    std::vector<int64_t> cold_starts_ms, pulled_starts_ms;
    void RememberStart(int64_t ms, bool pulled);
    int64_t warm_starts = 0, cold_image_starts = 0;  // replica starts whose image was on the node, or pulled
    int64_t next_prepull_wall_ms = 0;
    int crashes = 0;                        // replicas failed in a row (reset when one is ready)
    int64_t hold_starts_until_wall_ms = 0;  // the back-off after a failed replica
    std::unique_ptr<Histogram> ttft, tpot;
    bool deleting = false;
    // Serving facts: refusals by kind (at capacity, gateway full, no replica ready) and what the last
    // check saw; the next check (service time).
    std::array<int64_t, 3> refused_by{}, refused_told{};
    int64_t refused() const { return refused_by[0] + refused_by[1]; }  // 429s (the 503s are failed)
    int64_t requests_told = 0, met_told = 0, next_facts_ms = 0;
    bool capped_told = false;
    bool long_prompts_late_told = false;  // no usable shape gives the long prompts their first token in time
  };
  int64_t ServiceNowMs(const Service& s) const;
  Service* FindLocked(const Principal& who, const std::string& name);
  StatusOr<std::unique_ptr<Service>> Build(const std::string& tenant, const std::string& text,
                                           int64_t created_ms);
  Status Persist(const Service& s);
  nlohmann::json ServiceJson(const Service& s, bool detail) const;
  void TickService(Service& s);
  void TellLongPromptsLate(Service& s, int current, int64_t now);
  void RefreshReplica(Service& s, Replica& r);  // its job's state, node, port and image (no call to it)
  void RunProbes(std::vector<Probe>& probes) const;
  void ApplyProbe(const Probe& p);
  Status AddReplica(Service& s);
  static bool Fits(const Service& s, const Replica& r);
  void ReplaceUnfit(Service& s, int desired, int64_t now);
  void ScaleTo(Service& s, int current, int desired, const ScaleBounds& b, int64_t now);
  void Prepull(Service& s);
  void ForgetEnded(Service& s);
  void Fact(const Service& s, const std::string& replica, std::string text);  // to the diagnosis, if any
  void ReportFacts(Service& s, int64_t now);
  void Proxy(const std::string& key, const std::string& job, int port, const std::string& api_key,
             const std::string& body, bool chat, bool sse, int64_t prompt_tokens, int64_t output_tokens,
             int64_t* left, const std::shared_ptr<ResponseStream>& out);
  // `left`: the request's share of its replica's outstanding work not yet handed back (set to the answer's).
  void PrefillDone(const std::string& key, const std::string& job, int64_t* left, int64_t output_tokens);
  // `tokens`: the request's outstanding work handed back. `prefilled`: how many of the request's `prompt`
  // tokens the replica prefilled (all of them unless it said what its prefix cache held); fed to the
  // long-prompt check and the capacity (ScaleSignals::Prefilled).
  void Record(const std::string& key, const std::string& job, bool ok, double ttft_s, double tpot_s,
              int64_t tokens, int64_t prompt, int64_t prefilled);
  void Gateway(HttpRequest& req, HttpResponse& res, bool chat);
  void RememberPrefix(const Service& s, Replica& r, std::span<const uint64_t> blocks);
  // `prefill`: the prompt tokens the chosen replica will likely prefill (what its cache likely lacks).
  bool Admit(const Principal& who, const OpenAiRequest& req, HttpResponse& res, std::string* key,
             std::string* job, int* port, std::string* api_key, int64_t* prefill);

  // Kept-alive connections to the replicas, idle ones by port: a proxied request takes one (or opens one) and
  // gives it back after a whole answer, so steady traffic opens no new connection per request.
  std::unique_ptr<httplib::Client> TakeClient(int port);
  void GiveBack(int port, std::unique_ptr<httplib::Client> c);
  std::mutex pool_mu_;
  std::map<int, std::vector<std::unique_ptr<httplib::Client>>> idle_;

  ControlPlane& plane_;
  Clock& clock_;
  DiagnosisHub* diagnoses_ = nullptr;
  ServiceManagerOptions o_;
  Principal system_;  // the manager acts as an admin on the plane
  mutable std::mutex mu_;
  std::condition_variable ready_cv_;
  std::map<std::string, std::unique_ptr<Service>> services_;  // by tenant/name
  std::atomic<int> proxied_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int> threads_{0};
};

}  // namespace awan::server
