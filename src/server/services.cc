#include "server/services.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <thread>

#include "config/job_manifest.h"
#include "model/hardware.h"
#include "policies/builtin.h"
#include "server/diagnoses.h"
#include "server/executor.h"
#include "server/replica_standin.h"
#include "serving/cold_start.h"
#include "serving/replica_engine.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;

constexpr const char* kKind = "service";
constexpr int32_t kMaxTokensLimit = 32768;
constexpr size_t kDecisionsKept = 50;

const Principal& Who(const HttpRequest& req) { return std::any_cast<const Principal&>(req.context); }

int HttpCode(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kAlreadyExists:
    case StatusCode::kFailedPrecondition:
      return 409;
    case StatusCode::kResourceExhausted:
      return 429;
    case StatusCode::kUnauthenticated:
      return 401;
    case StatusCode::kPermissionDenied:
      return 403;
    default:
      return 500;
  }
}

void Reply(HttpResponse& res, int code, const Json& body) {
  res.status = code;
  res.set_content(body.dump(-1, ' ', false, Json::error_handler_t::replace) + "\n", "application/json");
}
void Fail(HttpResponse& res, const Status& s) {
  if (s.code() == StatusCode::kResourceExhausted) res.set_header("Retry-After", "1");
  Reply(res, HttpCode(s), Json{{"error", s.message()}});
}
// The gateway answers in OpenAI's error shape.
void OpenAiFail(HttpResponse& res, int code, const std::string& message, const char* type) {
  if (code == 429 || code == 503) res.set_header("Retry-After", "1");
  Reply(res, code,
        Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}});
}

// OpenAiFail for a step that reports whether the request goes on: always false.
bool Refuse(HttpResponse& res, int code, const std::string& message, const char* type) {
  OpenAiFail(res, code, message, type);
  return false;
}

// The gateway's refusals, by kind (Service::refused_by): the answer, and the diagnosis's fact about them
// ("{}" in the message is the service).
struct Refusal {
  int code;
  const char* type;
  const char* limit;  // "" when not a limit
  const char* message;
};
constexpr Refusal kRefusals[] = {
    {429, "RateLimitError", "service", "service {} is at capacity: retry"},
    {429, "RateLimitError", "gateway", "the gateway is at capacity: retry"},
    {503, "ServiceUnavailable", "", "no replica of the service became ready in time: retry"}};

// Refuses a request of service `s` as refusal `kind` and counts it.
template <class Service>
bool RefuseAs(HttpResponse& res, Service& s, size_t kind) {
  ++s.refused_by[kind];
  const Refusal& r = kRefusals[kind];
  return Refuse(res, r.code, fmt::format(fmt::runtime(r.message), s.name), r.type);
}

bool Terminal(const std::string& state) {
  return state == "Succeeded" || state == "Failed" || state == "Cancelled" || state == "TimedOut";
}

// Where a replica image (scripts/replica-image.sh) carries this binary.
constexpr const char* kImageAwan = "/usr/local/bin/awan";

// A port free on 127.0.0.1 now, for a replica command of one's own ("{port}"): the kernel's pick for port 0.
StatusOr<int> FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return IoError(std::string("socket: ") + std::strerror(errno));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0;
  close(fd);
  if (!ok) return IoError(std::string("cannot find a free port: ") + std::strerror(errno));
  return static_cast<int>(ntohs(a.sin_port));
}

// The port `awan replica` printed ("serving NAME on 127.0.0.1:PORT"), 0 if not yet.
int PortFromLog(const std::string& log) {
  const size_t at = log.find(" on 127.0.0.1:");
  if (at == std::string::npos) return 0;
  try {
    return std::stoi(log.substr(at + 14, 6));
  } catch (...) {
    return 0;
  }
}

std::string Num(double v) { return fmt::format("{}", v); }

}  // namespace

ServiceManager::ServiceManager(ControlPlane& plane, Clock& clock, ServiceManagerOptions o)
    : plane_(plane), clock_(clock), o_(o) {
  system_.role = Role::kAdmin;
}

