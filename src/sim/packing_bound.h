// An upper bound on the GPU any placement could allocate to a set of pods on a fleet, even offline with the
// whole sequence known: the optimum of a linear program (solved with GLPK) that relaxes the real problem.
//
// Nodes are grouped into types (model, GPU count, CPU, memory, pod slots) and pods into shapes (CPU, memory,
// GPU count and milli, allowed models). Variables: x[s][t], pods of shape s placed on type t (only where the
// filter would allow it), and z[c][t], devices of type t filled with the fractional-pod configuration c.
// A configuration is a maximal multiset of the fractional sizes present that fits one device (sum <= 1000),
// so a 0.81-GPU pod leaves a 190-milli hole that only pods of <= 190 milli can use, as on a real device.
//   maximize   sum x[s][t] * gpu(s)
//   subject to sum_t x[s][t] <= count(s)                                   every shape
//              CPU, memory, pod slots of type t pooled over its nodes        every type
//              whole-GPU devices of t + sum_c z[c][t] <= devices of t        every type
//              fractional pods of size q on t <= slots of size q in z[.][t]  every type, every size
// Relaxed: CPU and memory are pooled per type (not per node) and multi-GPU pods need only enough free
// devices of the type, not on one node; so the bound is valid but can be loose where those bind. When the
// configurations would exceed `max_configurations`, fractional pods are bounded by device capacity alone
// (weaker, still valid), and the result says so.
//
// Pure computation, no I/O; callable from several threads (GLPK keeps one environment per thread, freed after
// every solve).
#pragma once

#include <span>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan::sim {

struct PackingBound {
  double max_allocated_milli = 0;  // LP optimum: no placement allocates more GPU milli than this
  // What the optimum leaves out, by pod shape (a representative pod and how many of its shape, fractional):
  // an offline optimum may skip a pod that fits, which an online policy placing every pod it can does not.
  struct LeftOut {
    const PodSpec* pod = nullptr;
    double count = 0;
  };
  std::vector<LeftOut> left_out;
  int node_types = 0;
  int pod_shapes = 0;
  int configurations = 0;  // fractional device configurations used (0 = capacity-only fallback)
};

StatusOr<PackingBound> MaxAllocatableGpu(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                         int max_configurations = 200000);

// The same LP over placements that place at least the pods of `must_place` (a sub-multiset of `pods`, by
// shape): the most any placement that admits those pods could allocate. Given the pods a policy placed, it
// separates what the policy lost by admitting them (an offline optimum may skip a pod that fits) from what it
// lost by packing them. InvalidArgument if `must_place` holds more pods of a shape than `pods` does.
StatusOr<PackingBound> MaxAllocatableGpuPlacing(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                                std::span<const PodSpec* const> must_place,
                                                int max_configurations = 200000);

// The same LP over placements that follow the online rule, even knowing the whole sequence: `pods` in arrival
// order, and a pod fails only when no node can host it (the openb protocol, every built-in policy). Once a
// pod of shape s fails, no node can host s ever again (no departures), so every later pod of a shape that
// dominates s (needs at least as much of everything, on a subset of the models) fails too. The LP chooses,
// for each shape, the segment of the sequence where its first failure falls (`segments` equal runs of pods,
// relaxed to a convex combination): the pods of s before that segment are placed, and no pod of a dominating
// shape after it is. Tighter than MaxAllocatableGpu where the offline optimum skips pods that fit; holds for
// every policy that places each pod it can, not for one that may refuse a pod that fits.
StatusOr<PackingBound> MaxAllocatableGpuOnline(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                               int segments = 200, int max_configurations = 200000);

}  // namespace awan::sim
