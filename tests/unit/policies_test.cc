#include <gtest/gtest.h>

#include <set>

#include "policies/awan/wide_reservation.h"
#include "policies/bestfit/best_fit_score.h"
#include "policies/builtin.h"
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

// The job cycle's stage policies, chosen by name from the one registry.
TEST(CyclePolicies, BuiltByNameFromTheRegistryAndUnknownNamesListTheKnownOnes) {
  const PluginRegistry& r = BuiltinRegistry();
  for (const char* a : {"cohort", "isolated"}) {
    for (const char* b : {"easy", "conservative", "none"}) {
      for (const char* p : {"cost-aware", "plain"}) {
        auto c = r.BuildCyclePolicies(CyclePolicyNames{a, b, p});
        ASSERT_TRUE(c.ok()) << c.status().ToString();
        EXPECT_EQ(c->admission->name(), a);
        EXPECT_EQ(c->backfill->name(), b);
        EXPECT_EQ(c->preemption->name(), p);
      }
    }
  }
  auto bad = r.BuildCyclePolicies(CyclePolicyNames{"cohort", "aggressive", "plain"});
  EXPECT_EQ(bad.status().code(), StatusCode::kNotFound);
  EXPECT_NE(bad.status().message().find(
                "unknown backfill policy 'aggressive' (known: conservative, easy, none, selective)"),
            std::string::npos)
      << bad.status().message();
  for (const char* o : {"fifo", "sjf", "srtf", "tiresias", "awan", "awan-km"})
    EXPECT_TRUE(r.BuildOrdering(o).ok()) << o;
  EXPECT_EQ(r.BuildOrdering("lifo").status().code(), StatusCode::kNotFound);
}

// awan-km keys a waiting job by the Kaplan-Meier estimate of its class's durations: the finished jobs and,
// censored at their run time so far, the class's runs still going. awan reads the finished ones only.
TEST(Orderings, AwanKmCountsTheClasssRunsStillGoing) {
  const PluginRegistry& r = BuiltinRegistry();
  auto awan = r.BuildOrdering("awan");
  auto km = r.BuildOrdering("awan-km");
  ASSERT_TRUE(awan.ok() && km.ok());
  EXPECT_EQ((*km)->name(), "awan-km");
  auto job = [](int64_t now, int64_t attained, bool running) {
    return QueuedJob{.submit_s = now,
                     .gpus = 1,
                     .tenant = 0,
                     .attained_gpu_s = attained,
                     .now_s = now,
                     .running = running};
  };
  for (int64_t d : {10, 20, 30}) {
    (*awan)->Finished(job(0, d, false), d);
    (*km)->Finished(job(0, d, false), d);
  }
  // No run going: the Kaplan-Meier mean is the plain mean (20), and so is the remaining time past 15 s
  // (the mean of 20 - 15 and 30 - 15).
  EXPECT_NEAR((*awan)->Key(job(100, 0, false)), 20, 1e-9);
  EXPECT_NEAR((*km)->Key(job(100, 0, false)), 20, 1e-9);
  EXPECT_NEAR((*km)->Key(job(100, 15, false)), 10, 1e-9);
  // A run of the class started at t = 0 and is still going at t = 1000: it lasts more than 1,000 s. The
  // survival steps to 3/4, 2/4 and 1/4 at 10, 20 and 30 s and stays at 1/4 up to 1,000 s, so the restricted
  // mean is 10 + 7.5 + 5 + 970 / 4 = 265 s. awan still expects 20.
  (*awan)->RunStarted(7, job(0, 0, true));
  (*km)->RunStarted(7, job(0, 0, true));
  EXPECT_DOUBLE_EQ((*km)->Key(job(1000, 0, false)), 265);
  EXPECT_DOUBLE_EQ((*awan)->Key(job(1000, 0, false)), 20);
  // Reservations and the preempt stage's running jobs read awan's estimate.
  EXPECT_DOUBLE_EQ(*(*km)->ExpectedRemainingS(job(1000, 0, false)), 20);
  EXPECT_DOUBLE_EQ((*km)->Key(job(1000, 0, true)), 20);
  // A clone follows the same runs; once the run ends it no longer counts.
  std::unique_ptr<QueueOrder> copy = (*km)->Clone();
  EXPECT_DOUBLE_EQ(copy->Key(job(1000, 0, false)), 265);
  (*km)->RunEnded(7);
  EXPECT_DOUBLE_EQ((*km)->Key(job(1000, 0, false)), 20);
  EXPECT_DOUBLE_EQ(copy->Key(job(1000, 0, false)), 265);
}

