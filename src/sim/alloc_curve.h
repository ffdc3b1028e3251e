// Turning a run's per-pod timeline into the paper's discrete curves (FGD-PROTOCOL.md section 1.5):
// for each arrived % k in 0..130, the mean over the pods whose arrived GPU request rounds to k % of
// capacity (falling back to k-1..k+1 when no pod does), with Python's rounding rules.
#pragma once

#include <optional>
#include <vector>

#include "sim/openb_protocol.h"

namespace awan::sim {

inline constexpr int kCurvePoints = 131;  // arrived 0..130 %
using Curve = std::vector<std::optional<double>>;

// Python's round(x, ndigits): round half to even on the exact binary value.
double PyRound(double x, int ndigits);

// GPU allocation ratio (% of capacity, 2 decimals) per arrived %.
Curve AllocationCurve(const OpenbTimeline& t, int total_gpus);
// Fragmented GPU (% of capacity, 2 decimals) per arrived %.
Curve FragmentationCurve(const OpenbTimeline& t, int total_gpus);
// Servers of the fleet's widest kind (its largest GPU count) with every device free, a count (2 decimals) per
// arrived %: the hosts left for the widest pods, which fail once none is.
Curve FreeWidestCurve(const OpenbTimeline& t, int total_gpus);
// 100 - allocation at `arrived_pct`, or nullopt when that point is missing.
std::optional<double> UnallocatedAt(const Curve& alloc, int arrived_pct);

}  // namespace awan::sim