ServiceManager::~ServiceManager() {
  stopping_ = true;
  ready_cv_.notify_all();
  for (int i = 0; i < 3000 && threads_.load() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

int64_t ServiceManager::ServiceNowMs(const Service& s) const {
  return static_cast<int64_t>(static_cast<double>(clock_.MonotonicMs() - s.created_wall_mono_ms) *
                              s.m.time_scale);
}

StatusOr<std::unique_ptr<ServiceManager::Service>> ServiceManager::Build(const std::string& tenant,
                                                                         const std::string& text,
                                                                         int64_t created_ms) {
  const Fleet& fleet = plane_.fleet().fleet;
  auto s = std::make_unique<Service>();
  AWAN_ASSIGN_OR_RETURN(s->m, config::ParseServiceManifest(text, "service manifest", fleet));
  s->tenant = tenant;
  s->m.spec.tenant = tenant;
  s->name = s->m.spec.name;
  s->key = tenant + "/" + s->name;
  s->manifest_text = text;
  s->created_ms = created_ms;
  s->created_wall_mono_ms = clock_.MonotonicMs();
  if (!plane_.fleet().Tenant(tenant).ok())
    return InvalidArgument("unknown tenant '" + tenant + "': the fleet file does not list it");
  const PluginRegistry& registry = policies::BuiltinRegistry();
  auto scaler = registry.BuildAutoscaler(s->m.autoscaler);
  if (!scaler.ok()) return InvalidArgument("spec autoscaler: " + scaler.status().message());
  s->scaler = std::move(*scaler);
  auto router = registry.BuildRouter(s->m.router);
  if (!router.ok()) return InvalidArgument("spec router: " + router.status().message());
  s->router = std::move(*router);
  // Where its replicas may run: its tenant's data rule for what its weights come from, as for a job.
  JobSpec probe;
  probe.name = "svc-" + s->name;
  probe.tenant = tenant;
  probe.reads = s->m.spec.reads;
  AWAN_ASSIGN_OR_RETURN(TenantSpec owner, plane_.fleet().Tenant(tenant));
  AWAN_ASSIGN_OR_RETURN(JobResidency rules, plane_.ResidencyOf(probe, owner));
  std::vector<serving::ReplicaModel> models;
  std::vector<bool> usable;
  for (const ReplicaShape& sh : s->m.spec.shapes) {
    const std::optional<AcceleratorHardware> hw = FindHardware(sh.accelerator);
    if (!hw)
      return InvalidArgument("no hardware figures for " + sh.accelerator +
                             ": its replicas cannot be modelled");
    AWAN_ASSIGN_OR_RETURN(serving::ReplicaModel m,
                          serving::ReplicaModel::Create(s->m.model, *hw, std::max(1, sh.gpus),
                                                        static_cast<double>(sh.gpu_milli.value) / 1000));
    bool placeable = false;
    for (uint32_t n = 0; n < fleet.size() && !placeable; ++n)  // in a region the service may run in
      placeable = fleet.node(NodeIndex(n)).model == sh.model && rules.Allows(fleet.region_of(NodeIndex(n)));
    usable.push_back(placeable &&
                     m.DecodeStepS(1, 1152) * 1000 <= static_cast<double>(s->m.spec.slo.tpot_ms));
    models.push_back(std::move(m));
  }
  s->signals = std::make_unique<serving::ScaleSignals>(s->m.spec, std::move(models), std::move(usable),
                                                       o_.max_batched_tokens, static_cast<int>(o_.max_seqs));
  if (!s->signals->servable())
    return InvalidArgument(
        fmt::format("no replica shape of service {} exists in the regions it may run in and meets {} ms "
                    "per output token",
                    s->name, s->m.spec.slo.tpot_ms));
  s->ttft = std::make_unique<Histogram>(std::vector<double>{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  s->tpot = std::make_unique<Histogram>(std::vector<double>{0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5});
  return s;
}

Status ServiceManager::Persist(const Service& s) {
  const Json v = {
      {"tenant", s.tenant}, {"name", s.name}, {"manifest", s.manifest_text}, {"created_ms", s.created_ms}};
  return plane_.store().PutObject(kKind, s.key, v.dump());
}

namespace {
// Which of a service's shapes a replica's job spec asked for (-1 when none matches).
int ShapeOf(const ServiceSpec& spec, const Json& job) {
  const std::string accelerator = job.value("accelerator", "");
  const Json gpus = job.contains("gpus") ? job["gpus"] : Json(0);
  for (size_t k = 0; k < spec.shapes.size(); ++k) {
    const ReplicaShape& sh = spec.shapes[k];
    const bool fraction = sh.gpu_milli.value < 1000;
    const double want = fraction ? static_cast<double>(sh.gpu_milli.value) / 1000 : std::max(1, sh.gpus);
    if (sh.accelerator == accelerator && gpus.is_number() && std::abs(gpus.get<double>() - want) < 1e-9)
      return static_cast<int>(k);
  }
  return -1;
}

}  // namespace

Status ServiceManager::Recover() {
  AWAN_ASSIGN_OR_RETURN(auto objects, plane_.store().ListObjects(kKind));
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& [key, value] : objects) {
    const Json v = Json::parse(value, nullptr, false);
    if (!v.is_object() || !v.contains("manifest") || !v.contains("tenant"))
      return DataLoss("the stored service " + key + " is damaged");
    AWAN_ASSIGN_OR_RETURN(std::unique_ptr<Service> s,
                          Build(v["tenant"].get<std::string>(), v["manifest"].get<std::string>(),
                                v.value("created_ms", int64_t{0})));
    // Its replicas: the tenant's live jobs named svc-NAME-rN.
    const std::string prefix = "svc-" + s->name + "-r";
    for (JobState st : {JobState::kPending, JobState::kRunning}) {
      JobFilter f;
      f.tenant = s->tenant;
      f.state = st;
      f.limit = 1000;
      AWAN_ASSIGN_OR_RETURN(std::vector<StoredJob> jobs, plane_.List(system_, f));
      for (const StoredJob& j : jobs) {
        if (j.name.rfind(prefix, 0) != 0) continue;
        Replica r;
        r.job_id = j.id;
        const Json manifest = Json::parse(j.manifest, nullptr, false);
        if (manifest.is_object() && manifest.contains("spec") && manifest["spec"].contains("env")) {
          r.api_key = manifest["spec"]["env"].value("VLLM_API_KEY", "");
          r.port = std::atoi(manifest["spec"]["env"].value("REPLICA_PORT", "0").c_str());
        }
        if (manifest.is_object() && manifest.contains("spec")) r.shape = ShapeOf(s->m.spec, manifest["spec"]);
        r.created_wall_ms = clock_.NowMs();
        s->replicas.push_back(r);
        try {
          s->next_replica = std::max(s->next_replica, std::stoi(j.name.substr(prefix.size())) + 1);
        } catch (...) {
        }
      }
    }
    services_[key] = std::move(s);
  }
  return Status::Ok();
}

ServiceManager::Service* ServiceManager::FindLocked(const Principal& who, const std::string& name) {
  std::string key = name;
  if (key.find('/') == std::string::npos) key = who.tenant + "/" + name;
  const auto it = services_.find(key);
  if (it == services_.end() || !who.sees(it->second->tenant)) return nullptr;
  return it->second.get();
}

StatusOr<Json> ServiceManager::Create(const Principal& who, std::string_view manifest) {
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot create services");
  AWAN_ASSIGN_OR_RETURN(config::ServiceManifest m,
                        config::ParseServiceManifest(manifest, "request body", plane_.fleet().fleet));
  const std::string tenant = m.spec.tenant.empty() ? who.tenant : m.spec.tenant;
  if (tenant.empty()) return InvalidArgument("metadata.tenant is required with an admin token");
  if (who.role != Role::kAdmin && tenant != who.tenant)
    return PermissionDenied("forbidden: this token may create services only for tenant " + who.tenant);
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<Service> s, Build(tenant, std::string(manifest), clock_.NowMs()));
  std::lock_guard<std::mutex> l(mu_);
  if (services_.count(s->key))
    return Status(StatusCode::kAlreadyExists, "tenant " + tenant + " already has a service named " + s->name);
  AWAN_RETURN_IF_ERROR(Persist(*s));  // durable before the answer
  Json out = ServiceJson(*s, false);
  services_[s->key] = std::move(s);
  return out;
}

StatusOr<Json> ServiceManager::List(const Principal& who) {
  std::lock_guard<std::mutex> l(mu_);
  Json items = Json::array();
  for (const auto& [key, s] : services_)
    if (who.sees(s->tenant)) items.push_back(ServiceJson(*s, false));
  return Json{{"items", items}};
}

StatusOr<Json> ServiceManager::Describe(const Principal& who, const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  Service* s = FindLocked(who, name);
  if (s == nullptr) return NotFound("no service " + name);
  return ServiceJson(*s, true);
}

StatusOr<Json> ServiceManager::Delete(const Principal& who, const std::string& name) {
  if (!who.can_write()) return PermissionDenied("forbidden: a viewer token cannot delete services");
  std::unique_ptr<Service> gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    Service* s = FindLocked(who, name);
    if (s == nullptr) return NotFound("no service " + name);
    AWAN_RETURN_IF_ERROR(plane_.store().DeleteObject(kKind, s->key));
    const auto it = services_.find(s->key);
    gone = std::move(it->second);
    services_.erase(it);
  }
  ready_cv_.notify_all();
  Json cancelled = Json::array();
  for (const Replica& r : gone->replicas) {
    auto c = plane_.Cancel(system_, r.job_id);
    if (c.ok()) cancelled.push_back(r.job_id);
    std::lock_guard<std::mutex> pl(pool_mu_);
    idle_.erase(r.port);
  }
  return Json{
      {"name", gone->name}, {"tenant", gone->tenant}, {"deleted", true}, {"replicas_cancelled", cancelled}};
}

Json ServiceManager::ServiceJson(const Service& s, bool detail) const {
  int ready = 0, starting = 0, draining = 0;
  for (const Replica& r : s.replicas) {
    if (r.draining)
      ++draining;
    else if (r.ready)
      ++ready;
    else
      ++starting;
  }
  Json out = {{"name", s.name},
              {"tenant", s.tenant},
              {"model", s.m.model.name},
              {"autoscaler", s.m.autoscaler},
              {"router", s.m.router},
              {"time_scale", s.m.time_scale},
              {"created_ms", s.created_ms},
              {"replicas",
               {{"ready", ready},
                {"starting", starting},
                {"draining", draining},
                {"min", s.m.spec.min_replicas},
                {"max", s.m.spec.max_replicas}}},
              {"slo", {{"ttft_ms", s.m.spec.slo.ttft_ms}, {"tpot_ms", s.m.spec.slo.tpot_ms}}},
              {"requests", s.requests},
              {"refused", s.refused()},
              {"failed", s.failed}};
  if (!s.m.image.empty()) {
    out["image"] = {{"name", s.m.image},
                    {"starts_on_warm_node", s.warm_starts},
                    {"starts_that_pulled", s.cold_image_starts},
                    {"prepull", s.m.prepull}};
  }
  out["slo_attainment_pct"] = s.requests > 0
                                  ? Json(100.0 * static_cast<double>(s.met) / static_cast<double>(s.requests))
                                  : Json(nullptr);
  if (!detail) return out;
  Json reps = Json::array();
  for (const Replica& r : s.replicas) {
    reps.push_back({{"job", r.job_id},
                    {"state", r.draining             ? "Draining"
                              : r.ready              ? "Ready"
                              : r.state == "Running" ? "Starting"
                                                     : r.state},
                    {"node", r.node},
                    {"accelerator", r.shape >= 0 ? s.m.spec.shapes[static_cast<size_t>(r.shape)].accelerator
                                                 : std::string()},
                    {"devices", r.devices},
                    {"port", r.port},
                    {"in_flight", r.in_flight},
                    {"cold_start_ms", r.ready_after_ms},
                    {"image", r.warm < 0 ? ""
                              : r.warm   ? "warm"
                                         : "pulled"},
                    {"engine",
                     {{"requests_running", r.engine_running},
                      {"requests_waiting", r.engine_waiting},
                      {"kv_cache_usage", r.kv_usage}}}});
  }
  out["replica_list"] = reps;
  Json decisions = Json::array();
  for (const Decision& d : s.decisions)
    decisions.push_back({{"at_ms", d.at_ms}, {"from", d.from}, {"to", d.to}, {"why", d.why}});
  out["decisions"] = decisions;
  const serving::SloCapacity& cap = s.signals->last_capacity();
  out["capacity"] = {{"rps_per_replica", cap.rps},
                     {"concurrency_per_replica", cap.concurrency},
                     {"long_prompt_tokens", s.signals->long_prompt_tokens()},
                     {"long_prompts_in_time", s.signals->long_prompts_in_time()}};
  return out;
}

void ServiceManager::RefreshReplica(Service& s, Replica& r) {
  auto job = plane_.Get(system_, r.job_id);
  if (!job.ok()) {
    r.state = "Failed";
    return;
  }
  r.state = JobStateName(job->state);
  if (job->state != JobState::kRunning) return;
  if (r.node.empty()) {
    const Json p = Json::parse(job->placement, nullptr, false);
    if (p.is_array() && !p.empty() && p[0].is_object()) {
      r.node = p[0].value("node", "");
      r.devices = p[0].value("devices", "");
    }
  }
  if (r.port == 0 || (r.warm < 0 && !s.m.image.empty())) {
    auto log = plane_.Logs(system_, r.job_id, 0, 0, 0, 4096);
    if (log.ok() && r.port == 0) r.port = PortFromLog(log->data);
    if (log.ok() && r.warm < 0 && !s.m.image.empty()) {  // the executor's first line says (local_executor.h)
      if (log->data.find(kImagePresentNote) != std::string::npos) r.warm = 1;
      if (log->data.find(kImagePullingNote) != std::string::npos) r.warm = 0;
      if (r.warm >= 0) ++(r.warm ? s.warm_starts : s.cold_image_starts);
    }
  }
}

// A replica's engine metrics (vLLM's names): the value of the first sample of `name`, -1 if absent.
double MetricValue(const std::string& text, const std::string& name) {
  for (size_t at = text.find(name); at != std::string::npos; at = text.find(name, at + 1)) {
    if (at > 0 && text[at - 1] != '\n') continue;  // a sample line starts with it (not # HELP or # TYPE)
    const size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end == std::string::npos ? std::string::npos : end - at);
    try {
      return std::stod(line.substr(line.rfind(' ') + 1));
    } catch (...) {
      return -1;
    }
  }
  return -1;
}

