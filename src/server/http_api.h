// The REST API of `awan serve`, versioned under /v1, on HttpServer (http_server.h: Boost.Beast):
//   GET  /v1/healthz, /v1/readyz                 liveness; readiness (state recovered)
//   GET  /v1/openapi.json                        this API, as an OpenAPI 3 document
//   POST /v1/jobs                                submit a manifest (YAML or JSON) -> 201 with the job and its
//   id GET  /v1/jobs?state=&tenant=&after=&limit=   list (paging: `next` is the `after` of the next page) GET
//   /v1/jobs/{id}                           one job POST /v1/jobs/{id}/cancel, DELETE /v1/jobs/{id} GET
//   /v1/jobs/{id}/logs?task=N&offset=B&limit=B   a window of a task's output (X-Log-Offset, X-Log-Size) GET
//   /v1/jobs/{id}/explain                   why it waits (nothing about other tenants' work) GET  /v1/nodes,
//   /v1/tenants, /v1/queues      the fleet's nodes (free GPUs), tenants (quota, load), queues POST
//   /v1/nodes/{name}/heartbeat              a node agent's heartbeat (admin) GET  /v1/audit?after=&limit= the
//   audit log (admin) POST /v1/signals, /v1/alerts (admin: node agents, Alertmanager) GET /v1/diagnoses
//   GET  /metrics                                Prometheus text format (a token too;
//   tenants see only their own)
// Every call but healthz, readyz and openapi.json needs "Authorization: Bearer <token>", checked before a
// byte of the body is read (401 otherwise; good tokens are cached for a second, so a revoked token stops
// working within one). A tenant's token never sees another tenant's jobs: they answer 404. Errors are JSON
// {"error": "..."} with a 4xx for the caller's mistakes (400 bad manifest, 401, 403, 404, 413 body over 256
// KiB, 415 compressed body, 429 a tenant's rate or waiting-job limit, with Retry-After) and 5xx for ours.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "server/control_plane.h"

namespace awan::server {

class HttpServer;
class Metrics;

// Registers the routes on `http`; `cp`, `auth` and `metrics` must outlive it.
class ServiceManager;
class DiagnosisHub;
// `services` (may be null): the services API and the OpenAI-compatible gateway (server/services.h);
// `diagnoses` (may be null): POST /v1/signals, POST /v1/alerts (Alertmanager's webhook), GET /v1/diagnoses.
void RegisterRoutes(HttpServer& http, ControlPlane& cp, Authenticator& auth, const Metrics& metrics,
                    ServiceManager* services = nullptr, DiagnosisHub* diagnoses = nullptr);

// The OpenAPI 3 document served at /v1/openapi.json.
std::string OpenApiDocument();

}  // namespace awan::server
