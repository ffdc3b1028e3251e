// The serving simulator (sim/serve_sim.h) and what it reads: request traces (trace/request_trace.h), the
// diurnal generator (sim/request_gen.h), the replica model's SLO capacity, and the oracle and awan scalers.
#include "sim/serve_sim.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "config/fleet_file.h"
#include "config/service_file.h"
#include "policies/builtin.h"
#include "serving/replica_model.h"
#include "sim/request_gen.h"
#include "trace/request_trace.h"

namespace awan::sim {
namespace {

// --- Request traces -----------------------------------------------------------------------------------

TEST(RequestTrace, ReadsTheAzureLlmCsvRelativeToItsFirstRowAndSorted) {
  const std::string csv =
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-11-16 18:15:46.6805900,374,44\n"
      "2023-11-16 18:15:50.9951690,396,109\n"
      "2023-11-16 18:15:46.1000000,12,3\n"
      "2023-11-17 00:00:00,1,1\n";
  auto r = trace::ParseAzureLlmCsv(csv, "t.csv");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].at_ms, 0);  // the earliest row, though it is third
  EXPECT_EQ((*r)[0].prompt_tokens, 12);
  EXPECT_EQ((*r)[1].at_ms, 580);  // .68059 - .1 s
  EXPECT_EQ((*r)[1].output_tokens, 44);
  EXPECT_EQ((*r)[2].at_ms, 4895);
  EXPECT_EQ((*r)[3].at_ms, ((5 * 60 + 44) * 60 + 13) * 1000 + 900);  // across midnight
}

TEST(RequestTrace, BadAzureRowsNameTheirLineAndColumn) {
  auto bad_time =
      trace::ParseAzureLlmCsv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 25:00:00,1,1\n", "t.csv");
  ASSERT_FALSE(bad_time.ok());
  EXPECT_NE(bad_time.status().message().find("t.csv:2:1"), std::string::npos) << bad_time.status().message();
  auto bad_count =
      trace::ParseAzureLlmCsv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 10:00:00,-4,1\n", "t.csv");
  ASSERT_FALSE(bad_count.ok());
  EXPECT_NE(bad_count.status().message().find("ContextTokens"), std::string::npos);
  EXPECT_FALSE(trace::ParseAzureLlmCsv("TIMESTAMP,Context\n", "t.csv").ok());  // a missing column
}

// A hand-written Mooncake trace (the format of FAST'25's traces/*.jsonl), with awan's optional user.
TEST(RequestTrace, ReadsMooncakeJsonLinesWithHashIds) {
  const std::string jsonl =
      "{\"timestamp\": 27482, \"input_length\": 6955, \"output_length\": 52, \"hash_ids\": [46, 47, 48, "
      "49]}\n"
      "\n"
      "{\"timestamp\": 0, \"input_length\": 1024, \"output_length\": 8, \"hash_ids\": [46, 47], \"user\": "
      "\"penang\"}\r\n";
  auto r = trace::ParseMooncakeJsonl(jsonl, "m.jsonl");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].at_ms, 0);
  EXPECT_EQ((*r)[0].user, "penang");
  EXPECT_EQ((*r)[1].hash_ids, (std::vector<uint64_t>{46, 47, 48, 49}));
  EXPECT_EQ((*r)[1].prompt_tokens, 6955);
  // What FormatMooncakeJsonl writes reads back the same.
  auto again = trace::ParseMooncakeJsonl(trace::FormatMooncakeJsonl(*r), "again.jsonl");
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[1].hash_ids, (*r)[1].hash_ids);
  EXPECT_EQ((*again)[0].user, "penang");
}

TEST(RequestTrace, BadMooncakeLinesAreNamed) {
  auto missing = trace::ParseMooncakeJsonl("{\"timestamp\": 1, \"input_length\": 3}\n", "m.jsonl");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("m.jsonl:1: missing \"output_length\""), std::string::npos);
  EXPECT_FALSE(trace::ParseMooncakeJsonl("{\"timestamp\": 1,\n", "m.jsonl").ok());
  EXPECT_FALSE(
      trace::ParseMooncakeJsonl(
          "{\"timestamp\": 1, \"input_length\": 3, \"output_length\": 1, \"hash_ids\": [-1]}", "m.jsonl")
          .ok());
  EXPECT_FALSE(trace::ReadRequests("/nonexistent/trace.txt").ok());  // unknown extension
}

// --- Load ----------------------------------------------------------------------------------------------

TEST(RequestLoad, ShapeLoadCompressesTimeAndScalesByShiftedCopies) {
  std::vector<InferenceRequest> in(3);
  in[0].at_ms = 0, in[1].at_ms = 1000, in[2].at_ms = 4000;
  const auto fast = ShapeLoad(in, 2.0, 1);
  EXPECT_EQ(fast[2].at_ms, 2000);
  const auto x4 = ShapeLoad(in, 1.0, 4);
  ASSERT_EQ(x4.size(), 12u);
  EXPECT_EQ(x4[1].at_ms, 250);  // copy 1, shifted by 1000/4 ms
  for (size_t i = 1; i < x4.size(); ++i) EXPECT_LE(x4[i - 1].at_ms, x4[i].at_ms);
}

