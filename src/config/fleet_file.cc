#include "config/fleet_file.h"

#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cmath>
#include <initializer_list>
#include <map>
#include <set>

#include "config/yaml_reader.h"
#include "trace/csv.h"

namespace awan::config {
namespace {

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
    AWAN_ASSIGN_OR_RETURN(t.price_per_gpu_hour,
                          r.Number(n["price_per_gpu_hour"], what + " price_per_gpu_hour", 0, 1e6));
  }
  return t;
}

struct Builder {
  const Reader& r;
  FleetFile& out;
  std::map<std::string, double> region_prices;  // the current region's prices by accelerator
  std::vector<std::pair<YAML::Node, std::string>>
      latencies;  // (latency_ms map, from region), resolved at the end

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
      n.price_per_gpu_hour = t.price_per_gpu_hour;
      if (auto p = region_prices.find(t.accelerator); p != region_prices.end())
        n.price_per_gpu_hour = p->second;
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
  Status Supernode(const YAML::Node& n, const std::string& region, const std::string& zone,
                   const std::string& block) {
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
    AWAN_RETURN_IF_ERROR(
        r.OnlyKeys(n, "layout", {"type", "nodes", "nodes_per_supernode", "supernodes_per_block"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node ty, r.Required(n, "type", "layout"));
    AWAN_ASSIGN_OR_RETURN(std::string type, r.String(ty, "layout type"));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nn, r.Required(n, "nodes", "layout"));
    AWAN_ASSIGN_OR_RETURN(int64_t nodes, r.Int(nn, "layout nodes", 1, kMaxCount));
    int64_t per_sn = 1, per_block = 1;
    if (n["nodes_per_supernode"]) {
      AWAN_ASSIGN_OR_RETURN(per_sn,
                            r.Int(n["nodes_per_supernode"], "layout nodes_per_supernode", 1, kMaxCount));
    }
    if (n["supernodes_per_block"]) {
      AWAN_ASSIGN_OR_RETURN(per_block,
                            r.Int(n["supernodes_per_block"], "layout supernodes_per_block", 1, kMaxCount));
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
    if (!n["blocks"] == !n["layout"])
      return r.Error(n, "zone '" + name + "': give exactly one of 'blocks' or 'layout'");
    if (n["layout"]) return Layout(n["layout"], region, name);
    AWAN_RETURN_IF_ERROR(r.ExpectList(n["blocks"], "zone '" + name + "' blocks"));
    for (const YAML::Node& b : n["blocks"]) AWAN_RETURN_IF_ERROR(Block(b, region, name));
    return Status::Ok();
  }

  Status Region(const YAML::Node& n) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "region"));
    AWAN_RETURN_IF_ERROR(
        r.OnlyKeys(n, "region", {"name", "jurisdiction", "edge", "prices", "latency_ms", "zones"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "region"));
    AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "region name"));
    const std::string what = "region '" + name + "'";
    for (const auto& [seen, id] : region_ids) {
      if (seen == name) return r.Error(nm, what + " is listed twice");
    }
    RegionInfo info;
    info.name = name;
    if (n["jurisdiction"]) {
      AWAN_ASSIGN_OR_RETURN(info.jurisdiction, r.String(n["jurisdiction"], what + " jurisdiction"));
      if (info.jurisdiction.size() != 2 || !std::isupper(static_cast<unsigned char>(info.jurisdiction[0])) ||
          !std::isupper(static_cast<unsigned char>(info.jurisdiction[1]))) {
        return r.Error(n["jurisdiction"],
                       what + " jurisdiction: expected a two-letter country code (ISO 3166), e.g. MY, got '" +
                           info.jurisdiction + "'");
      }
    }
    if (n["edge"]) {
      if (!n["edge"].IsScalar() || !YAML::convert<bool>::decode(n["edge"], info.edge)) {
        return r.Error(n["edge"], what + " edge: expected true or false");
      }
    }
    region_prices.clear();
    if (n["prices"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectMap(n["prices"], what + " prices"));
      for (const auto& kv : n["prices"]) {
        const std::string model = kv.first.as<std::string>();
        AWAN_ASSIGN_OR_RETURN(region_prices[model], r.Number(kv.second, what + " price of " + model, 0, 1e6));
      }
    }
    if (n["latency_ms"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectMap(n["latency_ms"], what + " latency_ms"));
      latencies.push_back({n["latency_ms"], name});
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node zones, r.Required(n, "zones", what));
    AWAN_RETURN_IF_ERROR(r.ExpectList(zones, what + " zones"));
    const size_t before = out.fleet.size();
    for (const YAML::Node& z : zones) AWAN_RETURN_IF_ERROR(Zone(z, name));
    if (out.fleet.size() == before) return r.Error(n, what + " has no nodes");
    const DomainId id = out.fleet.region_of(NodeIndex(static_cast<uint32_t>(before)));
    for (const auto& kv : region_prices) {
      bool used = false;
      for (const auto& [tn, t] : out.node_types) used = used || t.accelerator == kv.first;
      if (!used)
        return r.Error(n["prices"], what + " prices: no node type has accelerator '" + kv.first + "'");
    }
    out.fleet.SetRegion(id, std::move(info));
    region_ids.push_back({name, id});
    return Status::Ok();
  }

  std::vector<std::pair<std::string, DomainId>> region_ids;

  StatusOr<DomainId> RegionId(const YAML::Node& at, const std::string& name) const {
    for (const auto& [n, id] : region_ids)
      if (n == name) return id;
    return r.Error(at, "unknown region '" + name + "'");
  }

  // latency_ms: {other-region: ms, ...} of each region, both directions.
  Status ResolveLatencies() {
    for (const auto& [map, from] : latencies) {
      AWAN_ASSIGN_OR_RETURN(DomainId a, RegionId(map, from));
      for (const auto& kv : map) {
        AWAN_ASSIGN_OR_RETURN(DomainId b, RegionId(kv.first, kv.first.as<std::string>()));
        AWAN_ASSIGN_OR_RETURN(double ms, r.Number(kv.second, "latency from " + from, 0, 1e6));
        out.fleet.SetLatency(a, b, ms);
      }
    }
    return Status::Ok();
  }

  // user_locations: [{name: kuala-lumpur, latency_ms: {region: ms}}]
  Status UserLocations(const YAML::Node& list) {
    AWAN_RETURN_IF_ERROR(r.ExpectList(list, "user_locations"));
    for (const YAML::Node& u : list) {
      AWAN_RETURN_IF_ERROR(r.ExpectMap(u, "user location"));
      AWAN_RETURN_IF_ERROR(r.OnlyKeys(u, "user location", {"name", "latency_ms"}));
      AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(u, "name", "user location"));
      AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "user location name"));
      AWAN_ASSIGN_OR_RETURN(YAML::Node lat, r.Required(u, "latency_ms", "user location '" + name + "'"));
      AWAN_RETURN_IF_ERROR(r.ExpectMap(lat, "user location '" + name + "' latency_ms"));
      for (const auto& kv : lat) {
        AWAN_ASSIGN_OR_RETURN(DomainId id, RegionId(kv.first, kv.first.as<std::string>()));
        AWAN_ASSIGN_OR_RETURN(double ms, r.Number(kv.second, "latency from " + name, 0, 1e6));
        out.fleet.SetUserLatency(name, id, ms);
      }
    }
    return Status::Ok();
  }
};

}  // namespace

