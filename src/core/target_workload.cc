#include "core/target_workload.h"

#include <algorithm>
#include <map>

namespace awan {

TargetWorkload::TargetWorkload(const Fleet& fleet, size_t window, size_t rebuild_every, size_t per_job_cap)
    : window_size_(std::max<size_t>(1, window)),
      rebuild_every_(std::max<size_t>(1, rebuild_every)),
      per_job_cap_(std::max<size_t>(1, per_job_cap)) {
  // One whole-GPU task per accelerator model, with the first such node's CPU and memory per GPU.
  std::map<uint8_t, PodSpec> by_model;  // by accelerator id
  for (const NodeSpec& n : fleet.nodes()) {
    if (n.gpu_count <= 0 || n.model == kNoAccelerator || by_model.count(n.model.value)) continue;
    PodSpec p;
    p.name = "bootstrap";
    p.cpu = CpuMilli(n.cpu.value / n.gpu_count);
    p.memory = MemMiB(n.memory.value / n.gpu_count);
    p.gpu_count = 1;
    p.gpu_milli = kWholeGpu;
    by_model.emplace(n.model.value, p);
  }
  for (auto& [model, pod] : by_model) bootstrap_.push_back(pod);
  if (bootstrap_.empty()) {  // a fleet without GPUs: a small CPU task
    PodSpec p;
    p.name = "bootstrap";
    p.cpu = CpuMilli(1000);
    p.memory = MemMiB(1024);
    bootstrap_.push_back(p);
  }
}

void TargetWorkload::Observe(const JobSpec& job) {
  const size_t n = std::min<size_t>(per_job_cap_, static_cast<size_t>(std::max(1, job.tasks)));
  for (size_t k = 0; k < n; ++k) {
    window_.push_back(job.task);
    if (window_.size() > window_size_) window_.pop_front();
  }
  since_ += n;
}

std::vector<PodSpec> TargetWorkload::Target() {
  since_ = 0;
  taken_ = true;
  if (window_.empty()) return bootstrap_;
  return std::vector<PodSpec>(window_.begin(), window_.end());
}

}  // namespace awan
