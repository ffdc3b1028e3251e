#include "policies/k8s/k8s_scores.h"

#include <cmath>

namespace awan::policies {
namespace {

struct Usage {
  int64_t cpu_cap, cpu_req, mem_cap, mem_req;
};

Usage After(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) {
  const NodeSpec& spec = snap.fleet().node(i);
  const NodeState& n = snap.node(i);
  return Usage{spec.cpu.value, spec.cpu.value - n.cpu_left.value + pod.cpu.value, spec.memory.value,
               spec.memory.value - n.mem_left.value + pod.memory.value};
}

int64_t Least(int64_t cap, int64_t req) {
  if (cap <= 0 || req > cap) return 0;
  return (cap - req) * kMaxNodeScore / cap;
}

}  // namespace

int64_t LeastAllocatedScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) const {
  const Usage u = After(pod, snap, i);
  return (Least(u.cpu_cap, u.cpu_req) + Least(u.mem_cap, u.mem_req)) / 2;
}

int64_t BalancedAllocationScore::Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex i) const {
  const Usage u = After(pod, snap, i);
  if (u.cpu_cap <= 0 || u.mem_cap <= 0) return 0;
  const double cpu = static_cast<double>(u.cpu_req) / static_cast<double>(u.cpu_cap);
  const double mem = static_cast<double>(u.mem_req) / static_cast<double>(u.mem_cap);
  if (cpu >= 1.0 || mem >= 1.0) return 0;
  return static_cast<int64_t>((1.0 - std::fabs(cpu - mem)) * static_cast<double>(kMaxNodeScore));
}

}  // namespace awan::policies
