// Static fit: could a job ever start, on this fleet emptied of all other work, within the regions its
// residency allows? A job that could not is refused at submit (the server answers 400 naming the blocker)
// instead of waiting forever, and `explain` names the same blocker instead of a misleading wait reason. Pure:
// no I/O.
#pragma once

#include <string>

#include "core/residency.h"
#include "model/fleet.h"
#include "model/job.h"

namespace awan {

enum class StaticBlocker {
  kNone = 0,
  kAccelerator,  // no node of an allowed accelerator in the allowed regions (it exists only outside them)
  kGpus,         // one task asks more GPUs than any allowed node has
  kCpu,          // ... more cores
  kMemory,       // ... more memory
  kGangSize,     // each task fits somewhere, but the allowed nodes cannot hold the whole gang at once
};
const char* StaticBlockerName(StaticBlocker b);

struct StaticFit {
  StaticBlocker blocker = StaticBlocker::kNone;
  std::string detail;  // for a person: what was asked and the most the allowed part of the fleet offers
  bool fits() const { return blocker == StaticBlocker::kNone; }
};

StaticFit CheckStaticFit(const Fleet& fleet, const JobSpec& job, const JobResidency& residency);

}  // namespace awan
