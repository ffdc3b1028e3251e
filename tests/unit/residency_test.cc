// Residency by construction: the data catalog (classes, places, inheritance), the scheduler confining every
// placement to allowed regions (start, burst, requeue after a node failure, preemption), cost, the audit log
// and its verifier, and explanations whose counterfactuals are checked by applying them.
#include "core/residency.h"

#include <gtest/gtest.h>

#include <set>

#include "audit/audit_log.h"
#include "config/fleet_file.h"
#include "config/workload_file.h"
#include "core/explain.h"
#include "sim/jobs_sim.h"

namespace awan::sim {
namespace {

// Malaysia (two 8-GPU nodes, $3), a Malaysian edge site (one 4-GPU node, $1), Singapore (two 8-GPU nodes,
// $3.5) and Thailand (one 8-GPU node, $2).
const char* kFleet = R"(
name: tiny-asean
node_types:
  g8: {accelerator: H100, gpus: 8, cpu: 96, memory_gib: 1024, price_per_gpu_hour: 3}
  e4: {accelerator: L40S, gpus: 4, cpu: 32, memory_gib: 256, price_per_gpu_hour: 1}
regions:
  - name: my
    jurisdiction: MY
    latency_ms: {sg: 9, th: 28, edge: 8}
    zones: [{name: my-a, layout: {type: g8, nodes: 2, nodes_per_supernode: 2}}]
  - name: edge
    jurisdiction: MY
    edge: true
    zones: [{name: pg, layout: {type: e4, nodes: 1}}]
  - name: sg
    jurisdiction: SG
    prices: {H100: 3.5}
    zones: [{name: sg-a, layout: {type: g8, nodes: 2, nodes_per_supernode: 2}}]
  - name: th
    jurisdiction: TH
    prices: {H100: 2}
    zones: [{name: th-a, layout: {type: g8, nodes: 1}}]
user_locations:
  - {name: kl, latency_ms: {my: 2, sg: 9, th: 28, edge: 8}}
tenants:
  - {name: health, guaranteed_gpus: 24, cohort: c, lending_limit_gpus: 0, data: {classification: restricted, jurisdictions: [MY]}}
  - {name: startup, guaranteed_gpus: 8, cohort: c, data: {classification: public}}
  - {name: lender, guaranteed_gpus: 16, cohort: c, lending_limit_gpus: 0}
)";

std::unique_ptr<config::FleetFile> TinyFleet() {
  auto f = config::ParseFleetFile(kFleet, "tiny.yaml");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(*f);
}

struct Loaded {
  config::WorkloadFile w;
  std::map<std::string, TenantSpec> tenants;
  DataCatalog catalog;
};

Loaded Load(const config::FleetFile& f, const std::string& yaml) {
  auto w = config::ParseWorkloadFile(yaml, "w.yaml", f.fleet);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  std::map<std::string, TenantSpec> tenants;
  for (const TenantSpec& t : f.tenants) tenants[t.name] = t;
  auto c = DataCatalog::Build(f.fleet, w->datasets, w->jobs, tenants);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return Loaded{std::move(*w), std::move(tenants), std::move(*c)};
}

// The jobs simulation of `l` under `policy`, run to `until_s` (nullptr after a test failure).
std::unique_ptr<JobsSimulation> SimulateUntil(const config::FleetFile& f, Loaded& l,
                                              const std::string& policy, int64_t until_s) {
  JobsSimOptions o;
  o.policy = policy;
  o.catalog = &l.catalog;
  auto sim = JobsSimulation::Create(f, l.w.jobs, o);
  EXPECT_TRUE(sim.ok()) << sim.status().ToString();
  if (!sim.ok()) return nullptr;
  const Status run = (*sim)->RunUntil(until_s);
  EXPECT_TRUE(run.ok()) << run.ToString();
  return run.ok() ? std::move(*sim) : nullptr;
}

// Replaces `from` with `to` in `text`, parses it with `parse`, and expects an error that contains `expect`
// and names `source` with a line and column.
template <typename Parse>
void ExpectParseError(const std::string& text, const std::string& from, const std::string& to,
                      const std::string& expect, const std::string& source, Parse parse) {
  std::string t = text;
  const size_t at = t.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  t.replace(at, from.size(), to);
  auto r = parse(t);
  ASSERT_FALSE(r.ok()) << to;
  EXPECT_NE(r.status().message().find(expect), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find(source + ":"), std::string::npos) << r.status().message();
}

uint32_t Region(const awan::Fleet& fleet, const std::string& name) {
  for (uint32_t r = 0; r < fleet.region_count(); ++r)
    if (fleet.topology().DomainName(TopologyLevel::kRegion, DomainId(r)) == name) return r;
  ADD_FAILURE() << "no region " << name;
  return 0;
}

// Runs the simulation, recording the region of every run's first task, per job name (in start order).
struct SimRun {
  JobsSimResult result;
  std::map<std::string, std::vector<std::string>> regions;
};

SimRun Simulate(const config::FleetFile& f, const Loaded& l, JobsSimOptions o) {
  SimRun out;
  o.catalog = &l.catalog;
  o.on_start = [&](const RunStarted& r, const JobSpec& j, const JobResidency&) {
    out.regions[j.name].push_back(
        f.fleet.topology().DomainName(TopologyLevel::kRegion, f.fleet.region_of(r.tasks[0].node)));
    return Status::Ok();
  };
  auto r = RunJobsSim(f, l.w.jobs, o);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  out.result = std::move(*r);
  return out;
}

TEST(Residency, FleetFileRegionsPricesLatencyAndErrors) {
  auto f = TinyFleet();
  const awan::Fleet& fleet = f->fleet;
  EXPECT_EQ(fleet.region_count(), 4u);
  EXPECT_EQ(fleet.region(DomainId(Region(fleet, "sg"))).jurisdiction, "SG");
  EXPECT_TRUE(fleet.region(DomainId(Region(fleet, "edge"))).edge);
  EXPECT_DOUBLE_EQ(fleet.latency_ms(DomainId(Region(fleet, "sg")), DomainId(Region(fleet, "my"))), 9);
  EXPECT_DOUBLE_EQ(fleet.user_latency_ms("kl", DomainId(Region(fleet, "th"))), 28);
  NodeIndex n;
  ASSERT_TRUE(fleet.FindNode("sg-a-b0-s0-0", &n));
  EXPECT_DOUBLE_EQ(fleet.node(n).price_per_gpu_hour, 3.5);  // the region's price overrides the node type's
  ASSERT_TRUE(fleet.FindNode("my-a-b0-s0-0", &n));
  EXPECT_DOUBLE_EQ(fleet.node(n).price_per_gpu_hour, 3);
  const std::string base = kFleet;
  auto bad = [&](const std::string& from, const std::string& to, const std::string& expect) {
    ExpectParseError(base, from, to, expect, "tiny.yaml",
                     [](const std::string& t) { return config::ParseFleetFile(t, "tiny.yaml"); });
  };
  bad("jurisdiction: SG", "jurisdiction: Singapore", "two-letter country code");
  bad("latency_ms: {sg: 9", "latency_ms: {sgp: 9", "unknown region 'sgp'");
  bad("prices: {H100: 2}", "prices: {B200: 2}", "no node type has accelerator 'B200'");
  bad("edge: true", "edge: maybe", "expected true or false");
  bad("data: {classification: restricted, jurisdictions: [MY]}", "data: {classification: restricted}",
      "must list the jurisdictions or regions");
  bad("data: {classification: public}", "data: {classification: secret}",
      "expected public, internal, confidential or restricted");
  bad("{name: kl, latency_ms: {my: 2", "{name: kl, latency_ms: {mars: 2", "unknown region 'mars'");
}

TEST(Residency, CatalogClassesPlacesAndInheritanceToAFixedPoint) {
  auto f = TinyFleet();
  const awan::Fleet& fleet = f->fleet;
  // records (restricted MY) -> train writes ckpt1 -> tune reads ckpt1 and corpus, writes ckpt2 -> serve reads
  // ckpt2. The startup's job writes out-a from public data only. The chain is listed backwards, so it takes
  // more than one pass to settle.
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY], home: my}
  - {name: corpus, classification: public}
  - {name: sg-bank, classification: confidential, regions: [sg]}
