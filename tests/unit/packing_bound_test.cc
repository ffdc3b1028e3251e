// The LP upper bound on allocation: exact on small cases worked by hand, never below what a real placement
// achieves, and valid (never below a policy's allocation) on a generated fleet.
#include <gtest/gtest.h>

#include "policies/builtin.h"
#include "sim/experiment.h"
#include "sim/generator.h"
#include "sim/openb_protocol.h"
#include "sim/packing_bound.h"
#include "trace/openb_reader.h"
#include "test_util.h"

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

TEST(PackingBound, AFractionalPodStrandsTheRestOfItsDevice) {
  Fleet f;
  AddNode(f, "n", 64000, 64000, 1);
  // Two 0.81-GPU pods on one device: only one fits, and the 190 milli left serve only a pod of <= 190.
  std::vector<PodSpec> pods = {Pod("a", 1000, 1, 1, 810, f), Pod("b", 1000, 1, 1, 810, f),
                               Pod("c", 1000, 1, 1, 200, f)};
  EXPECT_NEAR(Bound(f, pods), 810, 1e-6);
  pods.push_back(Pod("d", 1000, 1, 1, 190, f));
  EXPECT_NEAR(Bound(f, pods), 1000, 1e-6);
}

TEST(PackingBound, CpuMemoryAndModelsLimitWhatFits) {
  Fleet f;
  AddNode(f, "t4", 8000, 64000, 2, "T4");
  AddNode(f, "a100", 64000, 64000, 1, "A100");
  std::vector<PodSpec> pods = {Pod("w1", 6000, 1, 1, 1000, f, "T4"), Pod("w2", 6000, 1, 1, 1000, f, "T4"),
                               Pod("w3", 6000, 1, 1, 1000, f, "T4")};
  // Only 8 cores on the T4 node: one 6-core pod fits; the A100 node is not allowed.
  EXPECT_NEAR(Bound(f, pods), 1000, 1e-6);
  pods.push_back(Pod("any", 6000, 1, 2, 1000, f));  // two whole GPUs: no node has two free for it after w1...
  // ...but the relaxation pools devices per type, and no type has two devices left besides the T4 one used.
  EXPECT_NEAR(Bound(f, pods), 1000, 1e-6);
  pods.push_back(Pod("one", 1000, 1, 1, 1000, f));
  EXPECT_NEAR(Bound(f, pods), 2000, 1e-6);
}

TEST(PackingBound, FallbackWithoutConfigurationsIsWeakerButStillABound) {
  Fleet f;
  AddNode(f, "n", 64000, 64000, 1);
  std::vector<PodSpec> pods = {Pod("a", 1000, 1, 1, 810, f), Pod("b", 1000, 1, 1, 810, f)};
  EXPECT_NEAR(Bound(f, pods, 200000), 810, 1e-6);
  EXPECT_NEAR(Bound(f, pods, 0), 1000, 1e-6);  // capacity only: 1000 milli of device for 1620 of demand
}

TEST(PackingBound, NeverBelowWhatAPolicyAllocatesOnAGeneratedFleet) {
  GeneratorSpec g;
  g.nodes = 40;
  g.seed = 3;
  Fleet fleet;
  ASSERT_TRUE(trace::ParseOpenbNodes(GenerateNodesCsv(g), "nodes", fleet).ok());
  auto pods = trace::ParseOpenbPods(GeneratePodsCsv(g), "pods", fleet.models());
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  ExperimentSpec spec;
  spec.fleet = &fleet;
  spec.workloads.push_back(Workload{"gen", SortedByName(std::move(*pods))});
  spec.policies = {"awan", "fgd", "bestfit", kBoundPolicy};
  spec.seeds = {1, 2};
  spec.threads = 2;
  auto r = RunExperiment(spec, policies::BuiltinRegistry(), nullptr);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  for (const RunSummary& bound : r->runs) {
    if (bound.policy != kBoundPolicy) continue;
    for (const RunSummary& run : r->runs) {
      if (run.policy == kBoundPolicy || run.seed != bound.seed) continue;
      for (int k : spec.bound_points) {
        ASSERT_TRUE(bound.alloc_curve[k].has_value()) << k;
        if (!run.alloc_curve[k]) continue;
        EXPECT_LE(*run.alloc_curve[k], *bound.alloc_curve[k] + 0.01) << run.policy << " seed " << run.seed << " at " << k;
      }
    }
  }
}

}  // namespace
}  // namespace awan::sim