TEST(RequestLoad, TheGeneratorIsDiurnalDeterministicAndSharesPrefixes) {
  ServiceSpec s;
  s.name = "svc";
  s.users = {"kuala-lumpur", "penang"};
  RequestGenOptions o;
  o.hours = 24, o.peak_rps = 2, o.seed = 7;
  const auto a = GenerateRequests(s, 0, o), b = GenerateRequests(s, 0, o);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); i += 97) EXPECT_EQ(a[i].at_ms, b[i].at_ms);
  EXPECT_NE(GenerateRequests(s, 1, o).size(), a.size());  // another service, another stream
  std::map<int, int> by_hour;
  std::map<uint64_t, int> first_block;
  std::set<std::string> users;
  for (const InferenceRequest& r : a) {
    ++by_hour[static_cast<int>(r.at_ms / 3600000)];
    if (!r.hash_ids.empty()) ++first_block[r.hash_ids[0]];
    users.insert(r.user);
  }
  EXPECT_GT(by_hour[16], 4 * by_hour[4]);  // the afternoon peak against the night
  EXPECT_LE(first_block.size(), 8u);       // every prompt starts with one of 8 system prompts
  EXPECT_EQ(users, (std::set<std::string>{"kuala-lumpur", "penang"}));
}

// --- Replica capacity ----------------------------------------------------------------------------------

TEST(ReplicaCapacity, TheBudgetAndCapacityFollowTheSlo) {
  ServedModel m{"llama-3.1-70b", 70.6, int64_t{131} << 30, 320 << 10, 80};
  auto rm = serving::ReplicaModel::Create(m, *FindHardware("H100"), 4, 1.0);
  ASSERT_TRUE(rm.ok());
  ServiceSlo tight{1000, 40, 99}, loose{1000, 80, 99};
  const int64_t b_tight = serving::TokenBudget(*rm, tight), b_loose = serving::TokenBudget(*rm, loose);
  EXPECT_LT(b_tight, b_loose);
  EXPECT_LE(rm->IterationS(b_tight, 0, 0),
            0.8 * 0.040 + 0.01);  // one full iteration stays near the objective
  const auto c_tight = serving::CapacityWithinSlo(*rm, 1000, 200, tight, b_tight);
  const auto c_loose = serving::CapacityWithinSlo(*rm, 1000, 200, loose, b_loose);
  EXPECT_GT(c_tight.rps, 0);
  EXPECT_GT(c_loose.rps, c_tight.rps);
  EXPECT_LE(c_tight.tpot_s, 0.8 * 0.040 + 1e-9);
  // A TPOT no replica can reach: no capacity.
  EXPECT_EQ(serving::CapacityWithinSlo(*rm, 1000, 200, ServiceSlo{1000, 5, 99}, b_tight).concurrency, 0);
}

// A prefix cache that holds part of each prompt leaves less to prefill: more requests per second within the
// same SLO, where prefill binds. The KV cache and the attention still hold the whole prompt, so a capacity
// bound by them does not move; all of the prompt prefilled is the capacity without a cache, bit for bit.
TEST(ReplicaCapacity, TheCapacityCountsOnlyThePrefillACacheLeaves) {
  ServedModel m{"llama-3.1-70b", 70.6, int64_t{131} << 30, 320 << 10, 80};
  auto rm = serving::ReplicaModel::Create(m, *FindHardware("H100"), 4, 1.0);
  ASSERT_TRUE(rm.ok());
  const ServiceSlo slo{1000, 60, 99};
  const int64_t budget = serving::TokenBudget(*rm, slo, 8192);
  const auto whole = serving::CapacityWithinSlo(*rm, 4000, 100, slo, budget);
  const auto same =
      serving::CapacityWithinSlo(*rm, 4000, 100, slo, budget, 256, serving::kTpotHeadroom, 4000);
  EXPECT_EQ(same.rps, whole.rps);
  EXPECT_EQ(same.concurrency, whole.concurrency);
  const auto cached =
      serving::CapacityWithinSlo(*rm, 4000, 100, slo, budget, 256, serving::kTpotHeadroom, 1000);
  EXPECT_GT(cached.rps, 1.5 * whole.rps);
  // The first token's own chunks count the whole prompt (the requests the cache missed are the tail): the
  // tightest TTFT objective a replica meets barely moves when a cache holds three quarters of each prompt
  // (only the queue before a first token is shorter), where counting the cached chunks out would more than
  // halve it.
  auto tightest = [&](double prefill) {
    int ttft_ms = 10;
    while (serving::CapacityWithinSlo(*rm, 4000, 100, ServiceSlo{ttft_ms, 60, 99}, budget, 256,
                                      serving::kTpotHeadroom, prefill)
               .concurrency == 0)
      ttft_ms += 10;
    return ttft_ms;
  };
  EXPECT_LE(tightest(1000), tightest(-1));
  EXPECT_GT(tightest(1000), 0.8 * tightest(-1));
  // Not more than prompts of the cached length alone would give (their KV and attention are smaller).
  EXPECT_LE(cached.rps, serving::CapacityWithinSlo(*rm, 1000, 100, slo, budget).rps);
}

// --- Oracle and awan scalers ---------------------------------------------------------------------------

std::unique_ptr<Autoscaler> Scaler(const std::string& name) {
  auto a = policies::BuiltinRegistry().BuildAutoscaler(name);
  EXPECT_TRUE(a.ok());
  return std::move(*a);
}

