// The faithfulness gate: awan's re-implementations of the FGD paper's six policies, replayed on the real
// Alibaba GPU trace (../shared/traces/alibaba-gpu-v2023) with seeds 42-51, must reproduce the paper's
// published means: within 0.5 percentage points of unallocated GPU at arrived = 100 %, and within 1.0 at
// every arrived % from 50 to 130, on the default workload. A regression in the core or a policy fails CI.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "policies/builtin.h"
#include "sim/experiment.h"
#include "sim/published.h"
#include "trace/openb_reader.h"

namespace awan::sim {
namespace {

const std::string kTraceDir = std::string(AWAN_SHARED_DIR) + "/traces/alibaba-gpu-v2023";

// The openb cluster and the default pod list, read once per test; skipped (failed on CI) without ../shared.
class DefaultWorkload : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kTraceDir + "/openb_pod_list_default.csv")) {
      if (std::getenv("CI")) FAIL() << "CI must have ../shared/traces (looked in " << kTraceDir << ")";
      GTEST_SKIP() << "public trace not found at " << kTraceDir;
    }
    ASSERT_TRUE(trace::ReadOpenbNodes(kTraceDir + "/openb_node_list_gpu_node.csv", fleet).ok());
    auto p = trace::ReadOpenbPods(kTraceDir + "/openb_pod_list_default.csv", fleet.models());
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pods = std::move(*p);
  }
  Fleet fleet;
  std::vector<PodSpec> pods;
};

TEST_F(DefaultWorkload, MatchesThePublishedFgdPaperResults) {
  auto published = PublishedCurves::Load(kTraceDir + "/fgd-expected-results/analysis_allo_discrete.csv");
  ASSERT_TRUE(published.ok()) << published.status().ToString();

  ExperimentSpec spec;
  spec.fleet = &fleet;
  spec.workloads.push_back(Workload{"default", SortedByName(std::move(pods))});
  spec.policies = {"random", "dotprod", "clustering", "packing", "bestfit", "fgd"};
  for (uint64_t s = 42; s <= 51; ++s) spec.seeds.push_back(s);
  spec.threads = 2;
  auto result = RunExperiment(spec, policies::BuiltinRegistry(), nullptr);
  ASSERT_TRUE(result.ok()) << result.status().ToString();

  for (const CellSummary& c : result->cells) {
    const std::vector<double> pub100 = published->Unallocated("default", c.policy, 100);
    ASSERT_EQ(pub100.size(), 10u) << c.policy;
    const double pub_mean = Summarize(pub100).mean;
    EXPECT_NEAR(c.unalloc_100.mean, pub_mean, 0.5) << c.policy << " at arrived 100%";
    for (int pct = 50; pct <= 130; ++pct) {
      const Stat pub = Summarize(published->Unallocated("default", c.policy, pct));
      ASSERT_TRUE(c.mean_alloc_curve[pct].has_value()) << c.policy << " " << pct;
      EXPECT_NEAR(100.0 - *c.mean_alloc_curve[pct], pub.mean, 1.0)
          << c.policy << " at arrived " << pct << "%";
    }
  }
  // FGD beats BestFit, which beats Random: the paper's ordering holds.
  auto mean_of = [&](const std::string& p) {
    for (const auto& c : result->cells)
      if (c.policy == p) return c.unalloc_100.mean;
    return -1.0;
  };
  EXPECT_LT(mean_of("fgd"), mean_of("bestfit"));
  EXPECT_LT(mean_of("bestfit"), mean_of("random"));
}

// The quality gate of awan's own policy (issue 3), on the same trace and seeds: its mean unallocated GPU at
// arrived = 100 % must stay at or below the recorded figure plus seed noise (4.32 measured, 4.31 before
// memory entered the packing measure; see docs/benchmarks.md section 3; the gate is 4.45), below awan's own
// FGD on the same seeds, and above the LP bound (a bound below a real policy would be a bug in the bound),
// and the bound under the online rule between the two (recorded 3.63: tighter than the offline bound, as the
// protocol places every pod that fits).
TEST_F(DefaultWorkload, QualityGateForAwansPolicy) {
  ExperimentSpec spec;
  spec.fleet = &fleet;
  spec.workloads.push_back(Workload{"default", SortedByName(std::move(pods))});
  spec.policies = {"awan", "fgd", kBoundPolicy, kOnlineBoundPolicy};
  spec.bound_points = {100};
  for (uint64_t s = 42; s <= 51; ++s) spec.seeds.push_back(s);
  spec.threads = 2;
  auto result = RunExperiment(spec, policies::BuiltinRegistry(), nullptr);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  auto mean_of = [&](const std::string& p) {
    for (const auto& c : result->cells)
      if (c.policy == p) return c.unalloc_100.mean;
    return -1.0;
  };
  const double awan = mean_of("awan"), fgd = mean_of("fgd"), bound = mean_of(kBoundPolicy),
               online = mean_of(kOnlineBoundPolicy);
  EXPECT_LE(awan, 4.45) << "awan's policy regressed (recorded: 4.32)";
  EXPECT_LT(awan, fgd);
  EXPECT_GT(bound, 2.5);  // recorded 3.02: the sliver of 0.81-GPU pods alone strands about 3 %
  EXPECT_LT(bound, awan);
  EXPECT_GT(online, bound + 0.4);  // recorded 3.63 against 3.02
  EXPECT_LT(online, awan);
}

}  // namespace
}  // namespace awan::sim