jobs:
  - {name: serve, tenant: startup, submit_s: 30, duration_s: 10, gpus: 0.5, reads: [ckpt2]}
  - {name: tune, tenant: startup, submit_s: 20, duration_s: 10, gpus: 1, reads: [ckpt1, corpus], writes: [ckpt2]}
  - {name: train, tenant: health, submit_s: 10, duration_s: 10, gpus: 8, reads: [records], writes: [ckpt1]}
  - {name: free, tenant: startup, submit_s: 0, duration_s: 10, gpus: 1, reads: [corpus], writes: [out-a]}
  - {name: bank, tenant: startup, submit_s: 0, duration_s: 10, gpus: 1, reads: [sg-bank, records]}
  - {name: plain, tenant: health, submit_s: 0, duration_s: 10, gpus: 1}
)");
  const DataCatalog& c = l.catalog;
  ASSERT_NE(c.Find("ckpt2"), nullptr);
  EXPECT_EQ(c.Find("ckpt1")->cls, DataClass::kRestricted);  // health's default, and inherited from records
  EXPECT_EQ(c.Find("ckpt2")->cls, DataClass::kRestricted);  // startup's default is public; inherited
  EXPECT_EQ(c.Find("out-a")->cls, DataClass::kPublic);
  EXPECT_EQ(c.Find("ckpt2")->inherited, (std::vector<std::string>{"ckpt1"}));
  auto job = [&](const std::string& name) {
    for (const JobSpec& j : l.w.jobs)
      if (j.name == name) return *c.ForJob(j, l.tenants.at(j.tenant));
    ADD_FAILURE() << name;
    return JobResidency{};
  };
  const uint32_t my = Region(fleet, "my"), edge = Region(fleet, "edge"), sg = Region(fleet, "sg"),
                 th = Region(fleet, "th");
  const JobResidency serve = job("serve");
  EXPECT_TRUE(serve.Allows(DomainId(my)));
  EXPECT_FALSE(serve.Allows(DomainId(edge)));  // restricted data never at the edge
  EXPECT_FALSE(serve.Allows(DomainId(sg)));
  EXPECT_FALSE(serve.Allows(DomainId(th)));
  EXPECT_EQ(serve.strictest, DataClass::kRestricted);
  const JobResidency free = job("free");
  EXPECT_TRUE(free.unrestricted());
  EXPECT_TRUE(free.binding.empty());
  const JobResidency bank = job("bank");  // SG only and MY only: nowhere
  for (uint32_t r = 0; r < fleet.region_count(); ++r) EXPECT_FALSE(bank.Allows(DomainId(r)));
  const JobResidency plain = job("plain");  // no data named: the tenant's default
  EXPECT_TRUE(plain.Allows(DomainId(my)));
  EXPECT_FALSE(plain.Allows(DomainId(sg)));
  ASSERT_EQ(plain.binding.size(), 1u);
  EXPECT_EQ(plain.binding[0].data, "tenant:health");
  EXPECT_EQ(job("train").data_homes, (std::vector<uint32_t>{my}));
  // Errors: a bound item without places, an unknown region, a duplicate.
  std::map<std::string, TenantSpec> tenants = l.tenants;
  EXPECT_FALSE(
      DataCatalog::Build(fleet, {DataSpec{"x", DataClass::kConfidential, {}, ""}}, {}, tenants).ok());
  EXPECT_FALSE(DataCatalog::Build(
                   fleet, {DataSpec{"x", DataClass::kConfidential, PlaceList{{}, {"mars"}}, ""}}, {}, tenants)
                   .ok());
  EXPECT_FALSE(DataCatalog::Build(
                   fleet,
                   {DataSpec{"x", DataClass::kPublic, {}, ""}, DataSpec{"x", DataClass::kPublic, {}, ""}}, {},
                   tenants)
                   .ok());
}

