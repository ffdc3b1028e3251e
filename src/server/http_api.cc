#include "server/http_api.h"

#include <httplib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "config/job_manifest.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;

Json JobJson(const StoredJob& j) {
  Json out = {{"id", j.id},         {"name", j.name},         {"tenant", j.tenant},   {"state", j.state},
              {"message", j.message}, {"created_ms", j.created_ms}, {"updated_ms", j.updated_ms}};
  if (j.exit_code >= 0) out["exit_code"] = j.exit_code;
  out["placement"] = j.placement.empty() ? Json::array() : Json::parse(j.placement, nullptr, false);
  out["manifest"] = Json::parse(j.manifest, nullptr, false);
  return out;
}

void Reply(httplib::Response& res, int code, const Json& body) {
  res.status = code;
  res.set_content(body.dump() + "\n", "application/json");
}

void Error(httplib::Response& res, int code, const std::string& message) { Reply(res, code, Json{{"error", message}}); }

// The HTTP status for a Status from the control plane.
int HttpCode(const Status& s) {
  if (s.code() == StatusCode::kInvalidArgument) return 400;
  if (s.code() == StatusCode::kNotFound) return 404;
  if (s.code() == StatusCode::kFailedPrecondition) return s.message().rfind("forbidden", 0) == 0 ? 403 : 409;
  return 500;
}

// Authenticates the request; on failure answers 401 and returns nullopt.
std::optional<Principal> Auth(ControlPlane& cp, Authenticator& auth, const httplib::Request& req, httplib::Response& res) {
  if (!cp.ready()) {  // a standby replica (another one leads) or still recovering: clients go elsewhere or retry
    Error(res, 503, "not ready: this replica is a standby or is recovering its state");
    return std::nullopt;
  }
  auto p = auth.Authenticate(req.get_header_value("Authorization"));
  if (!p.ok()) {
    if (p.status().code() == StatusCode::kNotFound) {
      Error(res, 401, p.status().message());
    } else {
      Error(res, 500, p.status().message());
    }
    return std::nullopt;
  }
  return *p;
}

}  // namespace

std::string OpenApiDocument() {
  Json job_ref = {{"$ref", "#/components/schemas/Job"}};
  Json err = {{"description", "error"}, {"content", {{"application/json", {{"schema", {{"$ref", "#/components/schemas/Error"}}}}}}}};
  auto ok = [&](const Json& schema) {
    return Json{{"description", "OK"}, {"content", {{"application/json", {{"schema", schema}}}}}};
  };
  Json doc = {
      {"openapi", "3.0.3"},
      {"info", {{"title", "awan control plane"}, {"version", "v1"}}},
      {"components",
       {{"securitySchemes", {{"bearer", {{"type", "http"}, {"scheme", "bearer"}}}}},
        {"schemas",
         {{"Error", {{"type", "object"}, {"properties", {{"error", {{"type", "string"}}}}}}},
          {"Job",
           {{"type", "object"},
            {"properties",
             {{"id", {{"type", "string"}}},
              {"name", {{"type", "string"}}},
              {"tenant", {{"type", "string"}}},
              {"state", {{"type", "string"}, {"enum", {"Pending", "Running", "Succeeded", "Failed", "Cancelled"}}}},
              {"message", {{"type", "string"}}},
              {"exit_code", {{"type", "integer"}}},
              {"created_ms", {{"type", "integer"}}},
              {"updated_ms", {{"type", "integer"}}},
              {"placement", {{"type", "array"}, {"items", {{"type", "object"}}}}},
              {"manifest", {{"type", "object"}}}}}}}}}}},
      {"security", Json::array({{{"bearer", Json::array()}}})},
      {"paths",
       {{"/v1/healthz", {{"get", {{"security", Json::array()}, {"responses", {{"200", ok({{"type", "object"}})}}}}}}},
        {"/v1/readyz", {{"get", {{"security", Json::array()}, {"responses", {{"200", ok({{"type", "object"}})}, {"503", err}}}}}}},
        {"/v1/jobs",
         {{"post",
           {{"summary", "Submit a job manifest (YAML or JSON, docs/formats/job-manifest.md)"},
            {"requestBody", {{"required", true}, {"content", {{"application/yaml", Json::object()}, {"application/json", Json::object()}}}}},
            {"responses", {{"201", ok(job_ref)}, {"400", err}, {"401", err}, {"403", err}, {"413", err}}}}},
          {"get",
           {{"summary", "List jobs"},
            {"parameters",
             Json::array({{{"name", "state"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                          {{"name", "tenant"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                          {{"name", "after"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                          {{"name", "limit"}, {"in", "query"}, {"schema", {{"type", "integer"}}}}})},
            {"responses",
             {{"200", ok({{"type", "object"},
                          {"properties", {{"items", {{"type", "array"}, {"items", job_ref}}}, {"next", {{"type", "string"}}}}}})},
              {"401", err}}}}}}},
        {"/v1/jobs/{id}",
         {{"get", {{"responses", {{"200", ok(job_ref)}, {"401", err}, {"404", err}}}}},
          {"delete", {{"responses", {{"200", ok(job_ref)}, {"401", err}, {"403", err}, {"404", err}}}}}}},
        {"/v1/jobs/{id}/cancel", {{"post", {{"responses", {{"200", ok(job_ref)}, {"401", err}, {"403", err}, {"404", err}}}}}}},
        {"/v1/jobs/{id}/logs", {{"get", {{"responses", {{"200", {{"description", "text/plain"}}}, {"404", err}}}}}}},
        {"/v1/jobs/{id}/explain", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"404", err}, {"409", err}}}}}}},
        {"/v1/nodes", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
        {"/v1/nodes/{id}/heartbeat", {{"post", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}, {"403", err}, {"404", err}}}}}}},
        {"/v1/queues", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
        {"/v1/audit", {{"get", {{"summary", "The hash-chained audit log of placement decisions (JSON lines, admin)"}, {"responses", {{"200", {{"description", "application/x-ndjson"}}}, {"401", err}, {"403", err}}}}}}},
        {"/v1/tenants", {{"get", {{"responses", {{"200", ok({{"type", "object"}})}, {"401", err}}}}}}},
        {"/metrics", {{"get", {{"security", Json::array()}, {"responses", {{"200", {{"description", "Prometheus text"}}}}}}}}}}}};
  for (auto& [path, item] : doc["paths"].items()) {
    for (auto& [method, op] : item.items()) {
      if (!op.contains("responses")) continue;
      if (path.find("{id}") != std::string::npos) {
        op["parameters"] = Json::array({{{"name", "id"}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}}});
      }
    }
  }
  return doc.dump(1);
}

