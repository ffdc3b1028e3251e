#include "test_util.h"

#include <gtest/gtest.h>

#include <sstream>

namespace awan::testing {

std::vector<ScenarioLine> ScenarioLines(const std::string& text) {
  std::vector<ScenarioLine> lines;
  std::istringstream in(text);
  std::string raw;
  for (int n = 1; std::getline(in, raw); ++n) {
    const size_t hash = raw.find('#');
    if (hash != std::string::npos) raw.resize(hash);
    std::istringstream ws(raw);
    ScenarioLine l{n, {}};
    for (std::string w; ws >> w;) l.words.push_back(w);
    if (!l.words.empty()) lines.push_back(std::move(l));
  }
  return lines;
}

std::string Mutate(const std::string& base, Rng& rng, std::string_view alphabet, int max_edits) {
  std::string s = base;
  const int edits = 1 + static_cast<int>(rng.Uniform(static_cast<uint64_t>(max_edits)));
  for (int e = 0; e < edits; ++e) {
    const size_t pos = rng.Uniform(s.size() + 1);
    const char c = alphabet[rng.Uniform(alphabet.size())];
    switch (rng.Uniform(3)) {
      case 0:
        s.insert(s.begin() + static_cast<std::ptrdiff_t>(pos), c);
        break;
      case 1:
        if (pos < s.size()) s.erase(pos, 1);
        break;
      default:
        if (pos < s.size()) s[pos] = c;
        break;
    }
  }
  return s;
}

NodeIndex AddNode(Fleet& fleet, const std::string& name, int64_t cpu, int64_t mem, int gpus,
                  const std::string& model) {
  NodeSpec n;
  n.name = name;
  n.cpu = CpuMilli(cpu);
  n.memory = MemMiB(mem);
  n.gpu_count = gpus;
  n.model = gpus > 0 ? fleet.models().Intern(model) : kNoAccelerator;
  n.topology = fleet.topology().Place("r", "z", "b", name);
  auto idx = fleet.AddNode(std::move(n));
  EXPECT_TRUE(idx.ok()) << idx.status().ToString();
  return *idx;
}

PodSpec Pod(const std::string& name, int64_t cpu, int64_t mem, int gpus, int64_t milli, Fleet& fleet,
            const std::string& models) {
  PodSpec p;
  p.name = name;
  p.cpu = CpuMilli(cpu);
  p.memory = MemMiB(mem);
  p.gpu_count = gpus;
  p.gpu_milli = GpuMilli(gpus > 0 ? milli : 0);
  size_t start = 0;
  while (start < models.size()) {
    size_t bar = models.find('|', start);
    if (bar == std::string::npos) bar = models.size();
    p.allowed_models.Add(fleet.models().Intern(models.substr(start, bar - start)));
    start = bar + 1;
  }
  p.model_constraint = models;
  return p;
}

void UseDevices(ClusterSnapshot& snap, NodeIndex node, const std::vector<int32_t>& left) {
  for (size_t d = 0; d < left.size(); ++d) {
    const int32_t use = 1000 - left[d];
    if (use <= 0) continue;
    PodSpec filler;
    filler.name = "filler";
    filler.gpu_count = 1;
    filler.gpu_milli = GpuMilli(use);
    Placement p{node, {}};
    p.devices.Add(static_cast<int>(d));
    ASSERT_TRUE(snap.Assign(filler, p).ok());
  }
}

}  // namespace awan::testing
