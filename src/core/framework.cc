#include "core/framework.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace awan {

Framework::Framework(Profile profile) : profile_(std::move(profile)) {
  stats_.scorer_ns.assign(profile_.scorers.size(), 0);
  cache_.resize(profile_.scorers.size());
}

void Framework::ReplaceProfile(Profile profile) {
  profile_ = std::move(profile);
  stats_.scorer_ns.resize(profile_.scorers.size(), 0);
  cache_.assign(profile_.scorers.size(), {});
  cache_snapshot_uid_ = 0;
}

int64_t Framework::ScoreNode(size_t s, const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex n,
                             std::vector<CacheEntry>* cache) {
  CacheEntry& e = (*cache)[n.value];
  const uint64_t gen = snap.node(n).generation;
  if (e.generation == gen) {
    ++stats_.score_cache_hits;
    return e.score;
  }
  ++stats_.score_cache_misses;
  e.score = profile_.scorers[s].plugin->Score(pod, snap, n);
  e.generation = gen;
  return e.score;
}

Status Framework::Normalize(size_t s, std::vector<int64_t>& raw) {
  const ScorePlugin& plugin = *profile_.scorers[s].plugin;
  if (plugin.normalization() == Normalization::kMinMax) {
    int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
    for (int64_t v : raw) lo = std::min(lo, v), hi = std::max(hi, v);
    const int64_t range = hi - lo;
    if (range == 0) {
      std::fill(raw.begin(), raw.end(), 0);
    } else if (range <= 4096 && static_cast<size_t>(range) < raw.size() * 4) {
      // Same integers as the division below, one division per distinct value instead of per node.
      norm_table_.resize(static_cast<size_t>(range) + 1);
      for (int64_t x = 0; x <= range; ++x) norm_table_[x] = x * kMaxNodeScore / range;
      for (int64_t& v : raw) v = norm_table_[v - lo];
    } else {
      for (int64_t& v : raw) v = (v - lo) * kMaxNodeScore / range;
    }
    return Status::Ok();
  }
  const int64_t max = plugin.max_score();
  for (int64_t v : raw) {
    if (v < 0 || v > max) {
      return Internal("plugin " + std::string(plugin.name()) + " returned score " + std::to_string(v) +
                      " outside [0, " + std::to_string(max) + "]");
    }
  }
  return Status::Ok();
}

void Framework::FilterRange(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx,
                            uint32_t first, uint32_t last, Decision& d) {
  std::fill(reasons_.begin() + first, reasons_.begin() + last, FitReason::kFits);
  for (uint32_t i = first; i < last && i < ctx.allowed.size(); ++i) {
    if (!ctx.allowed[i]) reasons_[i] = FitReason::kOutsideDomain;
  }
  if (ctx.residency_enforced) {  // residency first: no other reason may hide it, nothing may get around it
    for (uint32_t i = first; i < last; ++i) {
      if (i >= ctx.residency.size() || !ctx.residency[i]) reasons_[i] = FitReason::kResidency;
    }
  }
  for (uint32_t i = first; i < last && i < ctx.reserved.size(); ++i) {
    if (ctx.reserved[i] && reasons_[i] == FitReason::kFits) reasons_[i] = FitReason::kReserved;
  }
  const std::span<FitReason> range(reasons_.data() + first, last - first);
  for (const auto& f : profile_.filters) f->FilterRange(pod, snap, first, range);
  for (uint32_t i = first; i < last; ++i) {
    if (reasons_[i] == FitReason::kFits) {
      feasible_.push_back(NodeIndex(i));
    } else {
      d.diagnosis.Add(reasons_[i]);
    }
  }
}

namespace {

// The first index in [i, last) whose bit is `set` (last if none). Bits past the fleet's end are clear.
uint32_t NextBit(std::span<const uint64_t> bits, uint32_t i, uint32_t last, bool set) {
  while (i < last) {
    const uint64_t word = set ? bits[i / 64] : ~bits[i / 64];
    const uint64_t w = word & (~uint64_t{0} << (i % 64));
    if (w != 0) return std::min(last, i / 64 * 64 + static_cast<uint32_t>(std::countr_zero(w)));
    i = (i / 64 + 1) * 64;
  }
  return last;
}

}  // namespace

void Framework::FilterRoom(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx,
                           std::span<const uint64_t> room, uint32_t first, uint32_t last, Decision& d) {
  for (uint32_t i = NextBit(room, first, last, true); i < last;) {
    const uint32_t end = NextBit(room, i, last, false);
    FilterRange(pod, snap, ctx, i, end, d);
    i = NextBit(room, end, last, true);
  }
}