ScaleBounds Bounds(double capacity_rps, int64_t cold_ms) {
  ScaleBounds b;
  b.min = 1, b.max = 100, b.target = 50, b.capacity_rps = capacity_rps, b.cold_start_ms = cold_ms;
  return b;
}

TEST(OracleScaler, StartsReplicasOneColdStartAheadOfTheirLoad) {
  auto o = Scaler("oracle");
  ScaleBounds b = Bounds(10, 50000);
  b.future_rps = [](int64_t from, int64_t to) { return to > 300000 && from < 400000 ? 95.0 : 5.0; };
  EXPECT_EQ(o->Decide(100000, 1, b), 1);   // the burst at 300 s is beyond 100 + 50 + 60 s
  EXPECT_EQ(o->Decide(200000, 1, b), 10);  // now within a cold start and a minute
  EXPECT_EQ(o->Decide(400000, 10, b), 1);  // and gone once past
  b.future_rps = nullptr;
  EXPECT_EQ(o->Decide(0, 3, b), 3);  // without the future it keeps what it has
}

ScaleSample Sample(int64_t at_ms, double rps) {
  ScaleSample s;
  s.at_ms = at_ms, s.arrival_rps = rps, s.ready = 1;
  return s;
}

TEST(AwanScaler, ProvisionsTheRecentPeakAndHoldsItTenMinutesAfterABurst) {
  auto a = Scaler("awan");
  const ScaleBounds b = Bounds(10, 30000);
  int replicas = 1;
  for (int64_t t = 0; t <= 1100000; t += 1000) {
    a->Observe(Sample(t, t >= 200000 && t < 210000 ? 80 : 20));  // a 10-s burst at 200 s
    if (t % a->period_ms() == 0) replicas = a->Decide(t, replicas, b);
    if (t == 190000) {
      EXPECT_EQ(replicas, 2);  // 20 rps / 10
    }
    if (t == 215000) {
      EXPECT_EQ(replicas, 8);  // the burst: 80 rps
    }
    if (t == 800000) {
      EXPECT_EQ(replicas, 8);  // a burst is held ready for the next one for 10 min
    }
  }
  // Then back to the load (the burst left the memory at 820 s, the wants at 940 s).
  EXPECT_EQ(replicas, 2);
}

TEST(AwanScaler, ASmoothRiseIsNoBurstAndGoesDownAfterTwoMinutes) {
  auto a = Scaler("awan");
  const ScaleBounds b = Bounds(10, 30000);
  int replicas = 1;
  for (int64_t t = 0; t <= 700000; t += 1000) {
    // 20 rps, up by 0.2 rps a second to 80 rps at 400 s, held to 410 s, then 20 rps again.
    const double rps = t < 100000   ? 20
                       : t < 400000 ? 20 + 0.2 * static_cast<double>(t - 100000) / 1000
                       : t < 410000 ? 80
                                    : 20;
    a->Observe(Sample(t, rps));
    if (t % a->period_ms() == 0) replicas = a->Decide(t, replicas, b);
    if (t == 405000) {
      EXPECT_GE(replicas, 8);
    }
  }
  // No 10 s brought twice the 2 min before it: down once the peak left the look-back and the wants.
  EXPECT_EQ(replicas, 2);
}

// A request or two after minutes of silence is no burst (it does not bring one replica's worth more): a
// service that scales to zero still goes down a few minutes after them.
TEST(AwanScaler, AReturnFromIdleIsNoBurst) {
  auto a = Scaler("awan");
  ScaleBounds b = Bounds(10, 30000);
  b.min = 0;
  int replicas = 0;
  for (int64_t t = 0; t <= 900000; t += 1000) {
    a->Observe(Sample(t, t == 300000 ? 2 : 0));  // one second with 2 requests at 300 s
    if (t % a->period_ms() == 0) replicas = a->Decide(t, replicas, b);
    if (t == 305000) {
      EXPECT_EQ(replicas, 1);
    }
  }
  EXPECT_EQ(replicas, 0);  // at 900 s: it held no burst for 10 min
}

TEST(AwanScaler, RequestsPilingUpAddTheReplicasThatDrainThemWithinAColdStart) {
  auto a = Scaler("awan");
  const ScaleBounds b = Bounds(10, 30000);  // 10 rps and 50 in flight per replica, 30-s cold starts
  ScaleSample s = Sample(0, 0);
  s.ready = 2, s.in_flight = 2 * 50 + 1500;  // 1,500 more than two replicas hold within the SLO
  a->Observe(s);
  EXPECT_EQ(a->Decide(0, 2, b), 2 + 5);  // 1,500 / (10 rps x 30 s)
}