// Malaysia is full with restricted work: a public job bursts abroad (to the cheapest region with room), a
// restricted one waits for Malaysia although Singapore and Thailand are idle, and its wait is "residency".
TEST(Residency, PublicWorkBurstsAbroadRestrictedWorkWaitsAtHome) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
  - {name: corpus, classification: public}
jobs:
  - {name: fill, tenant: health, submit_s: 0, duration_s: 1000, tasks: 2, gpus: 8, reads: [records]}
  - {name: public, tenant: startup, submit_s: 10, duration_s: 100, gpus: 8, reads: [corpus], user: kl}
  - {name: restricted, tenant: health, submit_s: 10, duration_s: 100, gpus: 8, reads: [records]}
)");
  JobsSimOptions o;
  o.policy = "fifo";
  SimRun r = Simulate(*f, l, o);
  EXPECT_EQ(r.result.summary.residency_violations, 0);
  EXPECT_EQ(r.regions["fill"], (std::vector<std::string>{"my"}));
  EXPECT_EQ(r.regions["public"],
            (std::vector<std::string>{"th"}));  // $2 + 28 ms x 0.02 beats $3.5 + 9 ms x 0.02
  EXPECT_EQ(r.regions["restricted"], (std::vector<std::string>{"my"}));
  const JobOutcome& restricted = r.result.jobs[2];
  EXPECT_EQ(restricted.start_s, 1000);
  EXPECT_EQ(restricted.waited_s[static_cast<size_t>(WaitReason::kResidency)], 990);
  // With latency weighing more, the public job goes to Singapore instead.
  o.scheduler.region_latency_weight = 0.1;
  EXPECT_EQ(Simulate(*f, l, o).regions["public"], (std::vector<std::string>{"sg"}));
  // The baseline ignores the rules: the restricted job runs abroad at once, and it is counted.
  o.policy = "cheapest-unaware";
  SimRun base = Simulate(*f, l, o);
  ASSERT_EQ(base.regions["restricted"].size(), 1u);
  EXPECT_NE(base.regions["restricted"][0], "my");  // abroad at once (Thailand is taken by the public job)
  EXPECT_EQ(base.result.jobs[2].start_s, 10);
  EXPECT_GT(base.result.summary.residency_violations, 0);
}

// A node failure requeues the job; it restarts in Malaysia even though other regions are idle, and it
// waits (for residency) while Malaysia has no room.
TEST(Residency, RequeueAfterNodeFailureStaysInAllowedRegions) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets: [{name: records, classification: restricted, jurisdictions: [MY]}]
jobs:
  - {name: a, tenant: health, submit_s: 0, duration_s: 5000, gpus: 8, reads: [records]}
  - {name: b, tenant: health, submit_s: 0, duration_s: 500, gpus: 8, reads: [records]}
)");
  NodeIndex n0, n1;
  ASSERT_TRUE(f->fleet.FindNode("my-a-b0-s0-0", &n0));
  ASSERT_TRUE(f->fleet.FindNode("my-a-b0-s0-1", &n1));
  JobsSimOptions o;
  o.policy = "fifo";
  // Both Malaysian nodes are taken; one fails at t=100 and comes back at t=3000.
  o.node_events = {
      {100, n0.value, true}, {100, n1.value, true}, {3000, n0.value, false}, {3000, n1.value, false}};
  SimRun r = Simulate(*f, l, o);
  EXPECT_EQ(r.result.summary.failure_requeues, 2);
  EXPECT_EQ(r.regions["a"], (std::vector<std::string>{"my", "my"}));
  EXPECT_EQ(r.regions["b"], (std::vector<std::string>{"my", "my"}));
  EXPECT_EQ(r.result.jobs[0].start_s, 0);
  EXPECT_GE(r.result.jobs[1].end_s, 3000);
  EXPECT_EQ(r.result.summary.residency_violations, 0);
}

