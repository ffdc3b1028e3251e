// The job ordering policies (QueueOrder) of core::JobScheduler, used by `awan sim jobs` and by the
// server (`awan serve --ordering`). Smaller keys run first; "preemptive" orderings may also stop running jobs
// whose key, recomputed with the service they received, is larger than a waiting job's.
//   fifo      submit time
//   sjf       ORACLE: the job's true duration, shortest first
//   srtf      ORACLE, preemptive: the true remaining run time (duration - attained GPU-time / GPUs)
//   tiresias  preemptive two-dimensional least attained service (Gu et al., NSDI'19): discrete queues by
//             attained GPU-time (awan's thresholds: 3,200 and 10,000 GPU-hours), FIFO inside a queue; no
//             duration knowledge
//   awan      preemptive, no duration knowledge: the expected remaining run time of finished jobs like this
//             one given the time it already ran (mean of D - a over finished jobs with D > a), from the most
//             specific history with at least 3 samples (same tenant and GPU count, then same GPU count, then
//             all jobs); a job longer than every finished one is expected to run as long again; with no
//             history at all, first come, first served
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/queue_order.h"
#include "core/registry.h"

namespace awan::policies {

// Registers the orderings above by name (BuiltinRegistry does).
void RegisterOrderings(PluginRegistry& registry);
// BuiltinRegistry().BuildOrdering(name).
StatusOr<std::unique_ptr<QueueOrder>> MakeQueueOrder(const std::string& name);
// The orderings' names, in the order tables show them.
std::vector<std::string> QueueOrderNames();

}  // namespace awan::policies