// Without the manager's lock (a replica may take its time to answer): readiness of the replicas not yet
// ready (GET /health), and the engine's own view of its load from the ready ones (GET /metrics, once per
// sample period): requests running and waiting in the engine, whoever sent them, and its KV cache usage.
void ServiceManager::RunProbes(std::vector<Probe>& probes) const {
  for (Probe& p : probes) {
    httplib::Client c("127.0.0.1", p.port);
    c.set_connection_timeout(0, 200000);
    c.set_read_timeout(0, 500000);
    auto h = c.Get(p.health ? "/health" : "/metrics", {{"Authorization", "Bearer " + p.api_key}});
    p.at_wall_ms = clock_.NowMs();
    p.ok = h && h->status == 200;
    if (!p.ok || p.health) continue;
    p.running = MetricValue(h->body, "vllm:num_requests_running");
    p.waiting = MetricValue(h->body, "vllm:num_requests_waiting");
    p.kv_usage = MetricValue(h->body, "vllm:gpu_cache_usage_perc");
  }
}

void ServiceManager::ApplyProbe(const Probe& p) {
  auto it = services_.find(p.service);
  if (it == services_.end()) return;
  Service& s = *it->second;
  if (!p.ok) {  // a ready replica whose metrics stopped answering: told at the third miss in a row
    for (Replica& r : s.replicas) {
      if (r.job_id != p.job || r.port != p.port || !r.ready || ++r.failed_scrapes != 3) continue;
      Fact(s, r.job_id,
           fmt::format("health_check_failed service={} replica={} path=/metrics status=none consecutive=3",
                       s.name, r.job_id));
    }
    return;
  }
  for (Replica& r : s.replicas) {
    if (r.job_id != p.job || r.port != p.port) continue;
    if (p.health && !r.ready) {
      r.ready = true;
      s.crashes = 0;
      r.ready_after_ms =
          static_cast<int64_t>(static_cast<double>(p.at_wall_ms - r.created_wall_ms) * s.m.time_scale);
      s.RememberStart(r.ready_after_ms, r.warm == 0);
      ready_cv_.notify_all();
    } else if (!p.health) {
      r.engine_running = p.running, r.engine_waiting = p.waiting, r.kv_usage = p.kv_usage;
      r.scraped_wall_ms = p.at_wall_ms;
      r.failed_scrapes = 0;
    }
  }
}

