// ScaleSignals: what an autoscaler is told, the same in the simulator and the server: the mix, the capacity
// for it (recomputed only when the mix moves), samples in requests of that mix, the bounds.
#include "serving/scale_signals.h"

#include <gtest/gtest.h>

#include <cmath>

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

ReplicaModel Model(const char* accelerator = "H100") {
  return *ReplicaModel::Create(ServedModel{"llama-3.1-8b", 8.03, 16'000'000'000, 128 * 1024, 32},
                               *FindHardware(accelerator), 1, 1.0);
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

TEST(ScaleSignals, PromptQuantilesComeFromSixteenthOctaveBuckets) {
  const ServiceSpec spec = Spec();
  ScaleSignals s(spec, {Model()}, {true}, 8192, 256);
  EXPECT_EQ(s.PromptQuantile(0.99), 0);  // no request yet
  for (int i = 0; i < 990; ++i) s.CountMix(1000, 100);
  for (int i = 0; i < 10; ++i) s.CountMix(8192, 100);
  EXPECT_GE(s.PromptQuantile(0.99), 1000);
  EXPECT_LE(s.PromptQuantile(0.99), 1000 * 1.045);
  EXPECT_GE(s.PromptQuantile(0.995), 8192);
  EXPECT_LE(s.PromptQuantile(0.995), 8192 * 1.045);
  s.ResetMix();
  EXPECT_EQ(s.PromptQuantile(0.5), 0);
}

// The first shape that can serve the mix is passed over when it cannot give the mix's long prompts (the
// 99.5th percentile for a 99 % objective) their first token within the TTFT objective, even alone.
TEST(ScaleSignals, AShapeTooSlowForTheLongPromptsIsPassedOver) {
  ServiceSpec spec = Spec();
  spec.slo = {500, 40, 99};
  const ReplicaModel a100 = Model("A100"), h100 = Model("H100");
  const int64_t budget = TokenBudget(a100, spec.slo, 8192);
  ASSERT_GT(ChunkedFirstTokenS(a100, 8192, budget), 0.5);  // an 8k prompt misses 500 ms on an A100
  ASSERT_LT(ChunkedFirstTokenS(h100, 8192, TokenBudget(h100, spec.slo, 8192)), 0.5);
  ScaleSignals s(spec, {a100, h100}, {true, true}, 8192, 256);
  for (int i = 0; i < 1000; ++i) s.CountMix(1000, 200);  // short prompts only: the A100 serves them
  EXPECT_GT(s.Capacity().rps, 0);
  EXPECT_EQ(s.capacity_shape(), 0);
  EXPECT_TRUE(s.ServesMix(0));
  for (int i = 0; i < 20; ++i) s.CountMix(8192, 200);  // 2 % of the prompts are 8k tokens long
  EXPECT_GT(s.Capacity().rps, 0);
  EXPECT_EQ(s.capacity_shape(), 1);
  EXPECT_FALSE(s.ServesMix(0));
  EXPECT_TRUE(s.ServesMix(1));
  // When no usable shape serves them in time, the first that serves the mix is used, as before.
  ScaleSignals only_a100(spec, {a100, h100}, {true, false}, 8192, 256);
  for (int i = 0; i < 1000; ++i) only_a100.CountMix(1000, 200);
  for (int i = 0; i < 20; ++i) only_a100.CountMix(8192, 200);
  EXPECT_GT(only_a100.Capacity().rps, 0);
  EXPECT_EQ(only_a100.capacity_shape(), 0);
  EXPECT_TRUE(only_a100.ServesMix(0));
}

// A shape that gives the long prompts their first token in time alone but not at the load the mix alone would
// allow is run at the concurrency that keeps them in time: each of their chunks fills the room the decoding
// batch leaves, after the prompts queued before it. Llama 3.1 70B on two H200s, as `asean-assistant`.
TEST(ScaleSignals, TheCapacityKeepsTheLongPromptsFirstTokenInTime) {
  ServiceSpec spec = Spec();
  spec.slo = {1000, 60, 99};
  const ServedModel llama70{"llama-3.1-70b", 70.6, 131LL << 30, 320 * 1024, 80};
  const ReplicaModel h200 = *ReplicaModel::Create(llama70, *FindHardware("H200"), 2, 1.0);
  const int64_t budget = TokenBudget(h200, spec.slo, 8192);
  ScaleSignals s(spec, {h200}, {true}, 8192, 256);
  for (int i = 0; i < 980; ++i) s.Arrive(1385, 200);
  for (int i = 0; i < 20; ++i) s.Arrive(7168, 200);  // 2 % of the prompts are 7k tokens long
  const SloCapacity c = s.Capacity();
  const double tail = s.PromptQuantile(0.995);
  ASSERT_LT(ChunkedFirstTokenS(h200, static_cast<int64_t>(tail), budget), 1.0);  // in time alone
  const SloCapacity mix_only = CapacityWithinSlo(h200, s.mix_prompt(), 200, spec.slo, budget, 256);
  ASSERT_GT(FirstTokenAtCapacityS(h200, mix_only, tail), 1.0);  // late at the mix's own capacity
  EXPECT_EQ(s.capacity_shape(), 0);
  EXPECT_TRUE(s.ServesMix(0));
  EXPECT_GT(c.rps, 0);
  EXPECT_LT(c.concurrency, mix_only.concurrency);
  EXPECT_LE(FirstTokenAtCapacityS(h200, c, tail), 1.0);
  // One sequence more and the long prompts would be late: the capacity is the most that keeps them in time.
  const SloCapacity one_more =
      CapacityWithinSlo(h200, s.mix_prompt(), 200, spec.slo, budget, c.concurrency + 1);
  EXPECT_GT(FirstTokenAtCapacityS(h200, one_more, tail), 1.0);
  EXPECT_EQ(c.concurrency,
            CapacityWithinSlo(h200, s.mix_prompt(), 200, spec.slo, budget, 256, kTpotHeadroom, -1, tail)
                .concurrency);
  // Without the long prompts the mix's own capacity stands.
  ScaleSignals short_only(spec, {h200}, {true}, 8192, 256);
  for (int i = 0; i < 1000; ++i) short_only.Arrive(1385, 200);
  EXPECT_EQ(short_only.Capacity().concurrency,
            CapacityWithinSlo(h200, 1385, 200, spec.slo, budget, 256).concurrency);
}

TEST(ReplicaModel, TheFirstTokenAtCapacityIsFullChunksAfterTheQueue) {
  const ReplicaModel m = Model();
  SloCapacity c;
  c.concurrency = 10, c.rps = 5, c.tpot_s = 0.05, c.room = 500, c.rho = 0.5, c.context = 20000;
  c.mean_prefill_s = 0.1;
  const double full = m.IterationS(500, 10, 20000);  // a chunk fills the room beside the 10 sequences
  EXPECT_DOUBLE_EQ(FirstTokenAtCapacityS(m, c, 1200),
                   3 * full + 0.1);                              // 3 chunks, after 1 x the mix's prefill
  EXPECT_DOUBLE_EQ(FirstTokenAtCapacityS(m, c, 0), full + 0.1);  // at least one chunk
  c.rho = 0.75;
  EXPECT_DOUBLE_EQ(FirstTokenAtCapacityS(m, c, 1200), 3 * full + 0.3);    // a longer queue
  EXPECT_TRUE(std::isinf(FirstTokenAtCapacityS(m, SloCapacity{}, 100)));  // a capacity of nothing
}

// Where the tokens prefilled are measured (a cached prefix is not prefilled again), the long-prompt check
// reads them rather than the prompts: 8k prompts whose first 7k tokens are cached do not rule the A100 out.
// Before any is measured the prompts decide, and their verdict stands until 200 are measured.
TEST(ScaleSignals, TheLongPromptCheckReadsTheTokensPrefilledOnceMeasured) {
  ServiceSpec spec = Spec();
  spec.slo = {500, 40, 99};
  const ReplicaModel a100 = Model("A100"), h100 = Model("H100");
  ASSERT_LT(ChunkedFirstTokenS(a100, 1024, TokenBudget(a100, spec.slo, 8192)), 0.5);
  ScaleSignals s(spec, {a100, h100}, {true, true}, 8192, 256);
  for (int i = 0; i < 1000; ++i) s.Arrive(1000, 200);
  for (int i = 0; i < 20; ++i) s.Arrive(8192, 200);
  EXPECT_EQ(s.PrefillQuantile(0.5), 0);  // none measured yet: the prompts decide
  s.Capacity();
  EXPECT_EQ(s.capacity_shape(), 1);
  EXPECT_FALSE(s.ServesMix(0));
  // Fewer than 200 measured: the verdict stands.
  for (int i = 0; i < 100; ++i) s.Prefilled(i == 0 ? 8192 : 1000, i == 0 ? 8192 : 1000);
  s.Capacity();
  EXPECT_EQ(s.capacity_shape(), 1);
  EXPECT_FALSE(s.ServesMix(0));
  // 220 measured: one long (0.45 %); the 20 long prompts prefilled 1,024 tokens, their cache held the rest.
  for (int i = 0; i < 120; ++i) s.Prefilled(i < 100 ? 1000 : 1024, i < 100 ? 1000 : 8192);
  s.Capacity();
  EXPECT_GE(s.PrefillQuantile(0.995), 1024);
  EXPECT_LE(s.PrefillQuantile(0.995), 1024 * 1.045);
  EXPECT_EQ(s.capacity_shape(), 0);
  EXPECT_TRUE(s.ServesMix(0));
  // Long prefills measured bring the long-prompt check back.
  for (int i = 0; i < 20; ++i) s.Prefilled(8192, 8192);
  s.Capacity();
  EXPECT_EQ(s.capacity_shape(), 1);
  EXPECT_FALSE(s.ServesMix(0));
  s.ResetMix();
  EXPECT_EQ(s.PrefillQuantile(0.5), 0);
}

// A prefix cache that holds part of every prompt makes a replica serve more of the same mix: once as many
// prefills are measured as the long-prompt check needs, the capacity is of the tokens really prefilled.
TEST(ScaleSignals, TheCapacityCountsWhatAPrefixCacheHolds) {
  ServiceSpec spec = Spec();
  spec.slo = {1000, 60, 99};
  const ReplicaModel h100 = Model("H100");
  ScaleSignals s(spec, {h100}, {true}, 8192, 256);
  for (int i = 0; i < 1000; ++i) s.Arrive(3000, 200);
  const double cold = s.Capacity().rps;
  ASSERT_GT(cold, 0);
  EXPECT_EQ(s.mix_prefill(), 3000);
  for (int i = 0; i < 150; ++i) s.Prefilled(1000, 3000);  // too few measured yet
  EXPECT_EQ(s.Capacity().rps, cold);
  for (int i = 0; i < 100; ++i) s.Prefilled(1000, 3000);
  s.Capacity();
  EXPECT_NEAR(s.mix_prefill(), 1000, 1e-9);
  EXPECT_EQ(s.Capacity().rps, s.ShapeCapacity(3000, 200, nullptr, nullptr, s.mix_prefill()).rps);
  EXPECT_GT(s.Capacity().rps, cold * 1.2);
  EXPECT_EQ(s.mix_prompt(), 3000);  // arrivals are still counted in requests of the mix
  // Forgotten with the mix: until 200 prefills are measured again, the prompts' own.
  s.ResetMix();
  for (int i = 0; i < 1000; ++i) s.Arrive(3000, 200);
  for (int i = 0; i < 199; ++i) s.Prefilled(1000, 3000);
  EXPECT_EQ(s.Capacity().rps, cold);
  EXPECT_EQ(s.mix_prefill(), s.mix_prompt());
  s.Prefilled(1000, 3000);  // the 200th
  EXPECT_GT(s.Capacity().rps, cold * 1.2);
  // Without a cache the capacity is the prompts' own, bit for bit.
  ScaleSignals t(spec, {h100}, {true}, 8192, 256);
  for (int i = 0; i < 1000; ++i) t.Arrive(3000, 200), t.Prefilled(3000, 3000);
  EXPECT_EQ(t.Capacity().rps, cold);
}

// A rolling replacement: never fewer ready replicas than wanted, one surge replica at a time beside the
// unfit ones, an unfit one drained for each fitting one ready beyond the need, those not ready cancelled.
TEST(ScaleSignals, ReplacementIsRollingOneAtATime) {
  // (fitting ready, surging, unfit ready, unfit starting, desired)
  ReplacementStep s = PlanReplacement(0, 0, 3, 0, 3);  // three unfit: one surge starts beside them
  EXPECT_EQ(s.drain_ready_unfit, 0);
  EXPECT_TRUE(s.add_surge);
  s = PlanReplacement(0, 1, 3, 0, 3);  // while it starts, nothing more
  EXPECT_EQ(s.drain_ready_unfit, 0);
  EXPECT_FALSE(s.add_surge);
  s = PlanReplacement(1, 1, 3, 0, 3);  // it is ready: one unfit drains, the surge counts, the next starts
  EXPECT_EQ(s.drain_ready_unfit, 1);
  EXPECT_EQ(s.surge_counted, 1);
  EXPECT_TRUE(s.add_surge);
  s = PlanReplacement(3, 1, 1, 0, 3);  // the last unfit one drains; nothing to add
  EXPECT_EQ(s.drain_ready_unfit, 1);
  EXPECT_EQ(s.surge_counted, 1);
  EXPECT_FALSE(s.add_surge);
  s = PlanReplacement(0, 0, 2, 1, 0);  // wanted none: the ready ones drain, the starting one is cancelled
  EXPECT_EQ(s.drain_ready_unfit, 2);
  EXPECT_TRUE(s.cancel_unready_unfit);
  EXPECT_FALSE(s.add_surge);
  s = PlanReplacement(2, 0, 0, 0, 2);  // nothing unfit: nothing to do
  EXPECT_EQ(s.drain_ready_unfit, 0);
  EXPECT_FALSE(s.cancel_unready_unfit);
  EXPECT_FALSE(s.add_surge);
  // The autoscaler is told every replica but the surge.
  EXPECT_EQ(CountedReplicas(4, 1), 3);
}

TEST(ReplicaModel, AChunkedFirstTokenIsOneIterationPerChunk) {
  const ReplicaModel m = Model();
  EXPECT_DOUBLE_EQ(ChunkedFirstTokenS(m, 500, 1000), m.IterationS(500, 0, 0));
  EXPECT_DOUBLE_EQ(ChunkedFirstTokenS(m, 2500, 1000),
                   m.IterationS(1000, 0, 0) + m.IterationS(1000, 0, 1000) + m.IterationS(500, 0, 2000));
  EXPECT_GT(ChunkedFirstTokenS(m, 4000, 256),
            ChunkedFirstTokenS(m, 4000, 4096));  // more steps, more overhead
}

TEST(ScaleSignals, AServiceWithoutAUsableShapeIsNotServable) {
  const ServiceSpec spec = Spec();
  ScaleSignals s(spec, {Model()}, {false}, 8192, 256);
  EXPECT_FALSE(s.servable());
  EXPECT_EQ(s.Capacity().rps, 0);
}

}  // namespace
}  // namespace awan::serving