Status ParseDataRule(const Reader& r, const YAML::Node& n, const std::string& what,
                     std::initializer_list<const char*> keys, DataSpec* d) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, what));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, what, keys));
  AWAN_ASSIGN_OR_RETURN(YAML::Node c, r.Required(n, "classification", what));
  AWAN_ASSIGN_OR_RETURN(std::string cls, r.String(c, what + " classification"));
  if (!ParseDataClass(cls, &d->cls)) {
    return r.Error(c, what + " classification: expected public, internal, confidential or restricted, got '" +
                          cls + "'");
  }
  for (const char* key : {"jurisdictions", "regions"}) {
    if (!n[key]) continue;
    AWAN_RETURN_IF_ERROR(r.ExpectList(n[key], what + " " + key));
    for (const YAML::Node& v : n[key]) {
      AWAN_ASSIGN_OR_RETURN(std::string place, r.String(v, what + " " + key));
      (std::string(key) == "regions" ? d->places.regions : d->places.jurisdictions).insert(place);
    }
  }
  if (IsLocationBound(d->cls) && d->places.empty()) {
    return r.Error(
        n, what + ": " + cls + " data must list the jurisdictions or regions where it may be processed");
  }
  return Status::Ok();
}

namespace {

StatusOr<TenantSpec> ParseTenant(const Reader& r, const YAML::Node& n, bool needs_name) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "tenant"));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, "tenant",
                                  {"name", "guaranteed_gpus", "cohort", "borrowing_limit_gpus",
                                   "lending_limit_gpus", "weight", "priority", "data", "uid", "gid"}));
  TenantSpec t;
  if (needs_name) {
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "tenant"));
    AWAN_ASSIGN_OR_RETURN(t.name, r.String(nm, "tenant name"));
  } else if (n["name"]) {
    return r.Error(n["name"],
                   "default_tenant: takes no name (it applies to every tenant the file does not list)");
  }
  const std::string what = needs_name ? "tenant '" + t.name + "'" : "default_tenant";
  if (n["guaranteed_gpus"]) {
    AWAN_ASSIGN_OR_RETURN(t.guaranteed_gpus,
                          r.Int(n["guaranteed_gpus"], what + " guaranteed_gpus", 0, int64_t{1} << 40));
  }
  if (n["cohort"]) {
    AWAN_ASSIGN_OR_RETURN(t.cohort, r.String(n["cohort"], what + " cohort"));
  }
  if (n["borrowing_limit_gpus"]) {
    AWAN_ASSIGN_OR_RETURN(t.borrowing_limit_gpus, r.Int(n["borrowing_limit_gpus"],
                                                        what + " borrowing_limit_gpus", 0, int64_t{1} << 40));
  }
  if (n["lending_limit_gpus"]) {
    AWAN_ASSIGN_OR_RETURN(t.lending_limit_gpus,
                          r.Int(n["lending_limit_gpus"], what + " lending_limit_gpus", 0, int64_t{1} << 40));
  }
  if (n["weight"]) {
    AWAN_ASSIGN_OR_RETURN(t.weight, r.Number(n["weight"], what + " weight", 1e-6, 1e6));
  }
  if (n["priority"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t p, r.Int(n["priority"], what + " priority", -1000000, 1000000));
    t.priority = static_cast<int>(p);
  }
  for (const char* key : {"uid", "gid"}) {
    if (!n[key]) continue;
    if (!needs_name)
      return r.Error(n[key], std::string("default_tenant: takes no ") + key + " (each tenant needs its own)");
    AWAN_ASSIGN_OR_RETURN(int64_t id, r.Int(n[key], what + " " + key, 1, 4294967294LL));
    (std::string(key) == "uid" ? t.uid : t.gid) = id;
  }
  if (t.gid >= 0 && t.uid < 0) return r.Error(n["gid"], what + ": gid needs a uid");
  if (t.uid >= 0 && t.gid < 0) t.gid = t.uid;
  if (n["data"]) {
    DataSpec d;
    AWAN_RETURN_IF_ERROR(
        ParseDataRule(r, n["data"], what + " data", {"classification", "jurisdictions", "regions"}, &d));
    t.data_class = d.cls;
    t.data_places = d.places;
  }
  return t;
}

}  // namespace

