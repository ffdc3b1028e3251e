// The REST API of `awan serve`, versioned under /v1, on cpp-httplib:
//   GET  /v1/healthz, /v1/readyz                 liveness; readiness (state recovered)
//   GET  /v1/openapi.json                        this API, as an OpenAPI 3 document
//   POST /v1/jobs                                submit a manifest (YAML or JSON) -> 201 with the job and its id
//   GET  /v1/jobs?state=&tenant=&after=&limit=   list (paging: `next` is the `after` of the next page)
//   GET  /v1/jobs/{id}                           one job
//   POST /v1/jobs/{id}/cancel, DELETE /v1/jobs/{id}
//   GET  /v1/jobs/{id}/logs?task=N               a task's captured output
//   GET  /v1/nodes, /v1/tenants                  the fleet's nodes (free GPUs), tenants (quota, load)
//   GET  /metrics                                Prometheus text format
// Every /v1 call but healthz, readyz and openapi.json needs "Authorization: Bearer <token>" (401 otherwise; good
// tokens are cached for a second, so a revoked token stops working within one). A
// tenant's token never sees another tenant's jobs: they answer 404. Errors are JSON {"error": "..."} with a
// 4xx for the caller's mistakes (400 bad manifest, 401, 403, 404, 413 body over 256 KiB) and 5xx for ours.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "server/control_plane.h"

namespace httplib {
class Server;
}

namespace awan::server {

// Registers the routes on `http`; `cp` and `auth` must outlive it.
void RegisterRoutes(httplib::Server& http, ControlPlane& cp, Authenticator& auth);

// The OpenAPI 3 document served at /v1/openapi.json.
std::string OpenApiDocument();

}  // namespace awan::server
