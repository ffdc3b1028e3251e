#include "core/snapshot.h"

#include <algorithm>
#include <atomic>

namespace awan {
namespace {

uint64_t NextUid() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

int WidthSlot(const PodSpec& pod) { return pod.is_share() ? 0 : pod.gpu_count; }

}  // namespace

void NodeState::RefreshDeviceSummary() {
  max_gpu_left = 0;
  fully_free_gpus = 0;
  for (int d = 0; d < gpu_count; ++d) {
    max_gpu_left = std::max(max_gpu_left, gpu_left[d]);
    fully_free_gpus += gpu_left[d] >= kWholeGpu.value;
  }
}

ClusterSnapshot::ClusterSnapshot(const Fleet& fleet) : fleet_(&fleet), uid_(NextUid()) {
  nodes_.reserve(fleet.size());
  for (const NodeSpec& spec : fleet.nodes()) {
    NodeState s;
    s.cpu_left = spec.cpu;
    s.mem_left = spec.memory;
    s.max_pods = spec.max_pods;
    s.gpu_count = spec.gpu_count;
    s.model = spec.model;
    for (int d = 0; d < spec.gpu_count; ++d) s.gpu_left[d] = static_cast<int32_t>(kWholeGpu.value);
    s.gpu_left_total = static_cast<int32_t>(kWholeGpu.value * spec.gpu_count);
    s.RefreshDeviceSummary();
    gpu_capacity_milli_ += s.gpu_left_total;
    nodes_.push_back(s);
  }
  for (auto& bits : whole_room_) bits.assign((nodes_.size() + 63) / 64, 0);
  share_room_.assign((nodes_.size() + 63) / 64, 0);
  for (uint32_t i = 0; i < nodes_.size(); ++i) IndexNode(i);
}

void ClusterSnapshot::Touch(uint32_t i) {
  nodes_[i].generation = ++last_generation_;
  IndexNode(i);
}

void ClusterSnapshot::IndexNode(uint32_t i) {
  const NodeState& n = nodes_[i];
  const int whole = n.unavailable ? 0 : n.fully_free_gpus;
  for (int k = 1; k <= kMaxGpusPerNode; ++k) SetBit(whole_room_[static_cast<size_t>(k - 1)], i, whole >= k);
  SetBit(share_room_, i, !n.unavailable && n.max_gpu_left > 0);
}

std::span<const uint64_t> ClusterSnapshot::GpuRoom(const PodSpec& pod) const {
  if (!pod.wants_gpu() || pod.gpu_count > kMaxGpusPerNode) return {};
  if (pod.gpu_milli.value < kWholeGpu.value) return share_room_;
  return whole_room_[static_cast<size_t>(pod.gpu_count - 1)];
}

ClusterSnapshot::ClusterSnapshot(const ClusterSnapshot& o)
    : fleet_(o.fleet_),
      nodes_(o.nodes_),
      uid_(NextUid()),
      last_generation_(o.last_generation_),
      gpu_capacity_milli_(o.gpu_capacity_milli_),
      gpu_allocated_milli_(o.gpu_allocated_milli_),
      cpu_allocated_milli_(o.cpu_allocated_milli_),
      pods_placed_(o.pods_placed_),
      whole_room_(o.whole_room_),
      share_room_(o.share_room_) {}

ClusterSnapshot& ClusterSnapshot::operator=(const ClusterSnapshot& o) {
  if (this == &o) return *this;
  fleet_ = o.fleet_;
  nodes_ = o.nodes_;
  uid_ = NextUid();
  last_generation_ = o.last_generation_;
  gpu_capacity_milli_ = o.gpu_capacity_milli_;
  gpu_allocated_milli_ = o.gpu_allocated_milli_;
  cpu_allocated_milli_ = o.cpu_allocated_milli_;
  pods_placed_ = o.pods_placed_;
  whole_room_ = o.whole_room_;
  share_room_ = o.share_room_;
  return *this;
}

Status ClusterSnapshot::Assign(const PodSpec& pod, const Placement& p) {
  if (p.node.value >= nodes_.size()) return InvalidArgument("placement on unknown node index");
  NodeState& n = nodes_[p.node.value];
  const std::string& where = fleet_->node(p.node).name;
  if (n.pods + 1 > n.max_pods) return FailedPrecondition(pod.name + " on " + where + ": no pod slot left");
  if (n.cpu_left < pod.cpu) return FailedPrecondition(pod.name + " on " + where + ": CPU over-commit");
  if (n.mem_left < pod.memory) return FailedPrecondition(pod.name + " on " + where + ": memory over-commit");
  const int want = pod.wants_gpu() ? pod.gpu_count : 0;
  if (p.devices.count != want) {
    return FailedPrecondition(pod.name + " on " + where + ": wants " + std::to_string(want) +
                              " devices, placement names " + std::to_string(p.devices.count));
  }
  for (int i = 0; i < p.devices.count; ++i) {
    const int d = p.devices.index[i];
    if (d >= n.gpu_count)
      return FailedPrecondition(pod.name + " on " + where + ": no device " + std::to_string(d));
    for (int j = 0; j < i; ++j)
      if (p.devices.index[j] == d) return FailedPrecondition(pod.name + ": device listed twice");
    if (n.gpu_left[d] < pod.gpu_milli.value) {
      return FailedPrecondition(pod.name + " on " + where + ": GPU " + std::to_string(d) + " over-commit");
    }
  }
  n.cpu_left -= pod.cpu;
  n.mem_left -= pod.memory;
  n.pods += 1;
  for (int i = 0; i < p.devices.count; ++i)
    n.gpu_left[p.devices.index[i]] -= static_cast<int32_t>(pod.gpu_milli.value);
  if (want > 0) {
    n.RefreshDeviceSummary();
    n.gpu_left_total -= static_cast<int32_t>(pod.gpu_milli.value * want);
    n.gpu_pods_by_width[WidthSlot(pod)] += 1;
    gpu_allocated_milli_ += pod.gpu_milli.value * want;
  }
  cpu_allocated_milli_ += pod.cpu.value;
  pods_placed_ += 1;
  Touch(p.node.value);
  return Status::Ok();
}

Status ClusterSnapshot::Release(const PodSpec& pod, const Placement& p) {
  if (p.node.value >= nodes_.size()) return InvalidArgument("release on unknown node index");
  NodeState& n = nodes_[p.node.value];
  const NodeSpec& spec = fleet_->node(p.node);
  const int want = pod.wants_gpu() ? pod.gpu_count : 0;
  if (n.pods == 0 || p.devices.count != want)
    return FailedPrecondition(pod.name + ": release of a pod not placed here");
  if ((n.cpu_left + pod.cpu) > spec.cpu || (n.mem_left + pod.memory) > spec.memory) {
    return FailedPrecondition(pod.name + ": release would exceed node capacity");
  }
  for (int i = 0; i < p.devices.count; ++i) {
    const int d = p.devices.index[i];
    if (d >= n.gpu_count || n.gpu_left[d] + pod.gpu_milli.value > kWholeGpu.value) {
      return FailedPrecondition(pod.name + ": release would exceed GPU " + std::to_string(d) + " capacity");
    }
  }
  n.cpu_left += pod.cpu;
  n.mem_left += pod.memory;
  n.pods -= 1;
  for (int i = 0; i < p.devices.count; ++i)
    n.gpu_left[p.devices.index[i]] += static_cast<int32_t>(pod.gpu_milli.value);
  if (want > 0) {
    n.RefreshDeviceSummary();
    n.gpu_left_total += static_cast<int32_t>(pod.gpu_milli.value * want);
    n.gpu_pods_by_width[WidthSlot(pod)] -= 1;
    gpu_allocated_milli_ -= pod.gpu_milli.value * want;
  }
  cpu_allocated_milli_ -= pod.cpu.value;
  pods_placed_ -= 1;
  Touch(p.node.value);
  return Status::Ok();
}

void ClusterSnapshot::SetUnavailable(NodeIndex i, bool unavailable) {
  NodeState& n = nodes_[i.value];
  if (n.unavailable == unavailable) return;
  n.unavailable = unavailable;
  Touch(i.value);
}

Status ClusterSnapshot::SetDeviceHealthy(NodeIndex i, int d, bool healthy) {
  if (i.value >= nodes_.size()) return InvalidArgument("unknown node index");
  NodeState& n = nodes_[i.value];
  const std::string& where = fleet_->node(i).name;
  if (d < 0 || d >= n.gpu_count) return InvalidArgument(where + " has no GPU " + std::to_string(d));
  const uint32_t bit = uint32_t{1} << d;
  if (((n.unhealthy_devices & bit) == 0) == healthy) return Status::Ok();
  if (!healthy) {
    if (n.gpu_left[d] != kWholeGpu.value)
      return FailedPrecondition(where + " GPU " + std::to_string(d) + " is in use");
    n.unhealthy_devices |= bit;
    n.gpu_left[d] = 0;
    n.gpu_left_total -= kWholeGpu.value;
    gpu_capacity_milli_ -= kWholeGpu.value;
  } else {
    n.unhealthy_devices &= ~bit;
    n.gpu_left[d] = kWholeGpu.value;
    n.gpu_left_total += kWholeGpu.value;
    gpu_capacity_milli_ += kWholeGpu.value;
  }
  n.RefreshDeviceSummary();
  Touch(i.value);
  return Status::Ok();
}

}  // namespace awan
