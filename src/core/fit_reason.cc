#include "core/fit_reason.h"

namespace awan {

static constexpr std::array<std::string_view, kFitReasonCount> kNames = {
    "Fits",    "NodeUnavailable",  "TooManyPods",     "InsufficientCpu", "InsufficientMemory",
    "NoGpu",   "GpuModelMismatch", "InsufficientGpu", "OutsideDomain",   "Residency",
    "Reserved"};

std::string_view FitReasonName(FitReason r) { return kNames[static_cast<int>(r)]; }

bool ParseFitReason(std::string_view name, FitReason* out) {
  for (int i = 0; i < kFitReasonCount; ++i) {
    if (kNames[i] == name) {
      *out = static_cast<FitReason>(i);
      return true;
    }
  }
  return false;
}

FitReason FitDiagnosis::Dominant() const {
  int best = 0;
  for (int i = 1; i < kFitReasonCount; ++i) {
    if (nodes[i] > nodes[best] || (best == 0 && nodes[i] > 0)) best = i;
  }
  return static_cast<FitReason>(best);
}

std::string FitDiagnosis::ToString() const {
  std::string out;
  for (int i = 1; i < kFitReasonCount; ++i) {
    if (nodes[i] == 0) continue;
    if (!out.empty()) out += ", ";
    out += std::string(kNames[i]) + ": " + std::to_string(nodes[i]) + (nodes[i] == 1 ? " node" : " nodes");
  }
  return out.empty() ? "no nodes" : out;
}

}  // namespace awan
