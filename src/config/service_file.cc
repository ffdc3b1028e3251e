#include "config/service_file.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "config/job_manifest.h"
#include "config/yaml_reader.h"
#include "model/hardware.h"
#include "trace/csv.h"

namespace awan::config {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
constexpr double kRuntimeShare = 0.9;  // of a replica's GPU memory, what weights and KV cache may use

StatusOr<ServedModel> ParseModel(const Reader& r, const YAML::Node& n) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "model"));
  AWAN_RETURN_IF_ERROR(
      r.OnlyKeys(n, "model", {"name", "parameters_b", "weights_gib", "kv_kib_per_token", "layers"}));
  ServedModel m;
  AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "model"));
  AWAN_ASSIGN_OR_RETURN(m.name, r.String(nm, "model name"));
  const std::string what = "model '" + m.name + "'";
  AWAN_ASSIGN_OR_RETURN(YAML::Node p, r.Required(n, "parameters_b", what));
  AWAN_ASSIGN_OR_RETURN(m.parameters_b, r.Number(p, what + " parameters_b", 0.001, 100000));
  AWAN_ASSIGN_OR_RETURN(YAML::Node w, r.Required(n, "weights_gib", what));
  AWAN_ASSIGN_OR_RETURN(double gib, r.Number(w, what + " weights_gib", 0.001, 1e6));
  m.weight_bytes = std::llround(gib * kGiB);
  AWAN_ASSIGN_OR_RETURN(YAML::Node kv, r.Required(n, "kv_kib_per_token", what));
  AWAN_ASSIGN_OR_RETURN(double kib, r.Number(kv, what + " kv_kib_per_token", 0.001, 1e6));
  m.kv_bytes_per_token = std::llround(kib * 1024);
  if (n["layers"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t layers, r.Int(n["layers"], what + " layers", 1, 1000));
    m.layers = static_cast<int>(layers);
  }
  return m;
}

// One replica shape: {accelerator, gpus (a whole number up to a node, or a fraction below 1), cpu,
// memory_gib}; the weights must fit when the accelerator's memory is known.
StatusOr<ReplicaShape> ParseShape(const Reader& r, const YAML::Node& n, const std::string& what,
                                  const Fleet& fleet, const ServedModel& model) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, what));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(n, what, {"accelerator", "gpus", "cpu", "memory_gib"}));
  ReplicaShape s;
  AWAN_ASSIGN_OR_RETURN(YAML::Node a, r.Required(n, "accelerator", what));
  AWAN_ASSIGN_OR_RETURN(s.accelerator, r.String(a, what + " accelerator"));
  s.model = fleet.models().Find(s.accelerator);
  if (s.model == kNoAccelerator)
    return r.Error(a, what + " accelerator: the fleet has no '" + s.accelerator + "'");
  AWAN_ASSIGN_OR_RETURN(YAML::Node g, r.Required(n, "gpus", what));
  AWAN_ASSIGN_OR_RETURN(double gpus, r.Number(g, what + " gpus", 0.001, kMaxGpusPerNode));
  if (gpus < 1) {
    s.gpus = 1;
    s.gpu_milli = GpuMilli(std::llround(gpus * 1000));
  } else {
    if (gpus != std::floor(gpus))
      return r.Error(g, what + " gpus: a whole number of GPUs, or a fraction below 1 (one shared device)");
    s.gpus = static_cast<int>(gpus);
  }
  s.tensor_parallel = s.gpu_milli < kWholeGpu ? 1 : s.gpus;
  double cpu = 8 * std::max(gpus, 0.125), mem_gib = 64 * std::max(gpus, 0.125);
  if (n["cpu"]) {
    AWAN_ASSIGN_OR_RETURN(cpu, r.Number(n["cpu"], what + " cpu", 0, 1e6));
  }
  if (n["memory_gib"]) {
    AWAN_ASSIGN_OR_RETURN(mem_gib, r.Number(n["memory_gib"], what + " memory_gib", 0, 1e7));
  }
  s.cpu = CpuMilli(std::llround(cpu * 1000));
  s.memory = MemMiB(std::llround(mem_gib * 1024));
  if (const std::optional<AcceleratorHardware> hw = FindHardware(s.accelerator)) {
    const double usable = gpus * hw->memory_gb * 1e9 * kRuntimeShare;
    if (static_cast<double>(model.weight_bytes) >= usable) {
      return r.Error(g,
                     what + ": " + std::to_string(gpus).substr(0, 5) + " x " + s.accelerator + " (" +
                         std::to_string(static_cast<int64_t>(usable / 1e9)) + " GB usable) cannot hold " +
                         model.name + "'s weights (" +
                         std::to_string(static_cast<int64_t>(static_cast<double>(model.weight_bytes) / 1e9)) +
                         " GB)");
    }
  }
  return s;
}

