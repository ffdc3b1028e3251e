// Node holds in the control plane (issue 19 remediation, issue 20's `awan nodes`): cordon, drain, uncordon,
// a GPU out of service; on the in-memory store and the fake executor, on a fake clock. A hold outlives a
// restart; only admins change nodes.
#include <gtest/gtest.h>

#include "common/clock.h"
#include "config/catalog_file.h"
#include "config/fleet_file.h"
#include "server/control_plane.h"
#include "server/diagnoses.h"
#include "server/fake_executor.h"
#include "server/store.h"

namespace awan::server {
namespace {

constexpr const char* kFleet =
    "node_types:\n  g4: {accelerator: H100, gpus: 4, cpu: 8, memory_gib: 64}\n"
    "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g4, nodes: 2}}\n"
    "tenants:\n  - {name: lab, guaranteed_gpus: 8}\n";

std::string Job(int gpus) {
  return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  gpus: " + std::to_string(gpus) +
         "\n  cpu: 1\n  memory_gib: 1\n  duration_s: 3600\n  command: [sleep, '3600']\n";
}

const Principal kAdmin{"", Role::kAdmin, ""};
const Principal kLab{"lab", Role::kMember, ""};

struct Plane {
  FakeClock clock{1'700'000'000'000};
  FakeExecutor* exec = nullptr;
  std::unique_ptr<ControlPlane> cp;
  Plane(const std::string& store, StoreOpenMode mode) {
    auto fleet = config::ParseFleetFile(kFleet, "fleet.yaml");
    EXPECT_TRUE(fleet.ok()) << fleet.status().message();
    auto s = OpenStore("memory:" + store, mode);
    EXPECT_TRUE(s.ok()) << s.status().message();
    auto e = std::make_unique<FakeExecutor>(clock, [](const TaskLaunch&) {
      return FakeExecutor::Outcome{0, 3'600'000, "ok\n"};
    });
    exec = e.get();
    auto c =
        ControlPlane::Create(std::move(*fleet), std::move(*s), std::move(e), clock, ControlPlaneOptions{});
    EXPECT_TRUE(c.ok()) << c.status().message();
    cp = std::move(*c);
    EXPECT_TRUE(cp->Recover().ok());
  }
  std::string Submit(int gpus) {
    auto j = cp->Submit(kLab, Job(gpus), "test");
    EXPECT_TRUE(j.ok()) << j.status().message();
    clock.Advance(1000);
    EXPECT_TRUE(cp->Tick().ok());
    return j.ok() ? j->id : "";
  }
  StoredJob Get(const std::string& id) { return *cp->Get(kLab, id); }
  // The node of a running job's first task (from its last launch).
  std::string NodeOf(const std::string& id) {
    for (auto it = exec->launched().rbegin(); it != exec->launched().rend(); ++it)
      if (it->job_id == id) return it->node;
    return "";
  }
};

TEST(NodeAdmin, ACordonKeepsRunningWorkAndTakesNoNewWork) {
  Plane p("nodes-cordon", StoreOpenMode::kCreate);
  const std::string a = p.Submit(2);
  ASSERT_EQ(p.Get(a).state, JobState::kRunning);
  const std::string x = p.NodeOf(a);
  auto n = p.cp->ChangeNode(kAdmin, x, NodeOp::kCordon, -1, "bad fan");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_TRUE(n->hold.cordoned);
  EXPECT_FALSE(n->schedulable());
  EXPECT_EQ(n->jobs, std::vector<std::string>{a});
  // Two more 2-GPU jobs fill the other node; a third waits although x has 2 GPUs free.
  const std::string b = p.Submit(2), c = p.Submit(2), d = p.Submit(2);
  EXPECT_NE(p.NodeOf(b), x);
  EXPECT_NE(p.NodeOf(c), x);
  EXPECT_EQ(p.Get(d).state, JobState::kPending);
  EXPECT_EQ(p.Get(a).state, JobState::kRunning);
  // Uncordoned, it takes the waiting job.
  ASSERT_TRUE(p.cp->ChangeNode(kAdmin, x, NodeOp::kUncordon, -1, "").ok());
  p.clock.Advance(1000);
  ASSERT_TRUE(p.cp->Tick().ok());
  EXPECT_EQ(p.Get(d).state, JobState::kRunning);
  EXPECT_EQ(p.NodeOf(d), x);
}

TEST(NodeAdmin, ADrainRequeuesTheNodesJobsFromTheirCheckpoint) {
  Plane p("nodes-drain", StoreOpenMode::kCreate);
  const std::string a = p.Submit(4);
  const std::string x = p.NodeOf(a);
  ASSERT_TRUE(p.cp->ChangeNode(kAdmin, x, NodeOp::kDrain, -1, "maintenance").ok());
  EXPECT_EQ(p.Get(a).state, JobState::kPending);
  EXPECT_NE(p.Get(a).message.find("requeued from its last checkpoint, off " + x), std::string::npos)
      << p.Get(a).message;
  p.clock.Advance(1000);
  ASSERT_TRUE(p.cp->Tick().ok());
  EXPECT_EQ(p.Get(a).state, JobState::kRunning);
  EXPECT_NE(p.NodeOf(a), x);
  EXPECT_EQ(p.Get(a).runs, 2);
  // The same drain again changes nothing and writes no second entry.
  auto audit = p.cp->Audit(kAdmin, 0, 1000);
  ASSERT_TRUE(audit.ok());
  const size_t entries = audit->size();
  ASSERT_TRUE(p.cp->ChangeNode(kAdmin, x, NodeOp::kDrain, -1, "maintenance").ok());
  EXPECT_EQ(p.cp->Audit(kAdmin, 0, 1000)->size(), entries);
}

TEST(NodeAdmin, AGpuOutOfServiceMovesOnlyItsJobAndOffersNoRoom) {
  Plane p("nodes-gpu", StoreOpenMode::kCreate);
  const std::string a = p.Submit(1), b = p.Submit(1);
  ASSERT_EQ(p.NodeOf(a), p.NodeOf(b));  // best fit packs them
  const std::string x = p.NodeOf(a);
  const std::string dev_a = p.exec->launched()[0].devices;
  auto n = p.cp->ChangeNode(kAdmin, x, NodeOp::kGpuUnhealthy, std::stoi(dev_a), "Xid 48");
  ASSERT_TRUE(n.ok()) << n.status().message();
  EXPECT_EQ(n->hold.unhealthy_gpus, 1u << std::stoi(dev_a));
  EXPECT_EQ(n->device_free_milli[static_cast<size_t>(std::stoi(dev_a))], 0);
  EXPECT_EQ(p.Get(a).state, JobState::kPending);
  EXPECT_EQ(p.Get(b).state, JobState::kRunning);
  p.clock.Advance(1000);
  ASSERT_TRUE(p.cp->Tick().ok());
  ASSERT_EQ(p.Get(a).state, JobState::kRunning);
  EXPECT_NE(p.exec->launched().back().devices, dev_a);  // never on the GPU out of service
  EXPECT_TRUE(p.cp->ChangeNode(kAdmin, x, NodeOp::kGpuHealthy, std::stoi(dev_a), "").ok());
  EXPECT_EQ(p.cp->Node(kAdmin, x)->hold.unhealthy_gpus, 0u);
}

TEST(NodeAdmin, HoldsOutliveARestartAndOnlyAdminsChangeThem) {
  std::string x;
  {
    Plane p("nodes-restart", StoreOpenMode::kCreate);
    x = p.cp->Nodes(kAdmin)[0].name;
    EXPECT_EQ(p.cp->ChangeNode(kLab, x, NodeOp::kCordon, -1, "").status().code(),
              StatusCode::kPermissionDenied);
    EXPECT_EQ(p.cp->ChangeNode(kAdmin, "nosuch", NodeOp::kCordon, -1, "").status().code(),
              StatusCode::kNotFound);
    EXPECT_EQ(p.cp->ChangeNode(kAdmin, x, NodeOp::kGpuUnhealthy, 4, "").status().code(),
              StatusCode::kNotFound);
    ASSERT_TRUE(p.cp->ChangeNode(kAdmin, x, NodeOp::kCordon, -1, "rack 3 power work").ok());
    ASSERT_TRUE(p.cp->ChangeNode(kAdmin, x, NodeOp::kGpuUnhealthy, 2, "row remap failed").ok());
  }
  Plane q("nodes-restart", StoreOpenMode::kExisting);
  auto n = q.cp->Node(kAdmin, x);
  ASSERT_TRUE(n.ok());
  EXPECT_TRUE(n->hold.cordoned);
  EXPECT_EQ(n->hold.unhealthy_gpus, 1u << 2);
  EXPECT_EQ(n->hold.reason, "row remap failed");
  EXPECT_EQ(n->free_milli, 0);
  // Two 4-GPU jobs: one runs on the other node, the second waits (x is cordoned).
  const std::string a = q.Submit(4), b = q.Submit(4);
  EXPECT_EQ(q.Get(a).state, JobState::kRunning);
  EXPECT_EQ(q.Get(b).state, JobState::kPending);
  // Uncordoned, x is whole again (every GPU back in service): the waiting job runs there.
  ASSERT_TRUE(q.cp->ChangeNode(kAdmin, x, NodeOp::kUncordon, -1, "").ok());
  EXPECT_TRUE(q.cp->Node(kAdmin, x)->hold.empty());
  q.clock.Advance(1000);
  ASSERT_TRUE(q.cp->Tick().ok());
  EXPECT_EQ(q.Get(b).state, JobState::kRunning);
  EXPECT_EQ(q.NodeOf(b), x);
}

}  // namespace
}  // namespace awan::server