// Replicas run near their capacity hold a little more than it at times: less backlog than one replica drains
// in a cold start adds none (it is gone before one could be ready); it did, and a smooth load oscillated.
TEST(AwanScaler, LessBacklogThanOneReplicaDrainsAddsNone) {
  auto a = Scaler("awan");
  const ScaleBounds b =
      Bounds(10, 30000);  // 50 sequences per replica; one replica drains 300 in a cold start
  ScaleSample s = Sample(0, 0);
  s.ready = 20, s.in_flight = 20 * 50 + 49;  // a fluctuation: less than one replica's sequences more
  a->Observe(s);
  EXPECT_EQ(a->Decide(0, 20, b), 20);
  // An overload of a replica's sequences or more asks for the replicas that drain it, however long the cold
  // start (load that bypasses the gateway is seen only here).
  s.at_ms = 1000, s.in_flight = 20 * 50 + 50;
  a->Observe(s);
  EXPECT_EQ(a->Decide(1000, 20, b), 21);
  s.at_ms = 2000, s.in_flight = 20 * 50 + 301;
  a->Observe(s);
  EXPECT_EQ(a->Decide(2000, 20, b), 22);
}

// With no replica ready (a service that scaled to zero, its first replica still starting), any request
// waiting keeps one wanted, however long ago the arrivals were.
TEST(AwanScaler, ARequestWaitingWithNoReplicaReadyKeepsOneWanted) {
  auto a = Scaler("awan");
  ScaleBounds b = Bounds(10, 30000);
  b.min = 0;
  ScaleSample s = Sample(0, 0);
  s.ready = 0, s.in_flight = 3;
  for (int64_t t = 0; t <= 600000; t += 1000) {
    s.at_ms = t;
    a->Observe(s);
  }
  EXPECT_EQ(a->Decide(600000, 1, b), 1);
  s.at_ms = 601000, s.in_flight = 0;
  a->Observe(s);
  EXPECT_EQ(a->Decide(601000, 1, b), 1);  // the last want holds for two minutes
  EXPECT_EQ(a->Decide(800000, 1, b), 0);
}

TEST(AwanScaler, ScalesAheadAlongATrendAndFromYesterday) {
  auto a = Scaler("awan");
  const ScaleBounds b = Bounds(10, 60000);
  int replicas = 1;
  // A steady ramp of 0.1 rps per second: the forecast one cold start and a period ahead is above now.
  for (int64_t t = 0; t <= 300000; t += 1000) {
    a->Observe(Sample(t, 10 + 0.1 * static_cast<double>(t) / 1000));
    if (t % a->period_ms() == 0) replicas = a->Decide(t, replicas, b);
  }
  EXPECT_GT(replicas, static_cast<int>(std::ceil(40.0 / 10)));  // 40 rps now, more ahead
  // Two days: a daily spike at 12:00 is foreseen on the second day before it starts.
  auto d = Scaler("awan");
  replicas = 1;
  int before_spike = 0;
  for (int64_t t = 0; t < 2 * 86400000LL; t += 1000) {
    const int64_t tod = t % 86400000;
    d->Observe(Sample(t, tod >= 43200000 && tod < 46800000 ? 100 : 10));
    if (t % d->period_ms() == 0) replicas = d->Decide(t, replicas, b);
    if (t == 86400000LL + 43200000 - 10000) before_spike = replicas;
  }
  EXPECT_GE(before_spike, 10);  // 100 rps / 10 per replica, 10 s before the second day's spike
}

// --- The simulation ------------------------------------------------------------------------------------

struct World {
  std::unique_ptr<config::FleetFile> fleet;
  config::ServicesFile services;
};

World Asean() {
  World w;
  auto f = config::ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml");
  EXPECT_TRUE(f.ok());
  w.fleet = std::move(*f);
  auto s = config::ReadServicesFile(std::string(AWAN_SOURCE_DIR) + "/examples/services/asean.yaml",
                                    w.fleet->fleet);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  w.services = std::move(*s);
  return w;
}

std::vector<ServiceLoad> Loads(const config::ServicesFile& services, double hours, double peak_rps,
                               const std::vector<std::string>& only = {}) {
  std::vector<ServiceLoad> out;
  RequestGenOptions o;
  o.hours = hours, o.peak_rps = peak_rps, o.seed = 3;
  for (size_t i = 0; i < services.services.size(); ++i) {
    const ServiceSpec& s = services.services[i];
    if (!only.empty() && std::find(only.begin(), only.end(), s.name) == only.end()) continue;
    out.push_back({s.name, GenerateRequests(s, i, o)});
  }
  return out;
}

TEST(ServeSim, SameInputsSameResults) {
  World w = Asean();
  const auto loads = Loads(w.services, 0.25, 3);
  ServeSimOptions o;
  auto a = RunServeSim(*w.fleet, w.services, loads, {}, o);
  auto b = RunServeSim(*w.fleet, w.services, loads, {}, o);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok());
  EXPECT_GT(a->summary.requests, 1000);
  EXPECT_EQ(a->summary.requests, b->summary.requests);
  EXPECT_EQ(a->summary.gpu_hours, b->summary.gpu_hours);
  EXPECT_EQ(a->ttft_ms, b->ttft_ms);
  EXPECT_EQ(a->summary.cold_starts, b->summary.cold_starts);
  EXPECT_GT(a->summary.slo_attainment_pct, 95);
  EXPECT_EQ(a->per_service.size(), w.services.services.size());
}