// replicas: {min, max, scale_to_zero}; slo: {ttft_ms, tpot_ms, attainment_pct}.
Status ParseScaleAndSlo(const Reader& r, const YAML::Node& n, const std::string& what, ServiceSpec* s) {
  AWAN_ASSIGN_OR_RETURN(YAML::Node rep, r.Required(n, "replicas", what));
  AWAN_RETURN_IF_ERROR(r.ExpectMap(rep, what + " replicas"));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(rep, what + " replicas", {"min", "max", "scale_to_zero"}));
  AWAN_ASSIGN_OR_RETURN(YAML::Node mx, r.Required(rep, "max", what + " replicas"));
  AWAN_ASSIGN_OR_RETURN(int64_t max, r.Int(mx, what + " replicas max", 1, 100000));
  int64_t min = 1;
  if (rep["min"]) {
    AWAN_ASSIGN_OR_RETURN(min, r.Int(rep["min"], what + " replicas min", 0, 100000));
  }
  if (min > max)
    return r.Error(
        rep, what + " replicas: min (" + std::to_string(min) + ") above max (" + std::to_string(max) + ")");
  if (rep["scale_to_zero"]) {
    if (!YAML::convert<bool>::decode(rep["scale_to_zero"], s->scale_to_zero))
      return r.Error(rep["scale_to_zero"], what + " replicas scale_to_zero: expected true or false");
  }
  if (min == 0) s->scale_to_zero = true;
  s->min_replicas = static_cast<int>(min);
  s->max_replicas = static_cast<int>(max);
  AWAN_ASSIGN_OR_RETURN(YAML::Node slo, r.Required(n, "slo", what));
  AWAN_RETURN_IF_ERROR(r.ExpectMap(slo, what + " slo"));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(slo, what + " slo", {"ttft_ms", "tpot_ms", "attainment_pct"}));
  AWAN_ASSIGN_OR_RETURN(YAML::Node tt, r.Required(slo, "ttft_ms", what + " slo"));
  AWAN_ASSIGN_OR_RETURN(s->slo.ttft_ms, r.Int(tt, what + " slo ttft_ms", 1, 3600000));
  AWAN_ASSIGN_OR_RETURN(YAML::Node tp, r.Required(slo, "tpot_ms", what + " slo"));
  AWAN_ASSIGN_OR_RETURN(s->slo.tpot_ms, r.Int(tp, what + " slo tpot_ms", 1, 60000));
  if (slo["attainment_pct"]) {
    AWAN_ASSIGN_OR_RETURN(s->slo.attainment_pct,
                          r.Number(slo["attainment_pct"], what + " slo attainment_pct", 1, 100));
  }
  return Status::Ok();
}

