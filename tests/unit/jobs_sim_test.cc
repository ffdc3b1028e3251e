// The jobs simulator and the pieces under it: gangs all or nothing on the topology tree, quotas with
// borrowing, and the simulator's sanity (no contention: JCT = duration; the oracles order as theory says).
#include "sim/jobs_sim.h"

#include <gtest/gtest.h>

#include "common/rng.h"
#include "common/tick_source.h"
#include "config/catalog_file.h"
#include "config/fleet_file.h"
#include "core/gang.h"
#include "core/run_model.h"
#include "core/scheduler_state.h"
#include "policies/builtin.h"
#include "policies/ordering/orderings.h"

namespace awan::sim {
namespace {

// Two blocks of two supernodes of two 8-GPU nodes: 8 nodes, 64 GPUs.
const char* kFleet = R"(
node_types:
  g8: {accelerator: H100, gpus: 8, cpu: 96, memory_gib: 1024}
regions:
  - name: r
    zones:
      - name: z
        layout: {type: g8, nodes: 8, nodes_per_supernode: 2, supernodes_per_block: 2}
tenants:
  - {name: a, guaranteed_gpus: 32, cohort: c}
  - {name: b, guaranteed_gpus: 32, cohort: c}
)";

std::unique_ptr<config::FleetFile> Fleet8() {
  auto f = config::ParseFleetFile(kFleet, "test.yaml");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(*f);
}

JobSpec Job(const std::string& name, const std::string& tenant, int64_t submit, int64_t duration, int tasks,
            int gpus) {
  JobSpec j;
  j.name = name;
  j.tenant = tenant;
  j.submit_s = submit;
  j.duration_s = duration;
  j.tasks = tasks;
  j.task.name = name;
  j.task.gpu_count = gpus;
  j.task.gpu_milli = kWholeGpu;
  return j;
}

TEST(GangPlacer, AllOrNothingAndTightestDomainFirst) {
  auto f = Fleet8();
  ClusterSnapshot snap(f->fleet);
  std::vector<PodSpec> none;
  auto profile = policies::BuiltinRegistry().BuildProfile("bestfit", PluginContext{&f->fleet, &none});
  ASSERT_TRUE(profile.ok());
  Framework fw(std::move(*profile));
  GangPlacer placer(f->fleet);
  Rng rng(1);
  const CycleContext ctx{&rng, {}, nullptr, {}, false, {}, {}};
  PodSpec task = Job("t", "a", 0, 1, 1, 8).task;
  // Two 8-GPU tasks: one supernode holds them.
  auto g = placer.Place(GangRequest{&task, 2, TopologyLevel::kZone, true}, snap, fw, ctx);
  ASSERT_TRUE(g.ok() && g->has_value());
  EXPECT_EQ((*g)->level, TopologyLevel::kSupernode);
  EXPECT_EQ(snap.gpu_allocated_milli(), 16000);
  // Seven more 8-GPU tasks do not fit (6 nodes left): nothing is assigned.
  const uint64_t before = snap.gpu_allocated_milli();
  auto big = placer.Place(GangRequest{&task, 7, TopologyLevel::kZone, true}, snap, fw, ctx);
  ASSERT_TRUE(big.ok());
  EXPECT_FALSE(big->has_value());
  EXPECT_EQ(static_cast<uint64_t>(snap.gpu_allocated_milli()), before);
  // Three tasks fit in one block (4 nodes each, one used supernode leaves a whole block free).
  auto three = placer.Place(GangRequest{&task, 3, TopologyLevel::kZone, true}, snap, fw, ctx);
  ASSERT_TRUE(three.ok() && three->has_value());
  EXPECT_EQ((*three)->level, TopologyLevel::kBlock);
  // Requiring one supernode: two tasks still fit (a free supernode remains), three cannot.
  auto req = placer.Place(GangRequest{&task, 3, TopologyLevel::kSupernode, true}, snap, fw, ctx);
  ASSERT_TRUE(req.ok());
  EXPECT_FALSE(req->has_value());
}

TEST(JobsSim, WithoutContentionEveryJctIsTheDuration) {
  auto f = Fleet8();
  std::vector<JobSpec> jobs = {Job("j1", "a", 0, 100, 1, 1), Job("j2", "b", 10, 50, 2, 8),
                               Job("j3", "a", 20, 3600, 2, 8), Job("j4", "b", 5000, 7, 1, 4)};
  for (const std::string policy : {"fifo", "sjf", "srtf", "tiresias", "awan"}) {
    JobsSimOptions o;
    o.policy = policy;
    auto r = RunJobsSim(*f, jobs, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    for (size_t i = 0; i < jobs.size(); ++i) {
      EXPECT_EQ(r->jobs[i].start_s, jobs[i].submit_s) << policy << " " << i;
      // Gangs inside one supernode run at full speed.
      EXPECT_EQ(r->jobs[i].end_s - r->jobs[i].submit_s, jobs[i].duration_s) << policy << " " << i;
    }
    EXPECT_EQ(r->summary.avg_queue_s, 0);
    EXPECT_DOUBLE_EQ(r->summary.avg_slowdown, 1.0);
    EXPECT_DOUBLE_EQ(r->summary.gang_locality_supernode, 1.0);
  }
}

TEST(JobsSim, GangsSpreadOverABlockRunSlower) {
  auto f = Fleet8();
  std::vector<JobSpec> jobs = {Job("wide", "a", 0, 1000, 3, 8)};  // 3 nodes: no supernode has them
  auto r = RunJobsSim(*f, jobs, JobsSimOptions{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->jobs[0].level, static_cast<int>(TopologyLevel::kBlock));
  EXPECT_EQ(r->jobs[0].end_s, 1100);  // x 1.1
  EXPECT_DOUBLE_EQ(r->summary.gang_locality_supernode, 0.0);
  EXPECT_DOUBLE_EQ(r->summary.gang_locality_block, 1.0);
}

TEST(JobsSim, IdleQuotaIsLentInTheCohortButNotWhenIsolated) {
  auto f = Fleet8();
  // Tenant a asks for 48 GPUs (6 x 8) while b is idle: 16 of them are borrowed from b.
  std::vector<JobSpec> jobs;
  for (int k = 0; k < 6; ++k) jobs.push_back(Job("a" + std::to_string(k), "a", 0, 100, 1, 8));
  auto shared = RunJobsSim(*f, jobs, JobsSimOptions{});
  ASSERT_TRUE(shared.ok());
  for (const JobOutcome& j : shared->jobs) EXPECT_EQ(j.start_s, 0);
  JobsSimOptions iso;
  iso.scheduler.policies.admission = "isolated";
  auto isolated = RunJobsSim(*f, jobs, iso);
  ASSERT_TRUE(isolated.ok());
  int late = 0;
  for (const JobOutcome& j : isolated->jobs) late += j.start_s == 100;
  EXPECT_EQ(late, 2);  // only 32 GPUs of guarantee: two jobs wait for the first ones
}

TEST(JobsSim, UnknownTenantWithoutDefaultIsAnError) {
  auto f = Fleet8();
  auto r = RunJobsSim(*f, {Job("x", "stranger", 0, 1, 1, 1)}, JobsSimOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("stranger"), std::string::npos);
}

// Random one-GPU jobs on a shared fleet at load above 1, with free preemption (no minimum run time, no lost
// work, no restart cost, a preemption pass at every event, EASY reservations): the oracles order average JCT
// and waiting as theory says (srtf <= sjf < fifo), and every run is deterministic. (Durations here are
// random, unrelated to tenant or size, so a history-based ordering like awan's has nothing to learn: not
// tested here.)
TEST(JobsSim, OraclesOrderAsTheorySaysAndRunsAreDeterministic) {
  auto f = Fleet8();
  Rng rng(9);
  std::vector<JobSpec> jobs;
  for (int k = 0; k < 400; ++k) {
    const int64_t duration =
        60 + static_cast<int64_t>(rng.Uniform(20)) * static_cast<int64_t>(rng.Uniform(600));
    jobs.push_back(Job("j" + std::to_string(k), rng.Uniform(2) ? "a" : "b", k * 30, duration, 1, 1));
  }
  std::map<std::string, JobsSummary> got;
  for (const std::string policy : {"fifo", "sjf", "srtf", "awan", "awan-km"}) {
    JobsSimOptions o;
    o.policy = policy;
    o.target_load = 1.2;
    o.scheduler.min_run_s = 0;
    o.scheduler.checkpoint_s = 0;
    o.scheduler.restart_s = 0;
    o.scheduler.preempt_interval_s = 0;
    o.scheduler.preempt_window = 64;
    o.scheduler.policies.backfill = "easy";  // a reservation for every ordering alike
    auto r = RunJobsSim(*f, jobs, o);
    auto again = RunJobsSim(*f, jobs, o);
    ASSERT_TRUE(r.ok() && again.ok());
    EXPECT_EQ(r->summary.finished, 400);
    for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(r->jobs[i].end_s, again->jobs[i].end_s) << policy;
    got[policy] = r->summary;
  }
  EXPECT_GT(got["fifo"].avg_queue_s, 0);
  EXPECT_LE(got["srtf"].avg_jct_s, got["sjf"].avg_jct_s);
  EXPECT_LT(got["sjf"].avg_jct_s, got["fifo"].avg_jct_s);
  EXPECT_LE(got["srtf"].avg_queue_s, got["sjf"].avg_queue_s);
  EXPECT_LT(got["sjf"].avg_queue_s, got["fifo"].avg_queue_s);
  EXPECT_GT(got["srtf"].preemptions, 0);
}

// Preemption never loops: with real costs and every preemptive ordering, each job is stopped at most
// duration / checkpoint_s times (every stopped run saved a checkpoint), and every job finishes.
TEST(JobsSim, PreemptionDoesNotLoop) {
  auto f = Fleet8();
  Rng rng(4);
  std::vector<JobSpec> jobs;
  for (int k = 0; k < 300; ++k) {
    const int gpus = 1 << static_cast<int>(rng.Uniform(4));
    const int64_t duration = 600 + static_cast<int64_t>(rng.Uniform(36000));
    jobs.push_back(Job("j" + std::to_string(k), rng.Uniform(2) ? "a" : "b", k * 60, duration, 1, gpus));
  }
  for (const std::string policy : {"srtf", "tiresias", "awan", "awan-km"}) {
    JobsSimOptions o;
    o.policy = policy;
    o.target_load = 1.5;
    auto r = RunJobsSim(*f, jobs, o);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->summary.finished, 300) << policy;
    int64_t total = 0;
    for (const JobOutcome& j : r->jobs) {
      EXPECT_LE(j.preemptions, j.duration_s / o.scheduler.checkpoint_s) << policy;
      total += j.preemptions;
    }
    EXPECT_GT(total, 0) << policy;  // the scenario does exercise preemption
  }
}

}  // namespace
}  // namespace awan::sim