// Preemption frees room only where the waiting job may run: the restricted job's tenant reclaims its
// guarantee from a borrower in Malaysia, not from the borrowers abroad.
TEST(Residency, PreemptionPicksVictimsInsideTheAllowedRegions) {
  std::string text = kFleet;
  for (const char* limit : {" lending_limit_gpus: 0,", " lending_limit_gpus: 0}"}) {
    const size_t at = text.find(limit);
    ASSERT_NE(at, std::string::npos);
    text.replace(at, std::string(limit).size(), std::string(limit).back() == '}' ? "}" : "");
  }
  auto parsed = config::ParseFleetFile(text, "lend.yaml");
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  const config::FleetFile& f = **parsed;
  Loaded l = Load(f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
  - {name: corpus, classification: public}
jobs:
  - {name: b-my, tenant: startup, submit_s: 0, duration_s: 20000, tasks: 2, gpus: 8, reads: [corpus]}
  - {name: b-sg, tenant: startup, submit_s: 1, duration_s: 20000, tasks: 2, gpus: 8, reads: [corpus]}
  - {name: b-th, tenant: startup, submit_s: 2, duration_s: 20000, gpus: 8, reads: [corpus]}
  - {name: owner, tenant: health, submit_s: 4000, duration_s: 100, tasks: 2, gpus: 8, reads: [records]}
)");
  JobsSimOptions o;
  o.policy = "fifo";
  o.scheduler.region_latency_weight = 0;
  SimRun r = Simulate(f, l, o);
  EXPECT_EQ(r.result.summary.residency_violations, 0);
  ASSERT_EQ(r.regions["b-my"].size(), 2u);
  EXPECT_EQ(r.regions["b-my"][0], "my");
  EXPECT_EQ(r.regions["b-sg"], (std::vector<std::string>{"sg"}));
  EXPECT_EQ(r.regions["b-th"], (std::vector<std::string>{"th"}));
  EXPECT_EQ(r.regions["owner"], (std::vector<std::string>{"my"}));
  EXPECT_EQ(r.result.jobs[3].start_s, 4000);  // it did not wait for the borrowers to end
  EXPECT_EQ(r.result.jobs[0].preemptions, 1);
  EXPECT_EQ(r.result.jobs[1].preemptions, 0);
  EXPECT_EQ(r.result.jobs[2].preemptions, 0);
}

// Relocation: the restricted job may run only in Malaysia, which a job that may run anywhere fills while
// Singapore is idle. Once the running job saved its first checkpoint (1,800 s) and the waiting one has
// waited longer than the stop costs (its work since that checkpoint and a 60-s restart), the running job is
// stopped, starts again in Singapore, and the restricted job takes Malaysia. Off, it waits for the end.
TEST(Residency, AJobThatMayRunElsewhereMakesRoomForOneThatMayNot) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
jobs:
  - {name: wide, tenant: lender, submit_s: 0, duration_s: 20000, tasks: 2, gpus: 8}
  - {name: bound, tenant: health, submit_s: 10, duration_s: 100, gpus: 8, reads: [records]}
)");
  JobsSimOptions o;
  o.policy = "fifo";
  SimRun on = Simulate(*f, l, o);
  EXPECT_EQ(on.result.summary.residency_violations, 0);
  ASSERT_EQ(on.regions["wide"].size(), 2u);
  EXPECT_EQ(on.regions["wide"][0], "my");  // Thailand holds one task only: Malaysia is the cheapest
  EXPECT_EQ(on.regions["wide"][1], "sg");  // at once, where there was room
  EXPECT_EQ(on.regions["bound"], (std::vector<std::string>{"my"}));
  EXPECT_EQ(on.result.jobs[0].preemptions, 1);
  const int64_t start = on.result.jobs[1].start_s;
  EXPECT_GE(start, 1800);        // not before the running job's first checkpoint
  EXPECT_LE(start, 1800 + 300);  // at the first preempt pass after it (every 300 s)
  EXPECT_GT(on.result.jobs[1].waited_s[static_cast<size_t>(WaitReason::kResidency)], 0);
  // The relocated job lost its work since the checkpoint and paid a restart: it ends later than 20,000, by
  // no more than the restart and a preempt pass's 300 s.
  EXPECT_GT(on.result.jobs[0].end_s, 20000);
  EXPECT_LE(on.result.jobs[0].end_s, 20000 + 60 + 300);
  o.scheduler.relocate = false;
  SimRun off = Simulate(*f, l, o);
  EXPECT_EQ(off.result.jobs[0].preemptions, 0);
  EXPECT_EQ(off.result.jobs[1].start_s, 20000);
  // A job that may not run elsewhere either is never stopped for it: the restricted job waits for the end.
  Loaded both = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