// The health service may only run in Malaysia: awan never places or routes it elsewhere; the baseline that
// ignores residency takes the cheaper A100s of Jakarta (its first shape) and is counted.
TEST(ServeSim, ResidencyHoldsForReplicasAndRequestsAndTheBlindBaselineIsCaught) {
  World w = Asean();
  const auto loads = Loads(w.services, 0.25, 4, {"health-records-summarizer"});
  ServeSimOptions o;
  auto awan = RunServeSim(*w.fleet, w.services, loads, {}, o);
  ASSERT_TRUE(awan.ok()) << awan.status().ToString();
  EXPECT_EQ(awan->summary.routed_outside_allowed, 0);
  EXPECT_EQ(awan->summary.replicas_placed_outside, 0);
  EXPECT_GT(awan->summary.requests, 1000);
  o.ignore_residency = true;
  auto blind = RunServeSim(*w.fleet, w.services, loads, {}, o);
  ASSERT_TRUE(blind.ok());
  EXPECT_GT(blind->summary.routed_outside_allowed, 0);
  EXPECT_GT(blind->summary.replicas_placed_outside, 0);
}

TEST(ServeSim, WarmNodesStartReplicasFaster) {
  World w = Asean();
  const auto loads = Loads(w.services, 0.5, 6, {"asean-assistant"});
  ServeSimOptions o;
  o.warmup_ms = 0;       // the first replicas' starts count
  o.autoscaler = "kpa";  // scales often
  auto warm = RunServeSim(*w.fleet, w.services, loads, {}, o);
  o.prefetch = ServePrefetch::kNone;
  auto cold = RunServeSim(*w.fleet, w.services, loads, {}, o);
  ASSERT_TRUE(warm.ok() && cold.ok());
  ASSERT_GT(warm->summary.cold_starts, 0);
  ASSERT_GT(cold->summary.cold_starts, 0);
  EXPECT_LT(warm->summary.avg_cold_start_s, cold->summary.avg_cold_start_s);
  EXPECT_LT(warm->summary.p99_cold_start_s, cold->summary.p99_cold_start_s);
}

// Forecast-driven prefetch on a load that steps from 1 to 24 requests/s at minute 20: the scale-up starts on
// nodes pulled ahead (warmer than without prefetch), and fewer bytes move than prefetching to every node the
// service may use.
TEST(ServeSim, ForecastPrefetchWarmsWhatTheForecastNeedsAndNoMore) {
  World w = Asean();
  std::vector<InferenceRequest> r;
  for (int64_t ms = 0; ms < int64_t{40} * 60000;) {
    r.push_back({ms, 256, 64, {}, ""});
    ms += ms < int64_t{20} * 60000 ? 1000 : 1000 / 24;
  }
  const std::vector<ServiceLoad> loads{{"asean-assistant", std::move(r)}};
  ServeSimOptions o;
  o.prefetch = ServePrefetch::kAll;
  auto all = RunServeSim(*w.fleet, w.services, loads, {}, o);
  o.prefetch = ServePrefetch::kForecast;
  auto forecast = RunServeSim(*w.fleet, w.services, loads, {}, o);
  o.prefetch = ServePrefetch::kNone;
  auto none = RunServeSim(*w.fleet, w.services, loads, {}, o);
  ASSERT_TRUE(all.ok() && forecast.ok() && none.ok()) << forecast.status().ToString();
  EXPECT_EQ(none->summary.prefetches, 0);
  EXPECT_GT(forecast->summary.prefetches, 0);
  EXPECT_LT(forecast->summary.prefetched_bytes, all->summary.prefetched_bytes);
  ASSERT_GT(forecast->summary.cold_starts, 0);
  ASSERT_GT(none->summary.cold_starts, 0);
  EXPECT_LT(forecast->summary.avg_cold_start_s, none->summary.avg_cold_start_s);
  EXPECT_GE(forecast->summary.slo_attainment_pct, none->summary.slo_attainment_pct);
}

// --start-ready: the replicas placed at t = 0 serve at once (a service deployed before the trace, as awan
// serve has it when a replay waits for the first ready replica); without it they pay their cold start first,
// and the requests of that first minute wait or miss.
TEST(ServeSim, StartReadyServicesServeFromTheFirstRequest) {
  World w = Asean();
  const auto loads = Loads(w.services, 0.25, 3, {"asean-assistant"});
  ServeSimOptions o;
  o.warmup_ms = 0;
  auto cold = RunServeSim(*w.fleet, w.services, loads, {}, o);
  o.start_ready = true;
  auto ready = RunServeSim(*w.fleet, w.services, loads, {}, o);
  ASSERT_TRUE(cold.ok() && ready.ok()) << cold.status().ToString();
  ASSERT_FALSE(cold->timeline.empty());
  ASSERT_FALSE(ready->timeline.empty());
  EXPECT_EQ(cold->timeline.front().ready.at(0), 0);
  EXPECT_GE(ready->timeline.front().ready.at(0), 1);
  EXPECT_EQ(ready->timeline.front().ready.at(0), ready->timeline.front().replicas.at(0));
  EXPECT_GT(ready->summary.slo_attainment_pct, cold->summary.slo_attainment_pct);
  EXPECT_EQ(ready->summary.requests, cold->summary.requests);
}