TEST(Orderings, AwanNeverExpectsMoreThanTheTimeLimitLeaves) {
  for (const char* name : {"awan", "awan-km"}) {
    auto o = BuiltinRegistry().BuildOrdering(name);
    ASSERT_TRUE(o.ok());
    // attained: run time in all runs so far; run: of it, in the run going now (0: waiting).
    auto job = [](int64_t attained, int64_t limit, int64_t run = 0) {
      return QueuedJob{.submit_s = 50,
                       .gpus = 2,
                       .attained_gpu_s = 2 * attained,
                       .now_s = 100,
                       .running = run > 0,
                       .time_limit_s = limit,
                       .run_s = run};
    };
    // No history yet: first come, first served, but reservations may count on the limit.
    EXPECT_DOUBLE_EQ((*o)->Key(job(0, 600)), 50) << name;
    EXPECT_DOUBLE_EQ(*(*o)->ExpectedRemainingS(job(0, 600)), 600) << name;
    EXPECT_FALSE((*o)->ExpectedRemainingS(job(0, 0)).has_value()) << name;
    for (int64_t d : {7200, 7200, 7200}) (*o)->Finished(job(0, 0), d);
    // The class runs 2 h; a job limited to 10 min is keyed by what its limit leaves of its run (600 s, then
    // 200 s 400 s into a run, at least 1 s), one with no limit or a longer one by the class. The limit holds
    // per run: waiting again after 400 s of an earlier run, it may run 600 s.
    EXPECT_DOUBLE_EQ((*o)->Key(job(0, 600)), 600) << name;
    EXPECT_DOUBLE_EQ((*o)->Key(job(400, 600, 400)), 200) << name;
    EXPECT_DOUBLE_EQ((*o)->Key(job(900, 600, 900)), 1) << name;
    EXPECT_DOUBLE_EQ((*o)->Key(job(400, 600)), 600) << name;
    EXPECT_DOUBLE_EQ((*o)->Key(job(0, 0)), 7200) << name;
    EXPECT_DOUBLE_EQ((*o)->Key(job(0, 86400)), 7200) << name;
    EXPECT_DOUBLE_EQ(*(*o)->ExpectedRemainingS(job(0, 600)), 600) << name;
    EXPECT_DOUBLE_EQ(*(*o)->ExpectedRemainingS(job(0, 86400)), 7200) << name;
  }
}

