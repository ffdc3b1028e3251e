// TargetWorkload: the pod shapes a placement policy should expect, estimated online from the jobs submitted
// so far. FGD and awan's packing scorers measure fragmentation against a target workload; the simulator
// can hand them the trace's pod list, but a running control plane only knows what has been submitted. This
// keeps a sliding window of the task shapes of the last `window` tasks submitted (a job of N tasks adds N
// copies of its task, at most `per_job_cap`, so one huge array cannot fill the window) and says when the
// window has moved enough (`rebuild_every` tasks) for the caller to rebuild its placement profile. Before
// any job arrives, the target is one whole-GPU task per accelerator model of the fleet, with that model's
// CPU and memory per GPU: a neutral guess that favours keeping whole devices free.
//
// Pure and deterministic: the same submissions in the same order give the same targets. Not thread-safe.
#pragma once

#include <cstddef>
#include <deque>
#include <vector>

#include "model/fleet.h"
#include "model/job.h"
#include "model/workload.h"

namespace awan {

class TargetWorkload {
 public:
  explicit TargetWorkload(const Fleet& fleet, size_t window = 2000, size_t rebuild_every = 200,
                          size_t per_job_cap = 64);

  // Adds the job's tasks to the window (the oldest leave once it is full).
  void Observe(const JobSpec& job);
  // True when `rebuild_every` tasks arrived since the last Target() (and before the first one).
  bool due() const { return since_ >= rebuild_every_ || !taken_; }
  // The window's pods (the bootstrap guess while it is empty); resets due().
  std::vector<PodSpec> Target();
  size_t size() const { return window_.size(); }

 private:
  std::vector<PodSpec> bootstrap_;
  std::deque<PodSpec> window_;
  size_t window_size_, rebuild_every_, per_job_cap_;
  size_t since_ = 0;
  bool taken_ = false;
};

}  // namespace awan
