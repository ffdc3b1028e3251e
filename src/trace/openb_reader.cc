#include "trace/openb_reader.h"

#include <filesystem>
#include <unordered_set>

#include "trace/csv.h"

namespace awan::trace {
namespace {

constexpr int64_t kMaxCpuMilli = int64_t{1} << 40;
constexpr int64_t kMaxMemMiB = int64_t{1} << 40;

}  // namespace

Status ParseOpenbNodes(std::string_view text, std::string_view source, Fleet& fleet) {
  AWAN_ASSIGN_OR_RETURN(auto rows, ParseCsv(text, source));
  if (rows.empty())
    return InvalidArgument(std::string(source) + ": empty node list (expected a header line)");
  CsvHeader h(rows[0], std::string(source));
  AWAN_ASSIGN_OR_RETURN(int c_name, h.Require("sn"));
  AWAN_ASSIGN_OR_RETURN(int c_cpu, h.Require("cpu_milli"));
  AWAN_ASSIGN_OR_RETURN(int c_mem, h.Require("memory_mib"));
  AWAN_ASSIGN_OR_RETURN(int c_gpu, h.Require("gpu"));
  AWAN_ASSIGN_OR_RETURN(int c_model, h.Require("model"));
  if (rows.size() == 1) return InvalidArgument(std::string(source) + ": node list has a header but no nodes");
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    AWAN_RETURN_IF_ERROR(CheckFieldCount(source, rows[0], row));
    NodeSpec n;
    n.name = row.fields[c_name].text;
    if (n.name.empty())
      return FieldError(source, row.line, row.fields[c_name].column, "column 'sn': empty node name");
    AWAN_ASSIGN_OR_RETURN(int64_t cpu, ParseCount(source, row, c_cpu, "cpu_milli", kMaxCpuMilli));
    AWAN_ASSIGN_OR_RETURN(int64_t mem, ParseCount(source, row, c_mem, "memory_mib", kMaxMemMiB));
    AWAN_ASSIGN_OR_RETURN(int64_t gpu, ParseCount(source, row, c_gpu, "gpu", kMaxGpusPerNode));
    n.cpu = CpuMilli(cpu);
    n.memory = MemMiB(mem);
    n.gpu_count = static_cast<int>(gpu);
    const std::string& model = row.fields[c_model].text;
    if (fleet.models().Find(model) == kNoAccelerator &&
        fleet.models().size() >= AcceleratorRegistry::kMaxModels) {
      return FieldError(source, row.line, row.fields[c_model].column,
                        "more than 63 distinct accelerator models");
    }
    n.model = fleet.models().Intern(model);
    n.topology = fleet.topology().Place("default", "default", "default", n.name);
    auto added = fleet.AddNode(std::move(n));
    if (!added.ok()) return FieldError(source, row.line, row.fields[c_name].column, added.status().message());
  }
  return Status::Ok();
}

Status ReadOpenbNodes(const std::string& path, Fleet& fleet) {
  AWAN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseOpenbNodes(text, path, fleet);
}

StatusOr<std::vector<PodSpec>> ParseOpenbPods(std::string_view text, std::string_view source,
                                              AcceleratorRegistry& models) {
  AWAN_ASSIGN_OR_RETURN(auto rows, ParseCsv(text, source));
  if (rows.empty()) return InvalidArgument(std::string(source) + ": empty pod list (expected a header line)");
  CsvHeader h(rows[0], std::string(source));
  AWAN_ASSIGN_OR_RETURN(int c_name, h.Require("name"));
  AWAN_ASSIGN_OR_RETURN(int c_cpu, h.Require("cpu_milli"));
  AWAN_ASSIGN_OR_RETURN(int c_mem, h.Require("memory_mib"));
  AWAN_ASSIGN_OR_RETURN(int c_ngpu, h.Require("num_gpu"));
  AWAN_ASSIGN_OR_RETURN(int c_milli, h.Require("gpu_milli"));
  const int c_spec = h.Find("gpu_spec");
  std::vector<PodSpec> pods;
  pods.reserve(rows.size());
  std::unordered_set<std::string> names;
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    AWAN_RETURN_IF_ERROR(CheckFieldCount(source, rows[0], row));
    PodSpec p;
    p.name = row.fields[c_name].text;
    if (p.name.empty())
      return FieldError(source, row.line, row.fields[c_name].column, "column 'name': empty pod name");
    if (!names.insert(p.name).second) {
      return FieldError(source, row.line, row.fields[c_name].column, "duplicate pod name '" + p.name + "'");
    }
    AWAN_ASSIGN_OR_RETURN(int64_t cpu, ParseCount(source, row, c_cpu, "cpu_milli", kMaxCpuMilli));
    AWAN_ASSIGN_OR_RETURN(int64_t mem, ParseCount(source, row, c_mem, "memory_mib", kMaxMemMiB));
    AWAN_ASSIGN_OR_RETURN(int64_t ngpu, ParseCount(source, row, c_ngpu, "num_gpu", kMaxGpusPerNode));
    AWAN_ASSIGN_OR_RETURN(int64_t milli, ParseCount(source, row, c_milli, "gpu_milli", int64_t{1} << 30));
    p.cpu = CpuMilli(cpu);
    p.memory = MemMiB(mem);
    if (ngpu > 0) {
      p.gpu_count = static_cast<int>(ngpu);
      p.gpu_milli = GpuMilli(std::min<int64_t>(milli, kWholeGpu.value));
      if (c_spec >= 0) {
        const CsvField& spec = row.fields[c_spec];
        size_t start = 0;
        while (start <= spec.text.size()) {
          size_t bar = spec.text.find('|', start);
          if (bar == std::string::npos) bar = spec.text.size();
          std::string part = spec.text.substr(start, bar - start);
          if (!part.empty()) {
            if (models.Find(part) == kNoAccelerator && models.size() >= AcceleratorRegistry::kMaxModels) {
              return FieldError(source, row.line, spec.column, "more than 63 distinct accelerator models");
            }
            p.allowed_models.Add(models.Intern(part));
            p.model_constraint += (p.model_constraint.empty() ? "" : "|") + part;
          }
          start = bar + 1;
        }
      }
    }
    pods.push_back(std::move(p));
  }
  if (pods.empty()) return InvalidArgument(std::string(source) + ": pod list has a header but no pods");
  return pods;
}

StatusOr<std::vector<PodSpec>> ReadOpenbPods(const std::string& path, AcceleratorRegistry& models) {
  AWAN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParseOpenbPods(text, path, models);
}

std::string OpenbWorkloadName(const std::string& path) {
  std::string stem = std::filesystem::path(path).stem().string();
  const std::string prefix = "openb_pod_list_";
  if (stem.rfind(prefix, 0) == 0) return stem.substr(prefix.size());
  return stem;
}

}  // namespace awan::trace
