#include "config/fleet_file.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <initializer_list>
#include <set>

#include "trace/csv.h"

namespace awan::config {
namespace {

// Strict access to one YAML document, every error naming source:line:column.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Status Error(const YAML::Node& at, const std::string& message) const {
    const YAML::Mark m = at.Mark();
    if (m.is_null()) return InvalidArgument(source_ + ": " + message);
    return InvalidArgument(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) + ": " +
                           message);
  }

  Status ExpectMap(const YAML::Node& n, const std::string& what) const {
    if (!n.IsMap()) return Error(n, what + ": expected a mapping");
    return Status::Ok();
  }
  Status ExpectList(const YAML::Node& n, const std::string& what) const {
    if (!n.IsSequence()) return Error(n, what + ": expected a list");
    return Status::Ok();
  }

  // Every key of `n` must be one of `allowed`.
  Status OnlyKeys(const YAML::Node& n, const std::string& what, std::initializer_list<const char*> allowed) const {
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      bool ok = false;
      std::string list;
      for (const char* a : allowed) {
        ok = ok || key == a;
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      if (!ok) return Error(kv.first, what + ": unknown key '" + key + "' (allowed: " + list + ")");
    }
    return Status::Ok();
  }

  StatusOr<YAML::Node> Required(const YAML::Node& map, const char* key, const std::string& what) const {
    YAML::Node v = map[key];
    if (!v) return Error(map, what + ": missing '" + key + "'");
    return v;
  }

  StatusOr<std::string> String(const YAML::Node& v, const std::string& what) const {
    if (!v.IsScalar() || v.Scalar().empty()) return Error(v, what + ": expected a non-empty string");
    return v.Scalar();
  }

  StatusOr<int64_t> Int(const YAML::Node& v, const std::string& what, int64_t lo, int64_t hi) const {
    int64_t x = 0;
    if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, x) || x < lo || x > hi) {
      return Error(v, what + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                          (v.IsScalar() ? ", got '" + v.Scalar() + "'" : ""));
    }
    return x;
  }

  StatusOr<double> Number(const YAML::Node& v, const std::string& what, double lo, double hi) const {
    double x = 0;
    if (!v.IsScalar() || !YAML::convert<double>::decode(v, x) || !std::isfinite(x) || x < lo || x > hi) {
      return Error(v, what + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]" +
                          (v.IsScalar() ? ", got '" + v.Scalar() + "'" : ""));
    }
    return x;
  }

 private:
  std::string source_;
};

constexpr int64_t kMaxCount = 1000000;

StatusOr<NodeTypeSpec> ParseNodeType(const Reader& r, const std::string& name, const YAML::Node& n) {
  const std::string what = "node type '" + name + "'";
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, what));
  AWAN_RETURN_IF_ERROR(
      r.OnlyKeys(n, what, {"accelerator", "gpus", "cpu", "memory_gib", "max_pods", "price_per_gpu_hour"}));
  NodeTypeSpec t;
  t.name = name;
  if (n["accelerator"]) {
    AWAN_ASSIGN_OR_RETURN(t.accelerator, r.String(n["accelerator"], what + " accelerator"));
  }
  if (n["gpus"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t g, r.Int(n["gpus"], what + " gpus", 0, kMaxGpusPerNode));
    t.gpus = static_cast<int>(g);
  }
  if (t.gpus > 0 && t.accelerator.empty()) return r.Error(n, what + ": has gpus but no 'accelerator'");
  AWAN_ASSIGN_OR_RETURN(YAML::Node cpu, r.Required(n, "cpu", what));
  AWAN_ASSIGN_OR_RETURN(double cores, r.Number(cpu, what + " cpu (cores)", 0.001, 1e6));
  t.cpu_milli = std::llround(cores * 1000);
  AWAN_ASSIGN_OR_RETURN(YAML::Node mem, r.Required(n, "memory_gib", what));
  AWAN_ASSIGN_OR_RETURN(double gib, r.Number(mem, what + " memory_gib", 0.001, 1e7));
  t.memory_mib = std::llround(gib * 1024);
  if (n["max_pods"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t p, r.Int(n["max_pods"], what + " max_pods", 1, kMaxCount));
    t.max_pods = static_cast<int>(p);
  }
  if (n["price_per_gpu_hour"]) {
    AWAN_ASSIGN_OR_RETURN(t.price_per_gpu_hour, r.Number(n["price_per_gpu_hour"], what + " price_per_gpu_hour", 0, 1e6));
  }
  return t;
}

struct Builder {
  const Reader& r;
  FleetFile& out;

