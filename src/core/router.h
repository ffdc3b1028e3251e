// Router: which replica of a service serves a request (issue 17). Residency comes first and is not a
// router's choice: RouteRequest hands the router only the replicas in places where the request's data class
// may be processed, so no router can send a request outside them (as filters run before scorers). Routers are
// chosen by name from the PluginRegistry; the built-ins are in src/serving/routers.h.
//
// Contract: deterministic, no state changed by Choose (a router that learns does it in Served); returns an
// index into the candidates it was given.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace awan {

// A request as routers see it: its prompt's KV blocks (Mooncake-style hash ids, in order; a view, valid for
// the call) and size.
struct RouteRequest {
  std::span<const uint64_t> hash_ids;
  int64_t prompt_tokens = 0;
};

// One replica as a request sees it.
struct ReplicaView {
  uint32_t replica = 0;
  bool allowed = true;             // the request's data class may be processed where it runs
  double latency_ms = 0;           // from the request's user to the replica's region
  int64_t outstanding_tokens = 0;  // queued and running work
  int cached_prefix_blocks = 0;    // leading hash ids of this request already in its KV cache
};

class Router {
 public:
  virtual ~Router() = default;
  virtual std::string_view name() const = 0;
  // REQUIRES: candidates not empty, all allowed.
  virtual size_t Choose(const RouteRequest& req, std::span<const ReplicaView> candidates) const = 0;
};

// Residency first, then the router among the allowed replicas: the chosen replica's id, or nullopt when no
// replica may serve the request (it must wait or be refused, never leave its places).
inline std::optional<uint32_t> RouteWith(const Router& router, const RouteRequest& req,
                                         std::span<const ReplicaView> replicas) {
  std::vector<ReplicaView> allowed;
  for (const ReplicaView& r : replicas)
    if (r.allowed) allowed.push_back(r);
  if (allowed.empty()) return std::nullopt;
  return allowed[router.Choose(req, allowed)].replica;
}

}  // namespace awan