Status ServiceManager::AddReplica(Service& s) {
  const int k = s.signals->capacity_shape();
  const ReplicaShape& sh = s.m.spec.shapes[static_cast<size_t>(k)];
  const ServedModel& model = s.m.model;
  const double fraction = sh.gpu_milli.value < 1000 ? static_cast<double>(sh.gpu_milli.value) / 1000 : 1.0;
  std::vector<std::string> cmd = {s.m.image.empty() ? kSelfCommand : kImageAwan,
                                  "replica",
                                  "--listen",
                                  "127.0.0.1:0",
                                  "--served-model-name",
                                  s.name,
                                  "--model-name",
                                  model.name,
                                  "--parameters-b",
                                  Num(model.parameters_b),
                                  "--weights-gib",
                                  Num(static_cast<double>(model.weight_bytes) / (1024.0 * 1024 * 1024)),
                                  "--kv-kib-per-token",
                                  std::to_string(model.kv_bytes_per_token / 1024),
                                  "--layers",
                                  std::to_string(std::max(1, model.layers)),
                                  "--accelerator",
                                  sh.accelerator,
                                  "--gpus",
                                  std::to_string(std::max(1, sh.gpus)),
                                  "--gpu-fraction",
                                  Num(fraction),
                                  "--ttft-ms",
                                  std::to_string(s.m.spec.slo.ttft_ms),
                                  "--tpot-ms",
                                  std::to_string(s.m.spec.slo.tpot_ms),
                                  "--time-scale",
                                  Num(s.m.time_scale)};
  if (s.m.modelled_startup) {  // as the simulator counts it with its (default) prefetch: weights from the
                               // node's NVMe, then the engine's init; the image and the scheduling are real
    const serving::ColdStart c =
        serving::EstimateColdStart(true, 0, serving::WeightSource::kNodeNvme, model.weight_bytes);
    cmd.insert(cmd.end(), {"--startup-s", Num(c.weights_s + c.init_s)});
  }
  int port = 0;  // 0: the stand-in picks its own and prints it; a command of one's own is given one
  if (!s.m.command.empty()) {
    AWAN_ASSIGN_OR_RETURN(port, FreeLoopbackPort());
    cmd.clear();
    for (std::string a : s.m.command) {
      for (size_t at; (at = a.find("{port}")) != std::string::npos;) a.replace(at, 6, std::to_string(port));
      cmd.push_back(a);
    }
  }
  Json spec = {{"tasks", 1},
               {"gpus", fraction < 1 ? Json(fraction) : Json(std::max(1, sh.gpus))},
               {"accelerator", sh.accelerator},
               {"cpu", static_cast<double>(sh.cpu.value) / 1000},
               {"memory_gib", static_cast<double>(sh.memory.value) / 1024},
               {"long_running", true},
               {"command", cmd}};
  if (!s.m.spec.reads.empty()) spec["reads"] = s.m.spec.reads;
  // The replica's own key: in its environment (readable only by its uid), never in its arguments.
  std::random_device rd;
  std::string api_key;
  for (int i = 0; i < 4; ++i) api_key += fmt::format("{:016x}", (uint64_t{rd()} << 32) | rd());
  spec["env"] = {{"VLLM_API_KEY", api_key}};
  if (port != 0) spec["env"]["REPLICA_PORT"] = std::to_string(port);
  if (!s.m.image.empty()) spec["image"] = s.m.image;
  const std::string name = fmt::format("svc-{}-r{}", s.name, s.next_replica++);
  const Json manifest = {{"apiVersion", "awan/v1"},
                         {"kind", "Job"},
                         {"metadata", {{"name", name}, {"tenant", s.tenant}}},
                         {"spec", spec}};
  AWAN_ASSIGN_OR_RETURN(StoredJob job, plane_.Submit(system_, manifest.dump(), "service " + s.name));
  Replica r;
  r.job_id = job.id;
  r.api_key = api_key;
  r.port = port;
  r.shape = k;
  r.created_wall_ms = clock_.NowMs();
  s.replicas.push_back(r);
  return Status::Ok();
}

namespace {
// The median of measured cold starts (0 before any): what a service's scaler is told a start takes.
int64_t MedianColdStartMs(std::vector<int64_t> cs) {
  if (cs.empty()) return 0;
  std::nth_element(cs.begin(), cs.begin() + static_cast<long>(cs.size() / 2), cs.end());
  return cs[cs.size() / 2];
}

// The replicas not draining, and of them those started beside unfit ones (a rolling replacement's surge).
struct Standing {
  int alive = 0, surging = 0;
};
template <typename Replicas>
Standing CountStanding(const Replicas& replicas) {
  Standing n;
  for (const auto& r : replicas) n.alive += !r.draining, n.surging += !r.draining && r.surge;
  return n;
}

constexpr size_t kStartsKept = 1000;  // measured cold starts kept per service (the median reads them)
void Keep(std::vector<int64_t>& v, int64_t x) {
  if (v.size() >= kStartsKept) v.erase(v.begin());
  v.push_back(x);
}
}  // namespace

void ServiceManager::Service::RememberStart(int64_t ms, bool pulled) {
  Keep(cold_starts_ms, ms);
  if (pulled) Keep(pulled_starts_ms, ms);
}

// Pre-pulls: the service's image onto the nodes its next replicas would land on (up nodes of its shape with
// room, in its replicas' regions, the fewest slots first), a few seconds apart; the placement then prefers
// them (ImageLocality). As the simulator's forecast-driven prefetch: until the free slots on nodes that hold
// the image (or are pulling it) reach serving::PrefetchWant of its scaler's forecast one pulled start and one
// period ahead (serving::PlanPrefetch).
void ServiceManager::Prepull(Service& s) {
  if (s.m.image.empty() || !s.m.prepull || clock_.NowMs() < s.next_prepull_wall_ms) return;
  std::vector<std::string> near;  // its replicas' regions: where the placement put it for its users and data
  int pending = 0;                // decided, not placed yet
  for (const Replica& r : s.replicas) {
    if (!r.node.empty()) near.push_back(r.node);
    pending += r.node.empty() && !r.draining && !Terminal(r.state);
  }
  if (near.empty()) return;  // nothing placed yet: the first replica shows where (asked again next tick)
  s.next_prepull_wall_ms = clock_.NowMs() + 5000;
  const ReplicaShape& sh = s.m.spec.shapes[static_cast<size_t>(s.signals->capacity_shape())];
  const int alive = CountStanding(s.replicas).alive;
  // One start on a node that must pull (the median of those measured; of all starts before any) and a period.
  const int64_t horizon_ms = serving::PrefetchHorizonMs(
      MedianColdStartMs(s.pulled_starts_ms.empty() ? s.cold_starts_ms : s.pulled_starts_ms),
      s.scaler->period_ms());
  const int want =
      serving::PrefetchWant(s.scaler->ForecastRps(ServiceNowMs(s), horizon_ms),
                            s.signals->last_capacity().rps, alive, pending, s.m.spec.max_replicas);
  const std::vector<ControlPlane::NodeRoom> nodes = plane_.NodesWithRoom(sh, near);
  std::vector<serving::PrefetchNode> room;
  room.reserve(nodes.size());
  for (const ControlPlane::NodeRoom& n : nodes) room.push_back({n.slots, plane_.HasImage(n.name, s.m.image)});
  // A node still pulling is not warm yet, so it is chosen again in its place; the executor runs one pull of
  // an image per node at a time, so asking again costs nothing.
  for (size_t i : serving::PlanPrefetch(room, want)) {
    if (Status st = plane_.Prepull(nodes[i].name, s.m.image); !st.ok()) {
      s.m.prepull = false;  // this executor cannot: stop asking
      break;
    }
  }
}

