#include "core/framework.h"

#include <gtest/gtest.h>

#include <map>

#include "common/tick_source.h"
#include "core/registry.h"
#include "core/scheduler_state.h"
#include "policies/builtin.h"
#include "policies/fit/device_selectors.h"
#include "policies/fit/fit_filters.h"
#include "policies/ordering/orderings.h"
#include "test_util.h"

namespace awan {
namespace {

using testing::AddNode;
using testing::Pod;

// A scorer whose raw score per node name is set by the test.
class TableScore final : public ScorePlugin {
 public:
  TableScore(std::map<uint32_t, int64_t> s, Normalization n) : scores_(std::move(s)), norm_(n) {}
  std::string_view name() const override { return "Table"; }
  Normalization normalization() const override { return norm_; }
  int64_t Score(const PodSpec&, const ClusterSnapshot&, NodeIndex n) const override {
    ++calls;
    auto it = scores_.find(n.value);
    return it == scores_.end() ? 0 : it->second;
  }
  std::optional<uint64_t> CacheKey(const PodSpec&) const override {
    if (cacheable) return 1;
    return std::nullopt;
  }
  bool cacheable = false;
  mutable int calls = 0;

 private:
  std::map<uint32_t, int64_t> scores_;
  Normalization norm_;
};

struct Built {
  Fleet fleet;
  std::unique_ptr<ClusterSnapshot> snap;
};

std::unique_ptr<Built> ThreeNodes() {
  auto b = std::make_unique<Built>();
  AddNode(b->fleet, "n0", 8000, 8000, 2);
  AddNode(b->fleet, "n1", 8000, 8000, 2);
  AddNode(b->fleet, "n2", 8000, 8000, 2);
  b->snap = std::make_unique<ClusterSnapshot>(b->fleet);
  return b;
}

Profile MakeProfile(std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> scorers) {
  Profile p;
  p.name = "test";
  p.filters.push_back(std::make_unique<policies::NodeResourcesFit>());
  p.filters.push_back(std::make_unique<policies::GpuFit>());
  for (auto& [s, w] : scorers) p.scorers.push_back(WeightedScorer{std::move(s), w});
  p.device_selector = std::make_unique<policies::BestFitDevices>();
  return p;
}

TEST(Framework, WeightsAndSumsScoresThenPicksTheHighest) {
  auto b = ThreeNodes();
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 100}, {1, 0}, {2, 50}},
                                              Normalization::kNone),
                 1);
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 0}, {1, 60}, {2, 10}},
                                              Normalization::kNone),
                 2);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  auto d = fw.Schedule(Pod("p", 100, 100, 1, 1000, b->fleet), *b->snap,
                       CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
  ASSERT_TRUE(d.ok());
  // totals: n0 = 100, n1 = 120, n2 = 70
  EXPECT_TRUE(d->placed);
  EXPECT_EQ(d->placement.node.value, 1u);
  EXPECT_EQ(d->placement.devices.count, 1);
  EXPECT_EQ(d->feasible_nodes, 3);
}

TEST(Framework, MinMaxNormalizationIsAppliedByTheFramework) {
  auto b = ThreeNodes();
  // Raw 1000/1010/1005 would be out of range; min-max maps them to 0/100/50.
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 1000}, {1, 1010}, {2, 1005}},
                                              Normalization::kMinMax),
                 1);
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 0}, {1, 0}, {2, 60}},
                                              Normalization::kNone),
                 1);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  auto d = fw.Schedule(Pod("p", 100, 100, 0, 0, b->fleet), *b->snap,
                       CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->placement.node.value, 2u);  // 50 + 60 > 100 + 0
}

TEST(Framework, OutOfRangeScoreIsAContractErrorNotADecision) {
  auto b = ThreeNodes();
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 101}}, Normalization::kNone),
                 1);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  auto d = fw.Schedule(Pod("p", 100, 100, 0, 0, b->fleet), *b->snap,
                       CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("outside [0, 100]"), std::string::npos);
}

