// The extension points of the scheduling framework, after the kube-scheduler framework: small interfaces,
// one per stage. Plugins are policy; the framework (core/framework.h) is mechanism: it runs them, counts
// fit reasons, normalizes and weights scores, breaks ties and records timings.
//
// Contract for every plugin (checked by tests/contract): deterministic given its inputs and the Rng it is
// handed, never mutates the snapshot, scores within [0, 100] after the framework's normalization.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/rng.h"
#include "core/fit_reason.h"
#include "core/placement.h"
#include "core/snapshot.h"
#include "model/workload.h"

namespace awan {

inline constexpr int64_t kMaxNodeScore = 100;

// Filter: can this node take this workload at all? Returns FitReason::kFits or the reason it cannot.
class FilterPlugin {
 public:
  virtual ~FilterPlugin() = default;
  virtual std::string_view name() const = 0;
  virtual FitReason Filter(const PodSpec& pod, const NodeState& node) const = 0;

  // Batch form used by the framework: for every node first + i with reasons[i] == kFits, sets reasons[i] to
  // Filter(pod, node first + i). Must agree with Filter; a final plugin overrides it (FilterEach) so that the
  // per-node call is inlined.
  virtual void FilterRange(const PodSpec& pod, const ClusterSnapshot& snap, uint32_t first,
                           std::span<FitReason> reasons) const {
    for (uint32_t i = 0; i < reasons.size(); ++i) {
      if (reasons[i] == FitReason::kFits) reasons[i] = Filter(pod, snap.node(NodeIndex(first + i)));
    }
  }
  // Every node: FilterRange from node 0.
  void FilterAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<FitReason> reasons) const {
    FilterRange(pod, snap, 0, reasons);
  }
};

// Implements FilterRange for a final filter class T by calling T::Filter directly (inlinable).
template <typename T>
void FilterEach(const T& self, const PodSpec& pod, const ClusterSnapshot& snap, uint32_t first,
                std::span<FitReason> reasons) {
  for (uint32_t i = 0; i < reasons.size(); ++i) {
    if (reasons[i] == FitReason::kFits) reasons[i] = self.T::Filter(pod, snap.node(NodeIndex(first + i)));
  }
}

// How the framework maps a plugin's raw scores to [0, 100] across the feasible nodes of one cycle.
enum class Normalization {
  kNone,    // raw scores are already in [0, 100]; the framework checks the range
  kMinMax,  // (raw - min) * 100 / (max - min), integer; all 0 when max == min
};

// Score: how good is this feasible node? Higher is better.
class ScorePlugin {
 public:
  virtual ~ScorePlugin() = default;
  virtual std::string_view name() const = 0;
  virtual Normalization normalization() const { return Normalization::kNone; }
  // The largest score a kNone plugin returns; the framework checks [0, max_score()]. Kubernetes-style
  // plugins keep 100; a plugin that needs finer resolution (awan's own) declares more.
  virtual int64_t max_score() const { return kMaxNodeScore; }

  // Called once per cycle with the feasible nodes (in index order), before any Score call. A plugin may
  // keep per-cycle state here (for example a random pick). Not called when only one node is feasible.
  virtual void PreScore(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> feasible,
                        Rng& rng) {
    (void)pod, (void)snap, (void)feasible, (void)rng;
  }

  virtual int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const = 0;

  // Batch form used by the framework when nothing is cached: out[k] = Score(pod, snap, nodes[k]). Must agree
  // with Score; a final plugin overrides it (ScoreEach) so that the per-node call is inlined.
  virtual void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                        std::span<int64_t> out) const {
    for (size_t k = 0; k < nodes.size(); ++k) out[k] = Score(pod, snap, nodes[k]);
  }

  // If the score is a pure function of the node's state and of this key of the pod (no PreScore state),
  // return the key: the framework then caches scores per (node generation, key) across cycles.
  virtual std::optional<uint64_t> CacheKey(const PodSpec& pod) const {
    (void)pod;
    return std::nullopt;
  }
};

// Implements ScoreAll for a final scorer class T by calling T::Score directly (inlinable).
template <typename T>
void ScoreEach(const T& self, const PodSpec& pod, const ClusterSnapshot& snap,
               std::span<const NodeIndex> nodes, std::span<int64_t> out) {
  for (size_t k = 0; k < nodes.size(); ++k) out[k] = self.T::Score(pod, snap, nodes[k]);
}

// DeviceSelect (the Reserve stage for devices): which GPU devices of the chosen node the workload gets.
// REQUIRES: the node passed the filters for this pod. Returns exactly pod.gpu_count devices for a GPU pod
// and none for a CPU-only pod.
class DeviceSelector {
 public:
  virtual ~DeviceSelector() = default;
  virtual std::string_view name() const = 0;
  virtual DeviceList Select(const PodSpec& pod, const NodeState& node, Rng& rng) const = 0;
};

}  // namespace awan
