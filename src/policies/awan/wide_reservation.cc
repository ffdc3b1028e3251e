#include "policies/awan/wide_reservation.h"

#include <algorithm>
#include <map>
#include <string>
#include <tuple>

#include "policies/fit/fit_filters.h"

namespace awan::policies {

WideReservation::WideReservation(const std::vector<PodSpec>& workload) {
  double demand = 0;
  struct Acc {
    Shape shape;
    double gpu = 0;
  };
  std::map<std::tuple<int, int64_t, std::string>, Acc> by_key;
  for (const PodSpec& p : workload) {
    if (!p.wants_gpu()) continue;
    demand += static_cast<double>(p.total_gpu().value);
    if (p.gpu_count < 2 || p.gpu_milli < kWholeGpu) continue;
    Acc& a = by_key[{p.gpu_count, p.cpu.value, p.model_constraint}];
    a.shape.gpus = p.gpu_count;
    a.shape.cpu_milli = p.cpu.value;
    a.shape.models = p.allowed_models;
    a.gpu += static_cast<double>(p.total_gpu().value);
  }
  if (demand <= 0) return;
  for (const auto& [key, a] : by_key) shapes_.push_back(a.shape);
  // R(s) / I: every wide shape at least as wide and as CPU-hungry as s fits only where s fits.
  size_t i = 0;
  for (auto it = by_key.begin(); it != by_key.end(); ++it) {
    Shape& s = shapes_[i++];
    for (const auto& [okey, o] : by_key) {
      if (o.shape.gpus >= s.gpus && o.shape.cpu_milli >= s.cpu_milli) {
        s.expected_per_idle_milli += (o.gpu / demand) / (1000.0 * o.shape.gpus);
      }
    }
  }
  scarce_.assign(shapes_.size(), 0);
  total_.assign(shapes_.size(), 0);
}

int WideReservation::Hosts(const Shape& s, AcceleratorId model, int free_devices, int64_t cpu_left) const {
  if (!ModelAccessible(s.models, model)) return 0;
  const int64_t by_gpu = free_devices / s.gpus;
  const int64_t by_cpu = s.cpu_milli > 0 ? std::max<int64_t>(0, cpu_left) / s.cpu_milli : by_gpu;
  return static_cast<int>(std::min(by_gpu, by_cpu));
}

void WideReservation::Refresh(const ClusterSnapshot& snap) {
  const size_t k = shapes_.size();
  if (snap.uid() != snap_uid_ || gen_.size() != snap.size()) {
    snap_uid_ = snap.uid();
    gen_.assign(snap.size(), 0);  // generations start at 1: every node is counted
    idle_.assign(snap.size(), 0);
    hosts_.assign(snap.size() * k, 0);
    total_.assign(k, 0);
    idle_total_ = 0;
  }
  for (size_t i = 0; i < snap.size(); ++i) {
    const NodeState& n = snap.node(NodeIndex(static_cast<uint32_t>(i)));
    if (n.generation == gen_[i]) continue;
    gen_[i] = n.generation;
    idle_total_ -= idle_[i];
    idle_[i] = n.unavailable ? 0 : n.gpu_left_total;
    idle_total_ += idle_[i];
    int* h = &hosts_[i * k];
    for (size_t s = 0; s < k; ++s) {
      total_[s] -= h[s];
      h[s] = n.unavailable ? 0 : Hosts(shapes_[s], n.model, n.fully_free_gpus, n.cpu_left.value);
      total_[s] += h[s];
    }
  }
}

void WideReservation::PreScore(const PodSpec& pod, const ClusterSnapshot& snap, std::span<const NodeIndex>,
                               Rng&) {
  any_scarce_ = false;
  if (shapes_.empty()) return;
  Refresh(snap);
  const bool whole = pod.wants_gpu() && pod.gpu_milli >= kWholeGpu;
  scarce_list_.clear();
  for (size_t s = 0; s < shapes_.size(); ++s) {
    const Shape& w = shapes_[s];
    const bool own = whole && w.gpus == pod.gpu_count && w.cpu_milli == pod.cpu.value;
    scarce_[s] = !own && static_cast<double>(total_[s]) <=
                             w.expected_per_idle_milli * static_cast<double>(idle_total_);
    if (scarce_[s] && total_[s] > 0)
      scarce_list_.push_back(static_cast<uint32_t>(s));  // no host: nothing to keep
  }
  any_scarce_ = !scarce_list_.empty();
}

int64_t WideReservation::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const {
  if (!any_scarce_) return kMaxNodeScore;
  const int* h = &hosts_[node.value * shapes_.size()];
  if (std::none_of(scarce_list_.begin(), scarce_list_.end(), [&](uint32_t s) { return h[s] > 0; })) {
    return kMaxNodeScore;  // hosts no scarce shape: nothing to break (most partly used nodes)
  }
  const NodeState& n = snap.node(node);
  // Free devices after the pod: whole-GPU pods take gpu_count of them; a share pod takes a free one only when
  // no partly used device holds it (what the device selectors prefer); CPU-only pods take none.
  int free_devices = n.fully_free_gpus;
  if (pod.is_share()) {
    bool partial = false;
    for (int d = 0; d < n.gpu_count && !partial; ++d) {
      partial = n.gpu_left[d] < kWholeGpu.value && n.gpu_left[d] >= pod.gpu_milli.value;
    }
    if (!partial) free_devices -= 1;
  } else if (pod.wants_gpu()) {
    free_devices -= pod.gpu_count;
  }
  const int64_t cpu_left = n.cpu_left.value - pod.cpu.value;
  for (uint32_t s : scarce_list_) {
    if (h[s] > 0 && Hosts(shapes_[s], n.model, free_devices, cpu_left) < h[s]) return 0;
  }
  return kMaxNodeScore;
}

}  // namespace awan::policies