namespace awan::sim {
namespace {

// A gang of one supernode (2 x 8 GPUs) behind a stream of 1-GPU jobs that keeps every node busy: without
// reservations it starts only when the stream ends; with EASY it holds nodes and starts once the jobs on
// them end, while the stream goes on elsewhere.
TEST(JobsSimReservations, AGangBehindAStreamOfSmallJobsStartsWithEasyBackfill) {
  auto f = Fleet8();
  std::vector<JobSpec> jobs;
  for (int k = 0; k < 64; ++k) jobs.push_back(Job("warm" + std::to_string(k), "a", 0, 1000 + 10 * k, 1, 1));
  jobs.push_back(Job("gang", "a", 10, 500, 2, 8));
  for (int k = 0; k < 2000; ++k) jobs.push_back(Job("s" + std::to_string(k), "a", 20 + 10 * k, 1000, 1, 1));
  JobsSimOptions o;
  o.policy = "fifo";
  o.scheduler.policies.backfill = "none";
  auto none = RunJobsSim(*f, jobs, o);
  o.scheduler.policies.backfill = "easy";
  auto easy = RunJobsSim(*f, jobs, o);
  ASSERT_TRUE(none.ok() && easy.ok());
  const JobOutcome& g_none = none->jobs[64];
  const JobOutcome& g_easy = easy->jobs[64];
  EXPECT_LE(g_easy.start_s, 2000) << "held nodes drain within two job lengths";
  EXPECT_GT(g_none.start_s, 5000) << "without reservations the stream keeps taking the freed GPUs";
  for (const JobOutcome& j : easy->jobs) EXPECT_GE(j.end_s, 0);
}

// A long-running job (a service's replica) never takes a reservation's nodes on an estimate of its end: it
// runs until stopped, whatever the ordering expects. Here sjf expects the 100-s job to end long before the
// gang's reservation starts; as an ordinary job it takes the first GPU freed on a held node (t = 1000), as a
// long-running one it waits for a GPU elsewhere.
TEST(JobsSimReservations, ALongRunningJobNeverBackfillsOntoHeldNodes) {
  auto f = Fleet8();
  std::vector<JobSpec> jobs;
  for (int k = 0; k < 64; ++k) jobs.push_back(Job("warm" + std::to_string(k), "a", 0, 1000 + 10 * k, 1, 1));
  jobs.push_back(Job("gang", "a", 10, 5000, 2, 8));  // holds the first two nodes to empty (t = 1150)
  jobs.push_back(Job("short", "a", 20, 100, 1, 1));
  JobsSimOptions o;
  o.policy = "sjf";
  o.scheduler.policies.backfill = "easy";
  auto plain = RunJobsSim(*f, jobs, o);
  jobs.back().task.long_running = true;
  auto long_running = RunJobsSim(*f, jobs, o);
  ASSERT_TRUE(plain.ok() && long_running.ok());
  EXPECT_EQ(plain->jobs[65].start_s, 1000) << "an ordinary job backfills where it ends in time";
  EXPECT_GT(long_running->jobs[65].start_s, 1100);
  EXPECT_LE(long_running->jobs[64].start_s, 1200) << "the gang starts once its nodes drain";
}

// The run model: speed by the gang's level, checkpoints kept across a stop, the restart overhead.
TEST(RunModel, RunsSlowerWhenSpreadAndKeepTheLastCheckpointAcrossAStop) {
  RunModel m(RunModelOptions{1.0, 1.1, 1.3, 1000, 60});
  m.Add(5000);
  m.Add(100);
  EXPECT_EQ(m.Start(0, static_cast<int>(TopologyLevel::kBlock), false), 5500);  // 5000 x 1.1
  EXPECT_EQ(m.Start(1, -1, false), 100);
  EXPECT_EQ(m.FirstCheckpointS(0), 1100);
  EXPECT_DOUBLE_EQ(m.LostWorkS(0, 1650), 500.0);  // 1500 s of work done: 500 since the checkpoint at 1000
  m.Stop(0, 1650);
  EXPECT_DOUBLE_EQ(m.work_left_s(0), 4000.0);
  // Restarted in one supernode: the overhead first, then the work left at full speed.
  EXPECT_EQ(m.Start(0, static_cast<int>(TopologyLevel::kSupernode), true), 60 + 4000);
  EXPECT_EQ(m.FirstCheckpointS(0), 60 + 1000);
  EXPECT_DOUBLE_EQ(m.LostWorkS(0, 30), 0.0);  // still paying the restart
  EXPECT_EQ(m.RunSeconds(0, 10.5), 60 + 11);
  m.Stop(1, 99);  // no checkpoint yet: all of it is left, and never less than a second
  EXPECT_DOUBLE_EQ(m.work_left_s(1), 100.0);
}

// A start budget cuts a cycle short and the simulator runs the next at the same instant: every job still
// starts when it would without a budget; the scheduler says when a cycle was cut.
TEST(JobsSim, AStartBudgetSplitsACycleWithoutDelayingAnyJob) {
  auto f = Fleet8();
  std::vector<JobSpec> jobs;
  for (int k = 0; k < 40; ++k)
    jobs.push_back(Job("j" + std::to_string(k), k % 2 ? "a" : "b", k / 10, 100, 1, 1));
  JobsSimOptions o;
  o.policy = "fifo";
  o.scheduler.max_starts_per_cycle = 0;
  auto unbounded = RunJobsSim(*f, jobs, o);
  o.scheduler.max_starts_per_cycle = 3;
  FakeTickSource ticks(1);
  std::vector<int64_t> ns, at;
  o.ticks = &ticks;
  o.cycle_ns = &ns;
  o.cycle_at_s = &at;
  auto bounded = RunJobsSim(*f, jobs, o);
  ASSERT_TRUE(unbounded.ok() && bounded.ok());
  for (size_t i = 0; i < jobs.size(); ++i)
    EXPECT_EQ(bounded->jobs[i].start_s, unbounded->jobs[i].start_s) << i;
  EXPECT_GE(std::count(at.begin(), at.end(), 0), 4) << "10 jobs at t=0, 3 starts per cycle";

  // The scheduler itself: 3, 3, then the last one, and the cut is reported until then.
  auto order = policies::MakeQueueOrder("fifo");
  ASSERT_TRUE(order.ok());
  SchedulerOptions so;
  so.max_starts_per_cycle = 3;
  auto st = SchedulerState::Create(f->fleet, policies::BuiltinRegistry(), "bestfit", std::move(*order), so);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  JobScheduler& sched = (*st)->scheduler();
  const int a = sched.AddTenant(f->tenants[0]);
  for (int k = 0; k < 7; ++k) sched.Submit(sched.AddJob(jobs[static_cast<size_t>(k)], a, 0), 0);
  std::vector<size_t> started;
  for (bool cut : {true, true, false}) {
    ASSERT_TRUE(sched.Cycle(0).ok());
    EXPECT_EQ(sched.cut_short(), cut);
    started.push_back(sched.TakeStarted().size());
  }
  EXPECT_EQ(started, (std::vector<size_t>{3, 3, 1}));
}

// Bounded preemption on the shipped ASEAN week: no job is stopped more than max_preemptions times (before
// scheduler v2 the awan ordering stopped one training gang 31 times).
TEST(JobsSimReservations, NoJobIsPreemptedMoreThanTheBound) {
  auto f = config::ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml");
  ASSERT_TRUE(f.ok());
  auto l = LoadWorkload(**f, std::string(AWAN_SOURCE_DIR) + "/examples/workloads/asean-week.yaml");
  ASSERT_TRUE(l.ok());
  JobsSimOptions o;
  o.catalog = &l->catalog;
  auto bounded = RunJobsSim(**f, l->file.jobs, o);
  o.scheduler = LegacyStarvationOptions(o.scheduler);
  auto legacy = RunJobsSim(**f, l->file.jobs, o);
  ASSERT_TRUE(bounded.ok() && legacy.ok());
  EXPECT_LE(bounded->summary.max_preemptions_per_job, 3);
  EXPECT_GT(legacy->summary.max_preemptions_per_job, 3);
}

}  // namespace
}  // namespace awan::sim