// Ramps are the minutes whose last 5 minutes brought more requests than the 5 before them, judged on the load
// alone: a flat load has none; one that steps up from 1 to 4 requests/s at minute 20 rises through minute 28
// (at 29 the 5 minutes before are all at the new rate too).
TEST(ServeSim, RampsAreTheMinutesWhereTheLoadRises) {
  World w = Asean();
  auto load = [](int flat_min, int high_min) {
    std::vector<InferenceRequest> r;
    for (int64_t ms = 0; ms < int64_t{flat_min + high_min} * 60000;) {
      r.push_back({ms, 256, 64, {}, ""});
      ms += ms < int64_t{flat_min} * 60000 ? 1000 : 250;
    }
    return std::vector<ServiceLoad>{{"asean-assistant", std::move(r)}};
  };
  ServeSimOptions o;
  o.warmup_ms = 0;
  auto flat = RunServeSim(*w.fleet, w.services, load(30, 0), {}, o);
  auto step = RunServeSim(*w.fleet, w.services, load(20, 10), {}, o);
  ASSERT_TRUE(flat.ok() && step.ok()) << flat.status().ToString();
  EXPECT_EQ(flat->summary.ramp_requests, 0);
  EXPECT_EQ(step->summary.ramp_requests, 9 * 240);  // minutes 20 to 28, 240 arrivals each
  EXPECT_GE(step->summary.ramp_slo_attainment_pct, 0);
  EXPECT_LE(step->summary.ramp_slo_attainment_pct, 100);
  // Their attainment is that of the same minutes in the timeline (which counts every request by its minute).
  int64_t arrived = 0, met = 0;
  for (const ServeTimelinePoint& p : step->timeline)
    if (p.t_s >= 20 * 60 && p.t_s < 29 * 60) arrived += p.arrived, met += p.met;
  ASSERT_EQ(arrived, 9 * 240);
  EXPECT_DOUBLE_EQ(step->summary.ramp_slo_attainment_pct, 100.0 * static_cast<double>(met) / arrived);
}

// One region of one zone of `nodes` 8-GPU H100 nodes; tenant "batch" guaranteed `batch_gpus`, tenant "llm"
// (nothing guaranteed) with the service "chat" (an 8B model, one GPU per replica, min..max replicas).
using ZoneWorld = std::pair<std::unique_ptr<config::FleetFile>, config::ServicesFile>;
StatusOr<ZoneWorld> OneZone(int nodes, int batch_gpus, int min_replicas, int max_replicas) {
  const std::string fleet_yaml = fmt::format(
      "node_types:\n  h: {{accelerator: H100, gpus: 8, cpu: 64, memory_gib: 512}}\n"
      "regions:\n  - name: r\n    jurisdiction: AA\n    zones:\n      - {{name: z, layout: {{type: h, nodes: "
      "{}}}}}\n"
      "user_locations:\n  - {{name: city, latency_ms: {{r: 2}}}}\n"
      "tenants:\n  - {{name: batch, guaranteed_gpus: {}, cohort: c}}\n  - {{name: llm, guaranteed_gpus: 0, "
      "cohort: c}}\n",
      nodes, batch_gpus);
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<config::FleetFile> fleet,
                        config::ParseFleetFile(fleet_yaml, "f.yaml"));
  const std::string svc_yaml = fmt::format(
      "models:\n  - {{name: m8, parameters_b: 8, weights_gib: 15, kv_kib_per_token: 128, layers: 32}}\n"
      "services:\n  - {{name: chat, tenant: llm, model: m8, shapes: [{{accelerator: H100, gpus: 1}}], "
      "replicas: {{min: {}, max: {}}}, slo: {{ttft_ms: 1000, tpot_ms: 50}}, priority: 10, users: [city]}}\n",
      min_replicas, max_replicas);
  AWAN_ASSIGN_OR_RETURN(config::ServicesFile services,
                        config::ParseServicesFile(svc_yaml, "s.yaml", fleet->fleet));
  return ZoneWorld{std::move(fleet), std::move(services)};
}

// A job of tenant "batch": `tasks` tasks of `gpus` whole GPUs (1 CPU and 8 GiB per GPU).
JobSpec BatchJob(const std::string& name, int tasks, int gpus, int64_t submit_s, int64_t duration_s) {
  JobSpec j;
  j.name = name;
  j.tenant = "batch";
  j.submit_s = submit_s;
  j.duration_s = duration_s;
  j.tasks = tasks;
  j.task.gpu_count = gpus;
  j.task.gpu_milli = kWholeGpu;
  j.task.cpu = CpuMilli(1000 * gpus);
  j.task.memory = MemMiB(8192 * gpus);
  return j;
}

