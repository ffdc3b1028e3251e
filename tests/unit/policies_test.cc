#include <set>

#include <gtest/gtest.h>

#include "policies/bestfit/best_fit_score.h"
#include "policies/clustering/gpu_clustering_score.h"
#include "policies/dotprod/dot_product_score.h"
#include "policies/fit/device_selectors.h"
#include "policies/fit/fit_filters.h"
#include "policies/k8s/k8s_scores.h"
#include "policies/packing/gpu_packing_score.h"
#include "policies/random/random_score.h"
#include "test_util.h"

namespace awan::policies {
namespace {

using testing::AddNode;
using testing::Pod;
using testing::UseDevices;

TEST(Filters, NodeResourcesFitChecksSlotsCpuMemoryAndAvailability) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 4000, 1000, 1);
  ClusterSnapshot s(f);
  NodeResourcesFit fit;
  EXPECT_EQ(fit.Filter(Pod("ok", 4000, 1000, 0, 0, f), s.node(n)), FitReason::kFits);
  EXPECT_EQ(fit.Filter(Pod("cpu", 4001, 10, 0, 0, f), s.node(n)), FitReason::kInsufficientCpu);
  EXPECT_EQ(fit.Filter(Pod("mem", 10, 1001, 0, 0, f), s.node(n)), FitReason::kInsufficientMemory);
  s.SetUnavailable(n, true);
  EXPECT_EQ(fit.Filter(Pod("ok", 10, 10, 0, 0, f), s.node(n)), FitReason::kNodeUnavailable);
}

TEST(Filters, GpuFitChecksModelsWholeDevicesAndShares) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 64000, 64000, 4, "V100M16");
  ClusterSnapshot s(f);
  UseDevices(s, n, {1000, 300, 1000, 600});
  GpuFit fit;
  const NodeState& st = s.node(n);
  EXPECT_EQ(fit.Filter(Pod("cpu-only", 10, 10, 0, 0, f), st), FitReason::kFits);
  EXPECT_EQ(fit.Filter(Pod("two", 10, 10, 2, 1000, f), st), FitReason::kFits);
  EXPECT_EQ(fit.Filter(Pod("three", 10, 10, 3, 1000, f), st), FitReason::kInsufficientGpu);
  EXPECT_EQ(fit.Filter(Pod("share", 10, 10, 1, 600, f), st), FitReason::kFits);
  EXPECT_EQ(fit.Filter(Pod("type-ok", 10, 10, 1, 100, f, "V100M16|V100M32"), st), FitReason::kFits);
  EXPECT_EQ(fit.Filter(Pod("type-no", 10, 10, 1, 100, f, "T4"), st), FitReason::kGpuModelMismatch);
}

TEST(DeviceSelectors, BestTakesTheTightestDevicesLowestIndexOnTies) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 64000, 64000, 4);
  ClusterSnapshot s(f);
  UseDevices(s, n, {300, 800, 1000, 500});
  BestFitDevices best;
  Rng rng(1);
  EXPECT_EQ(best.Select(Pod("a", 1, 1, 1, 250, f), s.node(n), rng).ToString(), "0");
  EXPECT_EQ(best.Select(Pod("b", 1, 1, 1, 600, f), s.node(n), rng).ToString(), "1");
  Fleet g;
  NodeIndex m = AddNode(g, "m", 64000, 64000, 4);
  ClusterSnapshot t(g);
  UseDevices(t, m, {1000, 300, 1000, 1000});
  EXPECT_EQ(best.Select(Pod("c", 1, 1, 2, 1000, g), t.node(m), rng).ToString(), "0,2");
}

TEST(DeviceSelectors, RandomPicksOnlyDevicesThatFitAndAllOfThem) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 64000, 64000, 4);
  ClusterSnapshot s(f);
  UseDevices(s, n, {300, 800, 1000, 500});
  RandomDevices sel;
  Rng rng(3);
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) seen.insert(sel.Select(Pod("a", 1, 1, 1, 400, f), s.node(n), rng).ToString());
  EXPECT_EQ(seen, (std::set<std::string>{"1", "2", "3"}));
}