TEST(Framework, TiesGoToTheSmallestTieRank) {
  auto b = ThreeNodes();
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 10}, {1, 70}, {2, 70}},
                                              Normalization::kNone),
                 1);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  std::vector<uint32_t> ranks = {0, 9, 4};
  auto d = fw.Schedule(Pod("p", 100, 100, 0, 0, b->fleet), *b->snap,
                       CycleContext{&rng, ranks, nullptr, {}, false, {}, {}});
  EXPECT_EQ(d->placement.node.value, 2u);
  std::vector<uint32_t> ranks2 = {0, 3, 4};
  auto d2 = fw.Schedule(Pod("p", 100, 100, 0, 0, b->fleet), *b->snap,
                        CycleContext{&rng, ranks2, nullptr, {}, false, {}, {}});
  EXPECT_EQ(d2->placement.node.value, 1u);
}

TEST(Framework, CountsWhyNodesWereRejected) {
  Fleet f;
  AddNode(f, "small-cpu", 1000, 8000, 2);
  AddNode(f, "no-gpu", 8000, 8000, 0);
  AddNode(f, "t4", 8000, 8000, 2, "T4");
  NodeIndex busy = AddNode(f, "busy", 8000, 8000, 1);
  ClusterSnapshot snap(f);
  testing::UseDevices(snap, busy, {200});
  snap.SetUnavailable(NodeIndex(0), false);
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> none;
  Framework fw(MakeProfile(std::move(none)));
  Rng rng(1);
  auto d = fw.Schedule(Pod("p", 2000, 100, 1, 500, f, "V100"), snap,
                       CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
  ASSERT_TRUE(d.ok());
  EXPECT_FALSE(d->placed);
  EXPECT_EQ(d->diagnosis.count(FitReason::kInsufficientCpu), 1u);
  EXPECT_EQ(d->diagnosis.count(FitReason::kNoGpu), 1u);
  EXPECT_EQ(d->diagnosis.count(FitReason::kGpuModelMismatch), 1u);
  EXPECT_EQ(d->diagnosis.count(FitReason::kInsufficientGpu), 1u);
  EXPECT_EQ(d->diagnosis.ToString(),
            "InsufficientCpu: 1 node, NoGpu: 1 node, GpuModelMismatch: 1 node, InsufficientGpu: 1 node");
}

TEST(Framework, SingleFeasibleNodeIsChosenWithoutScoring) {
  Fleet f;
  AddNode(f, "a", 8000, 8000, 1);
  AddNode(f, "b", 8000, 8000, 0);
  ClusterSnapshot snap(f);
  auto scorer = std::make_unique<TableScore>(std::map<uint32_t, int64_t>{}, Normalization::kNone);
  TableScore* raw = scorer.get();
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::move(scorer), 1);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  auto d =
      fw.Schedule(Pod("p", 100, 100, 1, 1000, f), snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
  EXPECT_EQ(d->placement.node.value, 0u);
  EXPECT_EQ(raw->calls, 0);
}

TEST(Framework, ScoreCacheServesUnchangedNodesAndRescoresChangedOnes) {
  auto b = ThreeNodes();
  auto scorer =
      std::make_unique<TableScore>(std::map<uint32_t, int64_t>{{0, 1}, {1, 2}, {2, 3}}, Normalization::kNone);
  scorer->cacheable = true;
  TableScore* raw = scorer.get();
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::move(scorer), 1);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  PodSpec pod = Pod("p", 100, 100, 0, 0, b->fleet);
  auto d = fw.Schedule(pod, *b->snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
  EXPECT_EQ(raw->calls, 3);
  ASSERT_TRUE(b->snap->Assign(pod, d->placement).ok());  // touches node 2 only
  ASSERT_TRUE(fw.Schedule(pod, *b->snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}}).ok());
  EXPECT_EQ(raw->calls, 4);
  EXPECT_EQ(fw.stats().score_cache_hits, 2);
  ClusterSnapshot copy = *b->snap;  // a new snapshot: nothing cached for it
  ASSERT_TRUE(fw.Schedule(pod, copy, CycleContext{&rng, {}, nullptr, {}, false, {}, {}}).ok());
  EXPECT_EQ(raw->calls, 7);
}

TEST(Framework, RecordsStageTimingsThroughTheInjectedTickSource) {
  auto b = ThreeNodes();
  std::vector<std::pair<std::unique_ptr<ScorePlugin>, int64_t>> s;
  s.emplace_back(std::make_unique<TableScore>(std::map<uint32_t, int64_t>{}, Normalization::kNone), 1);
  Framework fw(MakeProfile(std::move(s)));
  Rng rng(1);
  FakeTickSource ticks(10);
  ASSERT_TRUE(fw.Schedule(Pod("p", 100, 100, 0, 0, b->fleet), *b->snap,
                          CycleContext{&rng, {}, &ticks, {}, false, {}, {}})
                  .ok());
  EXPECT_EQ(fw.stats().filter_ns, 10);
  EXPECT_GT(fw.stats().score_ns, 0);
  EXPECT_EQ(fw.stats().scorer_ns.size(), 1u);
  EXPECT_EQ(fw.stats().cycles, 1);
}

