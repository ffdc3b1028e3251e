#include "server/http_api.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "config/job_manifest.h"
#include "server/diagnoses.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/services.h"
#include "server/ui.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;

Json JobJson(const StoredJob& j, bool with_manifest = true) {
  Json out = {{"id", j.id},
              {"name", j.name},
              {"tenant", j.tenant},
              {"user", j.user},
              {"state", JobStateName(j.state)},
              {"message", j.message},
              {"created_ms", j.created_ms},
              {"updated_ms", j.updated_ms}};
  if (j.exit_code >= 0) out["exit_code"] = j.exit_code;
  out["runs"] = j.runs;
  out["restarts"] = std::max(0, j.runs - 1);
  // Accounting: GPU-hours and cost of its runs (the running one up to now).
  if (j.started_ms > 0) out["started_ms"] = j.started_ms;
  if (j.ended_ms > 0) out["ended_ms"] = j.ended_ms;
  out["gpu_hours"] = static_cast<double>(j.gpu_ms) / 3.6e6;
  out["cost_usd"] = j.cost_usd;
  out["placement"] = j.placement.empty() ? Json::array() : Json::parse(j.placement, nullptr, false);
  Json manifest = Json::parse(j.manifest, nullptr, false);
  // The shape at a glance (lists show it without the manifest).
  if (manifest.is_object() && manifest.contains("spec") && manifest["spec"].is_object()) {
    const Json& spec = manifest["spec"];
    out["tasks"] = spec.value("tasks", 1);
    if (spec.contains("gpus") && spec["gpus"].is_number()) out["gpus"] = spec["gpus"];
    if (spec.contains("accelerator") && spec["accelerator"].is_string())
      out["accelerator"] = spec["accelerator"];
  }
  if (with_manifest) {
    out["manifest"] = std::move(manifest);
    // Its history (submitted, held, started where, stopped why, ended), oldest first.
    const Json events = j.events.empty() ? Json::array() : Json::parse(j.events, nullptr, false);
    out["events"] = events.is_array() ? events : Json::array();
  }
  return out;
}

void Reply(HttpResponse& res, int code, const Json& body) {
  res.status = code;
  res.set_content(body.dump() + "\n", "application/json");
}

void Error(HttpResponse& res, int code, const std::string& message) {
  Reply(res, code, Json{{"error", message}});
}

// The HTTP status for a Status from the control plane.
int HttpCode(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument) return 400;
  if (s.code() == StatusCode::kNotFound) return 404;
  if (s.code() == StatusCode::kResourceExhausted) return 429;
  if (s.code() == StatusCode::kUnauthenticated) return 401;
  if (s.code() == StatusCode::kPermissionDenied) return 403;
  if (s.code() == StatusCode::kFailedPrecondition) return 409;
  return 500;
}

// Answers a failed call: its status as an HTTP code and a JSON error (429 with Retry-After).
void Fail(HttpResponse& res, const Status& s) {
  const int code = HttpCode(s);
  if (code == 429) res.set_header("Retry-After", "1");
  Error(res, code, s.message());
}

// The principal the route's header check authenticated.
const Principal& Who(const HttpRequest& req) { return std::any_cast<const Principal&>(req.context); }

// The query parameters of POST /v1/jobs (OptionsOf, SubmitArray, the dry run).
Json SubmitParameters() {
  return Json::array({{{"name", "dry_run"}, {"in", "query"}, {"schema", {{"type", "boolean"}}}},
                      {{"name", "hold"}, {"in", "query"}, {"schema", {{"type", "boolean"}}}},
                      {{"name", "array"},
                       {"in", "query"},
                       {"description", "a job array: 0-999, 1,3,5-7 or 0-15:4"},
                       {"schema", {{"type", "string"}}}},
                      {{"name", "dependency"},
                       {"in", "query"},
                       {"description", "afterok:ID[:ID...],afterany:ID"},
                       {"schema", {{"type", "string"}}}},
                      {{"name", "priority"}, {"in", "query"}, {"schema", {{"type", "integer"}}}},
                      {{"name", "time_limit"},
                       {"in", "query"},
                       {"description", "replaces spec.time_limit: 90, 30m, 2h, 1d, HH:MM:SS, D-HH:MM:SS"},
                       {"schema", {{"type", "string"}}}}});
}

}  // namespace

