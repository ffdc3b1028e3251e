// The FGD paper's experiment protocol (shared/reference/FGD-PROTOCOL.md section 1), on awan's core:
//   1. the pod list, sorted by name, is shuffled per seed;
//   2. tuned to `tune_ratio` x cluster GPU capacity: pods drawn with replacement from the original list are
//      appended while the total stays at or below the target (the stop test uses the draw's per-device milli,
//      as the reference does), or random pods are removed while the total is above it;
//   3. nodes get a seeded tie-break rank (a random permutation over nodes sorted by name);
//   4. pods are submitted one at a time, never retried, never departing; a pod that fits nowhere is skipped;
//      after every pod the arrived GPU request, the allocated GPU, the cluster fragmentation and the servers
//      of the widest kind with every device free are recorded.
// Randomness: one seed gives three independent streams (workload, node ranks, policy), so every policy sees
// the same pod sequence and the same ranks for a seed. awan's RNG is not Go's: sequences are statistically,
// not bit-for-bit, those of the reference.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "core/fit_reason.h"
#include "core/framework.h"
#include "core/registry.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan::sim {

// Indices into the original pod list (sorted by name), in submission order.
std::vector<uint32_t> BuildOpenbSequence(const std::vector<PodSpec>& by_name, int64_t gpu_capacity_milli,
                                         double tune_ratio, Rng& rng);

// The submission order of one seed's run, exactly as RunOpenb builds it (the seed's workload stream).
std::vector<uint32_t> OpenbSequenceForSeed(const std::vector<PodSpec>& by_name, int64_t gpu_capacity_milli,
                                           double tune_ratio, uint64_t seed);

// rank[node index] for tie-breaking: a random permutation assigned to the nodes in name order.
std::vector<uint32_t> NodeTieRanks(const Fleet& fleet, Rng& rng);

// The largest GPU count of any node (0 without GPUs): the servers the widest pods need whole.
int WidestGpuCount(const Fleet& fleet);

// True when `arrived_milli` is past bucket `pct` of the curves: above (pct + 0.5) % of capacity. The bound,
// the failures "at 100 %" and the idle devices at 100 % all stop at the last pod of bucket 100 by this rule.
inline bool PastBucket(int64_t arrived_milli, int64_t capacity_milli, int pct) {
  return arrived_milli * 200 > capacity_milli * (2 * pct + 1);
}

// The per-pod records of one run, in submission order.
struct OpenbTimeline {
  std::vector<int64_t> arrived_milli;  // cumulative GPU request submitted so far (failed pods included)
  std::vector<int64_t> used_milli;     // GPU allocated after this pod
  std::vector<double> frag_milli;      // FGD fragmentation of the whole cluster after this pod
  std::vector<int32_t> free_widest;    // nodes of the widest kind with every device free after this pod
};

struct OpenbRunOptions {
  double tune_ratio = 1.3;
  bool record_frag = true;
  TickSource* ticks = nullptr;                  // times the framework's stages (optional)
  std::atomic<int64_t>* pods_done = nullptr;    // progress counter, bumped as pods are processed (optional)
  std::vector<int64_t>* decision_ns = nullptr;  // per-decision latency, if the caller wants it (needs ticks)
  int64_t max_pods = -1;                        // stop after this many pods (benchmarks); -1 = all
};

struct OpenbRunResult {
  std::string workload;
  std::string policy;
  uint64_t seed = 0;
  int64_t pods = 0;
  int64_t placed = 0;
  int64_t failed = 0;
  int total_gpus = 0;
  std::array<int64_t, kFitReasonCount> failures_by_reason{};  // dominant reason of each failed pod
  std::vector<uint32_t> failed_at;  // positions (in submission order) of the pods that fit nowhere
  std::vector<uint32_t> sequence;   // submission order, as indices into the name-sorted pod list
  OpenbTimeline timeline;
  // Where the unallocated GPU sits when arrived reaches the end of bucket 100 (the last pod whose arrived
  // value rounds to 100 % or below; the end of the run if it never passes): available devices by milli left,
  // 1..1000 (1000 = a fully free device). sum(left x devices) = capacity - allocated at that point.
  std::map<int32_t, int64_t> idle_devices_at_100;
  FrameworkStats stats;
};

// Runs one (workload, policy, seed) replay. `by_name` is the workload's original pod list sorted by name.
StatusOr<OpenbRunResult> RunOpenb(const Fleet& fleet, const std::vector<PodSpec>& by_name,
                                  const std::string& workload, const std::string& policy, uint64_t seed,
                                  const PluginRegistry& registry, const OpenbRunOptions& options);

// Returns the pods sorted by name (the protocol's canonical order).
std::vector<PodSpec> SortedByName(std::vector<PodSpec> pods);

}  // namespace awan::sim
