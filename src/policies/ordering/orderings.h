// The job ordering policies of `awan sim jobs` (and, later, the server):
//   fifo      submit time
//   sjf       ORACLE: the job's true duration, shortest first
//   srtf      ORACLE: the true remaining run time, shortest first (equal to sjf until preemption exists)
//   tiresias  two-dimensional least attained service (Gu et al., NSDI'19): jobs in discrete queues by
//             attained service in GPU-time (awan's thresholds: 3,200 and 10,000 GPU-hours), FIFO inside a
//             queue; no duration knowledge. Until preemption exists every queued job has attained 0, so it
//             orders as fifo.
//   awan      no duration knowledge: the job's expected duration from the history of jobs that already
//             finished, most specific first (same tenant and GPU count, then same GPU count, then all jobs;
//             at least 3 samples at a level, else the next), shortest expected first; a job with no
//             history at all is expected to run as long as the median finished job. Like Helios' QSSF, but
//             from finished jobs only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/queue_order.h"

namespace awan::policies {

StatusOr<std::unique_ptr<QueueOrder>> MakeQueueOrder(const std::string& name);
std::vector<std::string> QueueOrderNames();

}  // namespace awan::policies