// The security scheme and the schemas (Error, Job) the paths refer to.
static Json Components() {
  return Json{{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
              {"schemas",
               {{"Error", {{"type", "object"}, {"properties", {{"error", {{"type", "string"}}}}}}},
                {"Job",
                 {{"type", "object"},
                  {"properties",
                   {{"id", {{"type", "string"}}},
                    {"name", {{"type", "string"}}},
                    {"tenant", {{"type", "string"}}},
                    {"state",
                     {{"type", "string"},
                      {"enum", {"Pending", "Running", "Succeeded", "Failed", "Cancelled", "TimedOut"}}}},
                    {"message", {{"type", "string"}}},
                    {"exit_code", {{"type", "integer"}}},
                    {"created_ms", {{"type", "integer"}}},
                    {"updated_ms", {{"type", "integer"}}},
                    {"placement", {{"type", "array"}, {"items", {{"type", "object"}}}}},
                    {"manifest", {{"type", "object"}}}}}}}}}};
}

// The services API and the OpenAI-compatible gateway (server/services.h).
template <class Ok>
static void AddServicePaths(Json& paths, const Ok& ok, const Json& err) {
  const Json object = {{"type", "object"}};
  const Json openai = {{"required", true}, {"content", {{"application/json", Json::object()}}}};
  paths["/v1/services"] = {
      {"post",
       {{"summary", "Create a service (kind: Service manifest, docs/formats/services.md)"},
        {"requestBody",
         {{"required", true},
          {"content", {{"application/yaml", Json::object()}, {"application/json", Json::object()}}}}},
        {"responses", {{"201", ok(object)}, {"400", err}, {"401", err}, {"403", err}, {"409", err}}}}},
      {"get", {{"summary", "List services"}, {"responses", {{"200", ok(object)}, {"401", err}}}}}};
  paths["/v1/services/{name}"] = {
      {"get",
       {{"summary", "A service: replicas, capacity, scaling decisions, attainment"},
        {"responses", {{"200", ok(object)}, {"401", err}, {"404", err}}}}},
      {"delete",
       {{"summary", "Delete a service: its replicas' jobs are cancelled"},
        {"responses", {{"200", ok(object)}, {"401", err}, {"403", err}, {"404", err}}}}}};
  for (const char* p : {"/v1/chat/completions", "/v1/completions"}) {
    paths[p] = {{"post",
                 {{"summary",
                   "OpenAI-compatible: model = a service of the caller's tenant; stream: server-sent events"},
                  {"requestBody", openai},
                  {"responses",
                   {{"200", {{"description", "application/json, or text/event-stream when streamed"}}},
                    {"400", err},
                    {"401", err},
                    {"404", err},
                    {"429", err},
                    {"503", err}}}}}};
  }
  paths["/v1/models"] = {{"get",
                          {{"summary", "The caller's services, as OpenAI models"},
                           {"responses", {{"200", ok(object)}, {"401", err}}}}}};
}

static void AddPathParameters(Json& paths);

// The operator's node paths (server/node_admin.cc).
template <class Ok>
static void AddNodePaths(Json& paths, const Ok& ok, const Json& err) {
  const Json more = {
      {"/v1/nodes/{id}", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"404", err}}}}}}},
      {"/v1/nodes/{id}/cordon",
       {{"post",
         {{"summary", "No new work on the node; what runs there keeps running (admin; body {reason})"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"403", err}, {"404", err}}}}}}},
      {"/v1/nodes/{id}/drain",
       {{"post",
         {{"summary", "Cordon, and requeue its jobs from their last checkpoint (admin; body {reason})"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"403", err}, {"404", err}}}}}}},
      {"/v1/nodes/{id}/uncordon",
       {{"post",
         {{"summary", "Work again, every GPU back in service (admin)"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"403", err}, {"404", err}}}}}}},
      {"/v1/nodes/{id}/gpus/{gpu}/unhealthy",
       {{"post",
         {{"summary", "Take one GPU out of service; the jobs on it requeue (admin)"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"403", err}, {"404", err}}}}}}},
      {"/v1/nodes/{id}/gpus/{gpu}/healthy",
       {{"post",
         {{"summary", "Put a GPU back in service (admin)"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"403", err}, {"404", err}}}}}}}};
  for (const auto& [path, item] : more.items()) paths[path] = item;
}

