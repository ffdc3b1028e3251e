#include "config/workload_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "config/yaml_reader.h"
#include "trace/csv.h"

namespace awan::config {
namespace {

constexpr int64_t kMaxSeconds = int64_t{1} << 40;

bool HasRegion(const Fleet& fleet, const std::string& name) {
  for (uint32_t i = 0; i < fleet.region_count(); ++i) {
    if (fleet.topology().DomainName(TopologyLevel::kRegion, DomainId(i)) == name) return true;
  }
  return false;
}

StatusOr<JobSpec> ParseJob(const Reader& r, const YAML::Node& n, const Fleet& fleet) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "job"));
  AWAN_RETURN_IF_ERROR(
      r.OnlyKeys(n, "job",
                 {"name", "tenant", "submit_s", "duration_s", "tasks", "gpus", "accelerator", "cpu",
                  "memory_gib", "topology", "reads", "writes", "user", "priority", "time_limit_s"}));
  JobSpec j;
  AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(n, "name", "job"));
  AWAN_ASSIGN_OR_RETURN(j.name, r.String(nm, "job name"));
  const std::string what = "job '" + j.name + "'";
  AWAN_ASSIGN_OR_RETURN(YAML::Node tn, r.Required(n, "tenant", what));
  AWAN_ASSIGN_OR_RETURN(j.tenant, r.String(tn, what + " tenant"));
  AWAN_ASSIGN_OR_RETURN(YAML::Node sub, r.Required(n, "submit_s", what));
  AWAN_ASSIGN_OR_RETURN(j.submit_s, r.Int(sub, what + " submit_s", 0, kMaxSeconds));
  AWAN_ASSIGN_OR_RETURN(YAML::Node dur, r.Required(n, "duration_s", what));
  AWAN_ASSIGN_OR_RETURN(j.duration_s, r.Int(dur, what + " duration_s", 1, kMaxSeconds));
  if (n["time_limit_s"]) {
    AWAN_ASSIGN_OR_RETURN(j.time_limit_s, r.Int(n["time_limit_s"], what + " time_limit_s", 1, kMaxSeconds));
    j.duration_s = std::min(j.duration_s, j.time_limit_s);  // killed at its limit, as Slurm kills it
  }
  AWAN_RETURN_IF_ERROR(ParseJobShape(r, n, what, fleet, &j));
  return j;
}

}  // namespace

Status ParseJobShape(const Reader& r, const YAML::Node& n, const std::string& what, const Fleet& fleet,
                     JobSpec* j) {
  if (n["tasks"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t t, r.Int(n["tasks"], what + " tasks", 1, 100000));
    j->tasks = static_cast<int>(t);
  }
  if (n["priority"]) {
    AWAN_ASSIGN_OR_RETURN(int64_t p,
                          r.Int(n["priority"], what + " priority", -kMaxJobPriority, kMaxJobPriority));
    j->priority = static_cast<int>(p);
  }
  AWAN_ASSIGN_OR_RETURN(YAML::Node g, r.Required(n, "gpus", what));
  AWAN_ASSIGN_OR_RETURN(double gpus, r.Number(g, what + " gpus (per task)", 0.001, kMaxGpusPerNode));
  if (gpus < 1) {
    j->task.gpu_count = 1;
    j->task.gpu_milli = GpuMilli(std::llround(gpus * 1000));
  } else {
    if (gpus != std::floor(gpus))
      return r.Error(g, what + " gpus: a whole number of GPUs, or a fraction below 1 (one shared device)");
    j->task.gpu_count = static_cast<int>(gpus);
    j->task.gpu_milli = kWholeGpu;
  }
  if (n["accelerator"]) {
    AWAN_ASSIGN_OR_RETURN(j->task.model_constraint, r.String(n["accelerator"], what + " accelerator"));
    size_t from = 0;
    while (from <= j->task.model_constraint.size()) {
      const size_t bar = std::min(j->task.model_constraint.find('|', from), j->task.model_constraint.size());
      const std::string m = j->task.model_constraint.substr(from, bar - from);
      const AcceleratorId id = fleet.models().Find(m);
      if (id == kNoAccelerator)
        return r.Error(n["accelerator"], what + " accelerator: the fleet has no '" + m + "'");
      j->task.allowed_models.Add(id);
      from = bar + 1;
    }
  }
  const double per_gpu = std::max(gpus, 0.125);
  double cpu = 8 * per_gpu, mem_gib = 64 * per_gpu;  // defaults per GPU
  if (n["cpu"]) {
    AWAN_ASSIGN_OR_RETURN(cpu, r.Number(n["cpu"], what + " cpu (cores per task)", 0, 1e6));
  }
  if (n["memory_gib"]) {
    AWAN_ASSIGN_OR_RETURN(mem_gib, r.Number(n["memory_gib"], what + " memory_gib (per task)", 0, 1e7));
  }
  j->task.cpu = CpuMilli(std::llround(cpu * 1000));
  j->task.memory = MemMiB(std::llround(mem_gib * 1024));
  j->task.name = j->name;
  if (n["topology"]) {
    AWAN_ASSIGN_OR_RETURN(std::string t, r.String(n["topology"], what + " topology"));
    if (t == "supernode")
      j->widest = TopologyLevel::kSupernode;
    else if (t == "block")
      j->widest = TopologyLevel::kBlock;
    else if (t == "zone")
      j->widest = TopologyLevel::kZone;
    else
      return r.Error(n["topology"], what + " topology: expected supernode, block or zone, got '" + t + "'");
  }
  if (n["reads"]) AWAN_RETURN_IF_ERROR(r.Strings(n["reads"], what + " reads", &j->reads));
  if (n["writes"]) AWAN_RETURN_IF_ERROR(r.Strings(n["writes"], what + " writes", &j->writes));
  if (n["user"]) {
    AWAN_ASSIGN_OR_RETURN(j->user_location, r.String(n["user"], what + " user"));
    if (!fleet.HasUserLocation(j->user_location)) {
      return r.Error(n["user"],
                     what + " user: the fleet declares no user location '" + j->user_location + "'");
    }
  }
  return Status::Ok();
}

