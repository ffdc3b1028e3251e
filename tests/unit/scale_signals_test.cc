// ScaleSignals: what an autoscaler is told, the same in the simulator and the server: the mix, the capacity
// for it (recomputed only when the mix moves), samples in requests of that mix, the bounds.
#include "serving/scale_signals.h"

#include <gtest/gtest.h>

#include "model/hardware.h"

namespace awan::serving {
namespace {

ServiceSpec Spec() {
  ServiceSpec s;
  s.name = "chat";
  s.min_replicas = 1;
  s.max_replicas = 8;
  s.slo = {1000, 60, 99};
  return s;
}

ReplicaModel Model() {
  return *ReplicaModel::Create(ServedModel{"llama-3.1-8b", 8.03, 16'000'000'000, 128 * 1024, 32},
                               *FindHardware("H100"), 1, 1.0);
}

TEST(ScaleSignals, EquivalentRpsCountsTokensInRequestsOfTheMix) {
  EXPECT_DOUBLE_EQ(EquivalentRps(10, 10 * 1000, 10 * 100, 1000, 100, 2), 5);   // the mix itself: requests/s
  EXPECT_DOUBLE_EQ(EquivalentRps(10, 40 * 1000, 10 * 100, 1000, 100, 2), 20);  // prompts 4x the mix's
  EXPECT_DOUBLE_EQ(EquivalentRps(10, 0, 0, 0, 0, 1), 10);                      // no mix: requests only
}

TEST(ScaleSignals, CapacityFollowsTheMixAndSamplesStartOver) {
  const ServiceSpec spec = Spec();
  ScaleSignals s(spec, {Model()}, {true}, 8192, 256);
  ASSERT_TRUE(s.servable());
  const SloCapacity prior = s.Capacity();  // 1,024 in, 128 out before any request
  EXPECT_GT(prior.rps, 0);
  EXPECT_EQ(s.mix_prompt(), 1024);
  for (int i = 0; i < 100; ++i) s.Arrive(4000, 500);  // long prompts and answers: less per replica
  const SloCapacity longer = s.Capacity();
  EXPECT_LT(longer.rps, prior.rps);
  EXPECT_EQ(s.mix_prompt(), 4000);
  s.Arrive(4010, 500);  // a move under 2 %: the capacity is not recomputed
  EXPECT_EQ(s.Capacity().rps, longer.rps);
  EXPECT_EQ(s.mix_prompt(), 4000);
  // The sample: 101 requests over 10 s in requests of the (4,000, 500) mix, then a fresh window.
  const ScaleSample a = s.TakeSample(10000, 10, 7, 2);
  EXPECT_NEAR(a.arrival_rps, 10.1, 0.01);
  EXPECT_EQ(a.in_flight, 7);
  EXPECT_EQ(a.ready, 2);
  EXPECT_EQ(s.TakeSample(20000, 10, 0, 2).arrival_rps, 0);
  const ScaleBounds b = s.Bounds(5000);
  EXPECT_EQ(b.min, 1);
  EXPECT_EQ(b.max, 8);
  EXPECT_EQ(b.target, longer.concurrency);
  EXPECT_EQ(b.capacity_rps, longer.rps);
  EXPECT_EQ(b.cold_start_ms, 5000);
}

TEST(ScaleSignals, AServiceWithoutAUsableShapeIsNotServable) {
  const ServiceSpec spec = Spec();
  ScaleSignals s(spec, {Model()}, {false}, 8192, 256);
  EXPECT_FALSE(s.servable());
  EXPECT_EQ(s.Capacity().rps, 0);
}

}  // namespace
}  // namespace awan::serving