// The fleet's paths: queues and their history, tenants, the audit log and its check, who the token is.
template <class Ok>
static void AddFleetPaths(Json& paths, const Ok& ok, const Json& err) {
  const Json more = {
      {"/v1/queues", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
      {"/v1/audit",
       {{"get",
         {{"summary", "The hash-chained audit log of placement decisions (JSON lines, admin)"},
          {"responses", {{"200", {{"description", "application/x-ndjson"}}}, {"401", err}, {"403", err}}}}}}},
      {"/v1/tenants", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
      {"/v1/queues/history",
       {{"get",
         {{"summary", "Per tenant: waiting jobs and GPUs allocated, sampled every 10 s over the last hour"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
      {"/v1/audit/verify",
       {{"get",
         {{"summary", "The whole audit log checked: hash chain, links, placements against the fleet (admin)"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"401", err}, {"403", err}}}}}}},
      {"/v1/jobs/{id}/hold",
       {{"post",
         {{"summary", "Hold a waiting job back (it is not scheduled until released)"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"404", err}, {"409", err}}}}}}},
      {"/v1/jobs/{id}/priority",
       {{"post",
         {{"summary", "Set a job's priority within its tenant: {\"priority\": N}, higher first"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"400", err}, {"404", err}, {"409", err}}}}}}},
      {"/v1/jobs/{id}/release",
       {{"post",
         {{"summary", "Release a held job"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"404", err}, {"409", err}}}}}}},
      {"/v1/usage",
       {{"get",
         {{"summary", "GPU-hours and cost per tenant and region of the jobs that ran since ?since_ms="},
          {"responses", {{"200", ok({{"type", "object"}})}, {"400", err}, {"401", err}, {"429", err}}}}}}},
      {"/v1/whoami",
       {{"get",
         {{"summary", "The caller's tenant and role"},
          {"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}}};
  for (const auto& [path, item] : more.items()) paths[path] = item;
}

std::string OpenApiDocument() {
  Json job_ref = {{"$ref", "#/components/schemas/Job"}};
  Json err = {{"description", "error"},
              {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  auto ok = [&](const Json& schema) {
    return Json{{"description", "OK"}, {"content", {{"application/json", {{"schema", schema}}}}}};
  };
  Json doc = {
      {"openapi", "3.0.3"},
      {"info", {{"title", "awan control plane"}, {"version", "v1"}}},
      {"components", Components()},
      {"security", Json::array({{{"bearer", Json::array()}}})},
      {"paths",
       {{"/v1/healthz",
         {{"get", {{"security", Json::array()}, {"responses", {{"200", ok({{"type", "object"}})}}}}}}},
        {"/v1/readyz",
         {{"get",
           {{"security", Json::array()}, {"responses", {{"200", ok({{"type", "object"}})}, {"503", err}}}}}}},
        {"/v1/jobs",
         {{"post",
           {{"summary", "Submit a job manifest (YAML or JSON, docs/formats/job-manifest.md)"},
            {"parameters", SubmitParameters()},
            {"requestBody",
             {{"required", true},
              {"content", {{"application/yaml", Json::object()}, {"application/json", Json::object()}}}}},
            {"responses", {{"201", ok(job_ref)}, {"400", err}, {"401", err}, {"403", err}, {"413", err}}}}},
          {"get",
           {{"summary", "List jobs"},
            {"parameters",
             Json::array({{{"name", "state"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                          {{"name", "tenant"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                          {{"name", "after"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                          {{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}}}},
                          {{"name", "view"},
                           {"in", "query"},
                           {"description", "summary: without each job's manifest"},
                           {"schema", {{"type", "string"}}}}})},
            {"responses",
             {{"200",
               ok({{"type", "object"},
                   {"properties",
                    {{"items", {{"type", "array"}, {"items", job_ref}}}, {"next", {{"type", "string"}}}}}})},
              {"400", err},
              {"401", err}}}}}}},
        {"/v1/jobs/{id}",
         {{"get", {{"responses", {{"200", ok(job_ref)}, {"401", err}, {"404", err}}}}},
          {"delete", {{"responses", {{"200", ok(job_ref)}, {"401", err}, {"403", err}, {"404", err}}}}}}},
        {"/v1/jobs/{id}/cancel",
         {{"post", {{"responses", {{"200", ok(job_ref)}, {"401", err}, {"403", err}, {"404", err}}}}}}},
        {"/v1/jobs/{id}/requeue",
         {{"post",
           {{"summary", "Stop a running job and queue it again; it restarts from its last checkpoint"},
            {"responses", {{"200", ok(job_ref)}, {"404", err}, {"409", err}}}}}}},
        {"/v1/jobs/{id}/logs",
         {{"get",
           {{"summary",
             "A window of a task's log: ?task=N&run=K&offset=B&limit=B (run: the k-th of a task that ran "
             "more than once, default the last; offset < 0: from the end); headers X-Log-Offset, X-Log-Size, "
             "X-Log-Start (bytes before it were dropped by the server's log cap)"},
            {"responses", {{"200", {{"description", "text/plain"}}}, {"404", err}, {"429", err}}}}}}},
        {"/v1/jobs/{id}/explain",
         {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"404", err}, {"409", err}}}}}}},
        {"/v1/nodes", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
        {"/v1/nodes/{id}/heartbeat",
         {{"post",
           {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}, {"403", err}, {"404", err}}}}}}},
        {"/metrics",
         {{"get",
           {{"responses",
             {{"200", {{"description", "Prometheus text (other tenants' series for admins only)"}}},
              {"401", err}}}}}}}}}};
  AddServicePaths(doc["paths"], ok, err);
  AddNodePaths(doc["paths"], ok, err);
  AddFleetPaths(doc["paths"], ok, err);
  AddPathParameters(doc["paths"]);
  return doc.dump(1);
}

// Each path's {id} or {name} as a parameter of its operations.
static void AddPathParameters(Json& paths) {
  for (auto& [path, item] : paths.items()) {
    for (auto& [method, op] : item.items()) {
      if (!op.contains("responses")) continue;
      if (path.find("{name}") != std::string::npos) {
        op["parameters"] = Json::array(
            {{{"name", "name"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
      }
      if (path.find("{id}") != std::string::npos) {
        op["parameters"] = Json::array(
            {{{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
      }
    }
  }
}

namespace {

// The probes and the API document: no token.
void RegisterProbes(HttpServer& http, ControlPlane& cp) {
  http.Route("GET", "/v1/healthz", [](HttpRequest&, HttpResponse& res) {
    Reply(res, 200, {{"status", "ok"}});
  });
  http.Route("GET", "/v1/readyz", [&cp](HttpRequest&, HttpResponse& res) {
    if (cp.ready()) {
      Reply(res, 200, {{"status", "ready"}});
    } else {
      Error(res, 503, "recovering state");
    }
  });
  http.Route("GET", "/v1/openapi.json",
             [](HttpRequest&, HttpResponse& res) { res.set_content(OpenApiDocument(), "application/json"); });
}

// POST /v1/jobs?dry_run=true: where the job would start now, or why it would wait; nothing submitted.
void DryRun(ControlPlane& cp, HttpRequest& req, HttpResponse& res) {
  if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
  auto d = cp.DryRun(Who(req), req.body, "request body");
  if (!d.ok()) return Fail(res, d.status());
  Json tasks = Json::array();
  for (const DryRunResult::Task& t : d->tasks)
    tasks.push_back({{"node", t.node}, {"devices", t.devices}, {"region", t.region}});
  Json out = {{"dry_run", true},
              {"tenant", d->tenant},
              {"would_start", d->would_start},
              {"tasks", tasks},
              {"waiting_ahead", d->waiting_ahead}};
  if (!d->would_start) out["reason"] = d->reason;
  Reply(res, 200, out);
}

// ?hold=true, ?dependency=afterok:j-1,..., ?priority=N and ?time_limit=2h of a submit.
StatusOr<SubmitOptions> OptionsOf(const HttpRequest& req) {
  SubmitOptions o;
  o.hold = req.get_param_value("hold") == "true";
  o.dependency = req.get_param_value("dependency");
  if (req.has_param("priority")) {
    const std::string v = req.get_param_value("priority");
    int64_t p = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
    if (ec != std::errc() || end != v.data() + v.size())
      return InvalidArgument("priority: expected an integer, got '" + v.substr(0, 40) + "'");
    o.priority = p;
  }
  if (req.has_param("time_limit")) {
    AWAN_ASSIGN_OR_RETURN(int64_t limit, config::ParseTimeLimit(req.get_param_value("time_limit")));
    o.time_limit_s = limit;
  }
  return o;
}

// POST /v1/jobs?array=0-999: a job array in one request (sbatch --array): every job, without manifests.
void SubmitArray(ControlPlane& cp, HttpRequest& req, HttpResponse& res) {
  auto indices = config::ParseArraySpec(req.get_param_value("array"));
  if (!indices.ok()) return Fail(res, indices.status());
  auto options = OptionsOf(req);
  if (!options.ok()) return Fail(res, options.status());
  auto jobs = cp.SubmitArray(Who(req), req.body, "request body", *indices, *options);
  if (!jobs.ok()) return Fail(res, jobs.status());
  Json items = Json::array();
  for (const StoredJob& j : *jobs) items.push_back(JobJson(j, false));
  Reply(res, 201, {{"count", items.size()}, {"items", items}});
}

// GET /v1/jobs?state=&tenant=&after=&limit=: a page of jobs, with the id to continue after ("next").
void ListJobs(ControlPlane& cp, HttpRequest& req, HttpResponse& res) {
  JobFilter f;
  if (req.has_param("state")) {
    f.state = ParseJobState(req.get_param_value("state"));
    if (!f.state) {
      return Error(
          res, 400,
          "state: expected one of Pending, Running, Succeeded, Failed, Cancelled, TimedOut (any case)");
    }
  }
  f.tenant = req.get_param_value("tenant");
  f.after_id = req.get_param_value("after");
  if (req.has_param("limit")) {
    try {
      f.limit = std::stoi(req.get_param_value("limit"));
    } catch (...) {
      return Error(res, 400, "limit: expected an integer");
    }
  }
  if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
  auto jobs = cp.List(Who(req), f);
  if (!jobs.ok()) return Fail(res, jobs.status());
  Json items = Json::array();
  const bool summary = req.get_param_value("view") == "summary";
  for (const StoredJob& j : *jobs) items.push_back(JobJson(j, !summary));
  Json out = {{"items", items}};
  if (static_cast<int>(jobs->size()) == std::clamp(f.limit, 1, 1000) && !jobs->empty())
    out["next"] = jobs->back().id;
  Reply(res, 200, out);
}

// {"priority": N}: a job's priority within its tenant (scontrol update priority=).
void SetPriority(ControlPlane& cp, HttpRequest& req, HttpResponse& res) {
  const Json body = Json::parse(req.body, nullptr, false);
  if (!body.is_object() || body.size() != 1 || !body.contains("priority") ||
      !body["priority"].is_number_integer())
    return Fail(res, InvalidArgument("the body must be a JSON object: {\"priority\": INTEGER}"));
  const Json& v = body["priority"];  // a huge unsigned number stays huge (and out of range)
  const int64_t priority =
      v.is_number_unsigned()
          ? static_cast<int64_t>(std::min<uint64_t>(v.get<uint64_t>(), std::numeric_limits<int64_t>::max()))
          : v.get<int64_t>();
  auto job = cp.SetPriority(Who(req), req.matches[1], priority);
  if (!job.ok()) return Fail(res, job.status());
  Reply(res, 200, JobJson(*job));
}

// Jobs: submit, list, get, cancel, explain, logs.
void RegisterJobRoutes(HttpServer& http, ControlPlane& cp, const HeaderCheck& authenticated) {
  auto get = [&http, &authenticated](const std::string& path, HttpHandler h) {
    http.Route("GET", path, std::move(h), authenticated);
  };
  http.Route(
      "POST", "/v1/jobs",
      [&cp](HttpRequest& req, HttpResponse& res) {
        if (req.get_param_value("dry_run") == "true") return DryRun(cp, req, res);
        if (req.has_param("array")) return SubmitArray(cp, req, res);
        auto options = OptionsOf(req);
        if (!options.ok()) return Fail(res, options.status());
        auto job = cp.Submit(Who(req), req.body, "request body", *options);
        if (!job.ok()) return Fail(res, job.status());
        Reply(res, 201, JobJson(*job));
      },
      authenticated, config::kMaxManifestBytes);
  get("/v1/jobs", [&cp](HttpRequest& req, HttpResponse& res) { ListJobs(cp, req, res); });
  get(R"(/v1/jobs/([^/]+))", [&cp](HttpRequest& req, HttpResponse& res) {
    auto job = cp.Get(Who(req), req.matches[1]);
    if (!job.ok()) return Fail(res, job.status());
    Reply(res, 200, JobJson(*job));
  });
  auto cancel = [&cp](HttpRequest& req, HttpResponse& res) {
    auto job = cp.Cancel(Who(req), req.matches[1]);
    if (!job.ok()) return Fail(res, job.status());
    Reply(res, 200, JobJson(*job));
  };
  http.Route("POST", R"(/v1/jobs/([^/]+)/cancel)", cancel, authenticated);
  for (const char* op : {"hold", "release"}) {
    http.Route(
        "POST", std::string(R"(/v1/jobs/([^/]+)/)") + op,
        [&cp, hold = std::string(op) == "hold"](HttpRequest& req, HttpResponse& res) {
          auto job = hold ? cp.Hold(Who(req), req.matches[1]) : cp.Release(Who(req), req.matches[1]);
          if (!job.ok()) return Fail(res, job.status());
          Reply(res, 200, JobJson(*job));
        },
        authenticated);
  }
  http.Route(
      "POST", R"(/v1/jobs/([^/]+)/priority)",
      [&cp](HttpRequest& req, HttpResponse& res) { SetPriority(cp, req, res); }, authenticated, 4096);
  http.Route(
      "POST", R"(/v1/jobs/([^/]+)/requeue)",
      [&cp](HttpRequest& req, HttpResponse& res) {
        auto job = cp.Requeue(Who(req), req.matches[1]);
        if (!job.ok()) return Fail(res, job.status());
        Reply(res, 200, JobJson(*job));
      },
      authenticated);
  http.Route("DELETE", R"(/v1/jobs/([^/]+))", cancel, authenticated);
  get(R"(/v1/jobs/([^/]+)/explain)", [&cp](HttpRequest& req, HttpResponse& res) {
    if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
    auto ex = cp.Explain(Who(req), req.matches[1]);
    if (!ex.ok()) return Fail(res, ex.status());
    Reply(res, 200, ToJson(*ex));
  });
  get(R"(/v1/jobs/([^/]+)/logs)", [&cp](HttpRequest& req, HttpResponse& res) {
    int task = 0, run = 0;
    int64_t offset = 0, limit = kMaxLogChunk;
    try {
      if (req.has_param("task")) task = std::stoi(req.get_param_value("task"));
      if (req.has_param("run")) run = std::stoi(req.get_param_value("run"));
      if (req.has_param("offset")) offset = std::stoll(req.get_param_value("offset"));
      if (req.has_param("limit")) limit = std::stoll(req.get_param_value("limit"));
    } catch (...) {
      return Error(res, 400, "task, run, offset, limit: expected integers");
    }
    if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
    auto chunk = cp.Logs(Who(req), req.matches[1], task, run, offset, limit);
    if (!chunk.ok()) return Fail(res, chunk.status());
    res.set_header("X-Log-Offset", std::to_string(chunk->offset));
    res.set_header("X-Log-Size", std::to_string(chunk->size));
    res.set_header("X-Log-Start", std::to_string(chunk->start));
    res.set_content(std::move(chunk->data), "text/plain");
  });
}

// A node for the API: its place, what it offers, its hold; `detail`: per device and the jobs there.
Json NodeJson(const Fleet& fleet, const NodeStatus& s, bool detail) {
  NodeIndex idx;
  fleet.FindNode(s.name, &idx);
  const NodeSpec& n = fleet.node(idx);
  Json unhealthy = Json::array();
  for (int d = 0; d < n.gpu_count; ++d)
    if (s.hold.unhealthy_gpus & (uint32_t{1} << d)) unhealthy.push_back(d);
  Json j = {{"name", s.name},
            {"accelerator", n.model == kNoAccelerator ? "" : fleet.models().Name(n.model)},
            {"gpus", n.gpu_count},
            {"gpus_free", static_cast<double>(s.free_milli) / 1000.0},
            {"up", s.schedulable()},
            {"state", s.down            ? "down"
                      : s.hold.cordoned ? "cordoned"
                                        : "ready"},
            {"unhealthy_gpus", unhealthy},
            {"region", fleet.topology().DomainName(TopologyLevel::kRegion, fleet.region_of(idx))},
            {"zone", fleet.topology().DomainName(TopologyLevel::kZone, n.topology.at(TopologyLevel::kZone))},
            {"supernode", fleet.topology().DomainName(TopologyLevel::kSupernode,
                                                      n.topology.at(TopologyLevel::kSupernode))}};
  if (!s.hold.empty())
    j["hold"] = {{"reason", s.hold.reason}, {"by", s.hold.by}, {"since_s", s.hold.since_s}};
  if (detail) {
    Json devices = Json::array();
    for (size_t d = 0; d < s.device_free_milli.size(); ++d)
      devices.push_back({{"index", d},
                         {"free", static_cast<double>(s.device_free_milli[d]) / 1000.0},
                         {"healthy", (s.hold.unhealthy_gpus & (uint32_t{1} << d)) == 0}});
    j["devices"] = devices;
    j["jobs"] = s.jobs;
  }
  return j;
}

// One node, and an operator's changes to it (admins; server/node_admin.cc).
void RegisterNodeRoutes(HttpServer& http, ControlPlane& cp, const HeaderCheck& authenticated) {
  auto get = [&http, &authenticated](const std::string& path, HttpHandler h) {
    http.Route("GET", path, std::move(h), authenticated);
  };
  get(R"(/v1/nodes/([^/]+))", [&cp](HttpRequest& req, HttpResponse& res) {
    StatusOr<NodeStatus> n = cp.Node(Who(req), req.matches[1]);
    if (!n.ok()) return Fail(res, n.status());
    Reply(res, 200, NodeJson(cp.fleet().fleet, *n, true));
  });
  // An operator's change: {"reason": "..."} (optional).
  auto change = [&cp](HttpRequest& req, HttpResponse& res, const std::string& node,
                      const std::string& op_name, int gpu) {
    const std::optional<NodeOp> op = ParseNodeOp(op_name);
    std::string reason;
    if (!req.body.empty()) {
      const Json body = Json::parse(req.body, nullptr, false);
      if (!body.is_object() || (body.contains("reason") && !body["reason"].is_string()))
        return Fail(res, InvalidArgument("the body must be a JSON object: {\"reason\": \"...\"}"));
      reason = body.value("reason", "");
    }
    StatusOr<NodeStatus> n = cp.ChangeNode(Who(req), node, *op, gpu, reason);
    if (!n.ok()) return Fail(res, n.status());
    Reply(res, 200, NodeJson(cp.fleet().fleet, *n, true));
  };
  http.Route(
      "POST", R"(/v1/nodes/([^/]+)/(cordon|drain|uncordon))",
      [change](HttpRequest& req, HttpResponse& res) { change(req, res, req.matches[1], req.matches[2], -1); },
      authenticated, 4096);
  http.Route(
      "POST", R"(/v1/nodes/([^/]+)/gpus/([0-9]{1,2})/(unhealthy|healthy))",
      [change](HttpRequest& req, HttpResponse& res) {
        change(req, res, req.matches[1], "gpu-" + std::string(req.matches[3]), std::stoi(req.matches[2]));
      },
      authenticated, 4096);
}

// What the dashboard needed besides the rest: who the token is, the queues over time, the audit chain's
// check.
void RegisterDashboardRoutes(HttpServer& http, ControlPlane& cp, const HeaderCheck& authenticated) {
  auto get = [&http, &authenticated](const std::string& path, HttpHandler h) {
    http.Route("GET", path, std::move(h), authenticated);
  };
  get("/v1/queues/history", [&cp](HttpRequest& req, HttpResponse& res) {
    const ControlPlane::QueueHistory h = cp.History(Who(req));
    Json t_s = Json::array(), tenants = Json::array();
    for (int64_t t : h.t_ms) t_s.push_back(static_cast<double>(t) / 1000.0);
    for (const ControlPlane::QueueHistory::Series& s : h.tenants) {
      Json gpus = Json::array();
      for (int64_t g : s.gpus_milli) gpus.push_back(static_cast<double>(g) / 1000.0);
      tenants.push_back({{"name", s.tenant}, {"waiting", s.waiting}, {"gpus", gpus}});
    }
    Reply(res, 200,
          {{"t_s", t_s}, {"tenants", tenants}, {"sample_every_s", ControlPlane::kQueueSampleMs / 1000}});
  });
  get("/v1/audit/verify", [&cp](HttpRequest& req, HttpResponse& res) {
    if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
    auto r = cp.VerifyAudit(Who(req));
    // A log that does not verify is the answer; a refusal or a store that could not be read is an error.
    const bool unverified = !r.ok() && (r.status().code() == StatusCode::kDataLoss ||
                                        r.status().code() == StatusCode::kInvalidArgument ||
                                        r.status().code() == StatusCode::kNotFound);
    if (!r.ok() && !unverified) return Fail(res, r.status());
    if (!r.ok()) return Reply(res, 200, {{"ok", false}, {"error", r.status().message()}});
    Reply(res, 200, {{"ok", true}, {"entries", r->entries}, {"head", r->head}});
  });
  get("/v1/usage", [&cp](HttpRequest& req, HttpResponse& res) {
    int64_t since_ms = 0;
    try {
      if (req.has_param("since_ms")) since_ms = std::stoll(req.get_param_value("since_ms"));
    } catch (...) {
      return Error(res, 400, "since_ms: expected an integer (ms since the epoch)");
    }
    if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
    auto rows = cp.Usage(Who(req), since_ms);
    if (!rows.ok()) return Fail(res, rows.status());
    Json items = Json::array();
    for (const ControlPlane::UsageRow& r : *rows)
      items.push_back({{"tenant", r.tenant},
                       {"region", r.region},
                       {"jobs", r.jobs},
                       {"gpu_hours", static_cast<double>(r.gpu_ms) / 3.6e6},
                       {"cost_usd", r.cost_usd}});
    Reply(res, 200, {{"items", items}, {"since_ms", since_ms}});
  });
  get("/v1/whoami", [](HttpRequest& req, HttpResponse& res) {
    const Principal& who = Who(req);
    Reply(res, 200, {{"tenant", who.tenant}, {"role", RoleName(who.role)}, {"user", who.user}});
  });
}

// The fleet: nodes, queues, audit, tenants, metrics.
void RegisterFleetRoutes(HttpServer& http, ControlPlane& cp, const HeaderCheck& authenticated,
                         const Metrics& metrics) {
  auto get = [&http, &authenticated](const std::string& path, HttpHandler h) {
    http.Route("GET", path, std::move(h), authenticated);
  };
  get("/v1/nodes", [&cp](HttpRequest& req, HttpResponse& res) {
    Json items = Json::array();
    for (const NodeStatus& n : cp.Nodes(Who(req))) items.push_back(NodeJson(cp.fleet().fleet, n, false));
    Reply(res, 200, {{"items", items}});
  });
  RegisterNodeRoutes(http, cp, authenticated);
  RegisterDashboardRoutes(http, cp, authenticated);
  http.Route(
      "POST", R"(/v1/nodes/([^/]+)/heartbeat)",
      [&cp](HttpRequest& req, HttpResponse& res) {
        if (Status s = cp.Heartbeat(Who(req), req.matches[1]); !s.ok()) return Fail(res, s);
        Reply(res, 200, {{"node", req.matches[1]}, {"status", "alive"}});
      },
      authenticated, 4096);
  get("/v1/queues", [&cp](HttpRequest& req, HttpResponse& res) {
    Json items = Json::array();
    for (const ControlPlane::QueueView& q : cp.Queues(Who(req))) {
      items.push_back({{"tenant", q.tenant}, {"waiting", q.waiting}, {"running", q.running}});
    }
    Reply(res, 200, {{"items", items}});
  });
  get("/v1/audit", [&cp](HttpRequest& req, HttpResponse& res) {
    int64_t after = 0;
    int limit = 1000;
    try {
      if (req.has_param("after")) after = std::stoll(req.get_param_value("after"));
      if (req.has_param("limit")) limit = std::stoi(req.get_param_value("limit"));
    } catch (...) {
      return Error(res, 400, "after, limit: expected integers");
    }
    if (Status s = cp.ChargeHeavyRead(Who(req)); !s.ok()) return Fail(res, s);
    auto lines = cp.Audit(Who(req), after, limit);
    if (!lines.ok()) return Fail(res, lines.status());
    std::string body;
    for (const std::string& l : *lines) body += l + "\n";
    res.set_content(body, "application/x-ndjson");
  });
  get("/v1/tenants", [&cp](HttpRequest& req, HttpResponse& res) {
    const Principal& who = Who(req);
    Json items = Json::array();
    const auto load = cp.TenantLoad();
    for (const TenantSpec& t : cp.fleet().tenants) {
      if (!who.sees(t.name)) continue;
      auto it = load.find(t.name);
      items.push_back(
          {{"name", t.name},
           {"guaranteed_gpus", t.guaranteed_gpus},
           {"cohort", t.cohort},
           {"jobs_waiting", it == load.end() ? 0 : it->second.first},
           {"gpus_allocated", it == load.end() ? 0.0 : static_cast<double>(it->second.second) / 1000.0}});
    }
    Reply(res, 200, {{"items", items}});
  });
  // Metrics need a token too; a tenant's token sees the fleet-wide series and its own tenant's, never
  // others'.
  get("/metrics", [&cp, &metrics](HttpRequest& req, HttpResponse& res) {
    res.set_content(metrics.Render(cp, Who(req)), "text/plain; version=0.0.4");
  });
}

}  // namespace

// Diagnosis: signals from node agents and Alertmanager in (admin), diagnoses out (each caller sees its own).
void RegisterDiagnosisRoutes(HttpServer& http, DiagnosisHub& hub, const HeaderCheck& authenticated) {
  auto post = [&http, &authenticated](const std::string& path, auto add) {
    http.Route(
        "POST", path,
        [add](HttpRequest& req, HttpResponse& res) {
          const Principal& who = Who(req);
          if (who.role != Role::kAdmin && who.role != Role::kNode)
            return Error(res, 403, "forbidden: signals need an admin or a node token");
          const Json body = Json::parse(req.body, nullptr, false);
          if (body.is_discarded()) return Error(res, 400, "the body must be JSON");
          if (Status s = add(body, who.role == Role::kNode ? who.tenant : std::string()); !s.ok())
            return Fail(res, s);
          Reply(res, 202, {{"accepted", true}});
        },
        authenticated);
  };
  post("/v1/signals", [&hub](const Json& b, const std::string& node) { return hub.AddJson(b, node); });
  post("/v1/alerts", [&hub](const Json& b, const std::string& node) {
    if (!node.empty()) return PermissionDenied("forbidden: alerts need an admin token");
    return hub.AddAlertmanager(b);
  });
  http.Route(
      "GET", "/v1/diagnoses",
      [&hub](HttpRequest& req, HttpResponse& res) {
        const std::string target = req.has_param("target") ? req.get_param_value("target") : "";
        int64_t since_s = 0;
        if (req.has_param("since_s")) {
          try {
            since_s = std::stoll(req.get_param_value("since_s"));
          } catch (...) {
            return Error(res, 400, "since_s: expected an integer number of seconds");
          }
        }
        Reply(res, 200, hub.Diagnoses(Who(req), target, since_s));
      },
      authenticated);
}

void RegisterRoutes(HttpServer& http, ControlPlane& cp, Authenticator& auth, const Metrics& metrics,
                    ServiceManager* services, DiagnosisHub* diagnoses) {
  // Every route but the probes and the API document: the token is checked before a byte of the body is read.
  const HeaderCheck authenticated = [&cp, &auth](HttpRequest& req, HttpResponse& res) {
    if (!cp.ready()) {  // a standby replica (another one leads) or still recovering: clients go elsewhere or
                        // retry
      Error(res, 503, "not ready: this replica is a standby or is recovering its state");
      return false;
    }
    auto p = auth.Authenticate(req.get_header_value("Authorization"));
    if (!p.ok()) {
      Error(res, p.status().code() == StatusCode::kUnauthenticated ? 401 : 500, p.status().message());
      return false;
    }
    // A node agent's token: its heartbeats and signals only.
    if (p->role == Role::kNode && req.path != "/v1/signals" &&
        req.path != "/v1/nodes/" + p->tenant + "/heartbeat") {
      Error(res, 403, "forbidden: a node token may only send its node's heartbeats and signals");
      return false;
    }
    req.context = *p;
    return true;
  };
  RegisterProbes(http, cp);
  RegisterUiRoutes(http);
  RegisterJobRoutes(http, cp, authenticated);
  RegisterFleetRoutes(http, cp, authenticated, metrics);
  if (services != nullptr) services->RegisterRoutes(http, authenticated);
  if (diagnoses != nullptr) RegisterDiagnosisRoutes(http, *diagnoses, authenticated);
}

}  // namespace awan::server