TEST(GpuPacking, MatchesTheReferenceFormula) {
  Fleet f;
  NodeIndex four = AddNode(f, "four", 64000, 64000, 4);
  NodeIndex eight = AddNode(f, "eight", 64000, 64000, 8);
  NodeIndex used = AddNode(f, "used", 64000, 64000, 8);
  NodeIndex shared = AddNode(f, "shared", 64000, 64000, 2);
  ClusterSnapshot s(f);
  UseDevices(s, used, {500});
  UseDevices(s, shared, {700});
  GpuPackingScore p;
  EXPECT_EQ(p.Score(Pod("one", 1, 1, 1, 1000, f), s, four), 29);      // idle node: 33 - 4
  EXPECT_EQ(p.Score(Pod("one", 1, 1, 1, 1000, f), s, eight), 25);     // idle node: 33 - 8
  EXPECT_EQ(p.Score(Pod("two", 1, 1, 2, 1000, f), s, used), 48);      // two free devices on a used node
  EXPECT_EQ(p.Score(Pod("share", 1, 1, 1, 300, f), s, shared), 93);   // 100 - 700/100
  EXPECT_EQ(p.Score(Pod("cpu", 1, 1, 0, 0, f), s, shared), 0);
}

TEST(GpuClustering, GroupsPodsOfTheSameWidth) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 64000, 64000, 8);
  NodeIndex e = AddNode(f, "e", 64000, 64000, 2);
  ClusterSnapshot s(f);
  UseDevices(s, n, {500});  // one share pod, GL = 7500 -> base 1
  GpuClusteringScore c;
  EXPECT_EQ(c.Score(Pod("share", 1, 1, 1, 200, f), s, n), 76);
  EXPECT_EQ(c.Score(Pod("whole", 1, 1, 1, 1000, f), s, n), 1);
  EXPECT_EQ(c.Score(Pod("whole", 1, 1, 1, 1000, f), s, e), 43);  // empty 2-GPU node: 18 + 25
  EXPECT_EQ(c.Score(Pod("cpu", 1, 1, 0, 0, f), s, e), 0);
}

TEST(BestFitAndDotProd, MatchTheReferenceFormulas) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 64000, 64000, 2);
  ClusterSnapshot s(f);
  PodSpec pod = Pod("p", 4000, 10, 1, 1000, f);
  EXPECT_EQ(BestFitScore().Score(pod, s, n), 70);      // int((1 - 0.296875) * 100)
  EXPECT_EQ(DotProductScore().Score(pod, s, n), 97);   // int(100 * (1 - 0.046875 / 2))
  EXPECT_EQ(BestFitScore().normalization(), Normalization::kMinMax);
}

TEST(K8s, LeastAllocatedAndBalancedAllocation) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 8000, 8000, 2);
  ClusterSnapshot s(f);
  PodSpec pod = Pod("p", 2000, 4000, 0, 0, f);
  EXPECT_EQ(LeastAllocatedScore().Score(pod, s, n), 62);        // (75 + 50) / 2
  EXPECT_EQ(BalancedAllocationScore().Score(pod, s, n), 75);    // 1 - |0.25 - 0.5|
}

TEST(RandomScore, PicksOneFeasibleNodeUniformly) {
  Fleet f;
  for (int i = 0; i < 4; ++i) AddNode(f, "n" + std::to_string(i), 8000, 8000, 1);
  ClusterSnapshot s(f);
  RandomScore r;
  Rng rng(9);
  std::vector<NodeIndex> feasible = {NodeIndex(0), NodeIndex(2), NodeIndex(3)};
  std::vector<int> wins(4, 0);
  PodSpec pod = Pod("p", 1, 1, 0, 0, f);
  for (int i = 0; i < 3000; ++i) {
    r.PreScore(pod, s, feasible, rng);
    int hundred = 0;
    for (NodeIndex k : feasible) {
      const int64_t sc = r.Score(pod, s, k);
      if (sc == 100) ++wins[k.value], ++hundred;
    }
    ASSERT_EQ(hundred, 1);
  }
  EXPECT_EQ(wins[1], 0);
  for (int k : {0, 2, 3}) EXPECT_GT(wins[k], 850);
}

}  // namespace
}  // namespace awan::policies