TEST(ServeSim, AServiceScaleUpPreemptsBorrowedBatchWorkAndAScaleDownGivesItBack) {
  // One region of two 8-GPU nodes; a batch tenant guaranteed 8 GPUs borrows the other 8, which the service's
  // replica tenant is guaranteed (the GPUs of its peak).
  auto world = OneZone(2, 8, 0, 8);
  ASSERT_TRUE(world.ok()) << world.status().ToString();
  auto& [fleet, services] = *world;
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 16; ++i) {  // 16 one-GPU jobs fill the fleet at t=0 for two hours
    JobSpec j;
    j.name = "b" + std::to_string(i);
    j.tenant = "batch";
    j.duration_s = 7200;
    j.task.gpu_count = 1;
    j.task.gpu_milli = kWholeGpu;
    j.task.cpu = CpuMilli(1000);
    j.task.memory = MemMiB(1024);
    jobs.push_back(j);
  }
  std::vector<ServiceLoad> loads(1);
  loads[0].service = "chat";
  for (int64_t t = 600000; t < 1800000; t += 20) {  // 50 rps from 10 to 30 minutes
    InferenceRequest r;
    r.at_ms = t, r.prompt_tokens = 800, r.output_tokens = 100;
    loads[0].requests.push_back(r);
  }
  ServeSimOptions o;
  o.warmup_ms = 0;
  o.jobs.scheduler.min_run_s = 0;
  o.jobs.scheduler.checkpoint_s = 300;  // batch runs may be stopped from their first checkpoint, at 5 min
  auto r = RunServeSim(*fleet, services, loads, jobs, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->batch_run.summary.preemptions, 0);  // the replicas took GPUs back from borrowed batch work
  EXPECT_EQ(r->batch_run.summary.finished, 16);    // and every batch job still finished
  EXPECT_GT(r->summary.slo_attainment_pct, 90);
  // After the load, the replicas are gone and the batch jobs run on every GPU again.
  const ServeTimelinePoint& end = r->timeline.back();
  EXPECT_EQ(end.replicas[0], 0);
  EXPECT_EQ(end.batch_running_gpus, 16);
}

// A replica never ends by itself, so no reservation may count on its GPUs: a gang that needs the replica's
// node waits (it cannot start while the service runs) without holding back a smaller gang that fits beside
// the replica. Before, the big gang's reservation expected the replica to end soon and kept the small one
// waiting as long as the service ran.
TEST(ServeSim, AReservationNeverCountsOnAReplicasGpus) {
  auto world = OneZone(4, 32, 1, 1);
  ASSERT_TRUE(world.ok()) << world.status().ToString();
  auto& [fleet, services] = *world;
  auto gang = [](const std::string& name, int nodes, int64_t submit_s, int64_t duration_s) {
    return BatchJob(name, nodes, 8, submit_s, duration_s);
  };
  // The whole zone (the replica holds a GPU of it), then three nodes of it.
  const std::vector<JobSpec> jobs = {gang("all-four", 4, 120, 3600), gang("three", 3, 180, 600)};
  std::vector<ServiceLoad> loads(1);
  loads[0].service = "chat";
  for (int64_t t = 0; t < 4 * 3600 * 1000; t += 1000) {  // 1 rps for four hours
    InferenceRequest r;
    r.at_ms = t, r.prompt_tokens = 500, r.output_tokens = 50;
    loads[0].requests.push_back(r);
  }
  ServeSimOptions o;
  o.warmup_ms = 0;
  auto r = RunServeSim(*fleet, services, loads, jobs, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->batch_run.jobs.size(), 2u);
  const JobOutcome& all = r->batch_run.jobs[0];
  const JobOutcome& three = r->batch_run.jobs[1];
  EXPECT_GE(all.start_s, 4 * 3600);  // only once the service is gone
  EXPECT_LT(three.start_s, 600);     // at once, beside the replica
  EXPECT_EQ(r->batch_run.summary.finished, 2);
}