namespace awan::sim {
namespace {

const diagnosis::Catalog& DiagCatalog() {
  static const diagnosis::Catalog* c = [] {
    auto r = config::LoadEmbeddedCatalog();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return new diagnosis::Catalog(std::move(*r));
  }();
  return *c;
}

// A stream of one-node jobs on the 8-node fleet and an Xid 79 on one node at t = 1000: without remediation
// every run placed there fails until an operator drains it (6 h later); with it, the engine names the GPU
// from the fault's own lines and the node is drained 31 s after the fault, before any run fails there. The
// same inputs give the same result.
StatusOr<JobsSimResult> RunWithFault(bool remediate) {
  static const std::unique_ptr<config::FleetFile> fleet = Fleet8();
  std::vector<JobSpec> jobs;
  for (int i = 0; i < 200; ++i)
    jobs.push_back(Job("j" + std::to_string(i), i % 2 ? "a" : "b", i * 120, 1800, 1, 8));
  FaultInjectionOptions fo;
  fo.catalog = &DiagCatalog();
  fo.faults.push_back({1000, 3, DiagCatalog().IndexOf("GPU-XID-079"), -1});
  fo.remediate = remediate;
  JobsSimOptions o;
  o.policy = "fifo";
  o.faults = &fo;
  return RunJobsSim(*fleet, jobs, o);
}

TEST(JobsSimFaults, TheDiagnosisDrainsABrokenNodeBeforeItFailsRuns) {
  auto off = RunWithFault(false), on = RunWithFault(true), again = RunWithFault(true);
  ASSERT_TRUE(off.ok() && on.ok() && again.ok());
  ASSERT_TRUE(off->faults && on->faults);
  EXPECT_EQ(off->faults->faults, 1);
  EXPECT_GT(off->faults->runs_failed, 3);
  EXPECT_EQ(off->faults->drained_by_operator, 1);
  EXPECT_EQ(off->faults->detect_s, std::vector<int64_t>{21600});
  EXPECT_EQ(on->faults->runs_failed, 0);
  EXPECT_EQ(on->faults->drained_by_diagnosis, 1);
  EXPECT_EQ(on->faults->detect_s, std::vector<int64_t>{31});
  EXPECT_EQ(on->faults->diagnosed_top1, 1);
  EXPECT_EQ(on->faults->false_drains, 0);
  EXPECT_EQ(on->summary.finished, 200);
  EXPECT_LT(on->summary.avg_jct_s, off->summary.avg_jct_s);
  EXPECT_EQ(on->summary.failure_requeues, 1);  // the run on the node when it was drained
  EXPECT_EQ(again->summary.avg_jct_s, on->summary.avg_jct_s);
  EXPECT_EQ(again->faults->detect_s, on->faults->detect_s);
}

}  // namespace
}  // namespace awan::sim
