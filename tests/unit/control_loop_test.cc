// The control plane and its loop on the in-memory store and the fake executor, on a fake clock: no
// processes, no files, no sleeping. What the loop must do: run the plane until stopped, and stop with an
// error (the caller exits) the moment the store is no longer the one it started on.
#include "server/control_loop.h"

#include <gtest/gtest.h>

#include <thread>

#include "common/clock.h"
#include "config/fleet_file.h"
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
  explicit Plane(const std::string& store) {
    auto fleet = config::ParseFleetFile(kFleet, "fleet.yaml");
    EXPECT_TRUE(fleet.ok()) << fleet.status().message();
    auto s = OpenStore("memory:" + store, StoreOpenMode::kCreate);
    EXPECT_TRUE(s.ok());
    // Each task "runs" 60 s of the fake clock.
    auto e = std::make_unique<FakeExecutor>(clock, [](const TaskLaunch&) {
      return FakeExecutor::Outcome{0, 60'000, "ok\n"};
    });
    exec = e.get();
    auto c =
        ControlPlane::Create(std::move(*fleet), std::move(*s), std::move(e), clock, ControlPlaneOptions{});
    EXPECT_TRUE(c.ok()) << c.status().message();
    cp = std::move(*c);
    EXPECT_TRUE(cp->Recover().ok());
  }
};

TEST(ControlLoop, RunsThePlaneOnAFakeClockUntilStopped) {
  Plane p("loop-run");
  const Principal lab{"lab", Role::kMember};
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