// Forecast-driven prefetch pulls onto the nodes best-fit would pick, those with the least room that fits, so
// a replica steered to a pulled node leaves whole free nodes to gangs. Two 8-GPU nodes; batch work holds 4
// GPUs of one for two hours; the service keeps one 1-GPU replica. An 8-GPU job submitted at 10 minutes starts
// at once on the other node. When the pulls took the node with the most room first, the replica went there
// and the job waited until the service was gone (4,199 s).
TEST(ServeSim, ForecastPrefetchPullsWhereBestFitPacks) {
  auto world = OneZone(2, 16, 1, 1);
  ASSERT_TRUE(world.ok()) << world.status().ToString();
  auto& [fleet, services] = *world;
  const std::vector<JobSpec> jobs = {BatchJob("half", 1, 4, 0, 7200), BatchJob("whole", 1, 8, 600, 600)};
  std::vector<ServiceLoad> loads(1);
  loads[0].service = "chat";
  for (int64_t t = 0; t < 3600 * 1000; t += 1000) {  // 1 rps for an hour
    InferenceRequest r;
    r.at_ms = t, r.prompt_tokens = 500, r.output_tokens = 50;
    loads[0].requests.push_back(r);
  }
  ServeSimOptions o;
  o.prefetch = ServePrefetch::kForecast;
  auto r = RunServeSim(*fleet, services, loads, jobs, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_GT(r->summary.prefetches, 0);
  ASSERT_EQ(r->batch_run.jobs.size(), 2u);
  EXPECT_LT(r->batch_run.jobs[1].start_s, 1200);  // "whole": at once, on the node the replica left free
  EXPECT_EQ(r->batch_run.summary.finished, 2);
}

// The first replica is placed before any request, on the shape the prior mix (1,024-token prompts) fits:
// the A100. The requests bring 2 % of 8k-token prompts, which an A100 cannot give a first token within
// 500 ms even alone: the service's capacity moves to the H100, a replica starts there, and the A100 one
// drains once it is ready (a rolling replacement, the autoscaler told every replica, so scalers that scale
// the current count, like hpa, keep theirs).
TEST(ServeSim, AReplicaOnAShapeTooSlowForTheLongPromptsIsReplaced) {
  auto fleet = config::ParseFleetFile(
      "node_types:\n  a: {accelerator: A100, gpus: 8, cpu: 64, memory_gib: 512}\n"
      "  h: {accelerator: H100, gpus: 8, cpu: 64, memory_gib: 512}\n"
      "regions:\n  - name: r\n    jurisdiction: AA\n    zones:\n"
      "      - {name: za, layout: {type: a, nodes: 1}}\n      - {name: zh, layout: {type: h, nodes: 1}}\n"
      "user_locations:\n  - {name: city, latency_ms: {r: 2}}\n"
      "tenants:\n  - {name: llm, guaranteed_gpus: 0}\n",
      "f.yaml");
  ASSERT_TRUE(fleet.ok()) << fleet.status().ToString();
  auto run = [&](const std::string& shapes, const std::string& scaler, bool shared_prefix = false) {
    auto services = config::ParseServicesFile(
        "models:\n  - {name: m8, parameters_b: 8, weights_gib: 15, kv_kib_per_token: 128, layers: 32}\n"
        "services:\n  - {name: chat, tenant: llm, model: m8, shapes: " +
            shapes +
            ", replicas: {min: 1, max: 4}, slo: {ttft_ms: 500, tpot_ms: 40}, priority: 10, users: [city]}\n",
        "s.yaml", (*fleet)->fleet);
    EXPECT_TRUE(services.ok()) << services.status().ToString();
    std::vector<ServiceLoad> loads(1);
    loads[0].service = "chat";
    for (int64_t i = 0; i < 2 * 3600 * 2; ++i) {  // 2 rps for two hours; every 50th prompt is 8k long
      InferenceRequest r;
      r.at_ms = i * 500, r.prompt_tokens = i % 50 == 7 ? 8192 : 1000, r.output_tokens = 100;
      if (shared_prefix && r.prompt_tokens == 8192) {  // 15 of its 16 blocks: a document every one shares
        for (uint64_t b = 1; b <= 15; ++b) r.hash_ids.push_back(b);
        r.hash_ids.push_back(static_cast<uint64_t>(1000 + i));
      }
      loads[0].requests.push_back(r);
    }
    ServeSimOptions o;
    o.warmup_ms = 0;
    o.autoscaler = scaler;
    return RunServeSim(**fleet, *services, loads, {}, o);
  };
  auto a100_only = run("[{accelerator: A100, gpus: 1}]", "awan");
  ASSERT_TRUE(a100_only.ok()) << a100_only.status().ToString();
  EXPECT_LT(a100_only->summary.slo_attainment_pct, 98.5);  // the 8k prompts miss on an A100
  EXPECT_EQ(a100_only->per_service[0].replicas_replaced, 0);
  // ... and the run says so: no usable shape gives them their first token in time.
  EXPECT_FALSE(a100_only->per_service[0].long_prompts_in_time);
  EXPECT_GE(a100_only->per_service[0].long_prompt_tokens, 8192);
  const auto warns_of_long_prompts = [](const ServeSimResult& r) {
    return std::any_of(r.warnings.begin(), r.warnings.end(), [](const std::string& w) {
      return w.find("service chat: no usable shape gives the long prompts") != std::string::npos;
    });
  };
  EXPECT_TRUE(warns_of_long_prompts(*a100_only));
  double h100_rps = 0;
  for (const std::string scaler : {"awan", "hpa"}) {
    auto both = run("[{accelerator: A100, gpus: 1}, {accelerator: H100, gpus: 1}]", scaler);
    ASSERT_TRUE(both.ok()) << both.status().ToString();
    EXPECT_GE(both->summary.slo_attainment_pct, 99.0) << scaler;
    EXPECT_EQ(both->per_service[0].replicas_replaced, 1) << scaler;  // the A100 one
    EXPECT_EQ(both->timeline.back().replicas[0], 1) << scaler;
    EXPECT_TRUE(both->per_service[0].long_prompts_in_time) << scaler;
    EXPECT_FALSE(warns_of_long_prompts(*both)) << scaler;
    h100_rps = both->per_service[0].capacity_rps;  // the capacity is the H100's
  }
  // The long prompts share a cached prefix: the A100 gives them their first token in time (the long-prompt
  // check reads the tokens prefilled), so the capacity is the A100's, and the SLO is met.
  auto cached = run("[{accelerator: A100, gpus: 1}, {accelerator: H100, gpus: 1}]", "awan", true);
  ASSERT_TRUE(cached.ok()) << cached.status().ToString();
  EXPECT_GE(cached->summary.slo_attainment_pct, 99.0);
  EXPECT_GT(cached->per_service[0].capacity_rps, 0);
  EXPECT_LT(cached->per_service[0].capacity_rps, h100_rps);
  EXPECT_EQ(cached->per_service[0].replicas_replaced,
            0);  // the H100 it started on (the prompts' verdict) fits
  ASSERT_EQ(cached->per_service[0].gpu_hours_by_region.size(), 1u);
  EXPECT_EQ(cached->per_service[0].gpu_hours_by_region[0].first, "r");
  EXPECT_NEAR(cached->per_service[0].gpu_hours_by_region[0].second, cached->per_service[0].gpu_hours, 1e-9);
}

}  // namespace
}  // namespace awan::sim