  Status AddNodes(const YAML::Node& where, const std::string& type, int64_t count, const std::string& region,
                  const std::string& zone, const std::string& block, const std::string& supernode) {
    auto it = out.node_types.find(type);
    if (it == out.node_types.end()) return r.Error(where, "unknown node type '" + type + "'");
    const NodeTypeSpec& t = it->second;
    for (int64_t i = 0; i < count; ++i) {
      NodeSpec n;
      n.name = zone + "-" + block + "-" + supernode + "-" + std::to_string(i);
      n.cpu = CpuMilli(t.cpu_milli);
      n.memory = MemMiB(t.memory_mib);
      n.gpu_count = t.gpus;
      n.max_pods = t.max_pods;
      if (!t.accelerator.empty()) {
        if (out.fleet.models().Find(t.accelerator) == kNoAccelerator &&
            out.fleet.models().size() >= AcceleratorRegistry::kMaxModels) {
          return r.Error(where, "more than 63 distinct accelerator models");
        }
        n.model = out.fleet.models().Intern(t.accelerator);
      }
      n.topology = out.fleet.topology().Place(region, zone, block, supernode);
      auto added = out.fleet.AddNode(std::move(n));
      if (!added.ok()) return r.Error(where, added.status().message());
      out.node_type_of.push_back(type);
    }
    return Status::Ok();
  }

  // nodes: {type: T, count: N}
  Status Supernode(const YAML::Node& n, const std::string& region, const std::string& zone, const std::string& block) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "supernode"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "supernode", {"name", "nodes"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "supernode"));
    AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "supernode name"));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nodes, r.Required(n, "nodes", "supernode '" + name + "'"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(nodes, "supernode '" + name + "' nodes"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(nodes, "nodes", {"type", "count"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node ty, r.Required(nodes, "type", "nodes"));
    AWAN_ASSIGN_OR_RETURN(std::string type, r.String(ty, "nodes type"));
    AWAN_ASSIGN_OR_RETURN(YAML::Node cn, r.Required(nodes, "count", "nodes"));
    AWAN_ASSIGN_OR_RETURN(int64_t count, r.Int(cn, "nodes count", 1, kMaxCount));
    return AddNodes(ty, type, count, region, zone, block, name);
  }

  Status Block(const YAML::Node& n, const std::string& region, const std::string& zone) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "block"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "block", {"name", "supernodes"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "block"));
    AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "block name"));
    AWAN_ASSIGN_OR_RETURN(YAML::Node sns, r.Required(n, "supernodes", "block '" + name + "'"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(sns, "block '" + name + "' supernodes"));
    for (const YAML::Node& s : sns) AWAN_RETURN_IF_ERROR(Supernode(s, region, zone, name));
    return Status::Ok();
  }

  // layout: {type: T, nodes: N, nodes_per_supernode: S, supernodes_per_block: B}
  Status Layout(const YAML::Node& n, const std::string& region, const std::string& zone) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "layout"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "layout", {"type", "nodes", "nodes_per_supernode", "supernodes_per_block"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node ty, r.Required(n, "type", "layout"));
    AWAN_ASSIGN_OR_RETURN(std::string type, r.String(ty, "layout type"));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nn, r.Required(n, "nodes", "layout"));
    AWAN_ASSIGN_OR_RETURN(int64_t nodes, r.Int(nn, "layout nodes", 1, kMaxCount));
    int64_t per_sn = 1, per_block = 1;
    if (n["nodes_per_supernode"]) {
      AWAN_ASSIGN_OR_RETURN(per_sn, r.Int(n["nodes_per_supernode"], "layout nodes_per_supernode", 1, kMaxCount));
    }
    if (n["supernodes_per_block"]) {
      AWAN_ASSIGN_OR_RETURN(per_block, r.Int(n["supernodes_per_block"], "layout supernodes_per_block", 1, kMaxCount));
    }
    for (int64_t placed = 0, sn = 0; placed < nodes; ++sn) {
      const int64_t count = std::min(per_sn, nodes - placed);
      const std::string block = "b" + std::to_string(sn / per_block);
      const std::string supernode = "s" + std::to_string(sn % per_block);
      AWAN_RETURN_IF_ERROR(AddNodes(ty, type, count, region, zone, block, supernode));
      placed += count;
    }
    return Status::Ok();
  }

  Status Zone(const YAML::Node& n, const std::string& region) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "zone"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "zone", {"name", "blocks", "layout"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "zone"));
    AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "zone name"));
    if (!n["blocks"] == !n["layout"]) return r.Error(n, "zone '" + name + "': give exactly one of 'blocks' or 'layout'");
    if (n["layout"]) return Layout(n["layout"], region, name);
    AWAN_RETURN_IF_ERROR(r.ExpectList(n["blocks"], "zone '" + name + "' blocks"));
    for (const YAML::Node& b : n["blocks"]) AWAN_RETURN_IF_ERROR(Block(b, region, name));
    return Status::Ok();
  }

  Status Region(const YAML::Node& n) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "region"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "region", {"name", "jurisdiction", "zones"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "region"));
    AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "region name"));
    if (n["jurisdiction"]) AWAN_RETURN_IF_ERROR(r.String(n["jurisdiction"], "region jurisdiction").status());
    AWAN_ASSIGN_OR_RETURN(YAML::Node zones, r.Required(n, "zones", "region '" + name + "'"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(zones, "region '" + name + "' zones"));
    for (const YAML::Node& z : zones) AWAN_RETURN_IF_ERROR(Zone(z, name));
    return Status::Ok();
  }
};