// Replicas that ended (failed, cancelled by someone) are forgotten; drained ones give their GPUs back. A
// replica that failed before it was ever ready holds the next start back, longer after each (1 s, 2 s, ...
// up to 64 s, as Kubernetes' CrashLoopBackOff does): a broken image or command does not spin.
void ServiceManager::ForgetEnded(Service& s) {
  std::vector<Replica> keep;
  std::vector<int> gone;
  for (Replica& r : s.replicas) {
    if (r.draining && r.in_flight == 0 && !Terminal(r.state))
      (void)plane_.Cancel(system_, r.job_id), r.state = "Cancelled";
    if (!Terminal(r.state)) {
      keep.push_back(r);
      continue;
    }
    gone.push_back(r.port);
    if (r.state != "Failed" || r.draining) continue;
    const int64_t wait_ms = int64_t{1000} << std::min(s.crashes++, 6);
    s.hold_starts_until_wall_ms = clock_.NowMs() + wait_ms;
    Decision d;
    d.at_ms = ServiceNowMs(s);
    d.from = d.to = static_cast<int>(s.replicas.size());
    d.why = fmt::format("replica {} failed{} (awan logs {}); the next start waits {} s", r.job_id,
                        r.ready ? "" : " before it was ready", r.job_id, wait_ms / 1000);
    Fact(s, r.job_id,
         fmt::format("replica_failed service={} replica={} crashes={}: {}", s.name, r.job_id, s.crashes,
                     d.why));
    s.decisions.push_back(d);
    if (s.decisions.size() > kDecisionsKept) s.decisions.pop_front();
  }
  s.replicas = std::move(keep);
  if (!gone.empty()) {  // their kept-alive connections go too (a later replica may bind the same port)
    std::lock_guard<std::mutex> pl(pool_mu_);
    for (int port : gone) idle_.erase(port);
  }
}

void ServiceManager::Fact(const Service& s, const std::string& replica, std::string text) {
  if (diagnoses_ == nullptr) return;
  diagnosis::Signal sig;
  sig.kind = diagnosis::SignalKind::kServing;
  sig.service = s.name, sig.tenant = s.tenant, sig.replica = replica, sig.job = replica;
  sig.text = std::move(text);
  diagnoses_->Add(std::move(sig));
}

// The serving facts the diagnosis reads (catalog/scenarios/serving.yaml): cold starts past their timeout and
// full KV caches per replica; every facts period, refusals since the last check and the SLO attainment over
// the period (at least 20 requests).
void ServiceManager::ReportFacts(Service& s, int64_t now) {
  if (diagnoses_ == nullptr) return;
  for (Replica& r : s.replicas) {
    if (!r.ready && !r.cold_start_reported && r.state == "Running" &&
        clock_.NowMs() - r.created_wall_ms > o_.cold_start_timeout_ms) {
      r.cold_start_reported = true;
      Fact(s, r.job_id,
           fmt::format("cold_start_timeout service={} replica={} node={} not_ready_after_s={} image={}",
                       s.name, r.job_id, r.node, (clock_.NowMs() - r.created_wall_ms) / 1000,
                       r.warm == 1   ? "on-node"
                       : r.warm == 0 ? "pulled"
                                     : "none"));
    }
    if (r.kv_usage >= 0.99 && r.engine_waiting > 0 && now - r.kv_full_reported_ms >= o_.facts_period_ms) {
      r.kv_full_reported_ms = now;
      Fact(s, r.job_id,
           fmt::format("kv_cache_full service={} replica={} kv_usage_pct={:.0f} waiting={:.0f}", s.name,
                       r.job_id, 100 * r.kv_usage, r.engine_waiting));
    }
  }
  if (now < s.next_facts_ms) return;
  s.next_facts_ms = now + o_.facts_period_ms;
  for (size_t k = 0; k < s.refused_by.size(); ++k) {
    const int64_t n = s.refused_by[k] - s.refused_told[k];
    s.refused_told[k] = s.refused_by[k];
    const Refusal& r = kRefusals[k];
    if (n > 0) {
      Fact(
          s, "",
          fmt::format("gateway_refused service={} code={} type={}{}{} refused={}: {}", s.name, r.code, r.type,
                      *r.limit ? " limit=" : "", r.limit, n, fmt::format(fmt::runtime(r.message), s.name)));
    }
  }
  const int64_t requests = s.requests - s.requests_told, met = s.met - s.met_told;
  s.requests_told = s.requests, s.met_told = s.met;
  const double pct = requests > 0 ? 100.0 * static_cast<double>(met) / static_cast<double>(requests) : 100;
  if (requests >= 20 && pct < s.m.spec.slo.attainment_pct) {
    Fact(s, "",
         fmt::format(
             "slo_breach service={} attainment_pct={:.1f} target_pct={:.1f} requests={} ttft_slo_ms={}",
             s.name, pct, s.m.spec.slo.attainment_pct, requests, s.m.spec.slo.ttft_ms));
  }
}

void ServiceManager::TickService(Service& s) {
  Prepull(s);
  ForgetEnded(s);
  const int64_t now = ServiceNowMs(s);
  if (now >= s.next_sample_ms) {
    // Requests in flight: the gateway's count per replica, or the engine's own (running + waiting, from its
    // metrics) when that is higher and fresh: requests that reached it some other way load it too.
    double in_flight = s.waiting;
    int ready = 0;
    const int64_t fresh_wall_ms =
        clock_.NowMs() - static_cast<int64_t>(3.0 * static_cast<double>(o_.sample_ms) / s.m.time_scale);
    for (const Replica& r : s.replicas) {
      double load = r.in_flight;
      if (r.scraped_wall_ms >= fresh_wall_ms && r.engine_running >= 0 && r.engine_waiting >= 0)
        load = std::max(load, r.engine_running + r.engine_waiting);
      in_flight += load;
      ready += r.ready && !r.draining;
    }
    const double secs = s.next_sample_ms == 0
                            ? static_cast<double>(o_.sample_ms) / 1000
                            : static_cast<double>(now - (s.next_sample_ms - o_.sample_ms)) / 1000;
    s.scaler->Observe(s.signals->TakeSample(now, std::max(0.001, secs), in_flight, ready));
    s.next_sample_ms = now + o_.sample_ms;
  }
  ReportFacts(s, now);
  if (now < s.next_decide_ms) return;
  s.next_decide_ms = now + s.scaler->period_ms();
  const Standing standing = CountStanding(s.replicas);
  const int current = serving::CountedReplicas(standing.alive, standing.surging);
  const ScaleBounds b = s.signals->Bounds(MedianColdStartMs(s.cold_starts_ms) + o_.sample_ms);
  TellLongPromptsLate(s, current, now);
  const int desired = s.scaler->Decide(now, current, b);
  // The autoscaler asks for the maximum while requests wait: the service is capped (told once per episode).
  const bool capped = desired >= s.m.spec.max_replicas && s.waiting > 0;
  if (capped && !s.capped_told) {
    Fact(s, "",
         fmt::format("scale_capped service={} desired={} max={} waiting={}", s.name, desired,
                     s.m.spec.max_replicas, s.waiting));
  }
  s.capped_told = capped;
  const bool held = clock_.NowMs() < s.hold_starts_until_wall_ms;
  if (desired != current && !(desired > current && held)) ScaleTo(s, current, desired, b, now);
  if (!held) ReplaceUnfit(s, desired, now);
}

// Once per episode, in the decisions: no usable shape gives the mix's long prompts their first token within
// the TTFT objective (ScaleSignals::long_prompts_in_time), so they miss however many replicas run.
void ServiceManager::TellLongPromptsLate(Service& s, int current, int64_t now) {
  const bool late = !s.signals->long_prompts_in_time();
  if (late && !s.long_prompts_late_told) {
    Decision d;
    d.at_ms = now, d.from = current, d.to = current;
    d.why = s.signals->LongPromptsLateWhy();
    s.decisions.push_back(d);
    if (s.decisions.size() > kDecisionsKept) s.decisions.pop_front();
  }
  s.long_prompts_late_told = late;
}