void Framework::Filter(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx,
                       Decision& d) {
  const uint32_t n = static_cast<uint32_t>(snap.size());
  feasible_.clear();
  reasons_.resize(n);
  if (ctx.max_feasible == 0 || ctx.max_feasible >= n) {
    FilterRange(pod, snap, ctx, 0, n, d);
  } else {
    // Chunks from a start that depends on the pod's name (deterministic, spread over the fleet), until
    // enough feasible nodes are found or every node was looked at. Nodes the snapshot's free-GPU index
    // rules out are skipped: the feasible nodes found are the same, only fewer nodes are looked at.
    const std::span<const uint64_t> room = snap.GpuRoom(pod);
    static constexpr uint32_t kChunk = 4096;
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : pod.name) h = (h ^ c) * 1099511628211ULL;
    const uint32_t start = static_cast<uint32_t>(h % n);
    for (uint32_t seen = 0; seen < n && feasible_.size() < ctx.max_feasible;) {
      const uint32_t first = (start + seen) % n;
      const uint32_t len = std::min({kChunk, n - first, n - seen});
      if (room.empty()) {
        FilterRange(pod, snap, ctx, first, first + len, d);
      } else {
        FilterRoom(pod, snap, ctx, room, first, first + len, d);
      }
      seen += len;
    }
  }
  d.feasible_nodes = static_cast<int>(feasible_.size());
}

StatusOr<NodeIndex> Framework::ScoreAndSelect(const PodSpec& pod, const ClusterSnapshot& snap,
                                              const CycleContext& ctx) {
  if (feasible_.size() == 1 || profile_.scorers.empty()) return feasible_[0];
  TickSource& ticks = ctx.ticks ? *ctx.ticks : null_ticks_;
  if (cache_snapshot_uid_ != snap.uid()) {
    for (auto& m : cache_) m.clear();
    cache_snapshot_uid_ = snap.uid();
  }
  total_.assign(feasible_.size(), 0);
  for (size_t s = 0; s < profile_.scorers.size(); ++s) {
    const int64_t ts = ticks.NowNanos();
    ScorePlugin& plugin = *profile_.scorers[s].plugin;
    plugin.PreScore(pod, snap, feasible_, *ctx.rng);
    std::vector<CacheEntry>* cache = nullptr;
    if (auto key = plugin.CacheKey(pod)) {
      auto& v = cache_[s][*key];
      if (v.size() != snap.size()) v.assign(snap.size(), CacheEntry{});
      cache = &v;
    }
    raw_.resize(feasible_.size());
    if (cache == nullptr) {
      plugin.ScoreAll(pod, snap, feasible_, raw_);
    } else {
      for (size_t k = 0; k < feasible_.size(); ++k) raw_[k] = ScoreNode(s, pod, snap, feasible_[k], cache);
    }
    AWAN_RETURN_IF_ERROR(Normalize(s, raw_));
    const int64_t w = profile_.scorers[s].weight;
    for (size_t k = 0; k < feasible_.size(); ++k) total_[k] += raw_[k] * w;
    stats_.scorer_ns[s] += ticks.NowNanos() - ts;
  }
  size_t best = 0;
  if (ctx.tie_rank.empty()) {
    for (size_t k = 1; k < feasible_.size(); ++k) best = total_[k] > total_[best] ? k : best;
  } else {
    const uint32_t* rank = ctx.tie_rank.data();
    for (size_t k = 1; k < feasible_.size(); ++k) {
      if (total_[k] > total_[best] ||
          (total_[k] == total_[best] && rank[feasible_[k].value] < rank[feasible_[best].value])) {
        best = k;
      }
    }
  }
  return feasible_[best];
}

Status Framework::Reserve(const PodSpec& pod, const ClusterSnapshot& snap, const CycleContext& ctx,
                          NodeIndex chosen, Decision& d) {
  d.placed = true;
  d.placement.node = chosen;
  const NodeState& node = snap.node(chosen);
  if (!pod.wants_gpu()) return Status::Ok();
  d.placement.devices = profile_.device_selector->Select(pod, node, *ctx.rng);
  if (d.placement.devices.count != pod.gpu_count) {
    return Internal("device selector " + std::string(profile_.device_selector->name()) + " chose " +
                    std::to_string(d.placement.devices.count) + " devices for a " +
                    std::to_string(pod.gpu_count) + "-GPU pod");
  }
  for (int i = 0; i < d.placement.devices.count; ++i) {
    if (node.gpu_left[d.placement.devices.index[i]] < pod.gpu_milli.value) {
      return Internal("device selector " + std::string(profile_.device_selector->name()) +
                      " chose a device without room");
    }
  }
  return Status::Ok();
}

StatusOr<Decision> Framework::Schedule(const PodSpec& pod, const ClusterSnapshot& snap,
                                       const CycleContext& ctx) {
  TickSource& ticks = ctx.ticks ? *ctx.ticks : null_ticks_;
  Decision d;
  ++stats_.cycles;
  const int64_t t0 = ticks.NowNanos();
  Filter(pod, snap, ctx, d);
  const int64_t t1 = ticks.NowNanos();
  stats_.filter_ns += t1 - t0;
  if (feasible_.empty()) return d;
  AWAN_ASSIGN_OR_RETURN(NodeIndex chosen, ScoreAndSelect(pod, snap, ctx));
  const int64_t t2 = ticks.NowNanos();
  stats_.score_ns += t2 - t1;
  AWAN_RETURN_IF_ERROR(Reserve(pod, snap, ctx, chosen, d));
  stats_.select_ns += ticks.NowNanos() - t2;
  ++stats_.placed;
  return d;
}

}  // namespace awan