TEST(CyclePolicies, AdmissionBackfillAndPreemptionDecideAsDocumented) {
  const PluginRegistry& r = BuiltinRegistry();
  auto cohort = r.BuildCyclePolicies(CyclePolicyNames{"cohort", "easy", "cost-aware"});
  auto isolated =
      r.BuildCyclePolicies(CyclePolicyNames{"isolated", "conservative", "plain", "drf", "nearest"});
  ASSERT_TRUE(cohort.ok() && isolated.ok());
  // Two tenants of one cohort with 8 GPUs each; a uses 8, b none: a may borrow b's idle 8, not 9.
  std::vector<TenantSpec> tenants(2);
  tenants[0].guaranteed_gpus = tenants[1].guaranteed_gpus = 8;
  const std::vector<int> cohort_of = {0, 0};
  const std::vector<int64_t> used = {8, 0};
  const QuotaState q{tenants, cohort_of, used};
  EXPECT_TRUE(cohort->admission->Admit(q, 0, 8));
  EXPECT_FALSE(cohort->admission->Admit(q, 0, 9));
  EXPECT_FALSE(isolated->admission->Admit(q, 0, 1));
  EXPECT_TRUE(isolated->admission->Admit(q, 1, 8));
  EXPECT_TRUE(cohort->admission->lends());
  EXPECT_FALSE(isolated->admission->lends());
  // EASY: one reservation per set of regions; conservative: every blocked job.
  std::vector<Reservation> held(1);
  held[0].regions = {1, 2};
  const std::vector<uint32_t> same = {1, 2}, other = {1};
  EXPECT_FALSE(cohort->backfill->Reserves({same, 0, 100.0}, held));
  EXPECT_TRUE(cohort->backfill->Reserves({other, 0, 100.0}, held));
  EXPECT_TRUE(isolated->backfill->Reserves({same, 0, 100.0}, held));
  // Selective: EASY for a job once it waited as long as it is expected to run (at once without an estimate).
  auto selective = r.BuildCyclePolicies(CyclePolicyNames{"cohort", "selective", "plain"});
  ASSERT_TRUE(selective.ok());
  EXPECT_FALSE(selective->backfill->Reserves({other, 99, 100.0}, held));
  EXPECT_TRUE(selective->backfill->Reserves({other, 100, 100.0}, held));
  EXPECT_TRUE(selective->backfill->Reserves({other, 0, std::nullopt}, held));
  EXPECT_FALSE(selective->backfill->Reserves({same, 100, 100.0}, held));
  EXPECT_FALSE(r.BuildCyclePolicies(CyclePolicyNames{"cohort", "none", "plain"})->backfill->reserves());
  // Fair share: with history (decayed) or now only; region objectives: weighted, cheapest, nearest.
  const TenantUsage u{0.25, 0.5 * 86400, 86400, 2.0};
  EXPECT_DOUBLE_EQ(cohort->fair_share->Share(u), (0.5 + 0.25) / 2.0);
  EXPECT_DOUBLE_EQ(isolated->fair_share->Share(u), 0.25 / 2.0);
  // USD per GPU-hour, ms; weights 1 and 0.02: near 4 + 0.1, middle 3 + 0.4, far 2 + 4.
  const RegionOffer near{4.0, 5.0, 1.0, 0.02}, middle{3.0, 20.0, 1.0, 0.02}, far{2.0, 200.0, 1.0, 0.02};
  auto best = [](const RegionObjective& o, std::vector<RegionOffer> offers) {
    size_t b = 0;
    for (size_t k = 1; k < offers.size(); ++k) b = o.Score(offers[k]) < o.Score(offers[b]) ? k : b;
    return b;
  };
  auto cheapest = r.BuildCyclePolicies(CyclePolicyNames{"cohort", "easy", "plain", "drf", "cheapest"});
  ASSERT_TRUE(cheapest.ok());
  EXPECT_EQ(best(*cohort->region, {near, middle, far}), 1u);    // price-latency
  EXPECT_EQ(best(*isolated->region, {near, middle, far}), 0u);  // nearest
  EXPECT_EQ(best(*cheapest->region, {near, middle, far}), 2u);  // cheapest
  // Cost-aware preemption: only after the waiter waited its expected run; never a gang nor a larger job; only
  // when the victim's key exceeds the waiter's by the stop's cost. Plain: whenever the victim goes after.
  const PreemptionPolicy& ca = *cohort->preemption;
  const PreemptionPolicy& plain = *isolated->preemption;
  EXPECT_FALSE(ca.MayOvertake(600.0, 599));
  EXPECT_TRUE(ca.MayOvertake(600.0, 600));
  EXPECT_TRUE(ca.MayOvertake(std::nullopt, 0));
  EXPECT_TRUE(plain.MayOvertake(600.0, 0));
  OvertakeCase c;
  c.waiter_key = {0, 100.0};
  c.victim_key = {0, 1000.0};
  c.waiter_gpus = c.victim_gpus = 4;
  c.victim_lost_gpu_s = 4 * 500.0;  // 500 s per GPU
  c.restart_s = 60;
  EXPECT_TRUE(ca.Overtakes(c));  // 1000 > 100 + 500 + 60
  c.victim_key.key = 600;
  EXPECT_FALSE(ca.Overtakes(c));  // 600 < 660: the stop costs more than the order gains
  EXPECT_TRUE(plain.Overtakes(c));
  c.victim_key.key = 1000;
  c.victim_tasks = 2;
  EXPECT_FALSE(ca.Overtakes(c));  // a gang
  c.victim_tasks = 1;
  c.victim_gpus = 8;
  EXPECT_FALSE(ca.Overtakes(c));  // larger than the waiter
  c.victim_key = {-1, 5000.0};    // a higher tenant priority never goes after
  EXPECT_FALSE(plain.Overtakes(c));
}

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
  EXPECT_EQ(p.Score(Pod("one", 1, 1, 1, 1000, f), s, four), 29);     // idle node: 33 - 4
  EXPECT_EQ(p.Score(Pod("one", 1, 1, 1, 1000, f), s, eight), 25);    // idle node: 33 - 8
  EXPECT_EQ(p.Score(Pod("two", 1, 1, 2, 1000, f), s, used), 48);     // two free devices on a used node
  EXPECT_EQ(p.Score(Pod("share", 1, 1, 1, 300, f), s, shared), 93);  // 100 - 700/100
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
  EXPECT_EQ(BestFitScore().Score(pod, s, n), 70);     // int((1 - 0.296875) * 100)
  EXPECT_EQ(DotProductScore().Score(pod, s, n), 97);  // int(100 * (1 - 0.046875 / 2))
  EXPECT_EQ(BestFitScore().normalization(), Normalization::kMinMax);
}

