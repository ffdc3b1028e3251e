// The LP upper bound on allocation: exact on small cases worked by hand, never below what a real placement
// achieves, and valid (never below a policy's allocation) on a generated fleet.
#include "sim/packing_bound.h"

#include <gtest/gtest.h>

#include "policies/builtin.h"
#include "sim/experiment.h"
#include "sim/generator.h"
#include "sim/openb_protocol.h"
#include "test_util.h"
#include "trace/openb_reader.h"

namespace awan::sim {
namespace {

using testing::AddNode;
using testing::Pod;

double Bound(const Fleet& f, const std::vector<PodSpec>& pods, int max_configs = 200000) {
  std::vector<const PodSpec*> ptrs;
  for (const PodSpec& p : pods) ptrs.push_back(&p);
  auto b = MaxAllocatableGpu(f, ptrs, max_configs);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? b->max_allocated_milli : -1;
}

// A generated 40-node fleet and its pod list, seeds 1 and 2 on two threads; the caller names the policies.
void GeneratedExperiment(Fleet& fleet, ExperimentSpec& spec) {
  GeneratorSpec g;
  g.nodes = 40;
  g.seed = 3;
  ASSERT_TRUE(trace::ParseOpenbNodes(GenerateNodesCsv(g), "nodes", fleet).ok());
  auto pods = trace::ParseOpenbPods(GeneratePodsCsv(g), "pods", fleet.models());
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  spec.fleet = &fleet;
  spec.workloads.push_back(Workload{"gen", SortedByName(std::move(*pods))});
  spec.seeds = {1, 2};
  spec.threads = 2;
}

TEST(PackingBound, AFractionalPodStrandsTheRestOfItsDevice) {
  Fleet f;
  AddNode(f, "n", 64000, 64000, 1);
  // Two 0.81-GPU pods and a 0.2 on one device: a 0.81 leaves 190 milli that the 0.2 cannot use. The LP may
  // split the device: 0.8 of it as {0.81} and 0.2 as {0.2 x 5}, so 648 + 200 = 848, far below the 1000 that
  // device capacity alone allows (and above the true optimum, 810: it is a relaxation).
  std::vector<PodSpec> pods = {Pod("a", 1000, 1, 1, 810, f), Pod("b", 1000, 1, 1, 810, f),
                               Pod("c", 1000, 1, 1, 200, f)};
  EXPECT_NEAR(Bound(f, pods), 848, 1e-6);
  EXPECT_NEAR(Bound(f, pods, 0), 1000, 1e-6);    // the capacity-only fallback: weaker, still a bound
  pods.push_back(Pod("d", 1000, 1, 1, 190, f));  // fills the sliver exactly
  EXPECT_NEAR(Bound(f, pods), 1000, 1e-6);
}

TEST(PackingBound, CpuMemoryAndModelsLimitWhatFits) {
  Fleet f;
  AddNode(f, "t4", 8000, 64000, 2, "T4");
  AddNode(f, "a100", 64000, 64000, 1, "A100");
  std::vector<PodSpec> pods = {Pod("w1", 6000, 1, 1, 1000, f, "T4"), Pod("w2", 6000, 1, 1, 1000, f, "T4"),
                               Pod("w3", 6000, 1, 1, 1000, f, "T4")};
  // 8 cores on the only T4 node: 8/6 of a 6-core pod (the LP is fractional); the A100 is not allowed.
  EXPECT_NEAR(Bound(f, pods), 1000.0 * 8 / 6, 1e-6);
  // A 2-GPU pod fits only the T4 node (the A100 node has one device) and is worth more per core.
  pods.push_back(Pod("two", 6000, 1, 2, 1000, f));
  EXPECT_NEAR(Bound(f, pods), 2000, 1e-6);
  pods.push_back(Pod("one", 1000, 1, 1, 1000, f));  // unconstrained: the A100
  EXPECT_NEAR(Bound(f, pods), 3000, 1e-6);
  pods.push_back(Pod("fat", 1000, 128000, 1, 1000, f));  // more memory than any node: adds nothing
  EXPECT_NEAR(Bound(f, pods), 3000, 1e-6);
}

TEST(PackingBound, NeverBelowWhatAPolicyAllocatesOnAGeneratedFleet) {
  Fleet fleet;
  ExperimentSpec spec;
  ASSERT_NO_FATAL_FAILURE(GeneratedExperiment(fleet, spec));
  spec.policies = {"awan", "fgd", "bestfit", "random", kBoundPolicy, kOnlineBoundPolicy};
  auto r = RunExperiment(spec, policies::BuiltinRegistry(), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  int tighter = 0;
  for (const RunSummary& bound : r->runs) {
    if (!IsBoundPolicy(bound.policy)) continue;
    for (const RunSummary& run : r->runs) {
      if (run.seed != bound.seed) continue;
      for (int k : spec.bound_points) {
        ASSERT_TRUE(bound.alloc_curve[k].has_value()) << k;
        if (!run.alloc_curve[k]) continue;
        if (!IsBoundPolicy(run.policy)) {  // every policy places each pod it can: both bounds hold for it
          EXPECT_LE(*run.alloc_curve[k], *bound.alloc_curve[k] + 0.01)
              << run.policy << " above " << bound.policy << ", seed " << run.seed << " at " << k;
        } else if (bound.policy == kBoundPolicy && run.policy == kOnlineBoundPolicy) {
          // The online rule only adds constraints.
          EXPECT_LE(*run.alloc_curve[k], *bound.alloc_curve[k] + 1e-6) << "seed " << run.seed << " at " << k;
          if (*run.alloc_curve[k] < *bound.alloc_curve[k] - 0.01) ++tighter;
        }
      }
    }
  }
  EXPECT_GT(tighter, 0) << "the online rule never tightened the bound on this fleet";
}

// The progress percentage weighs a bound run's pods by its cost (the LPs take far longer than a replay), so
// that the ETA does not stall while the bounds are solved: at the end the work done counts each replayed pod
// once, each of the offline bound's pods 8 times and each of bound-online's 60 times.
TEST(PackingBound, ProgressWeighsTheBoundRunsByTheirCost) {
  Fleet fleet;
  ExperimentSpec spec;
  ASSERT_NO_FATAL_FAILURE(GeneratedExperiment(fleet, spec));
  spec.policies = {"fgd", kBoundPolicy, kOnlineBoundPolicy};
  Progress last;
  auto r = RunExperiment(spec, policies::BuiltinRegistry(), [&](const Progress& p) { last = p; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  int64_t expected = 0;
  for (const RunSummary& run : r->runs) {
    expected += run.pods * (run.policy == kOnlineBoundPolicy ? 60 : run.policy == kBoundPolicy ? 8 : 1);
  }
  EXPECT_EQ(last.runs_done, last.runs_total);
  EXPECT_EQ(last.work_done, expected);
  // The expected total uses the first seed's sequence length for every seed: close to the work done.
  EXPECT_NEAR(static_cast<double>(last.work_total), static_cast<double>(expected), 0.05 * expected);
}

// Pods in this order on a one-device node: a 0.3-GPU pod, then a whole GPU that needs at least its CPU.
// Offline, the best skips the 0.3 for the whole GPU (1,000). A placement that places each pod it can must
// place the 0.3 (nothing else is there), and then the whole GPU never fits (300). The online LP mixes the
// two: "the 0.3 never fails" (it holds a third of a {0.3 x 3} device, so the whole GPU gets 2/3) with "the
// 0.3 fails first" (then the whole GPU, which dominates it, fails too). With p = placed 0.3 = placed whole
// GPU at best: 1000 min(1 - p/3, p) + 300 p, highest at p = 3/4: 975.
TEST(PackingBound, TheOnlineRuleHoldsASkippedPodToWhatFollowsIt) {
  Fleet f;
  AddNode(f, "n", 64000, 64000, 1);
  const PodSpec small = Pod("s", 1000, 1, 1, 300, f), whole = Pod("w", 1000, 1, 1, 1000, f);
  auto online = [&](std::vector<const PodSpec*> order, int segments) {
    auto b = MaxAllocatableGpuOnline(f, order, segments);
    EXPECT_TRUE(b.ok()) << b.status().ToString();
    return b.ok() ? b->max_allocated_milli : -1;
  };
  EXPECT_NEAR(Bound(f, {small, whole}), 1000, 1e-6);
  EXPECT_NEAR(online({&small, &whole}, 2), 975, 1e-6);
  EXPECT_NEAR(online({&small, &whole}, 1), 1000, 1e-6);  // one segment: "later" says nothing
  // The whole GPU first: it is placed, the 0.3 fails, and nothing arrives after it. No rule binds.
  EXPECT_NEAR(online({&whole, &small}, 2), 1000, 1e-6);
  // A whole GPU that needs less CPU than the 0.3 does not dominate it (it could fit where the 0.3 does not):
  // no rule ties the two, and the LP skips the 0.3.
  const PodSpec lean = Pod("l", 500, 1, 1, 1000, f);
  EXPECT_NEAR(online({&small, &lean}, 2), 1000, 1e-6);
  EXPECT_EQ(MaxAllocatableGpuOnline(f, std::vector<const PodSpec*>{&small}, 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PackingBound, PodsThatMustBePlacedKeepTheirRoom) {
  Fleet f;
  AddNode(f, "n", 64000, 64000, 1);
  std::vector<PodSpec> pods = {Pod("a", 1000, 1, 1, 810, f), Pod("b", 1000, 1, 1, 810, f),
                               Pod("c", 1000, 1, 1, 200, f)};
  std::vector<const PodSpec*> all;
  for (const PodSpec& p : pods) all.push_back(&p);
  // Free to skip the 0.81s, the LP gives 0.2 of the device to the 0.2 pod (848, as above). Once a 0.81 must
  // be placed, it holds the whole device: its 190-milli sliver fits nothing.
  auto free = MaxAllocatableGpuPlacing(f, all, {});
  ASSERT_TRUE(free.ok()) << free.status().ToString();
  EXPECT_NEAR(free->max_allocated_milli, 848, 1e-6);
  std::vector<const PodSpec*> must = {&pods[0]};
  auto given = MaxAllocatableGpuPlacing(f, all, must);
  ASSERT_TRUE(given.ok()) << given.status().ToString();
  EXPECT_NEAR(given->max_allocated_milli, 810, 1e-6);
  // Either 0.81 pod stands for its shape.
  must = {&pods[1]};
  EXPECT_NEAR(MaxAllocatableGpuPlacing(f, all, must)->max_allocated_milli, 810, 1e-6);

  // More pods of a shape than the set holds: a clear error.
  const PodSpec other = Pod("x", 1000, 1, 1, 500, f);
  must = {&other};
  EXPECT_EQ(MaxAllocatableGpuPlacing(f, all, must).status().code(), StatusCode::kInvalidArgument);
  must = {&pods[2], &pods[2]};
  EXPECT_EQ(MaxAllocatableGpuPlacing(f, all, must).status().code(), StatusCode::kInvalidArgument);
  // Both 0.81s cannot share one device: infeasible, said so.
  must = {&pods[0], &pods[1]};
  EXPECT_EQ(MaxAllocatableGpuPlacing(f, all, must).status().code(), StatusCode::kFailedPrecondition);
}

TEST(PackingBound, GivenAPolicysAdmissionsItLiesBetweenThePolicyAndTheBound) {
  Fleet fleet;
  ExperimentSpec spec;
  ASSERT_NO_FATAL_FAILURE(GeneratedExperiment(fleet, spec));
  spec.policies = {"awan", "bestfit", "bound:awan", "bound:bestfit", kBoundPolicy};
  auto r = RunExperiment(spec, policies::BuiltinRegistry(), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto find = [&](const std::string& policy, uint64_t seed) -> const RunSummary& {
    for (const RunSummary& run : r->runs)
      if (run.policy == policy && run.seed == seed) return run;
    ADD_FAILURE() << policy << " " << seed;
    return r->runs[0];
  };
  for (uint64_t seed : spec.seeds) {
    for (const char* p : {"awan", "bestfit"}) {
      const RunSummary& given = find(std::string("bound:") + p, seed);
      ASSERT_TRUE(given.unalloc_100.has_value());
      EXPECT_FALSE(given.unalloc_130.has_value());  // computed at 100 % only
      // The policy's own placement is one the LP counts; the unconditional bound counts more.
      EXPECT_LE(*given.unalloc_100, *find(p, seed).unalloc_100 + 0.01) << p << " seed " << seed;
      EXPECT_GE(*given.unalloc_100, *find(kBoundPolicy, seed).unalloc_100 - 0.01) << p << " seed " << seed;
    }
  }
  spec.policies = {"bound:nope"};
  EXPECT_EQ(RunExperiment(spec, policies::BuiltinRegistry(), nullptr).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace awan::sim
