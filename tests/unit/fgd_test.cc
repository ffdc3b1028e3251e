#include <gtest/gtest.h>

#include "policies/awan/awan_score.h"
#include "policies/fgd/fgd_score.h"
#include "policies/fgd/fragmentation.h"
#include "policies/fgd/typical_pods.h"
#include "test_util.h"

namespace awan::policies {
namespace {

using testing::AddNode;
using testing::Pod;
using testing::UseDevices;

TEST(TypicalPods, TakesThePopularShapesUntilCoverageAndRenormalizes) {
  Fleet f;
  std::vector<PodSpec> pods;
  auto add = [&](int n, int64_t cpu, int gpus, int64_t milli) {
    for (int i = 0; i < n; ++i)
      pods.push_back(Pod("p" + std::to_string(pods.size()), cpu, 100 + i, gpus, milli, f));
  };
  add(10, 4000, 1, 500);  // A
  add(6, 8000, 1, 1000);  // B
  add(3, 2000, 0, 0);     // C (memory differs per pod: not part of the key)
  add(1, 1000, 1, 100);   // D
  auto t = EstimateTypicalPods(pods, 0.95);
  ASSERT_EQ(t.size(), 3u);  // 0.95 * 20 = 19 reached with A + B + C
  EXPECT_EQ(t[0].cpu_milli, 4000);
  EXPECT_DOUBLE_EQ(t[0].probability, 10.0 / 19.0);
  EXPECT_DOUBLE_EQ(t[1].probability, 6.0 / 19.0);
  EXPECT_DOUBLE_EQ(t[2].probability, 3.0 / 19.0);
  EXPECT_EQ(t[2].gpu_milli, 0);
  EXPECT_EQ(t[2].mem_mib, 101);  // the mean of 100, 101 and 102 MiB
  EXPECT_EQ(t[0].mem_mib, 104);  // 100..109
}

TEST(TypicalPods, TiesGoToTheLargerKey) {
  Fleet f;
  std::vector<PodSpec> pods = {Pod("a", 1000, 1, 1, 500, f), Pod("b", 2000, 1, 1, 500, f)};
  auto t = EstimateTypicalPods(pods, 1.0);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].cpu_milli, 2000);
  EXPECT_DOUBLE_EQ(t[0].probability, 0.5);
}

// The worked example of FGD-PROTOCOL.md section 4.3.
std::vector<TypicalPod> WorkedExampleTypical() {
  TypicalPod a{4000, 500, 1, "", {}, 5, 0.5};
  TypicalPod b{8000, 1000, 1, "", {}, 3, 0.3};
  TypicalPod c{2000, 0, 0, "", {}, 2, 0.2};
  return {a, b, c};
}

TEST(Fragmentation, WorkedExample) {
  FragmentationModel m(WorkedExampleTypical());
  FragNodeView n;
  n.cpu_left = 10000;
  n.gpu_count = 2;
  n.gpu_left = {1000, 300};
  EXPECT_DOUBLE_EQ(m.Frag(n), 500.0);
  n.gpu_left = {1000, 0};
  n.cpu_left = 6000;
  EXPECT_DOUBLE_EQ(m.Frag(n), 500.0);
  n.gpu_left = {700, 300};
  EXPECT_DOUBLE_EQ(m.Frag(n), 650.0);
}

TEST(Fragmentation, InaccessibleModelsCountAllIdleGpu) {
  Fleet f;
  AcceleratorId t4 = f.models().Intern("T4"), v100 = f.models().Intern("V100");
  TypicalPod only_t4{1000, 1000, 1, "T4", AcceleratorSet::Of({t4}), 1, 1.0};
  FragmentationModel m({only_t4});
  FragNodeView n;
  n.cpu_left = 10000;
  n.gpu_count = 2;
  n.gpu_left = {1000, 1000};
  n.model = v100;
  EXPECT_DOUBLE_EQ(m.Frag(n), 2000.0);
  n.model = t4;
  EXPECT_DOUBLE_EQ(m.Frag(n), 0.0);
}