// Adds replicas up to `desired`, or takes them away: unfit ones first, then those not yet ready (cancelled
// at once), then the ready one with the least outstanding work (drained).
void ServiceManager::ScaleTo(Service& s, int current, int desired, const ScaleBounds& b, int64_t now) {
  Decision d;
  d.at_ms = now, d.from = current, d.to = desired;
  int in_flight = s.waiting;
  for (const Replica& r : s.replicas) in_flight += r.in_flight;
  d.why = fmt::format(
      "{}: {} in flight on {} replicas; one replica sustains {:.2f} requests/s of the mix ({} "
      "sequences) within the SLO",
      s.m.autoscaler, in_flight, current, b.capacity_rps, b.target);
  s.decisions.push_back(d);
  if (s.decisions.size() > kDecisionsKept) s.decisions.pop_front();
  for (int k = current; k < desired; ++k) {
    if (Status st = AddReplica(s); !st.ok()) {
      s.decisions.back().why += " (adding a replica failed: " + st.message() + ")";
      break;
    }
  }
  for (int k = desired; k < current; ++k) {
    Replica* pick = nullptr;
    auto rank = [&](const Replica& r) {  // unfit replicas first
      return std::make_tuple(Fits(s, r), r.ready ? 1 : 0, r.outstanding_tokens);
    };
    for (Replica& r : s.replicas)
      if (!r.draining && (pick == nullptr || rank(r) < rank(*pick))) pick = &r;
    if (pick == nullptr) break;
    pick->draining = true;
  }
}

// Whether a replica's shape fits the mix (one whose shape is not known is left alone).
bool ServiceManager::Fits(const Service& s, const Replica& r) {
  return r.shape < 0 || s.signals->Fits(r.shape);
}

// Replicas on a shape that no longer fits the mix are replaced (serving::PlanReplacement), as the
// simulator does; each step is in the decisions.
void ServiceManager::ReplaceUnfit(Service& s, int desired, int64_t now) {
  int fitting_ready = 0, surging = 0, alive = 0;
  std::vector<Replica*> ready, unready, surge;
  for (Replica& r : s.replicas) {
    if (r.draining) continue;
    ++alive;
    if (r.surge) surge.push_back(&r), ++surging;
    if (Fits(s, r)) {
      fitting_ready += r.ready;
    } else {
      (r.ready ? ready : unready).push_back(&r);
    }
  }
  const serving::ReplacementStep step = serving::PlanReplacement(
      fitting_ready, surging, static_cast<int>(ready.size()), static_cast<int>(unready.size()), desired);
  const std::string from =
      ready.empty() && unready.empty()
          ? ""
          : s.m.spec.shapes[static_cast<size_t>((ready.empty() ? unready : ready)[0]->shape)].accelerator;
  const int cancelled = step.cancel_unready_unfit ? static_cast<int>(unready.size()) : 0;
  for (int k = 0; k < cancelled; ++k) unready[static_cast<size_t>(k)]->draining = true;
  std::sort(ready.begin(), ready.end(),
            [](const Replica* a, const Replica* b) { return a->outstanding_tokens < b->outstanding_tokens; });
  const int drained = std::min(step.drain_ready_unfit, static_cast<int>(ready.size()));
  for (int k = 0; k < drained; ++k) ready[static_cast<size_t>(k)]->draining = true;
  for (int k = 0; k < step.surge_counted && k < static_cast<int>(surge.size()); ++k)
    surge[static_cast<size_t>(k)]->surge = false;
  Status added = Status::Ok();
  if (step.add_surge) {
    added = AddReplica(s);
    if (added.ok()) s.replicas.back().surge = true;
  }
  if (cancelled + drained == 0 && !step.add_surge) return;
  Decision d;
  d.at_ms = now, d.from = alive - surging;
  d.to = d.from - cancelled - drained + step.surge_counted;
  d.why = fmt::format(
      "replacing replicas on {}: the mix needs {} (its long prompts' first token within {} ms); {} drained, "
      "{} cancelled, {}",
      from, s.m.spec.shapes[static_cast<size_t>(s.signals->capacity_shape())].accelerator,
      s.m.spec.slo.ttft_ms, drained, cancelled,
      !step.add_surge ? "none started"
      : added.ok()    ? "one started beside them"
                      : "starting one failed: " + added.message());
  s.decisions.push_back(d);
  if (s.decisions.size() > kDecisionsKept) s.decisions.pop_front();
}

void ServiceManager::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  ready_cv_.notify_all();
}

void ServiceManager::Tick() {
  std::vector<Probe> probes;
  {
    std::lock_guard<std::mutex> l(mu_);
    const int64_t wall = clock_.NowMs();
    const int64_t scrape_ms = std::max<int64_t>(100, o_.sample_ms);
    for (auto& [key, s] : services_) {
      for (Replica& r : s->replicas) {
        if (Terminal(r.state)) continue;
        RefreshReplica(*s, r);
        if (r.port == 0 || r.state != "Running") continue;
        const bool scrape =
            r.ready && wall - r.scraped_wall_ms >=
                           static_cast<int64_t>(static_cast<double>(scrape_ms) / s->m.time_scale);
        if (!r.ready || scrape) probes.push_back({key, r.job_id, r.api_key, r.port, !r.ready});
      }
    }
  }
  RunProbes(probes);
  std::lock_guard<std::mutex> l(mu_);
  for (const Probe& p : probes) ApplyProbe(p);
  for (auto& [key, s] : services_) TickService(*s);
}

// Counts the request, applies admission, and picks a ready replica with the router (waiting up to
// queue_timeout for one): false with `res` answered when the request goes no further.
bool ServiceManager::Admit(const Principal& who, const OpenAiRequest& req, HttpResponse& res,
                           std::string* key_out, std::string* job_out, int* port_out, std::string* api_key,
                           int64_t* prefill) {
  const OpenAiRequest* parsed = &req;
  std::string& key = *key_out;
  std::string& job = *job_out;
  int& port = *port_out;
  std::unique_lock<std::mutex> l(mu_);
  Service* s = FindLocked(who, parsed->model);
  if (s == nullptr)
    return Refuse(res, 404, fmt::format("The model `{}` does not exist.", parsed->model), "NotFoundError");
  key = s->key;
  ++s->requests;
  s->signals->Arrive(static_cast<double>(parsed->prompt_tokens), parsed->max_tokens);
  // Admission: more than twice what the ready replicas sustain within the SLO is refused.
  int ready = 0, in_flight = s->waiting;
  for (const Replica& r : s->replicas) ready += r.ready && !r.draining, in_flight += r.in_flight;
  const int per = std::max(1, s->signals->last_capacity().concurrency);
  if (ready > 0 && in_flight >= 2 * ready * per) {
    return RefuseAs(res, *s, 0);
  }
  if (proxied_.load() >= o_.max_proxied) {
    return RefuseAs(res, *s, 1);
  }
  // A ready replica, chosen by the router (waiting for one up to queue_timeout).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o_.queue_timeout_ms);
  ++s->waiting;
  while (true) {
    const auto it = services_.find(key);
    if (it == services_.end() || stopping_) {
      return Refuse(res, 503, stopping_ ? "the server is stopping" : "the service was deleted",
                    "ServiceUnavailable");
    }
    s = it->second.get();
    std::vector<ReplicaView> views;
    for (size_t i = 0; i < s->replicas.size(); ++i) {
      const Replica& r = s->replicas[i];
      if (!r.ready || r.draining) continue;
      ReplicaView v;
      v.replica = static_cast<uint32_t>(i);
      v.outstanding_tokens = r.outstanding_tokens;
      v.cached_prefix_blocks = r.prefix ? r.prefix->CachedPrefix(parsed->prefix_blocks) : 0;
      views.push_back(v);
    }
    RouteRequest rr;
    rr.prompt_tokens = parsed->prompt_tokens;
    rr.hash_ids = parsed->prefix_blocks;
    if (const std::optional<uint32_t> pick = RouteWith(*s->router, rr, views)) {
      Replica& r = s->replicas[*pick];
      // Its outstanding work, as the simulator's engine counts it: the prompt less what the replica's
      // cache likely holds (the engine's rule), and the answer.
      const int64_t blocks = r.prefix ? r.prefix->CachedPrefix(parsed->prefix_blocks) : 0;
      *prefill = parsed->prompt_tokens - serving::CachedPromptTokens(parsed->prompt_tokens, blocks);
      RememberPrefix(*s, r, parsed->prefix_blocks);
      ++r.in_flight;
      r.outstanding_tokens += *prefill + parsed->max_tokens;
      port = r.port;
      job = r.job_id;
      *api_key = r.api_key;
      --s->waiting;
      break;
    }
    if (ready_cv_.wait_until(l, deadline) == std::cv_status::timeout) {
      if (auto again = services_.find(key); again != services_.end())
        --again->second->waiting, ++again->second->failed, ++again->second->refused_by[2];
      const Refusal& r = kRefusals[2];  // the service may be gone: not RefuseAs
      return Refuse(res, r.code, r.message, r.type);
    }
  }
  return true;
}