StatusOr<ServiceSpec> ParseService(const Reader& r, const YAML::Node& n, const Fleet& fleet,
                                   const ServicesFile& f) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "service"));
  AWAN_RETURN_IF_ERROR(r.OnlyKeys(
      n, "service", {"name", "tenant", "model", "shapes", "replicas", "slo", "priority", "users", "reads"}));
  ServiceSpec s;
  AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "service"));
  AWAN_ASSIGN_OR_RETURN(s.name, r.String(nm, "service name"));
  const std::string what = "service '" + s.name + "'";
  AWAN_ASSIGN_OR_RETURN(YAML::Node tn, r.Required(n, "tenant", what));
  AWAN_ASSIGN_OR_RETURN(s.tenant, r.String(tn, what + " tenant"));
  AWAN_ASSIGN_OR_RETURN(YAML::Node mn, r.Required(n, "model", what));
  AWAN_ASSIGN_OR_RETURN(s.model, r.String(mn, what + " model"));
  const ServedModel* model = f.FindModel(s.model);
  if (model == nullptr) return r.Error(mn, what + " model: the file declares no model '" + s.model + "'");
  AWAN_ASSIGN_OR_RETURN(YAML::Node shapes, r.Required(n, "shapes", what));
  AWAN_RETURN_IF_ERROR(r.ExpectList(shapes, what + " shapes"));
  for (const YAML::Node& sh : shapes) {
    AWAN_ASSIGN_OR_RETURN(
        ReplicaShape shape,
        ParseShape(r, sh, what + " shape " + std::to_string(s.shapes.size() + 1), fleet, *model));
    s.shapes.push_back(std::move(shape));
  }
  if (s.shapes.empty()) return r.Error(shapes, what + ": at least one replica shape");
  AWAN_RETURN_IF_ERROR(ParseScaleAndSlo(r, n, what, &s));
  if (n["priority"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t p, r.Int(n["priority"], what + " priority", 0, 1000));
    s.priority = static_cast<int>(p);
  }
  if (n["users"]) {
    AWAN_RETURN_IF_ERROR(r.Strings(n["users"], what + " users", &s.users));
    for (const std::string& u : s.users) {
      if (!fleet.HasUserLocation(u))
        return r.Error(n["users"], what + " users: the fleet declares no user location '" + u + "'");
    }
  }
  if (n["reads"]) AWAN_RETURN_IF_ERROR(r.Strings(n["reads"], what + " reads", &s.reads));
  return s;
}

}  // namespace

const ServedModel* ServicesFile::FindModel(const std::string& n) const {
  for (const ServedModel& m : models)
    if (m.name == n) return &m;
  return nullptr;
}

