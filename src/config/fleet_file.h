// The fleet file (YAML, documented in docs/formats/fleet.md): node types, the topology tree region -> zone
// -> block -> supernode -> node, prices, and tenants with quotas and cohorts. Parsing is strict: an unknown
// key, a missing field, a wrong type or an impossible value is an error naming the file, line and column.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/tenant.h"

namespace awan::config {

struct NodeTypeSpec {
  std::string name;
  std::string accelerator;  // "" = no GPUs
  int gpus = 0;
  int64_t cpu_milli = 0;
  int64_t memory_mib = 0;
  int max_pods = 110;
  double price_per_gpu_hour = 0;  // USD
};

struct FleetFile {
  std::string name;
  std::map<std::string, NodeTypeSpec> node_types;
  Fleet fleet;                            // nodes named <zone>-<block>-<supernode>-<index>
  std::vector<std::string> node_type_of;  // by node index
  std::vector<TenantSpec> tenants;
  TenantSpec default_tenant;  // for tenants a workload names but the file does not (name left empty)
  bool has_default_tenant = false;

  // The tenant named `name`, or the default tenant under that name; NotFound if there is no default.
  StatusOr<TenantSpec> Tenant(const std::string& name) const;
};

// The fleet owns its topology and nodes; snapshots borrow it, so the result is heap-allocated and never
// moves.
StatusOr<std::unique_ptr<FleetFile>> ParseFleetFile(std::string_view text, std::string_view source);
StatusOr<std::unique_ptr<FleetFile>> ReadFleetFile(const std::string& path);

}  // namespace awan::config
