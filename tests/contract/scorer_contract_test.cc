// One suite that every registered score plugin and device selector must pass:
//   - deterministic: the same inputs (and the same Rng state) give the same score;
//   - never mutates the snapshot it scores;
//   - scores are in [0, 100] (after the framework's normalization for kMinMax plugins);
//   - a cacheable scorer gives the framework the same decisions as scoring every node afresh;
//   - device selectors return exactly the requested devices, each with room.
#include <gtest/gtest.h>

#include <cstring>

#include "core/framework.h"
#include "policies/builtin.h"
#include "policies/fit/device_selectors.h"
#include "policies/fit/fit_filters.h"
#include "test_util.h"

namespace awan {
namespace {

struct World {
  Fleet fleet;
  std::vector<PodSpec> workload;
};

std::unique_ptr<World> RandomWorld(uint64_t seed) {
  auto w = std::make_unique<World>();
  Rng rng(seed);
  const char* models[] = {"A100", "T4", "V100"};
  const int gpu_choices[] = {0, 1, 2, 4, 8};
  for (int i = 0; i < 24; ++i) {
    testing::AddNode(w->fleet, "n" + std::to_string(i), 8000 + 8000 * static_cast<int64_t>(rng.Uniform(12)),
                     65536 + 65536 * static_cast<int64_t>(rng.Uniform(8)), gpu_choices[rng.Uniform(5)],
                     models[rng.Uniform(3)]);
  }
  const int milli_choices[] = {100, 250, 300, 500, 700, 1000};
  for (int i = 0; i < 300; ++i) {
    const int kind = static_cast<int>(rng.Uniform(10));
    const int gpus = kind < 2 ? 0 : kind < 6 ? 1 : kind < 8 ? static_cast<int>(1 + rng.Uniform(2)) * 2 : 1;
    const int64_t milli = gpus == 1 && kind < 6 ? milli_choices[rng.Uniform(6)] : 1000;
    const std::string constraint = rng.Uniform(5) == 0 ? models[rng.Uniform(3)] : "";
    w->workload.push_back(
        testing::Pod("p" + std::to_string(i), 1000 + 1000 * static_cast<int64_t>(rng.Uniform(16)),
                     1024 * static_cast<int64_t>(1 + rng.Uniform(32)), gpus, milli, w->fleet, constraint));
  }
  return w;
}

bool SameState(const ClusterSnapshot& a, const ClusterSnapshot& b) {
  if (a.size() != b.size()) return false;
  for (uint32_t i = 0; i < a.size(); ++i) {
    const NodeState &x = a.node(NodeIndex(i)), &y = b.node(NodeIndex(i));
    if (x.cpu_left != y.cpu_left || x.mem_left != y.mem_left || x.pods != y.pods ||
        x.gpu_left != y.gpu_left || x.generation != y.generation ||
        x.gpu_pods_by_width != y.gpu_pods_by_width) {
      return false;
    }
  }
  return true;
}

// The nodes that pass both filters for `pod`.
bool Fits(const PodSpec& pod, const NodeState& n) {
  return policies::NodeResourcesFit().Filter(pod, n) == FitReason::kFits &&
         policies::GpuFit().Filter(pod, n) == FitReason::kFits;
}
std::vector<NodeIndex> FeasibleNodes(const PodSpec& pod, const ClusterSnapshot& snap) {
  std::vector<NodeIndex> feasible;
  for (uint32_t i = 0; i < snap.size(); ++i) {
    if (Fits(pod, snap.node(NodeIndex(i)))) feasible.push_back(NodeIndex(i));
  }
  return feasible;
}

// Places `pod` on a random feasible node (tightest devices), so that later pods see varied states.
::testing::AssertionResult PlaceAnywhere(const PodSpec& pod, const std::vector<NodeIndex>& feasible,
                                         ClusterSnapshot& snap, Rng& rng) {
  const NodeIndex target = feasible[rng.Uniform(feasible.size())];
  policies::BestFitDevices best;
  Placement p{target, pod.wants_gpu() ? best.Select(pod, snap.node(target), rng) : DeviceList{}};
  if (!snap.Assign(pod, p).ok()) return ::testing::AssertionFailure() << "could not place " << pod.name;
  return ::testing::AssertionSuccess();
}

class ScorerContract : public ::testing::TestWithParam<std::string> {};

TEST_P(ScorerContract, DeterministicInRangeAndReadOnly) {
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto w = RandomWorld(seed);
    auto plugin = policies::BuiltinRegistry().BuildScorer(GetParam(), PluginContext{&w->fleet, &w->workload});
    ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
    ScorePlugin& s = **plugin;
    ClusterSnapshot snap(w->fleet);
    Rng fill(seed + 100);
    for (const PodSpec& pod : w->workload) {
      const std::vector<NodeIndex> feasible = FeasibleNodes(pod, snap);
      if (feasible.empty()) continue;
      const ClusterSnapshot before = snap;
      Rng r1(seed), r2(seed);
      s.PreScore(pod, snap, feasible, r1);
      std::vector<int64_t> first;
      for (NodeIndex n : feasible) first.push_back(s.Score(pod, snap, n));
      s.PreScore(pod, snap, feasible, r2);
      for (size_t k = 0; k < feasible.size(); ++k) {
        const int64_t again = s.Score(pod, snap, feasible[k]);
        ASSERT_EQ(first[k], again) << GetParam() << " is not deterministic";
        if (s.normalization() == Normalization::kNone) {
          ASSERT_GE(again, 0) << GetParam();
          ASSERT_LE(again, s.max_score()) << GetParam();
        }
      }
      ASSERT_TRUE(SameState(before, snap)) << GetParam() << " mutated the snapshot";
      ASSERT_TRUE(PlaceAnywhere(pod, feasible, snap, fill));
    }
  }
}

TEST_P(ScorerContract, FrameworkDecisionsEqualFreshScoringAndStayInRange) {
  auto w = RandomWorld(7);
  PluginContext ctx{&w->fleet, &w->workload};
  auto plugin = policies::BuiltinRegistry().BuildScorer(GetParam(), ctx);
  ASSERT_TRUE(plugin.ok());
  const bool random = GetParam() == "RandomScore";
  Profile p;
  p.name = "contract";
  p.filters.push_back(std::make_unique<policies::NodeResourcesFit>());
  p.filters.push_back(std::make_unique<policies::GpuFit>());
  p.scorers.push_back(WeightedScorer{std::move(*plugin), 3});
  p.device_selector = std::make_unique<policies::BestFitDevices>();
  Framework fw(std::move(p));
  auto fresh_or = policies::BuiltinRegistry().BuildScorer(GetParam(), ctx);
  ASSERT_TRUE(fresh_or.ok());
  std::unique_ptr<ScorePlugin> fresh = std::move(fresh_or).value();
  ClusterSnapshot snap(w->fleet);
  Rng rng(11), rng_fresh(11);
  for (const PodSpec& pod : w->workload) {
    auto d = fw.Schedule(pod, snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
    ASSERT_TRUE(d.ok()) << GetParam() << ": " << d.status().ToString();
    if (!d->placed) continue;
    if (d->feasible_nodes > 1 && !random) {
      // Recompute the winner without the framework: max score, ties to the lowest index.
      int64_t best = -1;
      uint32_t who = 0;
      std::vector<int64_t> raw;
      std::vector<uint32_t> idx;
      const std::vector<NodeIndex> feasible = FeasibleNodes(pod, snap);
      fresh->PreScore(pod, snap, feasible, rng_fresh);  // as the framework does once per cycle
      for (NodeIndex i : feasible) {
        raw.push_back(fresh->Score(pod, snap, i));
        idx.push_back(i.value);
      }
      for (size_t k = 0; k < raw.size(); ++k) {
        if (raw[k] > best) best = raw[k], who = idx[k];
      }
      ASSERT_EQ(d->placement.node.value, who) << GetParam() << " with the score cache decided differently";
    }
    ASSERT_TRUE(snap.Assign(pod, d->placement).ok());
  }
}

// A cache key must cover every input of the score: two pods with the same key score alike on every node. Each
// pod is paired with twins that differ in one field (memory, the model constraint); where the keys agree, the
// scores must too. (A key that left out memory while the score read it would fail here.)
TEST_P(ScorerContract, EqualCacheKeysGiveEqualScores) {
  int compared = 0;
  bool keyed = false;  // scorers without a cache key are not cached: nothing to check
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto w = RandomWorld(seed);
    auto plugin = policies::BuiltinRegistry().BuildScorer(GetParam(), PluginContext{&w->fleet, &w->workload});
    ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
    ScorePlugin& s = **plugin;
    ClusterSnapshot snap(w->fleet);
    Rng fill(seed + 200);
    for (const PodSpec& pod : w->workload) {
      const std::optional<uint64_t> key = s.CacheKey(pod);
      keyed = keyed || key.has_value();
      std::vector<PodSpec> twins(3, pod);
      twins[0].memory = MemMiB(pod.memory.value * 4);
      twins[1].memory = MemMiB(std::max<int64_t>(1, pod.memory.value / 4));
      twins[2].model_constraint.clear();
      twins[2].allowed_models = AcceleratorSet{};
      const std::vector<NodeIndex> feasible = FeasibleNodes(pod, snap);
      if (feasible.empty()) continue;
      for (const PodSpec& twin : twins) {
        if (!key || s.CacheKey(twin) != key) continue;
        for (NodeIndex n : feasible) {
          if (!Fits(twin, snap.node(n))) continue;
          ASSERT_EQ(s.Score(pod, snap, n), s.Score(twin, snap, n))
              << GetParam() << ": pods with the same cache key score differently (memory " << pod.memory.value
              << " vs " << twin.memory.value << ")";
          ++compared;
        }
      }
      ASSERT_TRUE(PlaceAnywhere(pod, feasible, snap, fill));  // memory runs short on some nodes
    }
  }
  if (keyed) {
    EXPECT_GT(compared, 0) << GetParam() << ": no twin pods were compared";
  }
}

INSTANTIATE_TEST_SUITE_P(AllScorers, ScorerContract,
                         ::testing::ValuesIn(policies::BuiltinRegistry().ScorerNames()),
                         [](const auto& info) { return info.param; });

class SelectorContract : public ::testing::TestWithParam<std::string> {};

TEST_P(SelectorContract, ReturnsExactlyTheRequestedDevicesWithRoom) {
  auto w = RandomWorld(3);
  ProfileConfig c{"sel", "", {"NodeResourcesFit", "GpuFit"}, {{"BestFitScore", 1}}, GetParam()};
  auto p = policies::BuiltinRegistry().Build(c, PluginContext{&w->fleet, &w->workload});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  Framework fw(std::move(*p));
  ClusterSnapshot snap(w->fleet);
  Rng rng(5);
  int placed = 0;
  for (const PodSpec& pod : w->workload) {
    auto d = fw.Schedule(pod, snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    if (!d->placed) continue;
    ASSERT_EQ(d->placement.devices.count, pod.wants_gpu() ? pod.gpu_count : 0);
    ASSERT_TRUE(snap.Assign(pod, d->placement).ok());  // Assign refuses any over-commit
    ++placed;
  }
  EXPECT_GT(placed, 50);
}

INSTANTIATE_TEST_SUITE_P(AllSelectors, SelectorContract, ::testing::Values("best", "random", "fgd", "awan"));

}  // namespace
}  // namespace awan