// The gateway does not see the replicas' caches; it remembers what it sent where (as llm-d's and AIBrix's
// prefix-aware routers do): a replica holds the blocks of the prompts routed to it, up to its KV capacity.
void ServiceManager::RememberPrefix(const Service& s, Replica& r, std::span<const uint64_t> blocks) {
  if (blocks.empty()) return;
  if (!r.prefix) {
    const std::vector<serving::ReplicaModel>& models = s.signals->models();
    const int shape = r.shape >= 0 ? r.shape : s.signals->capacity_shape();
    const int64_t tokens = models[static_cast<size_t>(shape)].KvCapacityTokens();
    r.prefix.emplace(static_cast<size_t>(std::max<int64_t>(1, tokens / serving::kKvBlockTokens)));
  }
  r.prefix->Insert(blocks);
}

void ServiceManager::Gateway(HttpRequest& req, HttpResponse& res, bool chat) {
  const Principal& who = Who(req);
  if (!who.can_write())
    return OpenAiFail(res, 403, "forbidden: a viewer token cannot call models", "PermissionError");
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object())
    return OpenAiFail(res, 400, "the body must be a JSON object", "invalid_request_error");
  // With the prompt's KV block hashes, as the stand-in keys its prefix cache: the router's prefix affinity.
  const StatusOr<OpenAiRequest> parsed = ParseOpenAiRequest(body, chat, kMaxTokensLimit, true);
  if (!parsed.ok()) return OpenAiFail(res, 400, parsed.status().message(), "invalid_request_error");
  if (parsed->model.empty())
    return OpenAiFail(res, 400, "model is required: a service's name", "invalid_request_error");
  std::string key, job;
  int port = 0;
  std::string api_key;
  int64_t prefill = 0;  // the prompt tokens its replica will likely prefill (not in its cache)
  if (!Admit(who, *parsed, res, &key, &job, &port, &api_key, &prefill)) return;
  // The replica knows the service by its name (an admin's TENANT/NAME included).
  body["model"] = key.substr(key.find('/') + 1);
  auto out = std::make_shared<ResponseStream>();
  res.status = 200;
  res.content_type = parsed->stream ? "text/event-stream" : "application/json";
  if (parsed->stream) res.set_header("Cache-Control", "no-cache");
  res.stream = out;
  ++proxied_, ++threads_;
  std::thread([this, key, job, port, api_key, b = body.dump(), chat, sse = parsed->stream,
               p = parsed->prompt_tokens, n = parsed->max_tokens, prefill, out]() {
    int64_t left = prefill + n;  // of the replica's outstanding work, not yet handed back
    try {
      Proxy(key, job, port, api_key, b, chat, sse, p, n, &left, out);
    } catch (const std::exception&) {  // never the whole server for one request: it counts as failed
      out->Close();
      Record(key, job, false, -1, 0, left, p, p);
    }
    --proxied_, --threads_;
  }).detach();
}

void ServiceManager::Proxy(const std::string& key, const std::string& job, int port,
                           const std::string& api_key, const std::string& body, bool chat, bool sse,
                           int64_t prompt_tokens, int64_t output_tokens, int64_t* left,
                           const std::shared_ptr<ResponseStream>& out) {
  double scale = 1;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (const auto it = services_.find(key); it != services_.end()) scale = it->second->m.time_scale;
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point first{}, last{};
  int tokens = 0;
  std::string whole;  // a non-streamed answer, to read its timing
  std::string usage;  // a streamed answer's usage event (when the client asked for it)
  bool ok = false;
  if (port != 0) {
    std::unique_ptr<httplib::Client> client = TakeClient(port);
    httplib::Client& c = *client;
    httplib::Request hr;
    hr.method = "POST";
    hr.path = chat ? "/v1/chat/completions" : "/v1/completions";
    hr.body = body;
    hr.set_header("Content-Type", "application/json");
    hr.set_header("Authorization", "Bearer " + api_key);
    std::string pending;
    hr.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
      const std::string_view piece(data, n);
      if (sse) {
        pending.append(piece);
        for (size_t at; (at = pending.find("\n\n")) != std::string::npos;) {
          const std::string event = pending.substr(0, at);
          pending.erase(0, at + 2);
          if (event.rfind("data: ", 0) == 0 && event != "data: [DONE]" &&
              event.find("\"choices\":[]") == std::string::npos) {
            const auto now = std::chrono::steady_clock::now();
            if (tokens++ == 0) first = now, PrefillDone(key, job, left, output_tokens);
            last = now;
          } else if (event.rfind("data: ", 0) == 0 && event.find("\"usage\"") != std::string::npos) {
            usage = event.substr(6);
          }
        }
      } else {
        whole.append(piece);
      }
      return out->Write(std::string(piece));
    };
    httplib::Response resp;
    httplib::Error err;
    ok = c.send(hr, resp, err) && resp.status == 200;
    if (ok) GiveBack(port, std::move(client));  // a failed or cut one is dropped (and its connection closed)
  } else {
    out->Write(sse ? "data: {\"error\": {\"message\": \"the replica went away\"}}\n\n"
                   : "{\"error\": {\"message\": \"the replica went away\"}}\n");
  }
  out->Close();
  // What the request saw, in model time, and the prompt tokens its replica prefilled (all of them unless the
  // answer's usage says what its prefix cache held).
  double ttft_s = -1, tpot_s = 0;
  int64_t prefilled = prompt_tokens;
  if (sse && tokens > 0) {
    ttft_s = std::chrono::duration<double>(first - t0).count() * scale;
    if (tokens > 1) tpot_s = std::chrono::duration<double>(last - first).count() * scale / (tokens - 1);
    if (!usage.empty()) prefilled = AnswerPrefilledTokens(Json::parse(usage, nullptr, false), prompt_tokens);
  } else if (!sse) {
    const Json j = Json::parse(whole, nullptr, false);
    ReadAnswerTiming(j, &ttft_s, &tpot_s);
    prefilled = AnswerPrefilledTokens(j, prompt_tokens);
  }
  Record(key, job, ok, ttft_s, tpot_s, *left, prompt_tokens, prefilled);
}