// Sampling (max_feasible) skips the nodes the snapshot's free-GPU index rules out: when the scan looks at
// the whole fleet anyway (fewer feasible nodes than the sample), the decision is the one without sampling.
TEST(Framework, SampledScanWithTheFreeGpuIndexDecidesAsTheFullScan) {
  Fleet f;
  for (int i = 0; i < 300; ++i) AddNode(f, "n" + std::to_string(i), 64000, 64000, 8);
  ClusterSnapshot snap(f);
  Rng fill(3);
  for (uint32_t i = 0; i < snap.size(); ++i) {  // random occupancy: 0 to 8 devices taken
    const int taken = static_cast<int>(fill.Uniform(9));
    Placement p{NodeIndex(i), {}};
    for (int d = 0; d < taken; ++d) p.devices.Add(d);
    if (taken > 0) {
      ASSERT_TRUE(snap.Assign(Pod("x" + std::to_string(i), 1, 1, taken, 1000, f), p).ok());
    }
    if (i % 37 == 0) snap.SetUnavailable(NodeIndex(i), true);
  }
  std::vector<uint32_t> rank(snap.size());
  for (uint32_t i = 0; i < rank.size(); ++i) rank[i] = (i * 7919) % 300;
  std::vector<PodSpec> workload = {Pod("w", 100, 100, 1, 1000, f)};
  auto profile = policies::BuiltinRegistry().BuildProfile("bestfit", PluginContext{&f, &workload});
  ASSERT_TRUE(profile.ok());
  Framework fw(std::move(*profile));
  Rng rng(1);
  int compared = 0;
  for (int gpus = 1; gpus <= 8; ++gpus) {
    for (int k = 0; k < 20; ++k) {
      const PodSpec pod =
          Pod("pod-" + std::to_string(gpus) + "-" + std::to_string(k), 100, 100, gpus, 1000, f);
      CycleContext full{&rng, rank, nullptr, {}, false, {}, {}, 0};
      auto a = fw.Schedule(pod, snap, full);
      CycleContext sampled = full;
      sampled.max_feasible = static_cast<uint32_t>(snap.size()) - 1;
      auto b = fw.Schedule(pod, snap, sampled);
      ASSERT_TRUE(a.ok() && b.ok());
      if (a->feasible_nodes >= static_cast<int>(snap.size()) - 1) continue;
      ++compared;
      EXPECT_EQ(a->placed, b->placed) << pod.name;
      EXPECT_EQ(a->feasible_nodes, b->feasible_nodes) << pod.name;
      if (a->placed && b->placed) {
        EXPECT_EQ(a->placement.node, b->placement.node) << pod.name;
      }
      // Only nodes with room for the devices were looked at.
      EXPECT_EQ(b->diagnosis.count(FitReason::kInsufficientGpu), 0u) << pod.name;
    }
  }
  EXPECT_GT(compared, 100);
}

TEST(Registry, BuildsEveryBuiltinPolicyAndRejectsUnknownNames) {
  const PluginRegistry& r = policies::BuiltinRegistry();
  Fleet f;
  AddNode(f, "n", 8000, 8000, 2);
  std::vector<PodSpec> workload = {Pod("a", 100, 100, 1, 500, f), Pod("b", 100, 100, 0, 0, f)};
  for (const std::string name :
       {"awan", "random", "dotprod", "clustering", "packing", "bestfit", "fgd", "k8s"}) {
    auto p = r.BuildProfile(name, PluginContext{&f, &workload});
    EXPECT_TRUE(p.ok()) << name << ": " << p.status().ToString();
  }
  auto bad = r.BuildProfile("fifo-magic", PluginContext{&f, &workload});
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find("known: awan, bestfit"), std::string::npos);
  EXPECT_FALSE(r.BuildProfile("fgd", PluginContext{&f, nullptr}).ok());  // FGD needs a workload
}

}  // namespace
}  // namespace awan

