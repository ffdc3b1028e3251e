// The control plane and its loop on the in-memory store and the fake executor, on a fake clock: no
// processes, no files, no sleeping. What the loop must do: run the plane until stopped, and stop with an
// error (the caller exits) the moment the store is no longer the one it started on.
#include "server/control_loop.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/clock.h"
#include "config/fleet_file.h"
#include "config/job_manifest.h"
#include "server/control_plane.h"
#include "server/fake_executor.h"
#include "server/metrics.h"
#include "server/store.h"

namespace awan::server {
namespace {

constexpr const char* kFleet =
    "node_types:\n  g4: {accelerator: H100, gpus: 4, cpu: 8, memory_gib: 64}\n"
    "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g4, nodes: 1}}\n"
    "tenants:\n  - {name: lab, guaranteed_gpus: 4}\n";

constexpr const char* kJob =
    "apiVersion: awan/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  gpus: 2\n  cpu: 2\n  memory_gib: 4\n  "
    "duration_s: 60\n"
    "  command: [sh, -c, 'true']\n";

struct Plane {
  FakeClock clock{1'700'000'000'000};
  FakeExecutor* exec = nullptr;
  std::unique_ptr<ControlPlane> cp;
  explicit Plane(const std::string& store, const char* fleet_text = kFleet,
                 StoreOpenMode mode = StoreOpenMode::kCreate, int64_t start_ms = 1'700'000'000'000,
                 ControlPlaneOptions options = {})
      : clock(start_ms) {
    auto fleet = config::ParseFleetFile(fleet_text, "fleet.yaml");
    EXPECT_TRUE(fleet.ok()) << fleet.status().message();
    auto s = OpenStore("memory:" + store, mode);
    EXPECT_TRUE(s.ok());
    // Each task "runs" 60 s of the fake clock.
    auto e = std::make_unique<FakeExecutor>(clock, [](const TaskLaunch& t) {
      // A command ending in 'false' fails after its 60 s; every other succeeds.
      const bool fails = !t.command.empty() && t.command.back() == "false";
      return FakeExecutor::Outcome{fails ? 1 : 0, 60'000, "ok\n"};
    });
    exec = e.get();
    auto c = ControlPlane::Create(std::move(*fleet), std::move(*s), std::move(e), clock, std::move(options));
    EXPECT_TRUE(c.ok()) << c.status().message();
    cp = std::move(*c);
    EXPECT_TRUE(cp->Recover().ok());
  }
};

TEST(ControlLoop, RunsThePlaneOnAFakeClockUntilStopped) {
  Plane p("loop-run");
  const Principal lab{"lab", Role::kMember, ""};
  auto job = p.cp->Submit(lab, kJob, "test");
  ASSERT_TRUE(job.ok()) << job.status().message();
  Metrics metrics;
  ControlLoopOptions o;
  o.tick_ms = 1000;
  int checks = 0;
  ControlLoop* self = nullptr;
  o.check_store = [&]() -> Status {
    if (++checks == 200) self->Stop();  // 200 ticks of 1 s: the job started and its 60 s ran
    return Status::Ok();
  };
  ControlLoop loop(*p.cp, metrics, nullptr, p.clock, o);
  self = &loop;
  ASSERT_TRUE(loop.Run().ok());
  auto done = p.cp->Get(lab, job->id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::kSucceeded) << JobStateName(done->state) << ": " << done->message;
  ASSERT_EQ(p.exec->launched().size(), 1u);
  EXPECT_EQ(p.exec->launched()[0].gpus, 2);
}

TEST(ControlLoop, StopsWhenTheStoreIsNotTheOneItStartedOn) {
  Plane p("loop-store");
  Metrics metrics;
  ControlLoopOptions o;
  int ticks = 0;
  o.check_store = [&]() -> Status {
    return ++ticks < 5 ? Status::Ok() : FailedPrecondition("the store was replaced");
  };
  ControlLoop loop(*p.cp, metrics, nullptr, p.clock, o);
  const Status s = loop.Run();
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ticks, 5);
}

TEST(JobState, NamesRoundTripAndParseIgnoresCase) {
  for (JobState s : kJobStates) EXPECT_EQ(ParseJobState(JobStateName(s)), s);
  EXPECT_EQ(ParseJobState("running"), JobState::kRunning);
  EXPECT_EQ(ParseJobState("TIMEDOUT"), JobState::kTimedOut);
  EXPECT_FALSE(ParseJobState("Runnin").has_value());
  EXPECT_FALSE(ParseJobState("").has_value());
}

}  // namespace
}  // namespace awan::server

