// The baseline autoscalers replay their documented behaviour (../shared/reference/INFERENCE.md §3):
// tolerance, stabilization windows, panic mode, delays, rate limits.
#include <gtest/gtest.h>

#include "policies/builtin.h"

namespace awan {
namespace {

std::unique_ptr<Autoscaler> Build(const std::string& name) {
  auto a = policies::BuiltinRegistry().BuildAutoscaler(name);
  EXPECT_TRUE(a.ok()) << a.status().ToString();
  return std::move(*a);
}

ScaleBounds Bounds(int min, int max, double target) {
  ScaleBounds b;
  b.min = min, b.max = max, b.target = target;
  return b;
}

// Feeds one sample a second from `from_s` to `to_s` with `in_flight` requests over `ready` replicas and lets
// the scaler decide at each of its periods, applying its decisions (replicas are ready at once). Returns the
// replica count at the end.
int Drive(Autoscaler& a, int64_t from_s, int64_t to_s, double in_flight, int replicas, const ScaleBounds& b,
          std::vector<std::pair<int64_t, int>>* changes = nullptr) {
  for (int64_t t = from_s * 1000; t < to_s * 1000; t += 1000) {
    a.Observe(ScaleSample{.at_ms = t, .in_flight = in_flight, .ready = replicas});
    if (t % a.period_ms() == 0) {
      const int d = a.Decide(t, replicas, b);
      if (d != replicas && changes != nullptr) changes->push_back({t / 1000, d});
      replicas = d;
    }
  }
  return replicas;
}

TEST(Autoscalers, EveryBaselineIsRegisteredByName) {
  for (const char* n : {"hpa", "kpa", "rayserve", "aibrix"}) EXPECT_EQ(Build(n)->name(), n);
  EXPECT_EQ(policies::BuiltinRegistry().BuildAutoscaler("vpa").status().code(), StatusCode::kNotFound);
}

TEST(Autoscalers, HpaToleranceScaleUpLimitAndScaleDownStabilization) {
  const ScaleBounds b = Bounds(1, 100, 10);
  auto hpa = Build("hpa");
  EXPECT_EQ(Drive(*hpa, 0, 60, 4 * 10 * 1.09, 4, b), 4);  // within 10 %: no change
  auto up = Build("hpa");
  std::vector<std::pair<int64_t, int>> ch;
  Drive(*up, 0, 31, 2 * 10 * 10.0, 2, b, &ch);  // 10x the target: 20 wanted
  ASSERT_GE(ch.size(), 2u);
  EXPECT_EQ(ch[0], (std::pair<int64_t, int>{0, 6}));    // max(+4 pods, x2) per 15 s from 2
  EXPECT_EQ(ch[1], (std::pair<int64_t, int>{15, 12}));  // x2 from 6
  // The load falls to a tenth: the highest recommendation of the last 300 s holds the count.
  auto down = Build("hpa");
  Drive(*down, 0, 60, 8 * 10, 8, b);
  std::vector<std::pair<int64_t, int>> d;
  const int end = Drive(*down, 60, 400, 8.0, 8, b, &d);
  ASSERT_FALSE(d.empty());
  EXPECT_GE(d[0].first, 60 + 285);  // not before the window forgot the high recommendations
  EXPECT_EQ(end, 1);
}

TEST(Autoscalers, KpaPanicsOnABurstAndNeverScalesDownWhilePanicking) {
  const ScaleBounds b = Bounds(0, 1000, 10);  // target 10 x 0.7 = 7 per replica
  auto kpa = Build("kpa");
  EXPECT_EQ(Drive(*kpa, 0, 120, 14, 2, b), 2);  // steady: 14 / 7
  std::vector<std::pair<int64_t, int>> ch;
  int n = Drive(*kpa, 120, 130, 140, 2, b, &ch);  // a burst: the 6 s panic window wants 20 >= 2 x 2
  ASSERT_FALSE(ch.empty());
  EXPECT_LE(ch[0].first, 122);  // within a tick or two
  EXPECT_GE(n, 15);
  // The burst ends: panicking, it holds its count until a stable window passes without a trigger.
  std::vector<std::pair<int64_t, int>> after;
  n = Drive(*kpa, 130, 260, 14, n, b, &after);
  ASSERT_FALSE(after.empty());
  EXPECT_GE(after[0].first, 120 + 60);  // no scale-down within the stable window after the last trigger
  for (size_t k = 1; k < after.size(); ++k)
    EXPECT_GE(after[k].second * 2, after[k - 1].second - 1);  // /2 at most
  EXPECT_EQ(n, 2);
  // No requests: to zero, but only after 30 s without any.
  std::vector<std::pair<int64_t, int>> idle;
  EXPECT_EQ(Drive(*kpa, 260, 400, 0, n, b, &idle), 0);
  ASSERT_FALSE(idle.empty());
  EXPECT_GE(idle.back().first, 260 + 30);
}

TEST(Autoscalers, RayServeWaitsThirtySecondsToGoUpAndTenMinutesToGoDown) {
  const ScaleBounds b = Bounds(1, 100, 2);
  auto ray = Build("rayserve");
  std::vector<std::pair<int64_t, int>> up;
  const int n = Drive(*ray, 0, 100, 16, 2, b, &up);  // 16 ongoing, target 2: 8 wanted
  ASSERT_FALSE(up.empty());
  EXPECT_GE(up[0].first, 30);
  EXPECT_EQ(n, 8);
  std::vector<std::pair<int64_t, int>> down;
  Drive(*ray, 100, 800, 2, n, b, &down);
  ASSERT_FALSE(down.empty());
  EXPECT_GE(down[0].first, 100 + 600);
  EXPECT_EQ(down[0].second, 1);
}

TEST(Autoscalers, AibrixThresholdsAndRateLimits) {
  const ScaleBounds b = Bounds(1, 100, 10);
  EXPECT_EQ(Drive(*Build("aibrix"), 0, 60, 4 * 10 * 1.08, 4, b), 4);  // inside 0.9..1.1
  std::vector<std::pair<int64_t, int>> ch;
  Drive(*Build("aibrix"), 0, 16, 4 * 10 * 1.5, 4, b, &ch);
  ASSERT_FALSE(ch.empty());
  EXPECT_EQ(ch[0].second, 6);  // ceil(4 x 1.5)
  ch.clear();
  Drive(*Build("aibrix"), 0, 16, 4 * 10 * 5.0, 4, b, &ch);
  EXPECT_EQ(ch.at(0).second, 8);  // at most x2
  ch.clear();
  Drive(*Build("aibrix"), 0, 16, 8 * 10 * 0.1, 8, b, &ch);
  EXPECT_EQ(ch.at(0).second, 4);  // at most /2
}

// What forecast-driven prefetch reads (Autoscaler::ForecastRps): awan's own forecast, the oracle's future as
// its last decision was told it; the reactive baselines make none.
TEST(Autoscalers, OnlyAwanAndTheOracleForecast) {
  for (const char* n : {"hpa", "kpa", "rayserve", "aibrix"})
    EXPECT_LT(Build(n)->ForecastRps(0, 60000), 0) << n;
  auto awan = Build("awan");
  for (int64_t t = 0; t < 180000; t += 1000)
    awan->Observe(ScaleSample{.at_ms = t, .in_flight = 4, .ready = 2, .arrival_rps = 12});
  EXPECT_NEAR(awan->ForecastRps(179000, 60000), 12, 1e-9);  // a flat load: its level
  auto oracle = Build("oracle");
  EXPECT_LT(oracle->ForecastRps(0, 60000), 0);  // before any decision it knows nothing
  ScaleBounds b = Bounds(0, 10, 4);
  b.capacity_rps = 5;
  b.future_rps = [](int64_t from_ms, int64_t to_ms) {
    return to_ms > 100000 ? 30.0 : from_ms >= 0 ? 7.0 : 0;
  };
  EXPECT_EQ(oracle->Decide(0, 1, b), 2);        // 7 requests/s over the next cold start and minute
  EXPECT_EQ(oracle->ForecastRps(0, 30000), 7);  // up to 90 s: its decisions look a minute further
  EXPECT_EQ(oracle->ForecastRps(0, 60000), 30);
}

}  // namespace
}  // namespace awan
