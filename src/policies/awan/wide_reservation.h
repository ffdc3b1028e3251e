// WideReservation: keeps room for the wide pods still to come (whole-GPU pods that need several free devices
// and a matching share of CPU on one node), so that narrow pods do not break the last hosts they could use.
//
// From the pod list (the knowledge FGD uses) it takes every wide shape s (k >= 2 whole GPUs, c CPU milli) and
// its share q(s) of the list's GPU demand. Like FGD it assumes that what is still to come looks like the list
// and fills the idle GPU I, so the pods expected to need one of s's hosts are those of s and of every wide
// shape at least as wide and as CPU-hungry (they fit only where s fits):
//   R(s) = I * sum over those shapes o of q(o) / (1000 * k(o))
// The fleet's hosts for s are H(s) = sum over available nodes of min(free devices / k, CPU left / c) (on the
// models s allows). s is scarce when H(s) <= R(s). A pod scores 0 on a node where it would take a host of a
// scarce shape other than its own, 100 elsewhere (CPU-only pods too: they can take a host's CPU). Weighted
// above the packing scorers, narrow pods go where they break no scarce wide host, and onto one only when
// nothing else fits. Without wide pods in the list it changes nothing.
//
// H(s) and I are kept per node and refreshed only for nodes whose generation changed since the last cycle,
// so PreScore costs one pass over the node generations. Not thread-safe (per-cycle state).
#pragma once

#include <algorithm>
#include <vector>

#include "core/plugin.h"

namespace awan::policies {

class WideReservation final : public ScorePlugin {
 public:
  explicit WideReservation(const std::vector<PodSpec>& workload);
  std::string_view name() const override { return "WideReservation"; }
  void PreScore(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> feasible,
                Rng& rng) override;
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override;
  void ScoreAll(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex> nodes,
                std::span<int64_t> out) const override {
    if (!any_scarce_) {
      std::fill(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(nodes.size()), kMaxNodeScore);
      return;
    }
    ScoreEach(*this, pod, snap, nodes, out);
  }

  struct Shape {
    int gpus = 0;                        // whole devices
    int64_t cpu_milli = 0;               // CPU per pod
    AcceleratorSet models;               // empty = any
    double expected_per_idle_milli = 0;  // R(s) / I
  };
  const std::vector<Shape>& shapes() const { return shapes_; }
  // After a PreScore: whether shape k (index into shapes()) is scarce, and its host count H.
  bool scarce(size_t k) const { return scarce_[k] != 0; }
  int64_t hosts(size_t k) const { return total_[k]; }

 private:
  int Hosts(const Shape& s, AcceleratorId model, int free_devices, int64_t cpu_left) const;
  void Refresh(const ClusterSnapshot& snap);

  std::vector<Shape> shapes_;
  // Per node: its generation when last counted, its idle GPU milli and its hosts per shape (node-major).
  uint64_t snap_uid_ = 0;
  std::vector<uint64_t> gen_;
  std::vector<int64_t> idle_;
  std::vector<int> hosts_;
  std::vector<int64_t> total_;  // H(s)
  int64_t idle_total_ = 0;      // I
  std::vector<uint8_t> scarce_;
  std::vector<uint32_t> scarce_list_;  // this cycle: the scarce shapes that still have a host
  bool any_scarce_ = false;
};

}  // namespace awan::policies