namespace awan::server {
namespace {

constexpr const char* kPricedFleet =
    "node_types:\n  g4: {accelerator: H100, gpus: 4, cpu: 8, memory_gib: 64, price_per_gpu_hour: 2.0}\n"
    "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g4, nodes: 1}}\n"
    "tenants:\n  - {name: lab, guaranteed_gpus: 4}\n";

// Ticks the plane once a second of the fake clock until `id` is in `state` (at most `limit_s` seconds).
bool TickUntil(Plane& p, const std::string& id, JobState state, int limit_s = 300) {
  const Principal admin{"", Role::kAdmin, ""};
  for (int i = 0; i < limit_s; ++i) {
    EXPECT_TRUE(p.cp->Tick().ok());
    auto j = p.cp->Get(admin, id);
    if (j.ok() && j->state == state) return true;
    p.clock.Advance(1000);
  }
  return false;
}

// sacct's figures: every run's GPU time and cost (the node's price per GPU-hour), the running run's so far,
// across a requeue, a cancel, and a restart of the control plane with the job running.
TEST(Accounting, RunsAreTimedAndPricedAcrossRequeuesCancelsAndRestarts) {
  const Principal lab{"lab", Role::kMember, ""};
  Plane p("acct", kPricedFleet);
  auto done = p.cp->Submit(lab, kJob, "test");  // 2 GPUs; the fake runs every task 60 s
  ASSERT_TRUE(done.ok()) << done.status().message();
  ASSERT_TRUE(TickUntil(p, done->id, JobState::kSucceeded));
  auto d = *p.cp->Get(lab, done->id);
  EXPECT_GT(d.started_ms, d.created_ms - 1);
  EXPECT_GE(d.ended_ms - d.started_ms, 60'000);
  EXPECT_LE(d.ended_ms - d.started_ms, 61'000);
  EXPECT_EQ(d.gpu_ms, 2 * (d.ended_ms - d.started_ms));
  EXPECT_NEAR(d.cost_usd, 2.0 * static_cast<double>(d.gpu_ms) / 3.6e6, 1e-9);
  EXPECT_EQ(d.run_started_ms, 0);

  // Requeued after 10 s, runs again, cancelled 5 s into its second run: 15 s on 2 GPUs.
  auto twice = p.cp->Submit(lab, kJob, "test");
  ASSERT_TRUE(twice.ok());
  ASSERT_TRUE(TickUntil(p, twice->id, JobState::kRunning));
  const int64_t first_start = p.cp->Get(lab, twice->id)->started_ms;
  p.clock.Advance(10'000);
  auto so_far = *p.cp->Get(lab, twice->id);
  EXPECT_EQ(so_far.gpu_ms, 2 * 10'000) << "the running run counts up to now";
  ASSERT_TRUE(p.cp->Requeue(lab, twice->id).ok());
  ASSERT_TRUE(TickUntil(p, twice->id, JobState::kRunning));
  const int64_t second_start = p.cp->Get(lab, twice->id)->run_started_ms;
  p.clock.Advance(5'000);
  ASSERT_TRUE(p.cp->Cancel(lab, twice->id).ok());
  auto t = *p.cp->Get(lab, twice->id);
  EXPECT_EQ(t.started_ms, first_start);
  EXPECT_EQ(t.ended_ms, second_start + 5'000);
  EXPECT_EQ(t.gpu_ms, 2 * 15'000);
  EXPECT_NEAR(t.cost_usd, 2.0 * 30'000 / 3.6e6, 1e-9);

  // Running when the control plane restarts 20 s in: the new one can't adopt the fake's task, stops and
  // requeues it, and counts the run whole.
  auto across = p.cp->Submit(lab, kJob, "test");
  ASSERT_TRUE(across.ok());
  ASSERT_TRUE(TickUntil(p, across->id, JobState::kRunning));
  const int64_t run_start = p.cp->Get(lab, across->id)->run_started_ms;
  ASSERT_GT(run_start, 0);
  const int64_t restart_at = p.clock.NowMs() + 20'000;
  p.cp.reset();
  Plane again("acct", kPricedFleet, StoreOpenMode::kExisting, restart_at);
  auto a = *again.cp->Get(lab, across->id);
  EXPECT_EQ(a.gpu_ms, 2 * (restart_at - run_start)) << JobStateName(a.state) << ": " << a.message;
}

}  // namespace
}  // namespace awan::server

namespace awan::server {
namespace {

std::string Named(const std::string& name, const std::string& last = "true") {
  return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name +
         "}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, duration_s: 60, command: [sh, -c, '" + last + "']}\n";
}

// sbatch --dependency and --hold, scontrol hold/release: a dependent job waits for its dependency's end and
// is cancelled when it can never start; a held job is never scheduled until released; both survive a
// restart of the control plane; a dependency must be a job the submitter sees.
TEST(Dependencies, WaitForTheirJobsHoldsWaitForReleaseAndBothSurviveARestart) {
  const Principal lab{"lab", Role::kMember, ""};
  Plane p("deps");
  auto a = *p.cp->Submit(lab, Named("a"), "t");
  auto bad = *p.cp->Submit(lab, Named("bad", "false"), "t");
  auto after_a = *p.cp->Submit(lab, Named("after-a"), "t",
                               SubmitOptions{false, "afterok:" + a.id, std::nullopt, std::nullopt});
  auto after_bad = *p.cp->Submit(lab, Named("after-bad"), "t",
                                 SubmitOptions{false, "afterok:" + bad.id, std::nullopt, std::nullopt});
  auto any_bad = *p.cp->Submit(lab, Named("any-bad"), "t",
                               SubmitOptions{false, "afterany:" + bad.id, std::nullopt, std::nullopt});
  auto held = *p.cp->Submit(lab, Named("held"), "t", SubmitOptions{true, "", std::nullopt, std::nullopt});
  EXPECT_EQ(p.cp->Submit(lab, Named("x"), "t",
                         SubmitOptions{false, "afterok:j-99999999", std::nullopt, std::nullopt})
                .status()
                .message(),
            "dependency: no job j-99999999 of tenant lab");
  // An array too large in all (each job keeps its manifest) is refused before anything is stored.
  std::vector<int> many(10000);
  for (int i = 0; i < 10000; ++i) many[static_cast<size_t>(i)] = i;
  const std::string big = Named("big") + "# " + std::string(8000, 'x') + "\n";
  EXPECT_EQ(p.cp->SubmitArray(lab, big, "t", many).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.cp->Get(lab, after_a.id)->message.rfind("waiting for dependency afterok:" + a.id, 0), 0u)
      << p.cp->Get(lab, after_a.id)->message;
  EXPECT_EQ(p.cp->Get(lab, held.id)->message.rfind("held", 0), 0u);
  EXPECT_EQ(p.cp->Explain(lab, held.id).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(TickUntil(p, a.id, JobState::kSucceeded));
  ASSERT_TRUE(TickUntil(p, bad.id, JobState::kFailed));
  ASSERT_TRUE(TickUntil(p, after_bad.id, JobState::kCancelled));
  EXPECT_EQ(p.cp->Get(lab, after_bad.id)->message, "dependency never satisfied: " + bad.id + " ended Failed");
  ASSERT_TRUE(TickUntil(p, after_a.id, JobState::kSucceeded));
  ASSERT_TRUE(TickUntil(p, any_bad.id, JobState::kSucceeded));
  // Held all along: never launched; the hold outlives a restart; released, it runs.
  for (const auto& t : p.exec->launched()) EXPECT_NE(t.job_id, held.id);
  EXPECT_EQ(p.cp->Get(lab, held.id)->state, JobState::kPending);
  auto waits = *p.cp->Submit(lab, Named("waits"), "t",
                             SubmitOptions{false, "afterok:" + held.id, std::nullopt, std::nullopt});
  const int64_t restart_at = p.clock.NowMs() + 1000;
  p.cp.reset();
  Plane again("deps", kFleet, StoreOpenMode::kExisting, restart_at);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(again.cp->Tick().ok());
    again.clock.Advance(1000);
  }
  EXPECT_TRUE(again.exec->launched().empty());
  EXPECT_EQ(again.cp->Get(lab, held.id)->message.rfind("held", 0), 0u);
  EXPECT_EQ(again.cp->Get(lab, waits.id)->message.rfind("waiting for dependency", 0), 0u);
  EXPECT_EQ(again.cp->Release(lab, waits.id).status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(again.cp->Release(lab, held.id).ok());
  ASSERT_TRUE(TickUntil(again, held.id, JobState::kSucceeded));
  ASSERT_TRUE(TickUntil(again, waits.id, JobState::kSucceeded));
  // Hold a queued job, then cancel it while held.
  auto later = *again.cp->Submit(lab, Named("later"), "t");
  ASSERT_TRUE(again.cp->Hold(lab, later.id).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(again.cp->Tick().ok());
  EXPECT_EQ(again.cp->Get(lab, later.id)->state, JobState::kPending);
  ASSERT_TRUE(again.cp->Cancel(lab, later.id).ok());
  EXPECT_EQ(again.cp->Get(lab, later.id)->state, JobState::kCancelled);
}

// sbatch --priority and scontrol update priority=: a job's priority orders its tenant's queue, set at submit
// or changed while it waits; the change is durable (it outlives a restart) and checked (range, role, tenant,
// state) before anything changes.
TEST(JobPriority, OrdersTheTenantsQueueIsChangedWhileWaitingAndSurvivesARestart) {
  const Principal lab{"lab", Role::kMember, "ana"}, viewer{"lab", Role::kViewer, ""},
      other{"other", Role::kMember, ""};
  auto whole = [](const std::string& name) {  // all 4 GPUs of the fleet's one node: one job at a time
    return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name +
           "}\nspec: {gpus: 4, cpu: 1, memory_gib: 1, duration_s: 60, command: [sh, -c, 'true']}\n";
  };
  Plane p("prio");
  auto first = *p.cp->Submit(lab, whole("first"), "t");
  ASSERT_TRUE(TickUntil(p, first.id, JobState::kRunning));
  auto low_a = *p.cp->Submit(lab, whole("low-a"), "t");
  auto low_b = *p.cp->Submit(lab, whole("low-b"), "t");
  auto urgent = *p.cp->Submit(lab, whole("urgent"), "t", SubmitOptions{false, "", 5, std::nullopt});
  auto bumped = *p.cp->Submit(lab, whole("bumped"), "t");
  auto manifest_priority = [](const StoredJob& j) {
    return nlohmann::json::parse(j.manifest)["spec"].value("priority", 0);
  };
  EXPECT_EQ(manifest_priority(urgent), 5);
  EXPECT_EQ(p.cp->Submit(lab, whole("x"), "t", SubmitOptions{false, "", int64_t{1} << 40, std::nullopt})
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  // Checked before anything changes: range, a viewer, another tenant, an ended job.
  EXPECT_EQ(p.cp->SetPriority(lab, bumped.id, kMaxJobPriority + 1).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(p.cp->SetPriority(viewer, bumped.id, 10).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(p.cp->SetPriority(other, bumped.id, 10).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(manifest_priority(*p.cp->Get(lab, bumped.id)), 0);
  auto set = p.cp->SetPriority(lab, bumped.id, 10);
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(manifest_priority(*set), 10);
  ASSERT_TRUE(p.cp->SetPriority(lab, low_b.id, -3).ok());
  ASSERT_TRUE(p.cp->SetPriority(lab, low_b.id, 0).ok());  // back to the default: it leaves the manifest
  EXPECT_FALSE(nlohmann::json::parse(p.cp->Get(lab, low_b.id)->manifest)["spec"].contains("priority"));
  // A restart before any of them starts: the order comes from the stored manifests.
  const int64_t restart_at = p.clock.NowMs() + 1000;
  p.cp.reset();
  Plane again("prio", kFleet, StoreOpenMode::kExisting, restart_at);
  ASSERT_TRUE(TickUntil(again, low_b.id, JobState::kSucceeded, 1000));
  std::vector<std::string> order;
  for (const auto& t : again.exec->launched())
    if (order.empty() || order.back() != t.job_id) order.push_back(t.job_id);
  // "first" ran before the restart and is queued again after it (the fake's task can't be adopted): at
  // priority 0 it goes after the two that rank higher, and before the later jobs of its rank.
  EXPECT_EQ(order, (std::vector<std::string>{bumped.id, urgent.id, first.id, low_a.id, low_b.id}));
  EXPECT_EQ(again.cp->SetPriority(lab, low_b.id, 1).status().code(), StatusCode::kFailedPrecondition);
  // Each job keeps its history, across the restart: submitted (by whom), its priority changes, where each run
  // started, how it ended.
  std::vector<std::string> events;
  for (const auto& e : nlohmann::json::parse(again.cp->Get(lab, low_b.id)->events))
    events.push_back(e["event"].get<std::string>());
  ASSERT_GE(events.size(), 5u) << nlohmann::json(events).dump();
  EXPECT_EQ(events[0], "submitted by ana");
  EXPECT_EQ(events[1], "priority set to -3 by ana");
  EXPECT_EQ(events[2], "priority set to 0 by ana");
  EXPECT_EQ(events[3].rfind("Running: run 1 started on ", 0), 0u) << events[3];
  EXPECT_EQ(events.back(), "Succeeded: every task exited with code 0");
  std::vector<std::string> first_events;
  for (const auto& e : nlohmann::json::parse(again.cp->Get(lab, first.id)->events))
    first_events.push_back(e["event"].get<std::string>());
  EXPECT_EQ(std::count_if(first_events.begin(), first_events.end(),
                          [](const std::string& e) { return e.rfind("Running: run", 0) == 0; }),
            2)
      << nlohmann::json(first_events).dump();
  EXPECT_NE(std::find(first_events.begin(), first_events.end(),
                      "Pending: requeued: the server restarted while it ran"),
            first_events.end())
      << nlohmann::json(first_events).dump();
}

// The awan ordering reads a job's time limit as an upper bound on its run time: after jobs of the class ran
// 60 s each, one limited to 10 s goes before two without a limit submitted earlier (FIFO among them).
TEST(JobTimeLimit, TheAwanOrderingPutsAShortLimitFirst) {
  const Principal lab{"lab", Role::kMember, "ana"};
  auto whole = [](const std::string& name, const std::string& extra = "") {
    return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name +
           "}\nspec: {gpus: 4, cpu: 1, memory_gib: 1, command: [sh, -c, 'true']" + extra + "}\n";
  };
  ControlPlaneOptions o;
  o.ordering = "awan";
  Plane p("limit", kFleet, StoreOpenMode::kCreate, 1'700'000'000'000, o);
  std::string last;
  for (int i = 0; i < 3; ++i) {  // the class's history: three runs of 60 s
    last = p.cp->Submit(lab, whole("h" + std::to_string(i)), "t")->id;
    ASSERT_TRUE(TickUntil(p, last, JobState::kSucceeded));
  }
  auto blocker = *p.cp->Submit(lab, whole("blocker"), "t");
  ASSERT_TRUE(TickUntil(p, blocker.id, JobState::kRunning));
  auto plain_a = *p.cp->Submit(lab, whole("plain-a"), "t");
  auto plain_b = *p.cp->Submit(lab, whole("plain-b"), "t");
  auto brief = *p.cp->Submit(lab, whole("brief", ", time_limit: '10s'"), "t");
  ASSERT_TRUE(TickUntil(p, plain_b.id, JobState::kSucceeded, 1000));
  std::vector<std::string> order;
  for (const auto& t : p.exec->launched())
    if (order.empty() || order.back() != t.job_id) order.push_back(t.job_id);
  ASSERT_GE(order.size(), 3u);
  EXPECT_EQ(std::vector<std::string>(order.end() - 3, order.end()),
            (std::vector<std::string>{brief.id, plain_a.id, plain_b.id}));
}

}  // namespace
// spec.long_running is kept in the stored manifest, which a restart parses again (Recover): a service's
// replica stays long-running across a restart of the server.
TEST(JobManifestStore, LongRunningSurvivesInTheStoredManifest) {
  const Principal lab{"lab", Role::kMember, "ana"};
  Plane p("long-running");
  auto job = [](const std::string& name, const std::string& extra) {
    return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name +
           "}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, duration_s: 60" + extra + "}\n";
  };
  auto replica = p.cp->Submit(lab, job("replica", ", long_running: true"), "t");
  auto batch = p.cp->Submit(lab, job("batch", ""), "t");
  ASSERT_TRUE(replica.ok() && batch.ok()) << replica.status().message();
  auto stored = [](const StoredJob& j) { return nlohmann::json::parse(j.manifest)["spec"]; };
  EXPECT_EQ(stored(*replica).value("long_running", false), true);
  EXPECT_FALSE(stored(*batch).contains("long_running"));
  auto fleet = config::ParseFleetFile(kFleet, "fleet.yaml");
  ASSERT_TRUE(fleet.ok());
  auto again = config::ParseJobManifest(replica->manifest, "stored", (*fleet)->fleet);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->job.task.long_running);
}

}  // namespace awan::server
