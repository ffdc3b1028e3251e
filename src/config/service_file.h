// The services file (YAML, documented in docs/formats/services.md): the models a fleet serves (their size and
// KV cache per token) and the services (tenant, model, replica shapes per accelerator, SLO, replica bounds,
// priority against batch work, users' locations, the data the weights come from). Strict like the fleet and
// workload files: unknown keys, wrong types and impossible values are errors naming file:line:column;
// accelerators, tenants' user locations and model names are checked against the fleet and the file. A shape
// whose replica cannot hold the model's weights (with 10 % of memory left for the runtime) is an error when
// the accelerator's memory is known (model/hardware.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/service.h"

namespace awan::config {

struct ServicesFile {
  std::string name;
  std::vector<ServedModel> models;
  std::vector<ServiceSpec> services;

  const ServedModel* FindModel(const std::string& name) const;
};

// A service submitted to `awan serve` (`kind: Service`, docs/formats/services.md):
//   apiVersion: awan/v1
//   kind: Service
//   metadata: {name: chat}
//   spec:
//     model: {name: llama-3.1-8b, parameters_b: 8.03, weights_gib: 14.96, kv_kib_per_token: 128, layers: 32}
//     shapes: [{accelerator: H100, gpus: 1}]
//     replicas: {min: 1, max: 4}
//     slo: {ttft_ms: 1000, tpot_ms: 60}
//     autoscaler: awan          # a registered autoscaler (awan policies); default awan
//     router: awan              # a registered router; default awan
//     time_scale: 1             # the replica stand-in runs this many times faster than model time
//     image: 127.0.0.1:5000/awan/replica:TAG   # optional: the replicas run in this OCI image
//     prepull: true             # with an image: pull it ahead onto the nodes replicas would land on
//     startup: instant          # or modelled: the stand-in loads its weights and warms up first
//     command: [vllm, serve, MODEL, --port, "{port}"]   # optional: the engine to run instead of the stand-in
//     priority, users, reads    # as in a services file
// The tenant is the caller's (or metadata.tenant for an admin).
struct ServiceManifest {
  ServiceSpec spec;  // tenant "" unless metadata.tenant says
  ServedModel model;
  std::string autoscaler = "awan", router = "awan";
  double time_scale = 1;
  // What each replica runs: by default this binary's replica stand-in (`awan replica`, model and shape from
  // the manifest), on the node. `image`: in that OCI image instead (the stand-in then at /usr/local/bin/awan
  // in it). `command`: an OpenAI-compatible server of one's own (vllm serve ...), "{port}" in its arguments
  // replaced by the port awan gives it; it must answer GET /health once ready and take VLLM_API_KEY from its
  // environment as its API key (vLLM does both).
  std::string image;
  std::vector<std::string> command;
  bool prepull = true;  // with an image: pull it ahead onto the nodes the next replicas would land on
  // The stand-in's start: at once (`instant`), or after the weights' load and the engine's warm-up as the
  // cold-start model gives them (`modelled`: weights from the node's NVMe, or from a ready peer, plus the
  // engine's init; serving/cold_start.h), as the simulator counts them.
  bool modelled_startup = false;
};
StatusOr<ServiceManifest> ParseServiceManifest(std::string_view text, std::string_view source,
                                               const Fleet& fleet);

StatusOr<ServicesFile> ParseServicesFile(std::string_view text, std::string_view source, const Fleet& fleet);
StatusOr<ServicesFile> ReadServicesFile(const std::string& path, const Fleet& fleet);

}  // namespace awan::config