// A streamed answer's first token: its prompt is prefilled, so its replica's outstanding work keeps only
// the answer (as the simulator's engine counts it).
void ServiceManager::PrefillDone(const std::string& key, const std::string& job, int64_t* left,
                                 int64_t output_tokens) {
  const int64_t done = *left - output_tokens;
  if (done <= 0) return;
  std::lock_guard<std::mutex> l(mu_);
  *left = output_tokens;
  const auto it = services_.find(key);
  if (it == services_.end()) return;
  for (Replica& r : it->second->replicas) {
    if (r.job_id == job && r.in_flight > 0) {
      r.outstanding_tokens -= done;
      break;
    }
  }
}

// A proxied request is over: its replica's load goes down, its outcome counts (model time).
void ServiceManager::Record(const std::string& key, const std::string& job, bool ok, double ttft_s,
                            double tpot_s, int64_t tokens, int64_t prompt, int64_t prefilled) {
  std::lock_guard<std::mutex> l(mu_);
  const auto it = services_.find(key);
  if (it == services_.end()) return;
  Service& s = *it->second;
  for (Replica& r : s.replicas) {
    if (r.job_id == job && r.in_flight > 0) {
      --r.in_flight;
      r.outstanding_tokens -= tokens;
      break;
    }
  }
  // Every request counts in the long-prompt check and the capacity's cached share, failed ones too (a
  // too-slow shape's long prompts may be the ones that fail), as all of their prompt unless the replica said
  // what its cache held.
  if (prompt > 0) s.signals->Prefilled(static_cast<double>(prefilled), static_cast<double>(prompt));
  if (!ok || ttft_s < 0) {
    ++s.failed;
    return;
  }
  s.ttft->Observe(ttft_s);
  if (tpot_s > 0) s.tpot->Observe(tpot_s);
  if (ttft_s * 1000 <= static_cast<double>(s.m.spec.slo.ttft_ms) &&
      tpot_s * 1000 <= static_cast<double>(s.m.spec.slo.tpot_ms))
    ++s.met;
}

std::unique_ptr<httplib::Client> ServiceManager::TakeClient(int port) {
  {
    std::lock_guard<std::mutex> l(pool_mu_);
    auto it = idle_.find(port);
    if (it != idle_.end() && !it->second.empty()) {
      std::unique_ptr<httplib::Client> c = std::move(it->second.back());
      it->second.pop_back();
      return c;
    }
  }
  auto c = std::make_unique<httplib::Client>("127.0.0.1", port);
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);  // else Nagle and delayed ACKs add 40 ms to a request on a kept-alive connection
  c->set_read_timeout(600, 0);
  c->set_connection_timeout(2, 0);
  return c;
}

void ServiceManager::GiveBack(int port, std::unique_ptr<httplib::Client> c) {
  std::lock_guard<std::mutex> l(pool_mu_);
  std::vector<std::unique_ptr<httplib::Client>>& idle = idle_[port];
  if (idle.size() < 64) idle.push_back(std::move(c));
}

std::string ServiceManager::RenderMetrics(const Principal& who) const {
  std::lock_guard<std::mutex> l(mu_);
  std::string out;
  for (const auto& [key, s] : services_) {
    if (!who.sees(s->tenant)) continue;
    const std::string label = fmt::format("tenant=\"{}\",service=\"{}\"", s->tenant, s->name);
    int ready = 0;
    for (const Replica& r : s->replicas) ready += r.ready && !r.draining;
    out += fmt::format("awan_service_requests_total{{{}}} {}\n", label, s->requests);
    out += fmt::format("awan_service_requests_refused_total{{{}}} {}\n", label, s->refused());
    out += fmt::format("awan_service_slo_met_total{{{}}} {}\n", label, s->met);
    out += fmt::format("awan_service_replicas{{{},state=\"ready\"}} {}\n", label, ready);
    out += fmt::format("awan_service_replicas{{{},state=\"all\"}} {}\n", label, s->replicas.size());
    out += fmt::format("awan_service_replica_starts_total{{{},image=\"warm\"}} {}\n", label, s->warm_starts);
    out += fmt::format("awan_service_replica_starts_total{{{},image=\"pulled\"}} {}\n", label,
                       s->cold_image_starts);
    out += s->ttft->Render("awan_service_ttft_seconds",
                           "Time to first token through the gateway (model time).", label);
    out += s->tpot->Render("awan_service_tpot_seconds",
                           "Time per output token through the gateway (model time).", label);
  }
  return out;
}

void ServiceManager::RegisterRoutes(HttpServer& http, const HeaderCheck& authenticated) {
  http.Route(
      "POST", "/v1/services",
      [this](HttpRequest& req, HttpResponse& res) {
        auto s = Create(Who(req), req.body);
        if (!s.ok()) return Fail(res, s.status());
        Reply(res, 201, *s);
      },
      authenticated, config::kMaxManifestBytes);
  http.Route(
      "GET", "/v1/services",
      [this](HttpRequest& req, HttpResponse& res) {
        auto s = List(Who(req));
        if (!s.ok()) return Fail(res, s.status());
        Reply(res, 200, *s);
      },
      authenticated);
  http.Route(
      "GET", "/v1/services/([a-z0-9-]+(/[a-z0-9-]+)?)",
      [this](HttpRequest& req, HttpResponse& res) {
        auto s = Describe(Who(req), req.matches[1]);
        if (!s.ok()) return Fail(res, s.status());
        Reply(res, 200, *s);
      },
      authenticated);
  http.Route(
      "DELETE", "/v1/services/([a-z0-9-]+(/[a-z0-9-]+)?)",
      [this](HttpRequest& req, HttpResponse& res) {
        auto s = Delete(Who(req), req.matches[1]);
        if (!s.ok()) return Fail(res, s.status());
        Reply(res, 200, *s);
      },
      authenticated);
  http.Route(
      "POST", "/v1/chat/completions",
      [this](HttpRequest& req, HttpResponse& res) { Gateway(req, res, true); }, authenticated, 4 << 20);
  http.Route(
      "POST", "/v1/completions", [this](HttpRequest& req, HttpResponse& res) { Gateway(req, res, false); },
      authenticated, 4 << 20);
  http.Route(
      "GET", "/v1/models",
      [this](HttpRequest& req, HttpResponse& res) {
        const Principal& who = Who(req);
        Json data = Json::array();
        std::lock_guard<std::mutex> l(mu_);
        for (const auto& [key, s] : services_) {
          if (!who.sees(s->tenant)) continue;
          data.push_back({{"id", who.role == Role::kAdmin ? s->key : s->name},
                          {"object", "model"},
                          {"created", s->created_ms / 1000},
                          {"owned_by", s->tenant}});
        }
        Reply(res, 200, Json{{"object", "list"}, {"data", data}});
      },
      authenticated);
}

}  // namespace awan::server
