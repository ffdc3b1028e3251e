#include "serving/cold_start.h"

#include <algorithm>
#include <cmath>

namespace awan::serving {

const char* WeightSourceName(WeightSource s) {
  switch (s) {
    case WeightSource::kObjectStore:
      return "object-store";
    case WeightSource::kNodeNvme:
      return "nvme";
    case WeightSource::kHostDram:
      return "dram";
    case WeightSource::kPeerGpu:
      return "peer";
  }
  return "?";
}

ColdStart EstimateColdStart(bool image_cached, int64_t image_bytes, WeightSource source, int64_t weight_bytes,
                            const ColdStartOptions& o) {
  ColdStart c;
  c.schedule_s = o.schedule_s;
  if (!image_cached) {
    const double pulled = static_cast<double>(image_bytes) * (o.lazy_image ? o.lazy_fraction : 1.0);
    c.image_s = pulled / o.registry_bytes_per_s;
  }
  const double rate = source == WeightSource::kObjectStore ? o.object_store_bytes_per_s
                      : source == WeightSource::kNodeNvme  ? o.nvme_bytes_per_s
                      : source == WeightSource::kHostDram  ? o.dram_bytes_per_s
                                                           : o.peer_bytes_per_s;
  c.weights_s = static_cast<double>(weight_bytes) / rate;
  c.init_s = o.engine_init_s;
  return c;
}

NodeCache::NodeCache(const NodeCache& other)
    : capacity_(other.capacity_), used_(other.used_), lru_(other.lru_) {
  for (auto it = lru_.begin(); it != lru_.end(); ++it) index_[it->key] = it;
}

NodeCache& NodeCache::operator=(const NodeCache& other) {
  if (this != &other) {
    NodeCache copy(other);
    *this = std::move(copy);
  }
  return *this;
}

bool NodeCache::Use(const std::string& key, int64_t bytes) {
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);
    return true;
  }
  if (bytes > capacity_) return false;
  while (used_ + bytes > capacity_ && !lru_.empty()) {
    used_ -= lru_.back().bytes;
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
  lru_.push_front({key, bytes});
  index_[key] = lru_.begin();
  used_ += bytes;
  return false;
}

int PrefetchSlots(double forecast_rps, double capacity_rps, int alive) {
  alive = std::max(0, alive);
  int want = alive;
  if (forecast_rps >= 0 && capacity_rps > 0)
    want = std::max(alive, static_cast<int>(std::min(std::ceil(forecast_rps / capacity_rps - 1e-9), 1e6)));
  return std::max(0, want - alive) + static_cast<int>(std::ceil(0.25 * want)) + 1;
}

int PrefetchWant(double forecast_rps, double capacity_rps, int alive, int pending, int max_replicas) {
  const int placed = std::max(0, alive - pending);
  const int want = pending + PrefetchSlots(forecast_rps, capacity_rps, alive);
  return std::max(0, std::min(max_replicas - placed, want));
}

int ReplicaSlots(const NodeState& node, const ReplicaShape& shape) {
  return node.DevicesWithAtLeast(shape.gpu_milli.value) / std::max(1, shape.gpus);
}

std::vector<size_t> PlanPrefetch(std::span<const PrefetchNode> nodes, int want) {
  int warm = 0;
  for (const PrefetchNode& n : nodes) warm += n.warm ? n.slots : 0;
  std::vector<size_t> pull;
  for (size_t i = 0; i < nodes.size() && warm < want; ++i) {
    if (nodes[i].warm || nodes[i].slots <= 0) continue;
    pull.push_back(i);
    warm += nodes[i].slots;
  }
  return pull;
}

}  // namespace awan::serving