namespace awan::server {
namespace {

constexpr const char* kCohortFleet =
    "node_types:\n  g4: {accelerator: H100, gpus: 4, cpu: 8, memory_gib: 64}\n"
    "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g4, nodes: 2}}\n"
    "tenants:\n  - {name: lab, guaranteed_gpus: 2, cohort: c}\n  - {name: other, guaranteed_gpus: 2, cohort: "
    "c}\n  - {name: alone, guaranteed_gpus: 4}\n";

struct FactsPlane {
  FakeClock clock{1'700'000'000'000};
  std::unique_ptr<ControlPlane> cp;
  std::unique_ptr<DiagnosisHub> hub;
  explicit FactsPlane(const std::string& store) {
    auto fleet = config::ParseFleetFile(kCohortFleet, "fleet.yaml");
    EXPECT_TRUE(fleet.ok()) << fleet.status().message();
    auto s = OpenStore("memory:" + store, StoreOpenMode::kCreate);
    auto exec = std::make_unique<FakeExecutor>(clock, [](const TaskLaunch&) {
      return FakeExecutor::Outcome{0, 36'000'000, "ok\n"};
    });
    auto catalog = config::LoadEmbeddedCatalog();
    EXPECT_TRUE(catalog.ok()) << catalog.status().message();
    ControlPlaneOptions o;
    o.report_waits_after_ms = 5000;
    auto c = ControlPlane::Create(std::move(*fleet), std::move(*s), std::move(exec), clock, o);
    EXPECT_TRUE(c.ok()) << c.status().message();
    cp = std::move(*c);
    hub = std::make_unique<DiagnosisHub>(std::move(*catalog), cp->fleet(), clock);
    cp->SetDiagnosisHub(hub.get());
    EXPECT_TRUE(cp->Recover().ok());
  }
  std::string Submit(const Principal& who, int gpus) {
    auto j = cp->Submit(who, Job(gpus), "test");
    EXPECT_TRUE(j.ok()) << j.status().message();
    return j.ok() ? j->id : "";
  }
  void Ticks(int n, int64_t ms = 1000) {
    for (int i = 0; i < n; ++i) {
      clock.Advance(ms);
      EXPECT_TRUE(cp->Tick().ok());
    }
  }
};

const Principal kOther{"other", Role::kMember, ""};

// The scheduler's facts reach the diagnosis: a job preempted to give a guarantee back is diagnosed as
// SCHED-PREEMPTED, naming the job that took its GPUs.
TEST(ControlPlaneFacts, APreemptionIsDiagnosedWithWhoTookTheGpus) {
  FactsPlane p("facts-preempt");
  const Principal alone{"alone", Role::kMember, ""};
  p.Submit(alone, 4);                         // fills one node
  const std::string big = p.Submit(kLab, 4);  // borrows other's 2 GPUs on the second node
  p.Ticks(1);
  ASSERT_EQ(p.cp->Get(kLab, big)->state, JobState::kRunning);
  p.clock.Advance(4000 * 1000);  // past its first checkpoint: it may be preempted
  const std::string mine = p.Submit(kOther, 2);
  p.Ticks(2);
  ASSERT_EQ(p.cp->Get(kOther, mine)->state, JobState::kRunning);
  ASSERT_EQ(p.cp->Get(kLab, big)->state, JobState::kPending);
  const nlohmann::json d = p.hub->Diagnoses(kLab, big);
  ASSERT_FALSE(d["items"].empty()) << d.dump(1);
  EXPECT_EQ(d["items"][0]["scenario"], "SCHED-PREEMPTED") << d.dump(1);
  const std::string seen = p.hub->Diagnoses(kAdmin, big).dump();  // evidence texts: admins only
  EXPECT_NE(seen.find("by=" + mine + " by_tenant=other reason=ReclaimGuarantee count=1"), std::string::npos)
      << d.dump(1);
}

// A job waiting for quota says whether its tenant may borrow and what its cohort leaves idle: nothing here
// (the other tenant of the cohort uses its whole guarantee), so the cause is the cohort, not the fleet.
TEST(ControlPlaneFacts, AQuotaWaitSaysTheCohortHasNothingIdle) {
  FactsPlane p("facts-quota");
  p.Submit(kOther, 2);
  p.Ticks(1);
  const std::string big = p.Submit(kLab, 4);  // 6 GPUs free, but lab may use 2 and borrow none
  p.Ticks(7);
  ASSERT_EQ(p.cp->Get(kLab, big)->state, JobState::kPending);
  const nlohmann::json d = p.hub->Diagnoses(kAdmin);
  EXPECT_NE(d.dump().find("SCHED-COHORT-EXHAUSTED"), std::string::npos) << d.dump(1);
  EXPECT_NE(d.dump().find("borrowing=on cohort=c cohort_free_gpus=0"), std::string::npos) << d.dump(1);
}

}  // namespace
}  // namespace awan::server