TEST(K8s, LeastAllocatedAndBalancedAllocation) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 8000, 8000, 2);
  ClusterSnapshot s(f);
  PodSpec pod = Pod("p", 2000, 4000, 0, 0, f);
  EXPECT_EQ(LeastAllocatedScore().Score(pod, s, n), 62);      // (75 + 50) / 2
  EXPECT_EQ(BalancedAllocationScore().Score(pod, s, n), 75);  // 1 - |0.25 - 0.5|
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

// Three idle 8-GPU, 96-core nodes; a pod list whose GPU demand is half 8-GPU, 64-core pods: the wide pods
// expected to come are idle GPU x 0.5 / 8,000 milli (1.5 hosts' worth at first).
struct WideWorld {
  Fleet fleet;
  std::vector<PodSpec> list;
  std::vector<NodeIndex> nodes;
  WideWorld() {
    for (int i = 0; i < 3; ++i)
      nodes.push_back(AddNode(fleet, "n" + std::to_string(i), 96000, 512000, 8, "A100"));
    for (int i = 0; i < 2; ++i) list.push_back(Pod("wide" + std::to_string(i), 64000, 1024, 8, 1000, fleet));
    for (int i = 0; i < 16; ++i) list.push_back(Pod("one" + std::to_string(i), 4000, 1024, 1, 1000, fleet));
  }
  std::vector<int64_t> Scores(WideReservation& w, const PodSpec& pod, const ClusterSnapshot& snap) const {
    Rng rng(1);
    w.PreScore(pod, snap, nodes, rng);
    std::vector<int64_t> out;
    for (NodeIndex n : nodes) out.push_back(w.Score(pod, snap, n));
    return out;
  }
};

Placement OneGpu(NodeIndex node, int device) {
  Placement p;
  p.node = node;
  p.devices.Add(device);
  return p;
}

