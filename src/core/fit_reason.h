// FitReason: why a node cannot take a workload. "Does not fit" is data, not an error: filters return a
// reason, the framework counts them per cycle (FitDiagnosis), and explanations and metrics read the counts.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace awan {

enum class FitReason : uint16_t {  // not a char type: stores must not alias everything
  kFits = 0,
  kNodeUnavailable,  // node down, cordoned or draining
  kTooManyPods,      // pod slots exhausted
  kInsufficientCpu,
  kInsufficientMemory,
  kNoGpu,             // the workload wants GPU, the node has none
  kGpuModelMismatch,  // the node's accelerator model is not in the workload's allowed set
  kInsufficientGpu,   // not enough free (or free enough) devices
  kOutsideDomain,     // the caller restricted this cycle to other nodes (a topology domain, a region)
  kResidency,         // the workload's data may not be processed in this node's region (core/residency.h)
  kReserved,          // held for a job that waits longer (a backfill reservation, core/job_scheduler.h)
  kCount              // number of reasons; keep last
};
inline constexpr int kFitReasonCount = static_cast<int>(FitReason::kCount);

// Stable CamelCase name, used in scenario files, JSON and metrics ("InsufficientGpu").
std::string_view FitReasonName(FitReason r);
// Parses a name produced by FitReasonName; returns false if unknown.
bool ParseFitReason(std::string_view name, FitReason* out);

// How many nodes rejected a workload for each reason during one cycle.
struct FitDiagnosis {
  std::array<uint32_t, kFitReasonCount> nodes{};

  void Add(FitReason r) { ++nodes[static_cast<int>(r)]; }
  uint32_t count(FitReason r) const { return nodes[static_cast<int>(r)]; }
  // The reason that rejected the most nodes (ties: the earlier reason in enum order; kFits if none did).
  FitReason Dominant() const;
  // "InsufficientGpu: 1180 nodes, GpuModelMismatch: 33 nodes"
  std::string ToString() const;
};

}  // namespace awan