StatusOr<TenantSpec> ParseTenant(const Reader& r, const YAML::Node& n, bool needs_name) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "tenant"));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "tenant", {"name", "guaranteed_gpus", "cohort", "borrowing_limit_gpus",
                                                "lending_limit_gpus", "weight", "priority"}));
  TenantSpec t;
  if (needs_name) {
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "tenant"));
    AWAN_ASSIGN_OR_RETURN(t.name, r.String(nm, "tenant name"));
  } else if (n["name"]) {
    return r.Error(n["name"], "default_tenant: takes no name (it applies to every tenant the file does not list)");
  }
  const std::string what = needs_name ? "tenant '" + t.name + "'" : "default_tenant";
  if (n["guaranteed_gpus"]) {
    AWAN_ASSIGN_OR_RETURN(t.guaranteed_gpus, r.Int(n["guaranteed_gpus"], what + " guaranteed_gpus", 0, int64_t{1} << 40));
  }
  if (n["cohort"]) {
    AWAN_ASSIGN_OR_RETURN(t.cohort, r.String(n["cohort"], what + " cohort"));
  }
  if (n["borrowing_limit_gpus"]) {
    AWAN_ASSIGN_OR_RETURN(t.borrowing_limit_gpus, r.Int(n["borrowing_limit_gpus"], what + " borrowing_limit_gpus", 0, int64_t{1} << 40));
  }
  if (n["lending_limit_gpus"]) {
    AWAN_ASSIGN_OR_RETURN(t.lending_limit_gpus, r.Int(n["lending_limit_gpus"], what + " lending_limit_gpus", 0, int64_t{1} << 40));
  }
  if (n["weight"]) {
    AWAN_ASSIGN_OR_RETURN(t.weight, r.Number(n["weight"], what + " weight", 1e-6, 1e6));
  }
  if (n["priority"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t p, r.Int(n["priority"], what + " priority", -1000000, 1000000));
    t.priority = static_cast<int>(p);
  }
  return t;
}

}  // namespace

StatusOr<TenantSpec> FleetFile::Tenant(const std::string& name) const {
  for (const TenantSpec& t : tenants)
    if (t.name == name) return t;
  if (!has_default_tenant) return NotFound("tenant '" + name + "' is not in the fleet file, which has no default_tenant");
  TenantSpec t = default_tenant;
  t.name = name;
  return t;
}

StatusOr<std::unique_ptr<FleetFile>> ParseFleetFile(std::string_view text, std::string_view source) {
  const Reader r{std::string(source)};
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
  auto out = std::make_unique<FleetFile>();
  try {
    if (!doc.IsMap()) return r.Error(doc, "a fleet file is a mapping (name, node_types, regions, tenants)");
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(doc, "fleet", {"name", "node_types", "regions", "tenants", "default_tenant"}));
    if (doc["name"]) {
      AWAN_ASSIGN_OR_RETURN(out->name, r.String(doc["name"], "name"));
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node types, r.Required(doc, "node_types", "fleet"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(types, "node_types"));
    for (const auto& kv : types) {
      const std::string name = kv.first.as<std::string>();
      AWAN_ASSIGN_OR_RETURN(NodeTypeSpec t, ParseNodeType(r, name, kv.second));
      out->node_types[name] = t;
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node regions, r.Required(doc, "regions", "fleet"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(regions, "regions"));
    Builder b{r, *out};
    for (const YAML::Node& reg : regions) AWAN_RETURN_IF_ERROR(b.Region(reg));
    if (out->fleet.size() == 0) return r.Error(regions, "the fleet has no nodes");
    std::set<std::string> seen;
    if (doc["tenants"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectList(doc["tenants"], "tenants"));
      for (const YAML::Node& tn : doc["tenants"]) {
        AWAN_ASSIGN_OR_RETURN(TenantSpec t, ParseTenant(r, tn, true));
        if (!seen.insert(t.name).second) return r.Error(tn, "tenant '" + t.name + "' is listed twice");
        out->tenants.push_back(std::move(t));
      }
    }
    if (doc["default_tenant"]) {
      AWAN_ASSIGN_OR_RETURN(out->default_tenant, ParseTenant(r, doc["default_tenant"], false));
      out->has_default_tenant = true;
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  return out;
}

StatusOr<std::unique_ptr<FleetFile>> ReadFleetFile(const std::string& path) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return ParseFleetFile(text, path);
}

}  // namespace awan::config