StatusOr<WorkloadFile> ParseWorkloadFile(std::string_view text, std::string_view source, const Fleet& fleet) {
  const Reader r{std::string(source)};
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(text, source));
  AWAN_RETURN_IF_ERROR(NoDuplicateKeys(doc, source));
  WorkloadFile out;
  try {
    if (!doc.IsMap()) return r.Error(doc, "a workload file is a mapping (name, datasets, jobs)");
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(doc, "workload", {"name", "datasets", "jobs"}));
    if (doc["name"]) {
      AWAN_ASSIGN_OR_RETURN(out.name, r.String(doc["name"], "name"));
    }
    std::set<std::string> seen;
    if (doc["datasets"] && !doc["datasets"].IsNull()) {  // "datasets:" with nothing = none
      AWAN_RETURN_IF_ERROR(r.ExpectList(doc["datasets"], "datasets"));
      for (const YAML::Node& d : doc["datasets"]) {
        DataSpec spec;
        AWAN_RETURN_IF_ERROR(r.ExpectMap(d, "dataset"));
        AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(d, "name", "dataset"));
        AWAN_ASSIGN_OR_RETURN(spec.name, r.String(nm, "dataset name"));
        const std::string what = "dataset '" + spec.name + "'";
        AWAN_RETURN_IF_ERROR(
            ParseDataRule(r, d, what, {"name", "classification", "jurisdictions", "regions", "home"}, &spec));
        for (const std::string& reg : spec.places.regions) {
          if (!HasRegion(fleet, reg))
            return r.Error(d["regions"], what + ": the fleet has no region '" + reg + "'");
        }
        if (d["home"]) {
          AWAN_ASSIGN_OR_RETURN(spec.home_region, r.String(d["home"], what + " home"));
          if (!HasRegion(fleet, spec.home_region))
            return r.Error(d["home"], what + " home: the fleet has no region '" + spec.home_region + "'");
        }
        if (!seen.insert(spec.name).second) return r.Error(d, what + " is listed twice");
        out.datasets.push_back(std::move(spec));
      }
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node jobs, r.Required(doc, "jobs", "workload"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(jobs, "jobs"));
    std::set<std::string> names;
    for (const YAML::Node& jn : jobs) {
      AWAN_ASSIGN_OR_RETURN(JobSpec j, ParseJob(r, jn, fleet));
      if (!names.insert(j.name).second) return r.Error(jn, "job '" + j.name + "' is listed twice");
      out.jobs.push_back(std::move(j));
    }
    if (out.jobs.empty()) return r.Error(jobs, "the workload has no jobs");
  } catch (const YAML::Exception& e) {
    return YamlError(source, e);
  }
  std::stable_sort(out.jobs.begin(), out.jobs.end(),
                   [](const JobSpec& a, const JobSpec& b) { return a.submit_s < b.submit_s; });
  return out;
}

StatusOr<WorkloadFile> ReadWorkloadFile(const std::string& path, const Fleet& fleet) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return ParseWorkloadFile(text, path, fleet);
}

namespace {

std::string List(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s + "]";
}

std::string List(const std::set<std::string>& v) {
  return List(std::vector<std::string>(v.begin(), v.end()));
}

}  // namespace

std::string FormatWorkloadFile(const WorkloadFile& w, const Fleet& fleet, const std::string& header_comment) {
  (void)fleet;
  std::string s = header_comment;
  if (!w.name.empty()) s += "name: " + w.name + "\n";
  s += "datasets:\n";
  for (const DataSpec& d : w.datasets) {
    s += fmt::format("  - {{name: {}, classification: {}", d.name, DataClassName(d.cls));
    if (!d.places.jurisdictions.empty()) s += ", jurisdictions: " + List(d.places.jurisdictions);
    if (!d.places.regions.empty()) s += ", regions: " + List(d.places.regions);
    if (!d.home_region.empty()) s += ", home: " + d.home_region;
    s += "}\n";
  }
  s += "jobs:\n";
  for (const JobSpec& j : w.jobs) {
    const double gpus = j.task.gpu_milli < kWholeGpu ? static_cast<double>(j.task.gpu_milli.value) / 1000.0
                                                     : j.task.gpu_count;
    s += fmt::format("  - {{name: {}, tenant: {}, submit_s: {}, duration_s: {}, tasks: {}, gpus: {}", j.name,
                     j.tenant, j.submit_s, j.duration_s, j.tasks, gpus);
    if (!j.task.model_constraint.empty()) s += ", accelerator: " + j.task.model_constraint;
    s += fmt::format(", cpu: {}, memory_gib: {}", static_cast<double>(j.task.cpu.value) / 1000.0,
                     static_cast<double>(j.task.memory.value) / 1024.0);
    if (j.tasks > 1) s += std::string(", topology: ") + std::string(TopologyLevelName(j.widest));
    if (!j.reads.empty()) s += ", reads: " + List(j.reads);
    if (!j.writes.empty()) s += ", writes: " + List(j.writes);
    if (!j.user_location.empty()) s += ", user: " + j.user_location;
    if (j.time_limit_s > 0) s += fmt::format(", time_limit_s: {}", j.time_limit_s);
    s += "}\n";
  }
  return s;
}

}  // namespace awan::config
