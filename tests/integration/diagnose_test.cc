// Live diagnosis (issue 19) against a real `awan serve` on 127.0.0.1: a node agent (`awan agent`) forwards an
// Xid 79 from its kernel log while a job on that node fails with an NCCL watchdog timeout; the server
// diagnoses the GPU (the timeout explained by it), shows it to the job's tenant and to no other, counts it in
// /metrics, and `awan diagnose JOB` prints it. A node token can do nothing but its own node's heartbeats and
// signals. Alertmanager's webhook is a signal source too.
#include <gtest/gtest.h>

#include <fstream>

#include "integration/serve_harness.h"

namespace awan::testing {
namespace {

constexpr const char* kNode = "z-b0-s0-0";

std::string NodeToken(const std::string& db, const std::string& node) {
  std::string out = RunAwan("token create --store " + StoreUrl(db) + " --role node --node " + node);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

// The diagnoses `token` sees (optionally about `target`), once one of them is `scenario`; waits up to 20 s.
Json WaitForDiagnosis(Http& c, const std::string& token, const std::string& scenario, const std::string& target = "") {
  Json j;
  for (int i = 0; i < 200; ++i) {
    auto r = c.Get("/v1/diagnoses" + (target.empty() ? "" : "?target=" + target), Bearer(token));
    if (r && r->status == 200) {
      j = Json::parse(r->body);
      for (const Json& d : j["items"])
        if (d["scenario"] == scenario) return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return j;
}

const Json* Find(const Json& items, const std::string& scenario) {
  for (const Json& d : items["items"])
    if (d["scenario"] == scenario) return &d;
  return nullptr;
}

TEST(DiagnoseLive, AnXidFromTheAgentExplainsTheGangsNcclTimeoutForItsTenantOnly) {
  const std::string dir = TempDir("diagnose"), db = dir + "/awan.db";
  OneNodeFleet(dir, "  - {name: other, guaranteed_gpus: 0}\n");
  const std::string admin = Token(db, "", "admin"), lab = Token(db, "lab", "member"),
                    other = Token(db, "other", "member"), node = NodeToken(db, kNode);
  ASSERT_EQ(node.rfind("awan_", 0), 0u) << node;
  Server s(dir, db, dir + "/fleet.yaml", AnyUser());
  ASSERT_GT(s.port(), 0) << s.output();
  Http c(s.url());
  const std::string kmsg = dir + "/kmsg";
  // What the log held before the agent started is not sent (it reads what is appended).
  std::ofstream(kmsg) << "IPv6: ADDRCONF(NETDEV_CHANGE): ib0: link becomes ready\n";
  const pid_t agent = SpawnAwan({"agent", "--node", kNode, "--server", s.url(), "--token", node, "--kernel-log",
                                 kmsg, "--interval-s", "0.2"},
                                dir + "/agent.log");
  // A gang's rank times out in a collective and exits 1, on the node whose GPU then falls off the bus.
  const std::string job = R"(apiVersion: awan/v1
kind: Job
metadata: {name: train}
spec:
  tasks: 1
  gpus: 2
  cpu: 2
  memory_gib: 1
  command: [sh, -c, "echo '[rank0]:[E ProcessGroupNCCL.cpp:616] [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7, OpType=ALLREDUCE) ran for 600010 milliseconds before timing out.'; exit 1"]
)";
  auto sub = c.Post("/v1/jobs", Bearer(lab), job, "application/yaml");
  ASSERT_EQ(sub->status, 201) << sub->body;
  const std::string id = Json::parse(sub->body)["id"];
  EXPECT_EQ(WaitForEnd(c, lab, id, 30)["state"], "Failed");
  std::ofstream(kmsg, std::ios::app) << "NVRM: Xid (PCI:0000:3b:00): 79, pid=4242, name=python, GPU has fallen off the bus.\n";
  const auto sent = std::chrono::steady_clock::now();
  Json all = WaitForDiagnosis(c, admin, "GPU-XID-079");
  std::cout << "diagnosed " << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent).count()
            << " ms after the Xid line was written (agent interval 0.2 s)\n";
  const Json* xid = Find(all, "GPU-XID-079");
  ASSERT_NE(xid, nullptr) << all.dump(1) << "\nagent: " << std::ifstream(dir + "/agent.log").rdbuf();
  EXPECT_EQ((*xid)["entity"], kNode);
  EXPECT_EQ((*xid)["jobs"], Json::array({id}));
  EXPECT_GE((*xid)["symptoms_explained"].get<int>(), 1);
  EXPECT_EQ(Find(all, "NCCL-WATCHDOG-TIMEOUT"), nullptr) << "the timeout is the GPU's symptom, not a cause";
  ASSERT_TRUE((*xid).contains("evidence"));
  // The job's tenant sees the cause of its job, without the node's raw evidence; another tenant sees nothing.
  Json mine = WaitForDiagnosis(c, lab, "GPU-XID-079", id);
  ASSERT_NE(Find(mine, "GPU-XID-079"), nullptr) << mine.dump(1);
  EXPECT_FALSE(Find(mine, "GPU-XID-079")->contains("evidence"));
  auto theirs = c.Get("/v1/diagnoses", Bearer(other));
  ASSERT_EQ(theirs->status, 200);
  EXPECT_TRUE(Json::parse(theirs->body)["items"].empty()) << theirs->body;
  // The CLI, and the per-scenario counter.
  const std::string cli = RunAwan("diagnose " + id + " --server " + s.url() + " --token " + lab);
  EXPECT_NE(cli.find("GPU-XID-079"), std::string::npos) << cli;
  EXPECT_NE(cli.find("fallen off the bus"), std::string::npos) << cli;
  auto metrics = c.Get("/metrics", Bearer(admin));
  EXPECT_NE(metrics->body.find("awan_diagnoses_total{scenario=\"GPU-XID-079\"} 1"), std::string::npos);
  // A node token: its node's heartbeats and signals, nothing else.
  EXPECT_EQ(c.Get("/v1/jobs", Bearer(node))->status, 403);
  EXPECT_EQ(c.Get("/v1/diagnoses", Bearer(node))->status, 403);
  EXPECT_EQ(c.Post("/v1/nodes/nosuch/heartbeat", Bearer(node), "", "text/plain")->status, 403);
  EXPECT_EQ(c.Post("/v1/signals", Bearer(node), R"([{"kind":"kernel","text":"x","node":"elsewhere"}])",
                   "application/json")->status, 403);
  EXPECT_EQ(c.Post("/v1/alerts", Bearer(node), R"({"alerts":[]})", "application/json")->status, 403);
  EXPECT_EQ(c.Post("/v1/signals", Bearer(lab), R"([{"kind":"kernel","text":"x"}])", "application/json")->status, 403);
  EXPECT_EQ(c.Post("/v1/signals", Bearer(admin), R"([{"kind":"nosuch","text":"x"}])", "application/json")->status,
            400);
  // Alertmanager's webhook (version 4): a firing alert on the node's instance is a signal for that node.
  const std::string webhook = std::string(R"({"version":"4","status":"firing","alerts":[{"status":"firing",)") +
                              R"("labels":{"alertname":"RocePauseStorm","severity":"warning","instance":")" + kNode +
                              R"(:9100"}}]})";
  EXPECT_EQ(c.Post("/v1/alerts", Bearer(admin), webhook, "application/json")->status, 202);
  Json alerts = WaitForDiagnosis(c, admin, "ICX-ROCE-PFC-STORM", kNode);
  ASSERT_NE(Find(alerts, "ICX-ROCE-PFC-STORM"), nullptr) << alerts.dump(1);
  kill(agent, SIGTERM);
  waitpid(agent, nullptr, 0);
  std::ifstream log(dir + "/agent.log");
  const std::string agent_log((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(agent_log.find("stopped (1 kernel lines sent, 0 unsent)"), std::string::npos) << agent_log;
}

// The agent keeps what it read while the server is down and sends it once the server is back.
TEST(DiagnoseLive, TheAgentKeepsItsLinesAcrossAServerRestart) {
  const std::string dir = TempDir("diagnose-restart"), db = dir + "/awan.db";
  OneNodeFleet(dir);
  const std::string admin = Token(db, "", "admin"), node = NodeToken(db, kNode);
  auto server = std::make_unique<Server>(dir, db, dir + "/fleet.yaml", AnyUser());
  ASSERT_GT(server->port(), 0);
  const std::string url = server->url();
  const std::string kmsg = dir + "/kmsg";
  std::ofstream(kmsg).flush();
  const pid_t agent = SpawnAwan(
      {"agent", "--node", kNode, "--server", url, "--token", node, "--kernel-log", kmsg, "--interval-s", "0.2"},
      dir + "/agent.log");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  server->Kill(SIGKILL);
  std::ofstream(kmsg, std::ios::app) << "Kernel panic - not syncing: Fatal exception in interrupt\n";
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  // The same port again (the agent knows only that URL).
  const std::string port = url.substr(url.rfind(':') + 1);
  std::vector<std::string> extra = AnyUser();
  extra.insert(extra.end(), {"--listen", "127.0.0.1:" + port});
  server = std::make_unique<Server>(dir, db, dir + "/fleet.yaml", extra);
  ASSERT_EQ(std::to_string(server->port()), port) << server->output();
  Http c(server->url());
  Json all = WaitForDiagnosis(c, admin, "NODE-KERNEL-PANIC");
  EXPECT_NE(Find(all, "NODE-KERNEL-PANIC"), nullptr) << all.dump(1);
  kill(agent, SIGTERM);
  waitpid(agent, nullptr, 0);
}

}  // namespace
}  // namespace awan::testing