jobs:
  - {name: wide, tenant: health, submit_s: 0, duration_s: 20000, tasks: 2, gpus: 8, reads: [records]}
  - {name: bound, tenant: health, submit_s: 10, duration_s: 100, gpus: 8, reads: [records]}
)");
  o.scheduler.relocate = true;
  SimRun stays = Simulate(*f, both, o);
  EXPECT_EQ(stays.result.jobs[0].preemptions, 0);
  EXPECT_EQ(stays.result.jobs[1].start_s, 20000);
}

// A job that may run anywhere tries last the regions where jobs allowed in fewer regions wait: the public job
// goes to Singapore, not to the cheaper Malaysian node the restricted gang waits for, which then starts as
// soon as the health job before it ends. Off (and without relocation), the public job takes Malaysia and
// the gang waits for it too. No reservations, so that only the region order differs.
TEST(Residency, AJobThatMayRunAnywhereLeavesTheRegionsBoundJobsWaitFor) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
jobs:
  - {name: th-fill, tenant: lender, submit_s: 0, duration_s: 9000, gpus: 8}
  - {name: fill, tenant: health, submit_s: 0, duration_s: 1000, gpus: 8, reads: [records]}
  - {name: gang, tenant: health, submit_s: 10, duration_s: 100, tasks: 2, gpus: 8, reads: [records]}
  - {name: public, tenant: lender, submit_s: 20, duration_s: 5000, gpus: 8}
)");
  JobsSimOptions o;
  o.policy = "fifo";
  o.scheduler.policies.backfill = "none";
  o.scheduler.region_latency_weight = 0;
  SimRun on = Simulate(*f, l, o);
  EXPECT_EQ(on.regions["th-fill"], (std::vector<std::string>{"th"}));
  EXPECT_EQ(on.regions["public"], (std::vector<std::string>{"sg"}));
  EXPECT_EQ(on.regions["gang"], (std::vector<std::string>{"my"}));
  EXPECT_EQ(on.result.jobs[2].start_s, 1000);
  o.scheduler.bound_regions_last = false;
  o.scheduler.relocate = false;
  SimRun off = Simulate(*f, l, o);
  EXPECT_EQ(off.regions["public"], (std::vector<std::string>{"my"}));  // $3 against Singapore's $3.5
  EXPECT_EQ(off.result.jobs[2].start_s, 5020);
}

TEST(Residency, CostIsGpuHoursTimesRegionalPriceFractionsProRata) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
jobs:
  - {name: whole, tenant: health, submit_s: 0, duration_s: 3600, tasks: 2, gpus: 8}
  - {name: half, tenant: lender, submit_s: 0, duration_s: 7200, gpus: 0.5, accelerator: L40S}
)");
  JobsSimOptions o;
  o.policy = "fifo";
  SimRun r = Simulate(*f, l, o);
  EXPECT_NEAR(r.result.jobs[0].cost_usd, 16 * 3.0, 1e-9);       // 16 GPUs x 1 h x $3 in Malaysia
  EXPECT_NEAR(r.result.jobs[1].cost_usd, 0.5 * 2 * 1.0, 1e-9);  // half an L40S for 2 h at $1 (the edge site)
  EXPECT_NEAR(r.result.summary.cost_usd, 49.0, 1e-9);
  ASSERT_EQ(r.result.summary.tenants.size(), 2u);
}

const char* kAuditWorkload = R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
  - {name: corpus, classification: public}
jobs:
  - {name: r1, tenant: health, submit_s: 0, duration_s: 100, gpus: 8, reads: [records]}
  - {name: p1, tenant: startup, submit_s: 0, duration_s: 100, gpus: 8, reads: [corpus]}
  - {name: r2, tenant: health, submit_s: 5, duration_s: 100, gpus: 4, reads: [records]}
  - {name: r3, tenant: health, submit_s: 6, duration_s: 100, gpus: 8, reads: [records]}
)";

std::string AuditLog(const config::FleetFile& f, const Loaded& l, const std::string& policy) {
  audit::AuditChain chain;
  std::string text;
  JobsSimOptions o;
  o.policy = policy;
  o.catalog = &l.catalog;
  o.on_start = [&](const RunStarted& r, const JobSpec& j, const JobResidency& rules) {
    text += chain.Append(f.fleet, r.at_s, j, r.run_id, r.tasks, rules) + "\n";
    return Status::Ok();
  };
  EXPECT_TRUE(RunJobsSim(f, l.w.jobs, o).ok());
  return text;
}

