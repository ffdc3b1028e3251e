#include "model/fleet.h"

#include <algorithm>

namespace awan {

StatusOr<NodeIndex> Fleet::AddNode(NodeSpec spec) {
  if (spec.name.empty()) return InvalidArgument("node with an empty name");
  if (spec.gpu_count < 0 || spec.gpu_count > kMaxGpusPerNode) {
    return InvalidArgument("node " + spec.name + ": GPU count " + std::to_string(spec.gpu_count) +
                           " outside 0.." + std::to_string(kMaxGpusPerNode));
  }
  if (spec.cpu.value < 0 || spec.memory.value < 0 || spec.max_pods < 0) {
    return InvalidArgument("node " + spec.name + ": negative capacity");
  }
  if (by_name_.count(spec.name)) return AlreadyExists("duplicate node name " + spec.name);
  NodeIndex idx(static_cast<uint32_t>(nodes_.size()));
  by_name_.emplace(spec.name, idx);
  total_gpus_ += spec.gpu_count;
  nodes_.push_back(std::move(spec));
  return idx;
}

bool Fleet::FindNode(std::string_view name, NodeIndex* out) const {
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return false;
  *out = it->second;
  return true;
}

void Fleet::SetRegion(DomainId region, RegionInfo info) {
  if (regions_.size() <= region.value) regions_.resize(region.value + 1);
  regions_[region.value] = std::move(info);
}

const RegionInfo& Fleet::region(DomainId region) const {
  static const RegionInfo kNone;
  return region.value < regions_.size() ? regions_[region.value] : kNone;
}

void Fleet::SetLatency(DomainId a, DomainId b, double ms) {
  const size_t n = std::max<size_t>({latency_.size(), a.value + 1u, b.value + 1u});
  latency_.resize(n);
  for (auto& row : latency_) row.resize(n, 0.0);
  latency_[a.value][b.value] = ms;
  latency_[b.value][a.value] = ms;
}

double Fleet::latency_ms(DomainId a, DomainId b) const {
  if (a.value >= latency_.size() || b.value >= latency_.size()) return 0;
  return latency_[a.value][b.value];
}

void Fleet::SetUserLatency(const std::string& location, DomainId region, double ms) {
  std::vector<double>& v = user_latency_[location];
  if (v.size() <= region.value) v.resize(region.value + 1, 0.0);
  v[region.value] = ms;
}

std::vector<std::string> Fleet::user_locations() const {
  std::vector<std::string> out;
  for (const auto& [name, v] : user_latency_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

double Fleet::user_latency_ms(const std::string& location, DomainId region) const {
  auto it = user_latency_.find(location);
  if (it == user_latency_.end() || region.value >= it->second.size()) return 0;
  return it->second[region.value];
}

}  // namespace awan
