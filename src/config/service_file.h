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

StatusOr<ServicesFile> ParseServicesFile(std::string_view text, std::string_view source, const Fleet& fleet);
StatusOr<ServicesFile> ReadServicesFile(const std::string& path, const Fleet& fleet);

}  // namespace awan::config
