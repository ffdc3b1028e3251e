#include "sim/generator.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "common/rng.h"

namespace awan::sim {
namespace {

struct NodeType {
  const char* model;
  int gpus;
  int64_t cpu_milli;
  int64_t mem_mib;
  int weight;
};

// awan's example fleet mix (weights in percent of nodes).
const std::vector<NodeType> kMixed = {{"H100", 8, 192000, 2097152, 15}, {"A100", 8, 128000, 1048576, 30},
                                      {"L40S", 4, 64000, 524288, 15},   {"T4", 2, 96000, 393216, 25},
                                      {"L4", 1, 32000, 131072, 10},     {"V100", 8, 96000, 786432, 5}};
const std::vector<NodeType> kHgx = {{"H100", 8, 192000, 2097152, 50}, {"A100", 8, 128000, 1048576, 50}};

struct PodShape {
  int num_gpu;
  int gpu_milli;
  int64_t cpu_milli;
  int64_t mem_mib;
  const char* spec;  // allowed models, "" = any
  int weight;        // per mille of pods
};

// awan's example pod mix: inference workers on fractional GPUs, notebooks and single-GPU jobs, multi-GPU
// training, CPU-only helpers; about a fifth of GPU pods pin an accelerator family.
const std::vector<PodShape> kShapes = {{1, 1000, 8000, 32768, "", 330},
                                       {1, 1000, 16000, 65536, "H100|A100", 60},
                                       {1, 500, 4000, 16384, "", 90},
                                       {1, 250, 2000, 8192, "", 60},
                                       {1, 750, 6000, 24576, "", 50},
                                       {1, 300, 4000, 12288, "T4|L4", 40},
                                       {1, 100, 1000, 4096, "", 25},
                                       {1, 600, 12000, 32768, "L40S|A100|H100", 30},
                                       {2, 1000, 16000, 65536, "", 30},
                                       {4, 1000, 32000, 131072, "", 25},
                                       {8, 1000, 64000, 262144, "H100|A100", 20},
                                       {8, 1000, 96000, 393216, "", 10},
                                       {0, 0, 4000, 8192, "", 150},
                                       {0, 0, 16000, 32768, "", 50},
                                       {0, 0, 32000, 65536, "", 30}};

template <typename T>
const T& Pick(const std::vector<T>& items, Rng& rng) {
  int total = 0;
  for (const T& t : items) total += t.weight;
  int64_t r = static_cast<int64_t>(rng.Uniform(static_cast<uint64_t>(total)));
  for (const T& t : items) {
    if ((r -= t.weight) < 0) return t;
  }
  return items.back();
}

}  // namespace

std::string GenerateNodesCsv(const GeneratorSpec& spec) {
  Rng rng = Rng(spec.seed).Fork(11);
  const auto& types = spec.mix == FleetMix::kHgx ? kHgx : kMixed;
  std::string out = "sn,cpu_milli,memory_mib,gpu,model\n";
  for (int i = 0; i < spec.nodes; ++i) {
    const NodeType& t = Pick(types, rng);
    out += fmt::format("node-{:05d},{},{},{},{}\n", i, t.cpu_milli, t.mem_mib, t.gpus, t.model);
  }
  return out;
}

std::string GeneratePodsCsv(const GeneratorSpec& spec) {
  // The fleet's GPU capacity, from the same node stream.
  Rng node_rng = Rng(spec.seed).Fork(11);
  const auto& types = spec.mix == FleetMix::kHgx ? kHgx : kMixed;
  int64_t capacity = 0;
  for (int i = 0; i < spec.nodes; ++i) capacity += int64_t{1000} * Pick(types, node_rng).gpus;
  const double target = spec.gpu_demand_ratio * static_cast<double>(capacity);

  Rng rng = Rng(spec.seed).Fork(12);
  std::string out = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\n";
  double demand = 0;
  for (int i = 0; demand < target; ++i) {
    const PodShape& s = Pick(kShapes, rng);
    demand += static_cast<double>(s.num_gpu) * s.gpu_milli;
    out +=
        fmt::format("pod-{:07d},{},{},{},{},{}\n", i, s.cpu_milli, s.mem_mib, s.num_gpu, s.gpu_milli, s.spec);
  }
  return out;
}

Status WriteExample(const GeneratorSpec& spec, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  for (const auto& [name, text] : {std::pair{std::string("nodes.csv"), GenerateNodesCsv(spec)},
                                   std::pair{std::string("pods.csv"), GeneratePodsCsv(spec)}}) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream f(path);
    f << text;
    f.close();
    if (!f) return IoError("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace awan::sim