namespace awan {
namespace {

TEST(Registry, ProfileExpressionsBuildInlineProfiles) {
  auto c = ParseProfileExpression("FgdScore*1000+BestFitScore@fgd");
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->scorers.size(), 2u);
  EXPECT_EQ(c->scorers[0], (std::pair<std::string, int64_t>{"FgdScore", 1000}));
  EXPECT_EQ(c->scorers[1], (std::pair<std::string, int64_t>{"BestFitScore", 1}));
  EXPECT_EQ(c->device_selector, "fgd");
  EXPECT_FALSE(ParseProfileExpression("FgdScore*x").ok());
  EXPECT_FALSE(ParseProfileExpression("+BestFitScore").ok());
  const PluginRegistry& r = policies::BuiltinRegistry();
  EXPECT_TRUE(r.Knows("BestFitScore"));
  EXPECT_TRUE(r.Knows("GpuPackingScore*2+BestFitScore@random"));
  EXPECT_FALSE(r.Knows("NoSuchScore+BestFitScore"));
  EXPECT_FALSE(r.Knows("BestFitScore@nowhere"));
  Fleet f;
  testing::AddNode(f, "n", 8000, 8000, 2);
  EXPECT_TRUE(r.BuildProfile("BestFitScore*3@best", PluginContext{&f, nullptr}).ok());
  EXPECT_EQ(r.BuildProfile("NoSuchScore*3", PluginContext{&f, nullptr}).status().code(),
            StatusCode::kNotFound);
}

// ImageLocality: with a view of which nodes hold a pod's image, every built-in profile puts the pod on a node
// that holds it (whatever it would have chosen otherwise); pods without an image in the view are placed as
// before.
class FakeImages final : public NodeImages {
 public:
  bool Warm(const PodSpec& pod, NodeIndex node) const override {
    return pod.name == "replica" && node.value == warm_node;
  }
  uint32_t warm_node = 0;
};

TEST(ImageLocality, EveryProfilePrefersANodeThatHoldsTheImage) {
  Fleet f;
  for (int i = 0; i < 6; ++i) AddNode(f, "n" + std::to_string(i), 64000, 512000, 8);
  for (const std::string name : {"awan", "bestfit", "k8s", "packing", "clustering", "dotprod", "fgd"}) {
    auto order = policies::MakeQueueOrder("fifo");
    ASSERT_TRUE(order.ok());
    auto st =
        SchedulerState::Create(f, policies::BuiltinRegistry(), name, std::move(*order), SchedulerOptions{});
    ASSERT_TRUE(st.ok()) << name << ": " << st.status().ToString();
    Rng rng(7);
    const CycleContext ctx{&rng, {}, nullptr, {}, false, {}, {}};
    auto cold = (*st)->framework().Schedule(Pod("replica", 1000, 1000, 2, 1000, f), (*st)->snapshot(), ctx);
    ASSERT_TRUE(cold.ok() && cold->placed) << name;
    FakeImages images;
    images.warm_node = (cold->placement.node.value + 3) % 6;  // not where it would go
    ASSERT_TRUE((*st)->PreferWarmNodes(&images).ok());
    Rng rng2(7);
    const CycleContext ctx2{&rng2, {}, nullptr, {}, false, {}, {}};
    auto warm = (*st)->framework().Schedule(Pod("replica", 1000, 1000, 2, 1000, f), (*st)->snapshot(), ctx2);
    ASSERT_TRUE(warm.ok() && warm->placed) << name;
    EXPECT_EQ(warm->placement.node.value, images.warm_node) << name;
    Rng rng3(7);
    const CycleContext ctx3{&rng3, {}, nullptr, {}, false, {}, {}};
    auto other = (*st)->framework().Schedule(Pod("other", 1000, 1000, 2, 1000, f), (*st)->snapshot(), ctx3);
    Rng rng4(7);
    const CycleContext ctx4{&rng4, {}, nullptr, {}, false, {}, {}};
    ASSERT_TRUE((*st)->PreferWarmNodes(nullptr).ok());
    auto other_before =
        (*st)->framework().Schedule(Pod("other", 1000, 1000, 2, 1000, f), (*st)->snapshot(), ctx4);
    ASSERT_TRUE(other.ok() && other_before.ok());
    EXPECT_EQ(other->placement.node.value, other_before->placement.node.value) << name;
  }
}

}  // namespace
}  // namespace awan
