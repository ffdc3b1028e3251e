#include "sim/openb_protocol.h"

#include <algorithm>
#include <numeric>

#include "policies/fgd/fragmentation.h"

namespace awan::sim {
namespace {

enum Stream : uint64_t { kWorkloadStream = 1, kRankStream = 2, kPolicyStream = 3 };

}  // namespace

std::vector<PodSpec> SortedByName(std::vector<PodSpec> pods) {
  std::stable_sort(pods.begin(), pods.end(),
                   [](const PodSpec& a, const PodSpec& b) { return a.name < b.name; });
  return pods;
}

std::vector<uint32_t> BuildOpenbSequence(const std::vector<PodSpec>& by_name, int64_t gpu_capacity_milli,
                                         double tune_ratio, Rng& rng) {
  std::vector<uint32_t> seq(by_name.size());
  std::iota(seq.begin(), seq.end(), 0u);
  rng.Shuffle(seq);
  int64_t total = 0;
  for (uint32_t i : seq) total += by_name[i].total_gpu().value;
  const double target = tune_ratio * static_cast<double>(gpu_capacity_milli);
  if (static_cast<double>(total) < target) {
    for (;;) {
      const uint32_t idx = static_cast<uint32_t>(rng.Uniform(by_name.size()));
      const PodSpec& c = by_name[idx];
      const int64_t per_device = c.wants_gpu() ? c.gpu_milli.value : 0;
      if (static_cast<double>(total + per_device) > target) break;
      total += c.total_gpu().value;
      seq.push_back(idx);
    }
  } else {
    while (static_cast<double>(total) > target && !seq.empty()) {
      const size_t idx = static_cast<size_t>(rng.Uniform(seq.size()));
      total -= by_name[seq[idx]].total_gpu().value;
      seq.erase(seq.begin() + static_cast<std::ptrdiff_t>(idx));
    }
  }
  return seq;
}

std::vector<uint32_t> OpenbSequenceForSeed(const std::vector<PodSpec>& by_name, int64_t gpu_capacity_milli,
                                           double tune_ratio, uint64_t seed) {
  Rng rng = Rng(seed).Fork(kWorkloadStream);
  return BuildOpenbSequence(by_name, gpu_capacity_milli, tune_ratio, rng);
}

std::vector<uint32_t> NodeTieRanks(const Fleet& fleet, Rng& rng) {
  std::vector<uint32_t> by_name(fleet.size());
  std::iota(by_name.begin(), by_name.end(), 0u);
  std::sort(by_name.begin(), by_name.end(), [&](uint32_t a, uint32_t b) {
    return fleet.node(NodeIndex(a)).name < fleet.node(NodeIndex(b)).name;
  });
  const std::vector<uint32_t> perm = rng.Permutation(static_cast<uint32_t>(fleet.size()));
  std::vector<uint32_t> rank(fleet.size());
  for (size_t k = 0; k < by_name.size(); ++k) rank[by_name[k]] = perm[k];
  return rank;
}

int WidestGpuCount(const Fleet& fleet) {
  int widest = 0;
  for (const NodeSpec& n : fleet.nodes()) widest = std::max(widest, n.gpu_count);
  return widest;
}

StatusOr<OpenbRunResult> RunOpenb(const Fleet& fleet, const std::vector<PodSpec>& by_name,
                                  const std::string& workload, const std::string& policy, uint64_t seed,
                                  const PluginRegistry& registry, const OpenbRunOptions& options) {
  PluginContext pctx{&fleet, &by_name};
  AWAN_ASSIGN_OR_RETURN(Profile profile, registry.BuildProfile(policy, pctx));
  Framework framework(std::move(profile));

  const Rng master(seed);
  Rng rank_rng = master.Fork(kRankStream);
  Rng policy_rng = master.Fork(kPolicyStream);

  ClusterSnapshot snap(fleet);
  const std::vector<uint32_t> seq =
      OpenbSequenceForSeed(by_name, snap.gpu_capacity_milli(), options.tune_ratio, seed);
  const std::vector<uint32_t> ranks = NodeTieRanks(fleet, rank_rng);
  CycleContext cycle{&policy_rng, ranks, options.ticks, {}, false, {}, {}};

  // Cluster fragmentation, maintained incrementally: only the node that changed is re-measured.
  const policies::FragmentationModel frag_model(policies::EstimateTypicalPods(by_name));
  std::vector<double> node_frag;
  double frag_total = 0;
  if (options.record_frag) {
    node_frag.resize(fleet.size());
    for (uint32_t i = 0; i < fleet.size(); ++i) {
      node_frag[i] = frag_model.Frag(policies::FragNodeView::Of(snap.node(NodeIndex(i))));
      frag_total += node_frag[i];
    }
  }

  OpenbRunResult out;
  out.workload = workload;
  out.policy = policy;
  out.seed = seed;
  out.total_gpus = static_cast<int>(fleet.total_gpus());
  out.timeline.arrived_milli.reserve(seq.size());
  out.timeline.used_milli.reserve(seq.size());
  if (options.record_frag) out.timeline.frag_milli.reserve(seq.size());
  out.timeline.free_widest.reserve(seq.size());
  // Whole servers of the widest kind left (the fleet's largest GPU count, every device free): the only hosts
  // of the widest pods. Maintained incrementally like the fragmentation.
  const int widest = WidestGpuCount(fleet);
  auto whole = [widest](const NodeState& n) {
    return widest > 0 && n.gpu_count == widest && !n.unavailable && n.fully_free_gpus == n.gpu_count;
  };
  int32_t free_widest = 0;
  for (uint32_t i = 0; i < snap.size(); ++i) free_widest += whole(snap.node(NodeIndex(i)));
  if (options.decision_ns) options.decision_ns->reserve(seq.size());

  const int64_t capacity = snap.gpu_capacity_milli();
  auto record_idle_devices = [&] {
    for (uint32_t i = 0; i < snap.size(); ++i) {
      const NodeState& n = snap.node(NodeIndex(i));
      if (n.unavailable) continue;
      for (int d = 0; d < n.gpu_count; ++d)
        if (n.gpu_left[d] > 0) ++out.idle_devices_at_100[n.gpu_left[d]];
    }
  };
  bool recorded = false;
  int64_t arrived = 0;
  int64_t since_progress = 0;
  for (uint32_t idx : seq) {
    if (options.max_pods >= 0 && out.pods >= options.max_pods) break;
    const PodSpec& pod = by_name[idx];
    if (!recorded &&
        PastBucket(arrived + pod.total_gpu().value, capacity, 100)) {  // this pod leaves bucket 100
      record_idle_devices();
      recorded = true;
    }
    arrived += pod.total_gpu().value;
    const int64_t t0 = options.decision_ns ? options.ticks->NowNanos() : 0;
    AWAN_ASSIGN_OR_RETURN(Decision d, framework.Schedule(pod, snap, cycle));
    if (options.decision_ns) options.decision_ns->push_back(options.ticks->NowNanos() - t0);
    ++out.pods;
    if (d.placed) {
      const bool was_whole = whole(snap.node(d.placement.node));
      AWAN_RETURN_IF_ERROR(snap.Assign(pod, d.placement));
      free_widest -= was_whole && !whole(snap.node(d.placement.node));
      ++out.placed;
      if (options.record_frag) {
        const uint32_t n = d.placement.node.value;
        const double f = frag_model.Frag(policies::FragNodeView::Of(snap.node(d.placement.node)));
        frag_total += f - node_frag[n];
        node_frag[n] = f;
      }
    } else {
      ++out.failed;
      out.failed_at.push_back(static_cast<uint32_t>(out.pods - 1));
      ++out.failures_by_reason[static_cast<int>(d.diagnosis.Dominant())];
    }
    out.timeline.arrived_milli.push_back(arrived);
    out.timeline.used_milli.push_back(snap.gpu_allocated_milli());
    if (options.record_frag) out.timeline.frag_milli.push_back(frag_total);
    out.timeline.free_widest.push_back(free_widest);
    if (options.pods_done && ++since_progress == 256) {
      options.pods_done->fetch_add(since_progress, std::memory_order_relaxed);
      since_progress = 0;
    }
  }
  if (options.pods_done) options.pods_done->fetch_add(since_progress, std::memory_order_relaxed);
  if (!recorded) record_idle_devices();
  out.stats = framework.stats();
  out.sequence = seq;
  return out;
}

}  // namespace awan::sim
