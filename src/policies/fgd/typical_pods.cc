#include "policies/fgd/typical_pods.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace awan::policies {

std::vector<TypicalPod> EstimateTypicalPods(const std::vector<PodSpec>& pods, double coverage) {
  using Key = std::tuple<int64_t, int32_t, int, std::string>;
  std::map<Key, std::pair<int64_t, AcceleratorSet>> counts;
  std::map<Key, int64_t> mem_sum;  // memory is not part of the key: its mean per shape
  for (const PodSpec& p : pods) {
    const bool gpu = p.wants_gpu();
    Key k{p.cpu.value, gpu ? static_cast<int32_t>(p.gpu_milli.value) : 0, gpu ? p.gpu_count : 0,
          gpu ? p.model_constraint : std::string()};
    auto& e = counts[k];
    e.first += 1;
    mem_sum[k] += p.memory.value;
    if (gpu) e.second = p.allowed_models;
  }
  std::vector<TypicalPod> all;
  for (const auto& [k, v] : counts) {
    TypicalPod t;
    std::tie(t.cpu_milli, t.gpu_milli, t.gpu_count, t.constraint) = k;
    t.count = v.first;
    t.mem_mib = mem_sum[k] / v.first;
    t.allowed_models = v.second;
    all.push_back(std::move(t));
  }
  // Most popular first; ties: larger (cpu, gpu_milli, gpu_count, constraint) first.
  std::sort(all.begin(), all.end(), [](const TypicalPod& a, const TypicalPod& b) {
    if (a.count != b.count) return a.count > b.count;
    return std::tie(a.cpu_milli, a.gpu_milli, a.gpu_count, a.constraint) >
           std::tie(b.cpu_milli, b.gpu_milli, b.gpu_count, b.constraint);
  });
  const double total = static_cast<double>(pods.size());
  std::vector<TypicalPod> kept;
  int64_t covered = 0;
  for (TypicalPod& t : all) {
    covered += t.count;
    kept.push_back(std::move(t));
    if (static_cast<double>(covered) >= coverage * total) break;
  }
  const bool renormalize = kept.size() < all.size();
  for (TypicalPod& t : kept) {
    // Computed in this order so that the probabilities match the reference bit for bit.
    t.probability = static_cast<double>(t.count) / total;
    if (renormalize) t.probability = t.probability / (static_cast<double>(covered) / total);
  }
  return kept;
}

}  // namespace awan::policies