TEST(Audit, VerifiesOwnLogCatchesTamperingAndViolations) {
  auto f = TinyFleet();
  Loaded l = Load(*f, kAuditWorkload);
  std::vector<TenantSpec> tenants = f->tenants;
  const std::string log = AuditLog(*f, l, "fifo");
  auto ok = audit::VerifyAuditLog(log, f->fleet, &l.catalog, &l.w.jobs, &tenants);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->entries, 4);
  EXPECT_EQ(ok->head.size(), 64u);
  std::vector<std::string> lines;
  for (size_t p = 0; p < log.size();) {
    const size_t nl = log.find('\n', p);
    lines.push_back(log.substr(p, nl - p));
    p = nl + 1;
  }
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += x + "\n";
    return s;
  };
  auto fails = [&](const std::string& text, const std::string& expect) {
    auto r = audit::VerifyAuditLog(text, f->fleet, &l.catalog, &l.w.jobs, &tenants);
    ASSERT_FALSE(r.ok()) << expect;
    EXPECT_NE(r.status().message().find(expect), std::string::npos) << r.status().message();
  };
  // An edited field (the node moved to Thailand, jurisdiction and all): the hash no longer matches.
  std::vector<std::string> edited = lines;
  const size_t at = edited[2].find("my-a-b0-s0-");
  ASSERT_NE(at, std::string::npos);
  edited[2].replace(at, 11, "th-a-b0-s0-");
  fails(join(edited), "line 3 (entry 3): hash mismatch");
  // A removed entry and swapped entries break the sequence.
  std::vector<std::string> removed = lines;
  removed.erase(removed.begin() + 1);
  fails(join(removed), "line 2 (entry 2): seq 3 where 2 was expected");
  std::vector<std::string> swapped = lines;
  std::swap(swapped[0], swapped[1]);
  fails(join(swapped), "seq 2 where 1 was expected");
  fails(join(lines) + "{not json\n", "line 5 (entry 5): not a JSON object");
  // A sequence number that is not an integer (the fuzzer's 1.44e92 was undefined behaviour to convert).
  for (const char* seq : {"1.44444e+92", "1.5", "\"1\"", "-1e300"}) {
    std::vector<std::string> odd = lines;
    const size_t s = odd[0].find("\"seq\":1");
    ASSERT_NE(s, std::string::npos) << odd[0];
    odd[0].replace(s, 7, std::string("\"seq\":") + seq);
    fails(join(odd), "line 1 (entry 1): seq ");
  }
  // A log written by the baseline, which ignores the rules: the chain is intact, the placement is not.
  const std::string bad = AuditLog(*f, l, "cheapest-unaware");
  auto v = audit::VerifyAuditLog(bad, f->fleet);
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.status().message().find("residency violation: job r"), std::string::npos)
      << v.status().message();
  EXPECT_NE(v.status().message().find("restricted and may be processed only in MY"), std::string::npos)
      << v.status().message();
  // Rules that are not the catalog's (a forged, freshly re-chained log claiming public data) are caught when
  // the workload is given.
  Loaded forged_catalog = Load(
      *f,
      std::string(kAuditWorkload).replace(std::string(kAuditWorkload).find("restricted"), 10, "public    "));
  const std::string forged = AuditLog(*f, forged_catalog, "cheapest-unaware");
  EXPECT_TRUE(audit::VerifyAuditLog(forged, f->fleet).ok());  // self-consistent
  fails(forged, "are not the catalog's");
}

// Every counterfactual `awan explain` gives is checked by applying it to a fresh clone; a made-up one fails.
TEST(Explain, CounterfactualsHoldWhenApplied) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
  - {name: corpus, classification: public}
jobs:
  - {name: fill, tenant: health, submit_s: 0, duration_s: 3000, tasks: 2, gpus: 8, reads: [records]}
  - {name: abroad, tenant: startup, submit_s: 0, duration_s: 2000, tasks: 1, gpus: 4, reads: [corpus]}
  - {name: waiter, tenant: health, submit_s: 10, duration_s: 100, gpus: 8, reads: [records]}
  - {name: big, tenant: startup, submit_s: 10, duration_s: 100, tasks: 2, gpus: 8, reads: [corpus]}
)");
  auto sim = SimulateUntil(*f, l, "fifo", 10);
  ASSERT_NE(sim, nullptr);
  CatalogInputs in{l.w.datasets, &l.w.jobs, l.tenants};
  auto ex = ExplainPending(SourceOf(*sim), in);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  std::map<std::string, std::set<std::string>> kinds;
  for (const PendingExplanation& e : *ex) {
    size_t idx = 0;
    while (l.w.jobs[idx].name != e.job) ++idx;
    EXPECT_FALSE(e.blocking.empty()) << e.job;
    for (const Counterfactual& c : e.counterfactuals) {
      kinds[e.job].insert(CounterfactualKindName(c.kind));
      auto holds = CounterfactualHolds(SourceOf(*sim), in, idx, c);
      ASSERT_TRUE(holds.ok()) << holds.status().ToString();
      EXPECT_TRUE(*holds) << e.job << ": " << c.text;
    }
  }
  // waiter: Malaysia is full; it would start now in Singapore if records were internal, or when fill ends.
  EXPECT_EQ(kinds["waiter"], (std::set<std::string>{"reclassify", "wait"}));
  // big: 16 GPUs in one zone are free nowhere (Singapore has 12 after `abroad`); 8 would start now.
  EXPECT_TRUE(kinds["big"].count("fewer_gpus")) << ::testing::PrintToString(kinds["big"]);
  for (const PendingExplanation& e : *ex) {
    if (e.job != "waiter") continue;
    EXPECT_EQ(e.reason, "residency");
    for (const Counterfactual& c : e.counterfactuals) {
      if (c.kind == CounterfactualKind::kReclassify) {
        EXPECT_EQ(c.datasets, (std::vector<std::string>{"records"}));
        EXPECT_NE(c.region, "my");
      }
      if (c.kind == CounterfactualKind::kWait) {
        EXPECT_EQ(c.start_s, 3000);
      }
    }
    // A change that does not help is reported as not holding: the check can fail.
    Counterfactual wrong;
    wrong.kind = CounterfactualKind::kReclassify;
    wrong.datasets = {"corpus"};
    EXPECT_FALSE(*CounterfactualHolds(SourceOf(*sim), in, 2, wrong));
    wrong.kind = CounterfactualKind::kWait;
    wrong.start_s = 2999;
    EXPECT_FALSE(*CounterfactualHolds(SourceOf(*sim), in, 2, wrong));
  }
}

