#include "sim/alloc_curve.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace awan::sim {
namespace {

// Buckets values by the rounded arrived % of their event and averages them.
Curve Bucket(const std::vector<int64_t>& arrived, const std::vector<double>& values, int total_gpus) {
  std::vector<double> sum(kCurvePoints + 2, 0.0);
  std::vector<int64_t> count(kCurvePoints + 2, 0);
  for (size_t e = 0; e < arrived.size(); ++e) {
    const double ratio = PyRound(static_cast<double>(arrived[e]) / total_gpus / 10.0, 0);
    if (ratio < 0 || ratio > kCurvePoints) continue;
    const int k = static_cast<int>(ratio);
    sum[k] += values[e];
    count[k] += 1;
  }
  Curve out(kCurvePoints);
  for (int k = 0; k < kCurvePoints; ++k) {
    double s = sum[k];
    int64_t c = count[k];
    if (c == 0) {  // the reference's fallback: events within one bucket either side
      s = (k > 0 ? sum[k - 1] : 0.0) + sum[k + 1];
      c = (k > 0 ? count[k - 1] : 0) + count[k + 1];
    }
    if (c > 0) out[k] = PyRound(s / static_cast<double>(c), 2);
  }
  return out;
}

}  // namespace

double PyRound(double x, int ndigits) {
  if (ndigits == 0) return std::nearbyint(x);  // default rounding mode: half to even
  // printf rounds the exact binary value correctly (glibc), as Python's round does.
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", ndigits, x);
  return std::strtod(buf, nullptr);
}

Curve AllocationCurve(const OpenbTimeline& t, int total_gpus) {
  std::vector<double> ratio(t.used_milli.size());
  for (size_t e = 0; e < ratio.size(); ++e) {
    ratio[e] = PyRound(static_cast<double>(t.used_milli[e]) / total_gpus / 10.0, 2);
  }
  return Bucket(t.arrived_milli, ratio, total_gpus);
}

Curve FragmentationCurve(const OpenbTimeline& t, int total_gpus) {
  if (t.frag_milli.empty()) return Curve(kCurvePoints);
  std::vector<double> pct(t.frag_milli.size());
  for (size_t e = 0; e < pct.size(); ++e) pct[e] = 100.0 * t.frag_milli[e] / 1000.0 / total_gpus;
  return Bucket(t.arrived_milli, pct, total_gpus);
}

Curve FreeWidestCurve(const OpenbTimeline& t, int total_gpus) {
  if (t.free_widest.empty()) return Curve(kCurvePoints);
  return Bucket(t.arrived_milli, std::vector<double>(t.free_widest.begin(), t.free_widest.end()), total_gpus);
}

std::optional<double> UnallocatedAt(const Curve& alloc, int arrived_pct) {
  if (arrived_pct < 0 || arrived_pct >= kCurvePoints || !alloc[arrived_pct]) return std::nullopt;
  return PyRound(100.0 - *alloc[arrived_pct], 2);
}

}  // namespace awan::sim
