// Cold starts of replicas (../shared/reference/INFERENCE.md §5): cold = schedule + image + weights + engine
// init. Each node caches images and model weights (NodeCache, LRU by bytes): a cached image costs nothing to
// pull, cached weights load from the node's NVMe or host memory instead of the object store, and weights can
// come from a peer replica's GPUs over NVLink or RDMA. The caches are fleet state; placement can prefer warm
// nodes and a scaler that knows the cold-start time can start replicas ahead of the load.
//
// Defaults, with their sources: image pulls at 40 MB/s (Alibaba DADI: a 1.34 GB image in 36 s without lazy
// loading); lazy loading reads 6.4 % of the image before start (Slacker, FAST'16); weights from the object
// store at 1.5 GB/s (ServerlessLLM, OSDI'24: LLaMA-2-70B in 84 s on the baseline), from NVMe at 6 GB/s
// (ServerlessLLM's 3.6-8.2x), from host DRAM at 20 GB/s (PCIe 4.0 x16), from a peer GPU at 25 GB/s (200 Gb/s
// RDMA, BlitzScale); engine init 30 s (CUDA graph capture and warm-up: "tens of seconds for vLLM"); 1 s to
// schedule.
//
// Pure and deterministic.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/snapshot.h"
#include "model/service.h"

namespace awan::serving {

enum class WeightSource : uint8_t { kObjectStore = 0, kNodeNvme, kHostDram, kPeerGpu };
// "object-store", "nvme", "dram", "peer"
const char* WeightSourceName(WeightSource s);

struct ColdStartOptions {
  double schedule_s = 1;
  double registry_bytes_per_s = 40e6;
  bool lazy_image = false;
  double lazy_fraction = 0.064;
  double object_store_bytes_per_s = 1.5e9;
  double nvme_bytes_per_s = 6e9;
  double dram_bytes_per_s = 20e9;
  double peer_bytes_per_s = 25e9;
  double engine_init_s = 30;
};

struct ColdStart {
  double schedule_s = 0, image_s = 0, weights_s = 0, init_s = 0;
  double total_s() const { return schedule_s + image_s + weights_s + init_s; }
};

// The cold start of one replica: its image (cached on the node or pulled), its weights from `source`.
ColdStart EstimateColdStart(bool image_cached, int64_t image_bytes, WeightSource source, int64_t weight_bytes,
                            const ColdStartOptions& o = {});

// Forecast-driven prefetch: how many free replica slots a service wants on warm nodes (its image and weights
// cached there, or being pulled) so that the replicas it may start within one pull's time start warm. The
// replicas the forecast wants (forecast_rps / capacity_rps, rounded up, never fewer than the `alive` ones:
// a forecast below them does not shrink the margin, since scalers hold replicas a while after the load
// falls and a burst from a quiet service is what the forecast misses) beyond the alive ones, plus a quarter
// of what it wants and one more for the forecast's error. forecast_rps < 0 (a scaler that makes no
// forecast) or capacity_rps <= 0: the alive replicas stand for the forecast (a quarter of them and one
// spare).
int PrefetchSlots(double forecast_rps, double capacity_rps, int alive);

// The free slots on warm nodes a service's prefetch wants, in the simulator and the server alike: those its
// replicas decided and not placed yet take (`pending`, counted among the `alive` ones, which are those not
// draining), plus PrefetchSlots; never more than the replicas it may still place before it has
// `max_replicas` (the ones placed hold their own), and never below 0.
int PrefetchWant(double forecast_rps, double capacity_rps, int alive, int pending, int max_replicas);

// Free slots for one more replica of `shape` on `node`: its devices with the shape's share of a device free,
// by the shape's devices per replica. The simulator and the server count room for prefetch the same way.
int ReplicaSlots(const NodeState& node, const ReplicaShape& shape);

// A node a service's next replica could start on, for PlanPrefetch.
struct PrefetchNode {
  int slots = 0;      // ReplicaSlots
  bool warm = false;  // it holds the service's image and weights, or is pulling them
};

// Forecast-driven prefetch, in the simulator and the server alike: which of `nodes` (in the order the
// service would try them; warm ones may be anywhere) to pull onto, so that the free slots on warm nodes
// reach `want` (PrefetchWant). Every warm node's slots count first; then the others are taken in order until
// the sum reaches `want`. Indexes into `nodes`, in order.
std::vector<size_t> PlanPrefetch(std::span<const PrefetchNode> nodes, int want);

// How far ahead PrefetchSlots' forecast is read, in the simulator and the server alike: one replica start on
// a node that must pull the image and weights first (`pulled_start_ms`, modelled or measured), then one
// decision period of the scaler.
inline int64_t PrefetchHorizonMs(int64_t pulled_start_ms, int64_t period_ms) {
  return pulled_start_ms + period_ms;
}

// One node's cache of images or weights: least recently used first out, bounded in bytes.
class NodeCache {
 public:
  explicit NodeCache(int64_t capacity_bytes) : capacity_(capacity_bytes) {}
  // Copies rebuild the index (it points into the list); moves keep it.
  NodeCache(const NodeCache& other);
  NodeCache& operator=(const NodeCache& other);
  NodeCache(NodeCache&&) noexcept = default;
  NodeCache& operator=(NodeCache&&) noexcept = default;
  bool Contains(const std::string& key) const { return index_.count(key) > 0; }
  // Uses `key` (`bytes` large): true if it was cached (a hit, now the most recent); else it is added,
  // evicting the least recently used until it fits (an item larger than the cache is not kept).
  bool Use(const std::string& key, int64_t bytes);
  int64_t used_bytes() const { return used_; }
  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    std::string key;
    int64_t bytes;
  };
  int64_t capacity_, used_ = 0;
  std::list<Entry> lru_;  // most recent first
  std::unordered_map<std::string, std::list<Entry>::iterator> index_;
};

}  // namespace awan::serving