StatusOr<ServiceManifest> ParseServiceManifest(std::string_view text, std::string_view source,
                                               const Fleet& fleet) {
  const Reader r{std::string(source)};
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadManifest(text, source, "Service"));
  ServiceManifest m;
  try {
    AWAN_ASSIGN_OR_RETURN(YAML::Node md, r.Required(doc, "metadata", "manifest"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(md, "metadata"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(md, "metadata", {"name", "tenant"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(md, "name", "metadata"));
    AWAN_ASSIGN_OR_RETURN(std::string name, r.String(nm, "metadata name"));
    // A DNS label: it names the model in the gateway and the replicas' jobs.
    const bool label = !name.empty() && name.size() <= 63 && name.front() != '-' && name.back() != '-' &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                       });
    if (!label)
      return r.Error(nm, "metadata name: lowercase letters, digits and '-' (at most 63), got '" + name + "'");
    std::string tenant;
    if (md["tenant"]) {
      AWAN_ASSIGN_OR_RETURN(tenant, r.String(md["tenant"], "metadata tenant"));
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node sp, r.Required(doc, "spec", "manifest"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(sp, "spec"));
    AWAN_RETURN_IF_ERROR(
        r.OnlyKeys(sp, "spec",
                   {"model", "shapes", "replicas", "slo", "priority", "users", "reads", "autoscaler",
                    "router", "time_scale", "image", "command", "prepull", "startup"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node mn, r.Required(sp, "model", "spec"));
    AWAN_ASSIGN_OR_RETURN(m.model, ParseModel(r, mn));
    // The rest is a services file's service entry, with the name, the tenant and the model given above.
    YAML::Node entry(YAML::NodeType::Map);
    for (const auto& kv : sp) {
      const std::string key = kv.first.Scalar();
      if (key != "model" && key != "autoscaler" && key != "router" && key != "time_scale" && key != "image" &&
          key != "command" && key != "prepull" && key != "startup")
        entry[key] = kv.second;
    }
    entry["name"] = name;
    entry["tenant"] = tenant.empty() ? "-" : tenant;
    entry["model"] = m.model.name;
    ServicesFile f;
    f.models.push_back(m.model);
    AWAN_ASSIGN_OR_RETURN(m.spec, ParseService(r, entry, fleet, f));
    m.spec.tenant = tenant;
    if (sp["autoscaler"]) {
      AWAN_ASSIGN_OR_RETURN(m.autoscaler, r.String(sp["autoscaler"], "spec autoscaler"));
    }
    if (sp["router"]) {
      AWAN_ASSIGN_OR_RETURN(m.router, r.String(sp["router"], "spec router"));
    }
    if (sp["time_scale"]) {
      AWAN_ASSIGN_OR_RETURN(m.time_scale, r.Number(sp["time_scale"], "spec time_scale", 0.01, 10000));
    }
    if (sp["image"]) {
      AWAN_ASSIGN_OR_RETURN(m.image, r.String(sp["image"], "spec image"));
      if (Status s = CheckImageReference(m.image); !s.ok())
        return r.Error(sp["image"], "spec " + s.message());
    }
    if (sp["startup"]) {
      AWAN_ASSIGN_OR_RETURN(std::string st, r.String(sp["startup"], "spec startup"));
      if (st != "instant" && st != "modelled")
        return r.Error(sp["startup"], "spec startup: instant or modelled, got '" + st + "'");
      m.modelled_startup = st == "modelled";
    }
    if (sp["prepull"]) {
      AWAN_ASSIGN_OR_RETURN(m.prepull, r.Bool(sp["prepull"], "spec prepull"));
    }
    if (sp["command"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectList(sp["command"], "spec command"));
      size_t bytes = 0;
      for (const YAML::Node& a : sp["command"]) {
        if (!a.IsScalar()) return r.Error(a, "spec command: expected a list of strings");
        m.command.push_back(a.Scalar());
        bytes += a.Scalar().size() + 1;
      }
      if (m.command.empty() || m.command.size() > kMaxArgs || bytes > kMaxArgvEnvBytes)
        return r.Error(sp["command"], "spec command: 1 to " + std::to_string(kMaxArgs) +
                                          " arguments, at most " + std::to_string(kMaxArgvEnvBytes) +
                                          " bytes");
      bool port = false;
      for (const std::string& a : m.command) port = port || a.find("{port}") != std::string::npos;
      if (!port)
        return r.Error(sp["command"], "spec command: no argument holds {port} (where the replica listens)");
    }
  } catch (const YAML::Exception& e) {
    return YamlError(source, e);
  }
  return m;
}

StatusOr<ServicesFile> ParseServicesFile(std::string_view text, std::string_view source, const Fleet& fleet) {
  const Reader r{std::string(source)};
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(text, source));
  AWAN_RETURN_IF_ERROR(NoDuplicateKeys(doc, source));
  ServicesFile out;
  try {
    if (!doc.IsMap()) return r.Error(doc, "a services file is a mapping (name, models, services)");
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(doc, "services file", {"name", "models", "services"}));
    if (doc["name"]) {
      AWAN_ASSIGN_OR_RETURN(out.name, r.String(doc["name"], "name"));
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node models, r.Required(doc, "models", "services file"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(models, "models"));
    for (const YAML::Node& m : models) {
      AWAN_ASSIGN_OR_RETURN(ServedModel model, ParseModel(r, m));
      if (out.FindModel(model.name) != nullptr)
        return r.Error(m, "model '" + model.name + "' is listed twice");
      out.models.push_back(std::move(model));
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node services, r.Required(doc, "services", "services file"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(services, "services"));
    std::set<std::string> names;
    for (const YAML::Node& sn : services) {
      AWAN_ASSIGN_OR_RETURN(ServiceSpec s, ParseService(r, sn, fleet, out));
      if (!names.insert(s.name).second) return r.Error(sn, "service '" + s.name + "' is listed twice");
      out.services.push_back(std::move(s));
    }
    if (out.services.empty()) return r.Error(services, "the file has no services");
  } catch (const YAML::Exception& e) {
    return YamlError(source, e);
  }
  return out;
}

StatusOr<ServicesFile> ReadServicesFile(const std::string& path, const Fleet& fleet) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return ParseServicesFile(text, path, fleet);
}

}  // namespace awan::config
