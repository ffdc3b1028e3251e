// Framework: runs one Profile over a ClusterSnapshot to decide where one workload goes. The stages, in
// order, each timed through the injected TickSource:
//   1. Filter     every node through every filter; count the reasons of the rejected ones
//   2. PreScore   once, over the feasible nodes (skipped when exactly one node is feasible)
//   3. Score      every feasible node by every scorer (served from the score cache when allowed)
//   4. Normalize  per scorer, then weight and sum
//   5. SelectHost highest total; ties go to the node with the smallest tie rank
//   6. Reserve    the device selector picks GPU devices on the chosen node
// The framework never changes the snapshot: committing a Decision is the caller's job.
//
// Not thread-safe (one Framework per thread); the score cache is the only state kept between cycles.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "common/tick_source.h"
#include "core/fit_reason.h"
#include "core/placement.h"
#include "core/profile.h"
#include "core/snapshot.h"

namespace awan {

// What one cycle needs from its caller. The rng drives random plugins; tie_rank[i] is node i's rank for
// tie-breaking (smaller wins; empty = node index); ticks times the stages (a NullTickSource if unset).
struct CycleContext {
  Rng* rng = nullptr;
  std::span<const uint32_t> tie_rank;
  TickSource* ticks = nullptr;
  // If not empty, only nodes i with allowed[i] != 0 are candidates (the others fail with kOutsideDomain):
  // how a caller confines one placement to a topology domain.
  std::span<const uint8_t> allowed;
  // With residency_enforced, only nodes i with residency[i] != 0 may take the pod (the others fail with
  // kResidency): the regions where every piece of the job's data may be processed (core/residency.h).
  bool residency_enforced = false;
  std::span<const uint8_t> residency;
  // If not empty, nodes i with reserved[i] != 0 are held for another job (kReserved): a backfill reservation.
  std::span<const uint8_t> reserved;
  // > 0: stop filtering once this many feasible nodes are found, scanning from a node that depends on the
  // pod's name (the kube-scheduler's numFeasibleNodesToFind, for very large fleets) and skipping the nodes
  // the snapshot's free-GPU index rules out; the diagnosis then counts only the nodes looked at. 0: every
  // node.
  uint32_t max_feasible = 0;
};

struct Decision {
  bool placed = false;
  Placement placement;  // valid when placed
  int feasible_nodes = 0;
  FitDiagnosis diagnosis;  // why the other nodes were rejected
};

// Cumulative stage timings and counters, for benchmarks and metrics.
struct FrameworkStats {
  int64_t cycles = 0;
  int64_t placed = 0;
  int64_t filter_ns = 0;
  int64_t score_ns = 0;
  int64_t select_ns = 0;
  int64_t score_cache_hits = 0;
  int64_t score_cache_misses = 0;
  std::vector<int64_t> scorer_ns;  // per scorer, profile order
};

class Framework {
 public:
  explicit Framework(Profile profile);

  const std::string& profile_name() const { return profile_.name; }
  const Profile& profile() const { return profile_; }

  // Decides where `pod` goes on `snap`. Fails only on a plugin contract violation (a score outside
  // [0, 100] or a device selection that does not fit), never because the pod does not fit.
  StatusOr<Decision> Schedule(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx);

  const FrameworkStats& stats() const { return stats_; }
  // Swaps in another profile with the same scorers in the same order (one rebuilt for a new target
  // workload): the score cache is dropped, since the scores it holds were computed by the old plugins.
  void ReplaceProfile(Profile profile);

 private:
  struct CacheEntry {
    uint64_t generation = 0;  // 0 = empty
    int64_t score = 0;
  };
  // Score from the cache when the node's generation matches, else compute and store.
  int64_t ScoreNode(size_t scorer, const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex n,
                    std::vector<CacheEntry>* cache);
  Status Normalize(size_t scorer, std::vector<int64_t>& raw);
  // Stage 1 over nodes [first, last): the caller's masks, then every filter; feasible nodes are appended.
  void FilterRange(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx, uint32_t first,
                   uint32_t last, Decision& d);
  // FilterRange over the runs of nodes in [first, last) whose bit in `room` is set.
  void FilterRoom(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx,
                  std::span<const uint64_t> room, uint32_t first, uint32_t last, Decision& d);
  void Filter(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx, Decision& d);
  // Stages 2-5 over the feasible nodes: the chosen one.
  StatusOr<NodeIndex> ScoreAndSelect(const PodSpec& pod, const ClusterSnapshot& snap,
                                     const CycleContext& ctx);
  // Stage 6: the device selector picks devices on `chosen`, checked.
  Status Reserve(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx, NodeIndex chosen,
                 Decision& d);

  Profile profile_;
  FrameworkStats stats_;
  NullTickSource null_ticks_;
  // Score cache: per scorer, per cache key, one entry per node. Reset when the snapshot uid changes.
  uint64_t cache_snapshot_uid_ = 0;
  std::vector<std::unordered_map<uint64_t, std::vector<CacheEntry>>> cache_;
  // Scratch buffers reused across cycles.
  std::vector<FitReason> reasons_;
  std::vector<NodeIndex> feasible_;
  std::vector<int64_t> raw_;
  std::vector<int64_t> total_;
  std::vector<int64_t> norm_table_;
};

}  // namespace awan
