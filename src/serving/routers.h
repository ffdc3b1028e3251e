// The built-in routers (core/router.h), registered by name; each runs after residency has removed the
// replicas a request may not reach:
//   nearest     the least latency to the request's user; ties: the least outstanding work
//   least-work  the least outstanding work (queued and running tokens); ties: the least latency
//   prefix      the most of the request's prompt already in a replica's KV cache (its leading blocks), unless
//               that replica's outstanding work exceeds the least loaded one's by more than the prefill the
//               hit saves; ties: the least outstanding work
//   awan        among the replicas within 4,096 tokens of outstanding work of the least loaded one (more when
//               a prefix hit saves it), the most prefill saved (in 512-token blocks), then the least latency,
//               then the least work: near and warm, but never piling onto one replica
// PrefixCache is the per-replica LRU of KV blocks the simulator keeps to say how much of a prompt is cached.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>

#include "core/registry.h"

namespace awan::serving {

void RegisterRouters(PluginRegistry& registry);

// A replica's KV blocks by hash id, least recently used out first, bounded in blocks.
class PrefixCache {
 public:
  explicit PrefixCache(size_t capacity_blocks) : capacity_(capacity_blocks) {}
  // Copies rebuild the index (it points into the list); moves keep it.
  PrefixCache(const PrefixCache& other);
  PrefixCache& operator=(const PrefixCache& other);
  PrefixCache(PrefixCache&&) noexcept = default;
  PrefixCache& operator=(PrefixCache&&) noexcept = default;
  // How many leading ids of `ids` are cached (a prefix hit stops at the first miss).
  int CachedPrefix(std::span<const uint64_t> ids) const;
  // The blocks of a prompt just prefilled (or read): cached, most recent.
  void Insert(std::span<const uint64_t> ids);
  size_t size() const { return index_.size(); }

 private:
  size_t capacity_;
  std::list<uint64_t> lru_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

}  // namespace awan::serving
