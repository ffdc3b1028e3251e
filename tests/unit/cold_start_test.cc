// Cold starts: the components add up as documented, warm caches and peers cut them, caches are LRU by bytes.
#include "serving/cold_start.h"

#include <gtest/gtest.h>

namespace awan::serving {
namespace {

TEST(ColdStart, ComponentsAndTheirSources) {
  const int64_t image = 1'340'000'000, weights = 130'000'000'000;  // DADI's image; Llama 2 70B in FP16
  const ColdStart cold = EstimateColdStart(false, image, WeightSource::kObjectStore, weights);
  EXPECT_NEAR(cold.image_s, 33.5, 0.1);    // 1.34 GB at 40 MB/s (DADI: 36 s)
  EXPECT_NEAR(cold.weights_s, 86.7, 0.1);  // 130 GB at 1.5 GB/s (ServerlessLLM's baseline: 84 s)
  EXPECT_NEAR(cold.total_s(), 1 + 33.5 + 86.7 + 30, 0.1);
  // A warm node: no pull, weights from NVMe; a peer: over RDMA; lazy images read 6.4 % first.
  const ColdStart warm = EstimateColdStart(true, image, WeightSource::kNodeNvme, weights);
  EXPECT_EQ(warm.image_s, 0);
  EXPECT_NEAR(warm.weights_s, 130.0 / 6, 0.01);
  EXPECT_LT(EstimateColdStart(true, image, WeightSource::kPeerGpu, weights).total_s(), warm.total_s());
  ColdStartOptions lazy;
  lazy.lazy_image = true;
  EXPECT_NEAR(EstimateColdStart(false, image, WeightSource::kHostDram, weights, lazy).image_s, 33.5 * 0.064,
              0.01);
  EXPECT_STREQ(WeightSourceName(WeightSource::kPeerGpu), "peer");
}

TEST(ColdStart, NodeCachesAreLeastRecentlyUsedByBytes) {
  NodeCache c(100);
  EXPECT_FALSE(c.Use("a", 40));
  EXPECT_FALSE(c.Use("b", 40));
  EXPECT_TRUE(c.Use("a", 40));   // a hit: a is now the most recent
  EXPECT_FALSE(c.Use("c", 40));  // evicts b, the least recently used
  EXPECT_TRUE(c.Contains("a"));
  EXPECT_FALSE(c.Contains("b"));
  EXPECT_TRUE(c.Contains("c"));
  EXPECT_EQ(c.used_bytes(), 80);
  EXPECT_FALSE(c.Use("huge", 101));  // larger than the cache: not kept, nothing evicted
  EXPECT_EQ(c.size(), 2u);
  EXPECT_FALSE(c.Use("d", 100));  // evicts both
  EXPECT_EQ(c.size(), 1u);
  EXPECT_EQ(c.used_bytes(), 100);
}

// Forecast-driven prefetch: the free warm slots for what the forecast wants beyond the alive replicas, plus a
// quarter of it (of the alive ones when the forecast wants fewer) and one spare; without a forecast, the
// alive replicas stand for it.
TEST(ColdStart, PrefetchSlotsFollowTheForecast) {
  EXPECT_EQ(PrefetchSlots(0, 3, 0), 1);           // idle: one spare
  EXPECT_EQ(PrefetchSlots(30, 3, 4), 6 + 3 + 1);  // 10 wanted, 4 alive: 6 more, 3 for error, 1 spare
  EXPECT_EQ(PrefetchSlots(9, 3, 5), 0 + 2 + 1);   // fewer wanted than alive: no more starts expected, and
  EXPECT_EQ(PrefetchSlots(0, 3, 1), 0 + 1 + 1);   // the margin is of the alive ones (a quiet service's burst)
  EXPECT_EQ(PrefetchSlots(-1, 3, 8), 2 + 1);      // no forecast: a quarter of the alive ones and one
  EXPECT_EQ(PrefetchSlots(30, 0, 8), 2 + 1);      // no capacity known: the same
  EXPECT_EQ(PrefetchSlots(-1, 3, -2), 1);
}

// What the prefetch wants: the pending replicas' slots plus PrefetchSlots, capped by the replicas the
// service may still place (max minus those placed: alive minus pending), in the simulator and the server.
TEST(ColdStart, PrefetchWantCountsPendingAndStopsAtMaxReplicas) {
  EXPECT_EQ(PrefetchWant(30, 3, 4, 0, 100), 10);      // PrefetchSlots alone
  EXPECT_EQ(PrefetchWant(30, 3, 4, 2, 100), 2 + 10);  // two decided, not placed: each takes a slot
  EXPECT_EQ(PrefetchWant(30, 3, 4, 2, 8), 8 - 2);     // two placed of eight at most: six more at most
  EXPECT_EQ(PrefetchWant(30, 3, 4, 0, 4), 0);         // at max: nothing more to start
  EXPECT_EQ(PrefetchWant(30, 3, 6, 0, 4), 0);         // above max (max lowered): never negative
  EXPECT_EQ(PrefetchWant(0, 3, 0, 0, 1), 1);          // idle, scale to zero: one spare
}

// Room counts in replica slots, not nodes: an 8-GPU node with 5 free GPUs (and 3 with 300 milli left) holds
// one 4-GPU replica, five of one GPU, and five of half a GPU (counted one per device with half free).
TEST(ColdStart, ReplicaSlotsCountWholeReplicasOfTheShape) {
  NodeState n;
  n.gpu_count = 8;
  for (int d = 0; d < 8; ++d) n.gpu_left[static_cast<size_t>(d)] = d < 5 ? 1000 : 300;
  n.RefreshDeviceSummary();
  ReplicaShape four, one, half;
  four.gpus = 4, one.gpus = 1, half.gpus = 1;
  half.gpu_milli = GpuMilli{500};
  EXPECT_EQ(ReplicaSlots(n, four), 1);
  EXPECT_EQ(ReplicaSlots(n, one), 5);
  EXPECT_EQ(ReplicaSlots(n, half), 5);  // the three devices with 300 left hold none
}

// What to pull: every warm node's slots count first, wherever it is in the order; then the others in order
// until the slots reach what is wanted. The simulator and the server both plan with it.
TEST(ColdStart, PlanPrefetchPullsInOrderUntilTheWarmSlotsReachTheWant) {
  const std::vector<PrefetchNode> nodes = {{2, false}, {1, true}, {4, false}, {2, true}, {1, false}};
  EXPECT_EQ(PlanPrefetch(nodes, 3), std::vector<size_t>{});            // 3 warm slots already
  EXPECT_EQ(PlanPrefetch(nodes, 4), std::vector<size_t>({0}));         // 3 + 2
  EXPECT_EQ(PlanPrefetch(nodes, 6), std::vector<size_t>({0, 2}));      // 3 + 2 + 4
  EXPECT_EQ(PlanPrefetch(nodes, 99), std::vector<size_t>({0, 2, 4}));  // all there is
  EXPECT_EQ(PlanPrefetch({}, 5), std::vector<size_t>{});
  const std::vector<PrefetchNode> full = {{0, false}, {3, false}};  // a node without room is never pulled
  EXPECT_EQ(PlanPrefetch(full, 1), std::vector<size_t>({1}));
}

}  // namespace
}  // namespace awan::serving