// A waiting job stays explainable after the ordering's history changes: the awan ordering's key for a job
// depends on the jobs that finished, so the queue must be searched with the key the job joined it under.
TEST(Explain, FindsWaitingJobsAfterTheOrderingsHistoryChanged) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
jobs:
  - {name: fill, tenant: health, submit_s: 0, duration_s: 3000, tasks: 2, gpus: 8, reads: [records]}
  - {name: waiter, tenant: health, submit_s: 10, duration_s: 100, gpus: 8, reads: [records]}
  - {name: s1, tenant: startup, submit_s: 0, duration_s: 100, gpus: 1}
  - {name: s2, tenant: startup, submit_s: 0, duration_s: 150, gpus: 1}
  - {name: s3, tenant: startup, submit_s: 0, duration_s: 200, gpus: 1}
  - {name: s4, tenant: startup, submit_s: 0, duration_s: 250, gpus: 1}
)");
  auto sim = SimulateUntil(*f, l, "awan", 500);  // four jobs finished since waiter joined the queue
  ASSERT_NE(sim, nullptr);
  CatalogInputs in{l.w.datasets, &l.w.jobs, l.tenants};
  auto ex = ExplainPending(SourceOf(*sim), in, "waiter");
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  ASSERT_EQ(ex->size(), 1u);
  EXPECT_EQ((*ex)[0].reason, "residency");
}

// A job that waits for GPUs a long-running job (a service's replica) holds is told so: no reservation can
// plan on them.
TEST(Explain, SaysWhenLongRunningWorkHoldsTheGpusItNeeds) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY]}
jobs:
  - {name: replica, tenant: health, submit_s: 0, duration_s: 100000, gpus: 1, reads: [records]}
  - {name: waiter, tenant: health, submit_s: 10, duration_s: 100, tasks: 2, gpus: 8, reads: [records]}
)");
  l.w.jobs[0].task.long_running = true;
  auto sim = SimulateUntil(*f, l, "fifo", 20);
  ASSERT_NE(sim, nullptr);
  CatalogInputs in{l.w.datasets, &l.w.jobs, l.tenants};
  auto ex = ExplainPending(SourceOf(*sim), in, "waiter");
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  ASSERT_EQ(ex->size(), 1u);
  std::string all;
  for (const std::string& b : (*ex)[0].blocking) all += b + "\n";
  EXPECT_NE(all.find("long-running work (services' replicas) holds 1.0 GPUs"), std::string::npos) << all;
  EXPECT_EQ(all.find("reserved to start"), std::string::npos) << all;
}

// A quota counterfactual: the lender's lending limit keeps its idle quota from the borrower.
TEST(Explain, LendingQuotaCounterfactual) {
  auto f = TinyFleet();
  Loaded l = Load(*f, R"(
jobs:
  - {name: s1, tenant: startup, submit_s: 0, duration_s: 1000, gpus: 8}
  - {name: s2, tenant: startup, submit_s: 5, duration_s: 1000, gpus: 8}
)");
  auto sim = SimulateUntil(*f, l, "fifo", 5);
  ASSERT_NE(sim, nullptr);
  CatalogInputs in{l.w.datasets, &l.w.jobs, l.tenants};
  auto ex = ExplainPending(SourceOf(*sim), in, "s2");
  ASSERT_TRUE(ex.ok());
  ASSERT_EQ(ex->size(), 1u);
  EXPECT_EQ((*ex)[0].reason, "quota");
  bool lend = false;
  for (const Counterfactual& c : (*ex)[0].counterfactuals) {
    if (c.kind != CounterfactualKind::kLendQuota) continue;
    lend = true;
    EXPECT_TRUE(*CounterfactualHolds(SourceOf(*sim), in, 1, c)) << c.text;
  }
  EXPECT_TRUE(lend);
}

// The shipped example at its busiest instant: every waiting job (but one that fits now, room having come
// free at that instant) gets at least one counterfactual, and each one, applied to a fresh clone, lets the
// job start.
// With and without backfill reservations (with them, fewer jobs wait for room and the busiest instant
// holds other kinds of waits, so the fewer-GPUs counterfactual is checked without them).
class ExplainAsean : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Reservations, ExplainAsean, ::testing::Bool());