void RegisterRoutes(httplib::Server& http, ControlPlane& cp, Authenticator& auth) {
  http.set_payload_max_length(config::kMaxManifestBytes);  // larger bodies: 413 before they are read
  http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    Error(res, 500, what);
  });
  http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    if (res.status == 404) Error(res, 404, "no such endpoint");
    if (res.status == 413) Error(res, 413, fmt::format("body larger than {} bytes", config::kMaxManifestBytes));
    if (res.status == 400) Error(res, 400, "malformed request");
  });
  http.Get("/v1/healthz", [](const httplib::Request&, httplib::Response& res) { Reply(res, 200, {{"status", "ok"}}); });
  http.Get("/v1/readyz", [&cp](const httplib::Request&, httplib::Response& res) {
    if (cp.ready()) {
      Reply(res, 200, {{"status", "ready"}});
    } else {
      Error(res, 503, "recovering state");
    }
  });
  http.Get("/v1/openapi.json", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(OpenApiDocument(), "application/json");
  });
  http.Post("/v1/jobs", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    auto job = cp.Submit(*who, req.body, "request body");
    if (!job.ok()) return Error(res, HttpCode(job.status()), job.status().message());
    Reply(res, 201, JobJson(*job));
  });
  http.Get("/v1/jobs", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    JobFilter f;
    f.state = req.get_param_value("state");
    f.tenant = req.get_param_value("tenant");
    f.after_id = req.get_param_value("after");
    if (req.has_param("limit")) {
      try {
        f.limit = std::stoi(req.get_param_value("limit"));
      } catch (...) {
        return Error(res, 400, "limit: expected an integer");
      }
    }
    auto jobs = cp.List(*who, f);
    if (!jobs.ok()) return Error(res, HttpCode(jobs.status()), jobs.status().message());
    Json items = Json::array();
    for (const StoredJob& j : *jobs) items.push_back(JobJson(j));
    Json out = {{"items", items}};
    if (static_cast<int>(jobs->size()) == std::clamp(f.limit, 1, 1000) && !jobs->empty()) out["next"] = jobs->back().id;
    Reply(res, 200, out);
  });
  http.Get(R"(/v1/jobs/([^/]+))", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    auto job = cp.Get(*who, req.matches[1]);
    if (!job.ok()) return Error(res, HttpCode(job.status()), job.status().message());
    Reply(res, 200, JobJson(*job));
  });
  auto cancel = [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    auto job = cp.Cancel(*who, req.matches[1]);
    if (!job.ok()) return Error(res, HttpCode(job.status()), job.status().message());
    Reply(res, 200, JobJson(*job));
  };
  http.Post(R"(/v1/jobs/([^/]+)/cancel)", cancel);
  http.Delete(R"(/v1/jobs/([^/]+))", cancel);
  http.Get(R"(/v1/jobs/([^/]+)/explain)", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    auto ex = cp.Explain(*who, req.matches[1]);
    if (!ex.ok()) return Error(res, HttpCode(ex.status()), ex.status().message());
    Reply(res, 200, sim::ToJson(*ex));
  });
  http.Get(R"(/v1/jobs/([^/]+)/logs)", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    int task = 0;
    if (req.has_param("task")) {
      try {
        task = std::stoi(req.get_param_value("task"));
      } catch (...) {
        return Error(res, 400, "task: expected an integer");
      }
    }
    auto logs = cp.Logs(*who, req.matches[1], task);
    if (!logs.ok()) return Error(res, HttpCode(logs.status()), logs.status().message());
    res.set_content(*logs, "text/plain");
  });
  http.Get("/v1/nodes", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    const Fleet& fleet = cp.fleet().fleet;
    Json items = Json::array();
    uint32_t i = 0;
    for (const auto& [name, free_milli] : cp.NodeFree()) {
      const NodeIndex idx(i++);
      const NodeSpec& n = fleet.node(idx);
      items.push_back({{"name", name},
                       {"accelerator", n.model == kNoAccelerator ? "" : fleet.models().Name(n.model)},
                       {"gpus", n.gpu_count},
                       {"gpus_free", free_milli < 0 ? 0.0 : static_cast<double>(free_milli) / 1000.0},
                       {"up", free_milli >= 0},
                       {"region", fleet.topology().DomainName(TopologyLevel::kRegion, fleet.region_of(idx))}});
    }
    Reply(res, 200, {{"items", items}});
  });
 http.Post(R"(/v1/nodes/([^/]+)/heartbeat)", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    if (Status s = cp.Heartbeat(*who, req.matches[1]); !s.ok()) return Error(res, HttpCode(s), s.message());
    Reply(res, 200, {{"node", std::string(req.matches[1])}, {"status", "alive"}});
  });
  http.Get("/v1/queues", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    Json items = Json::array();
    for (const ControlPlane::QueueView& q : cp.Queues(*who)) {
      items.push_back({{"tenant", q.tenant}, {"waiting", q.waiting}, {"running", q.running}});
    }
    Reply(res, 200, {{"items", items}});
  });
  http.Get("/v1/audit", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    int64_t after = 0;
    int limit = 1000;
    try {
      if (req.has_param("after")) after = std::stoll(req.get_param_value("after"));
      if (req.has_param("limit")) limit = std::stoi(req.get_param_value("limit"));
    } catch (...) {
      return Error(res, 400, "after, limit: expected integers");
    }
    auto lines = cp.Audit(*who, after, limit);
    if (!lines.ok()) return Error(res, HttpCode(lines.status()), lines.status().message());
    std::string body;
    for (const std::string& l : *lines) body += l + "\n";
    res.set_content(body, "application/x-ndjson");
  });
  http.Get("/v1/tenants", [&cp, &auth](const httplib::Request& req, httplib::Response& res) {
    auto who = Auth(cp, auth, req, res);
    if (!who) return;
    Json items = Json::array();
    const auto load = cp.TenantLoad();
    for (const TenantSpec& t : cp.fleet().tenants) {
      if (!who->sees(t.name)) continue;
      auto it = load.find(t.name);
      items.push_back({{"name", t.name},
                       {"guaranteed_gpus", t.guaranteed_gpus},
                       {"cohort", t.cohort},
                       {"jobs_waiting", it == load.end() ? 0 : it->second.first},
                       {"gpus_allocated", it == load.end() ? 0.0 : static_cast<double>(it->second.second) / 1000.0}});
    }
    Reply(res, 200, {{"items", items}});
  });
}

}  // namespace awan::server
