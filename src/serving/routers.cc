#include "serving/routers.h"

#include <tuple>

namespace awan::serving {
namespace {

int64_t LeastOutstanding(std::span<const ReplicaView> c) {
  int64_t least = c[0].outstanding_tokens;
  for (const ReplicaView& r : c) least = std::min(least, r.outstanding_tokens);
  return least;
}

// Prompt tokens per KV block of the request (0 without hash ids): what one cached block saves.
int64_t TokensPerBlock(const RouteRequest& req) {
  return req.hash_ids.empty() ? 0 : req.prompt_tokens / static_cast<int64_t>(req.hash_ids.size());
}

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
    const int64_t least = LeastOutstanding(c), per_block = TokensPerBlock(req);
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

// awan's router: among the replicas whose outstanding work is within a bound of the least loaded one (so no
// replica takes the load of many because it is near or warm), the most prefix-cache gain, then the least
// latency to the user, then the least work.
class AwanRouter final : public Router {
 public:
  static constexpr int64_t kBoundTokens = 4096;
  std::string_view name() const override { return "awan"; }
  size_t Choose(const RouteRequest& req, std::span<const ReplicaView> c) const override {
    const int64_t least = LeastOutstanding(c), per_block = TokensPerBlock(req);
    auto key = [&](const ReplicaView& r) {
      const int64_t extra = r.outstanding_tokens - least;
      const int64_t gain = r.cached_prefix_blocks * per_block - extra;
      return std::make_tuple(extra > kBoundTokens + r.cached_prefix_blocks * per_block, -gain / 512,
                             r.latency_ms, r.outstanding_tokens, r.replica);
    };
    size_t best = 0;
    for (size_t k = 1; k < c.size(); ++k)
      if (key(c[k]) < key(c[best])) best = k;
    return best;
  }
};

template <typename T>
PluginRegistry::RouterFactory Make() {
  return []() -> StatusOr<std::unique_ptr<Router>> { return std::unique_ptr<Router>(std::make_unique<T>()); };
}

}  // namespace

PrefixCache::PrefixCache(const PrefixCache& other) : capacity_(other.capacity_), lru_(other.lru_) {
  for (auto it = lru_.begin(); it != lru_.end(); ++it) index_[*it] = it;
}

PrefixCache& PrefixCache::operator=(const PrefixCache& other) {
  if (this != &other) {
    PrefixCache copy(other);
    *this = std::move(copy);
  }
  return *this;
}

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
  r.AddRouter("awan", Make<AwanRouter>());
}

}  // namespace awan::serving
