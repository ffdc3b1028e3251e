#include "serving/routers.h"

#include <tuple>

namespace awan::serving {
namespace {

class Nearest final : public Router {
 public:
  std::string_view name() const override { return "nearest"; }
  size_t Choose(const RouteRequest&, std::span<const ReplicaView> c) const override {
    size_t best = 0;
    for (size_t k = 1; k < c.size(); ++k) {
      if (std::tie(c[k].latency_ms, c[k].outstanding_tokens, c[k].replica) <
          std::tie(c[best].latency_ms, c[best].outstanding_tokens, c[best].replica))
        best = k;
    }
    return best;
  }
};

class LeastWork final : public Router {
 public:
  std::string_view name() const override { return "least-work"; }
  size_t Choose(const RouteRequest&, std::span<const ReplicaView> c) const override {
    size_t best = 0;
    for (size_t k = 1; k < c.size(); ++k) {
      if (std::tie(c[k].outstanding_tokens, c[k].latency_ms, c[k].replica) <
          std::tie(c[best].outstanding_tokens, c[best].latency_ms, c[best].replica))
        best = k;
    }
    return best;
  }
};

// Prefix affinity bounded by load: a cached block saves its tokens of prefill; a replica whose extra
// outstanding work exceeds what the hit saves is not worth it.
class Prefix final : public Router {
 public:
  std::string_view name() const override { return "prefix"; }
  size_t Choose(const RouteRequest& req, std::span<const ReplicaView> c) const override {
    int64_t least = c[0].outstanding_tokens;
    for (const ReplicaView& r : c) least = std::min(least, r.outstanding_tokens);
    const int64_t per_block =
        req.hash_ids.empty() ? 0 : req.prompt_tokens / static_cast<int64_t>(req.hash_ids.size());
    auto gain = [&](const ReplicaView& r) {  // tokens of prefill saved less the extra work waited behind
      return r.cached_prefix_blocks * per_block - (r.outstanding_tokens - least);
    };
    size_t best = 0;
    for (size_t k = 1; k < c.size(); ++k) {
      const int64_t gk = gain(c[k]), gb = gain(c[best]);
      if (gk > gb || (gk == gb && std::tie(c[k].outstanding_tokens, c[k].replica) <
                                      std::tie(c[best].outstanding_tokens, c[best].replica)))
        best = k;
    }
    return best;
  }
};

template <typename T>
PluginRegistry::RouterFactory Make() {
  return []() -> StatusOr<std::unique_ptr<Router>> { return std::unique_ptr<Router>(std::make_unique<T>()); };
}

}  // namespace

int PrefixCache::CachedPrefix(std::span<const uint64_t> ids) const {
  int n = 0;
  for (uint64_t id : ids) {
    if (!index_.count(id)) break;
    ++n;
  }
  return n;
}

void PrefixCache::Insert(std::span<const uint64_t> ids) {
  for (uint64_t id : ids) {
    if (auto it = index_.find(id); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      continue;
    }
    if (capacity_ == 0) return;
    if (index_.size() >= capacity_) {
      index_.erase(lru_.back());
      lru_.pop_back();
    }
    lru_.push_front(id);
    index_[id] = lru_.begin();
  }
}

void RegisterRouters(PluginRegistry& r) {
  r.AddRouter("nearest", Make<Nearest>());
  r.AddRouter("least-work", Make<LeastWork>());
  r.AddRouter("prefix", Make<Prefix>());
}

}  // namespace awan::serving