TEST_P(ExplainAsean, EveryCounterfactualHolds) {
  auto f = config::ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  auto l = LoadWorkload(**f, std::string(AWAN_SOURCE_DIR) + "/examples/workloads/asean-week.yaml");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  JobsSimOptions o;
  o.catalog = &l->catalog;
  if (!GetParam()) o.scheduler = LegacyStarvationOptions(o.scheduler);
  auto full = RunJobsSim(**f, l->file.jobs, o);
  ASSERT_TRUE(full.ok());
  int64_t at = 0, most = -1;
  for (const TimelineSample& t : full->timeline)
    if (t.pending > most) most = t.pending, at = t.t_s;
  auto sim = JobsSimulation::Create(**f, l->file.jobs, o);
  ASSERT_TRUE(sim.ok());
  ASSERT_TRUE((*sim)->RunUntil(at).ok());
  CatalogInputs in{l->file.datasets, &l->file.jobs, l->tenants};
  auto ex = ExplainPending(SourceOf(**sim), in);
  ASSERT_TRUE(ex.ok()) << ex.status().ToString();
  ASSERT_GE(ex->size(), 5u);
  std::set<std::string> kinds;
  size_t waiting = 0;
  for (const PendingExplanation& e : *ex) {
    size_t idx = 0;
    while (l->file.jobs[idx].name != e.job) ++idx;
    // A job that fits now (room came free at this instant, before its cycle ran) needs no counterfactual.
    if (e.reason == "none") continue;
    ++waiting;
    EXPECT_FALSE(e.counterfactuals.empty()) << e.job << " " << e.reason;
    for (const Counterfactual& c : e.counterfactuals) {
      kinds.insert(CounterfactualKindName(c.kind));
      auto holds = CounterfactualHolds(SourceOf(**sim), in, idx, c);
      ASSERT_TRUE(holds.ok()) << holds.status().ToString();
      EXPECT_TRUE(*holds) << e.job << ": " << c.text;
    }
  }
  EXPECT_GE(waiting, 5u);
  EXPECT_TRUE(kinds.count("wait"));
  if (!GetParam()) {
    EXPECT_TRUE(kinds.count("fewer_gpus"));
  }
}

TEST(WorkloadFile, RoundTripsAndRejectsBadInput) {
  auto f = TinyFleet();
  const std::string text = R"(
name: w
datasets:
  - {name: records, classification: restricted, jurisdictions: [MY], home: my}
  - {name: bank, classification: confidential, regions: [sg]}
jobs:
  - {name: b, tenant: health, submit_s: 9, duration_s: 100, tasks: 2, gpus: 8, accelerator: H100, topology: supernode, reads: [records], writes: [ck], time_limit_s: 80}
  - {name: a, tenant: startup, submit_s: 1, duration_s: 50, gpus: 0.25, cpu: 2, memory_gib: 8, user: kl, time_limit_s: 3600}
)";
  auto w = config::ParseWorkloadFile(text, "w.yaml", f->fleet);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->jobs[0].name, "a");  // sorted by submit time
  EXPECT_EQ(w->jobs[0].task.gpu_milli.value, 250);
  EXPECT_EQ(w->jobs[1].widest, TopologyLevel::kSupernode);
  // A job runs at most its time limit: b, limited to 80 s, is killed there.
  EXPECT_EQ(w->jobs[0].time_limit_s, 3600);
  EXPECT_EQ(w->jobs[0].duration_s, 50);
  EXPECT_EQ(w->jobs[1].time_limit_s, 80);
  EXPECT_EQ(w->jobs[1].duration_s, 80);
  const std::string again = config::FormatWorkloadFile(*w, f->fleet, "# test\n");
  auto w2 = config::ParseWorkloadFile(again, "again.yaml", f->fleet);
  ASSERT_TRUE(w2.ok()) << w2.status().ToString() << "\n" << again;
  EXPECT_EQ(config::FormatWorkloadFile(*w2, f->fleet, "# test\n"), again);
  auto bad = [&](const std::string& from, const std::string& to, const std::string& expect) {
    ExpectParseError(text, from, to, expect, "w.yaml",
                     [&](const std::string& t) { return config::ParseWorkloadFile(t, "w.yaml", f->fleet); });
  };
  bad("gpus: 0.25", "gpus: 1.5", "a whole number of GPUs");
  bad("accelerator: H100", "accelerator: TPU", "the fleet has no 'TPU'");
  bad("user: kl", "user: paris", "no user location 'paris'");
  bad("regions: [sg]", "regions: [moon]", "no region 'moon'");
  bad("classification: confidential, regions: [sg]", "classification: confidential", "must list");
  bad("topology: supernode", "topology: rack", "expected supernode, block or zone");
  bad("name: a,", "name: b,", "listed twice");
  bad("duration_s: 50", "duration_s: -5", "duration_s");
  bad("time_limit_s: 3600", "time_limit_s: 0", "time_limit_s");
  bad("tenant: startup,", "tenant: startup, colour: red,", "unknown key 'colour'");
}

}  // namespace
}  // namespace awan::sim