StatusOr<TenantSpec> FleetFile::Tenant(const std::string& name) const {
  for (const TenantSpec& t : tenants)
    if (t.name == name) return t;
  if (!has_default_tenant)
    return NotFound("tenant '" + name + "' is not in the fleet file, which has no default_tenant");
  TenantSpec t = default_tenant;
  t.name = name;
  return t;
}

StatusOr<std::unique_ptr<FleetFile>> ParseFleetFile(std::string_view text, std::string_view source) {
  const Reader r{std::string(source)};
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(text, source));
  AWAN_RETURN_IF_ERROR(NoDuplicateKeys(doc, source));
  auto out = std::make_unique<FleetFile>();
  try {
    if (!doc.IsMap()) return r.Error(doc, "a fleet file is a mapping (name, node_types, regions, tenants)");
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(
        doc, "fleet", {"name", "node_types", "regions", "user_locations", "tenants", "default_tenant"}));
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
    Builder b{r, *out, {}, {}, {}};
    for (const YAML::Node& reg : regions) AWAN_RETURN_IF_ERROR(b.Region(reg));
    if (out->fleet.size() == 0) return r.Error(regions, "the fleet has no nodes");
    AWAN_RETURN_IF_ERROR(b.ResolveLatencies());
    if (doc["user_locations"]) AWAN_RETURN_IF_ERROR(b.UserLocations(doc["user_locations"]));
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
    return YamlError(source, e);
  }
  return out;
}

StatusOr<std::unique_ptr<FleetFile>> ReadFleetFile(const std::string& path) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return ParseFleetFile(text, path);
}

}  // namespace awan::config
