// ClusterSnapshot: the mutable runtime state of every node of a Fleet (what is left of CPU, memory, pod
// slots and each GPU device), with cluster totals kept incrementally. Plugins read it through const
// references; only the commit stage (Assign/Release) changes it.
//
// A free-GPU index is kept with the nodes: for each k, a bitset of the available nodes with at least k fully
// free devices, and one of the available nodes with any device room; the framework skips, on very large
// fleets, the nodes it rules out (GpuRoom).
//
// Every change to a node stamps it with a new generation number, unique within the snapshot; together with
// uid() this lets the framework cache per-node scores safely. A copy is an independent snapshot with a new
// uid (use copies for "what if" questions).
//
// Thread-compatible. Borrows the Fleet, which must outlive it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "common/status.h"
#include "core/placement.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan {

struct NodeState {
  CpuMilli cpu_left;
  MemMiB mem_left;
  int pods = 0;
  int max_pods = 0;
  int gpu_count = 0;
  AcceleratorId model = kNoAccelerator;
  bool unavailable = false;                         // down, cordoned or draining: takes no new work
  uint32_t unhealthy_devices = 0;                   // bit d: device d is out of service (no room offered)
  std::array<int32_t, kMaxGpusPerNode> gpu_left{};  // milli-GPU left per device
  int32_t gpu_left_total = 0;                       // sum of gpu_left
  int32_t max_gpu_left = 0;                         // the largest gpu_left (0 without devices)
  int fully_free_gpus = 0;                          // devices with gpu_left == 1000
  // Placed GPU workloads by width: [0] = fractional ("share") pods, [k] = pods holding k whole GPUs.
  std::array<uint16_t, kMaxGpusPerNode + 1> gpu_pods_by_width{};
  uint64_t generation = 1;

  int FullyFreeGpus() const { return fully_free_gpus; }
  // Number of devices with at least `milli` left.
  int DevicesWithAtLeast(int32_t milli) const {
    if (milli >= 1000) return fully_free_gpus;
    int n = 0;
    for (int d = 0; d < gpu_count; ++d) n += gpu_left[d] >= milli;
    return n;
  }
  // True if `count` devices have at least `milli` left each (the common cases without a loop).
  bool HasDevices(int count, int32_t milli) const {
    if (count <= 0) return true;
    if (milli >= 1000) return fully_free_gpus >= count;
    if (count == 1) return max_gpu_left >= milli;
    return DevicesWithAtLeast(milli) >= count;
  }
  // Recomputes max_gpu_left and fully_free_gpus from gpu_left (after a device changed).
  void RefreshDeviceSummary();
};

class ClusterSnapshot {
 public:
  explicit ClusterSnapshot(const Fleet& fleet);
  ClusterSnapshot(const ClusterSnapshot& other);
  ClusterSnapshot& operator=(const ClusterSnapshot& other);

  const Fleet& fleet() const { return *fleet_; }
  size_t size() const { return nodes_.size(); }
  const NodeState& node(NodeIndex i) const { return nodes_[i.value]; }
  uint64_t uid() const { return uid_; }

  // Commits `pod` at `p`. Fails (changing nothing) if it does not fit there: the core never over-commits.
  Status Assign(const PodSpec& pod, const Placement& p);
  // Undoes a previous Assign of the same pod at the same placement.
  Status Release(const PodSpec& pod, const Placement& p);
  void SetUnavailable(NodeIndex i, bool unavailable);
  // Takes device `d` of node i out of service (healthy false: it offers no room and leaves the capacity) or
  // puts it back. FailedPrecondition if a pod holds the device: its pods are released first.
  Status SetDeviceHealthy(NodeIndex i, int d, bool healthy);

  // The free-GPU index for a pod that wants GPUs: bit i (word i / 64, bit i % 64) is set for every node that
  // is available and has room for the pod's devices, and for some others (a fractional pod's bitset is that
  // of any device room); a node whose bit is clear cannot take the pod. Empty for a pod without GPUs or one
  // wider than any node.
  std::span<const uint64_t> GpuRoom(const PodSpec& pod) const;

  int64_t gpu_capacity_milli() const { return gpu_capacity_milli_; }
  int64_t gpu_allocated_milli() const { return gpu_allocated_milli_; }
  int64_t cpu_allocated_milli() const { return cpu_allocated_milli_; }
  int64_t pods_placed() const { return pods_placed_; }

 private:
  // After node i changed: a new generation, and its bits in the free-GPU index.
  void Touch(uint32_t i);
  void IndexNode(uint32_t i);
  void SetBit(std::vector<uint64_t>& bits, uint32_t i, bool on) {
    const uint64_t m = uint64_t{1} << (i % 64);
    bits[i / 64] = on ? bits[i / 64] | m : bits[i / 64] & ~m;
  }

  const Fleet* fleet_;
  std::vector<NodeState> nodes_;
  uint64_t uid_;
  uint64_t last_generation_ = 1;
  int64_t gpu_capacity_milli_ = 0;
  int64_t gpu_allocated_milli_ = 0;
  int64_t cpu_allocated_milli_ = 0;
  int64_t pods_placed_ = 0;
  std::array<std::vector<uint64_t>, kMaxGpusPerNode> whole_room_;  // [k - 1]: >= k fully free devices
  std::vector<uint64_t> share_room_;                               // any device with room
};

}  // namespace awan