TEST(WideReservation, KeepsTheLastHostsOfTheWidePodsToCome) {
  WideWorld w;
  WideReservation wr(w.list);
  ASSERT_EQ(wr.shapes().size(), 1u);
  ClusterSnapshot snap(w.fleet);
  const PodSpec one = Pod("x", 4000, 1024, 1, 1000, w.fleet);
  const PodSpec wide = Pod("y", 64000, 1024, 8, 1000, w.fleet);
  // Three hosts, 1.5 expected: plenty; then two hosts, 1.44 expected: still enough.
  EXPECT_EQ(w.Scores(wr, one, snap), (std::vector<int64_t>{100, 100, 100}));
  ASSERT_TRUE(snap.Assign(one, OneGpu(w.nodes[0], 0)).ok());
  EXPECT_EQ(w.Scores(wr, one, snap), (std::vector<int64_t>{100, 100, 100}));
  EXPECT_FALSE(wr.scarce(0));
  // One host left, 1.375 expected: scarce. A 1-GPU pod may not take n2 while n0 and n1 hold it.
  ASSERT_TRUE(snap.Assign(one, OneGpu(w.nodes[1], 0)).ok());
  EXPECT_EQ(w.Scores(wr, one, snap), (std::vector<int64_t>{100, 100, 0}));
  EXPECT_TRUE(wr.scarce(0));
  EXPECT_EQ(wr.hosts(0), 1);
  // A wide pod of the shape itself is what the host is kept for.
  EXPECT_EQ(w.Scores(wr, wide, snap), (std::vector<int64_t>{100, 100, 100}));
  // CPU-only pods: 40 cores would leave n2 56 (< 64), 8 cores leave it 88.
  EXPECT_EQ(w.Scores(wr, Pod("c", 40000, 1024, 0, 0, w.fleet), snap), (std::vector<int64_t>{100, 100, 0}));
  EXPECT_EQ(w.Scores(wr, Pod("c", 8000, 1024, 0, 0, w.fleet), snap), (std::vector<int64_t>{100, 100, 100}));
  // A share pod on a node with no partly used device would open a free one: it breaks the host too.
  EXPECT_EQ(w.Scores(wr, Pod("s", 1000, 1024, 1, 500, w.fleet), snap), (std::vector<int64_t>{100, 100, 0}));
  // A node that goes down stops being a host (and its idle GPU stops counting).
  snap.SetUnavailable(w.nodes[2], true);
  w.Scores(wr, one, snap);
  EXPECT_EQ(wr.hosts(0), 0);
}

TEST(WideReservation, NoWidePodsNoReservationAndModelsCount) {
  WideWorld w;
  std::vector<PodSpec> narrow(w.list.begin() + 2, w.list.end());
  WideReservation none(narrow);
  EXPECT_TRUE(none.shapes().empty());
  ClusterSnapshot snap(w.fleet);
  const PodSpec one = Pod("x", 4000, 1024, 1, 1000, w.fleet);
  ASSERT_TRUE(snap.Assign(one, OneGpu(w.nodes[0], 0)).ok());
  ASSERT_TRUE(snap.Assign(one, OneGpu(w.nodes[1], 0)).ok());
  EXPECT_EQ(w.Scores(none, one, snap), (std::vector<int64_t>{100, 100, 100}));
  // Wide pods pinned to T4: this A100 fleet hosts none of them, so there is nothing to keep.
  std::vector<PodSpec> pinned = narrow;
  pinned.push_back(Pod("t4", 64000, 1024, 8, 1000, w.fleet, "T4"));
  WideReservation t4(pinned);
  EXPECT_EQ(w.Scores(t4, one, snap), (std::vector<int64_t>{100, 100, 100}));
  EXPECT_EQ(t4.hosts(0), 0);
}

}  // namespace
}  // namespace awan::policies