TEST(FgdScore, WorkedExampleScoresAndDeviceChoice) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 10000, 100000, 2);
  ClusterSnapshot s(f);
  UseDevices(s, n, {1000, 300});
  auto model = std::make_shared<const FragmentationModel>(WorkedExampleTypical());
  PodSpec pod = Pod("p", 4000, 10, 1, 300, f);
  FgdChoice c = EvaluateFgd(*model, pod, s.node(n));
  EXPECT_EQ(c.score, 50);  // device 1: no change in fragmentation
  EXPECT_EQ(c.device, 1);
  FgdScore score(model);
  EXPECT_EQ(score.Score(pod, s, n), 50);
  Rng rng(1);
  EXPECT_EQ(FgdDevices(model).Select(pod, s.node(n), rng).ToString(), "1");
  // Device 0 alone would score int(100 * sigmoid(-0.15)) = 46.
  Fleet g;
  NodeIndex m = AddNode(g, "m", 10000, 100000, 1);
  ClusterSnapshot t(g);
  EXPECT_EQ(EvaluateFgd(*model, Pod("q", 4000, 10, 1, 300, g), t.node(m)).score, 46);  // Frag 200 -> 350
}

TEST(FgdScore, CacheKeyIsExactOverScoreInputs) {
  Fleet f;
  FgdScore s(std::make_shared<const FragmentationModel>(WorkedExampleTypical()));
  auto k1 = s.CacheKey(Pod("a", 4000, 10, 1, 300, f));
  auto k2 = s.CacheKey(Pod("b", 4000, 99999, 1, 300, f, "T4"));  // memory and model do not change the score
  auto k3 = s.CacheKey(Pod("c", 4000, 10, 1, 310, f));
  auto k4 = s.CacheKey(Pod("d", 4001, 10, 1, 300, f));
  auto k5 = s.CacheKey(Pod("e", 4000, 10, 2, 1000, f));
  auto k6 = s.CacheKey(Pod("g", 4000, 10, 1, 1000, f));
  EXPECT_EQ(k1, k2);
  EXPECT_NE(k1, k3);
  EXPECT_NE(k1, k4);
  EXPECT_NE(k5, k6);
}

// awan's packing measure counts the pods that still fit by memory as well as by CPU and devices: on a
// server of 8 GPUs, 96 cores and 384 GiB, 1-GPU pods of 4 cores and 50 GiB use only 7 devices (the openb
// G2 servers and their 11-core, ~49 GiB pods strand GPUs this way).
TEST(PackingFrag, MemoryStrandsDevicesAndDecidesThePlacement) {
  TypicalPod t{4000, 1000, 1, "", {}, 1, 1.0, 50 * 1024};
  const PackingFragModel model({t});
  Fleet f;
  const NodeIndex n = AddNode(f, "g2", 96000, 384 * 1024, 8);
  ClusterSnapshot snap(f);
  EXPECT_DOUBLE_EQ(model.Frag(FragNodeView::Of(snap.node(n))), 1000.0);  // 7 fit by memory, 24 by CPU
  // Placing a 50 GiB pod leaves 6 that fit by memory on 7 devices (no change); a 10 GiB pod leaves 7 (one
  // device freed from the fragment). Without memory both would read 0.
  EXPECT_DOUBLE_EQ(EvaluateAwan(model, Pod("heavy", 4000, 50 * 1024, 1, 1000, f), snap.node(n)).delta, 0.0);
  EXPECT_DOUBLE_EQ(EvaluateAwan(model, Pod("light", 4000, 10 * 1024, 1, 1000, f), snap.node(n)).delta,
                   -1000.0);
  TypicalPod no_mem = t;
  no_mem.mem_mib = 0;  // unknown memory: CPU and devices only
  EXPECT_DOUBLE_EQ(PackingFragModel({no_mem}).Frag(FragNodeView::Of(snap.node(n))), 0.0);
}

TEST(AwanScore, CacheKeyIncludesMemory) {
  Fleet f;
  AwanScore s(std::make_shared<const PackingFragModel>(WorkedExampleTypical()));
  auto k1 = s.CacheKey(Pod("a", 4000, 10, 1, 300, f));
  EXPECT_EQ(k1, s.CacheKey(Pod("b", 4000, 10, 1, 300, f, "T4")));  // the model constraint does not matter
  EXPECT_NE(k1, s.CacheKey(Pod("c", 4000, 11, 1, 300, f)));
  EXPECT_NE(k1, s.CacheKey(Pod("d", 4001, 10, 1, 300, f)));
  EXPECT_NE(k1, s.CacheKey(Pod("e", 4000, 10, 1, 310, f)));
  EXPECT_NE(s.CacheKey(Pod("g", 4000, 10, 2, 1000, f)), s.CacheKey(Pod("h", 4000, 10, 1, 1000, f)));
  EXPECT_FALSE(
      s.CacheKey(Pod("huge", 4000, int64_t{1} << 24, 1, 300, f)).has_value());  // computed, not cached
}

}  // namespace
}  // namespace awan::policies
