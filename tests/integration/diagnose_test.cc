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
Json WaitForDiagnosis(Http& c, const std::string& token, const std::string& scenario,
                      const std::string& target = "") {
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

constexpr const char* kXid79 =
    "NVRM: Xid (PCI:0000:3b:00): 79, pid=4242, name=python, GPU has fallen off the bus.";

// A one-task gang of 4 GPUs that sleeps: its id ("" when refused).
std::string SubmitGang(Http& c, const std::string& token) {
  auto sub =
      c.Post("/v1/jobs", Bearer(token),
             "apiVersion: awan/v1\nkind: Job\nmetadata: {name: gang}\nspec: {tasks: 1, gpus: 4, cpu: 1, "
             "memory_gib: 1, command: [sleep, '600']}\n",
             "application/yaml");
  EXPECT_EQ(sub->status, 201) << sub->body;
  return sub->status == 201 ? Json::parse(sub->body)["id"].get<std::string>() : std::string();
}

// A spawned `awan agent`, stopped (SIGTERM, then reaped) when the test ends, whether it passed or not.
struct Agent {
  pid_t pid;
  ~Agent() { Stop(); }
  void Stop() {
    if (pid <= 0) return;
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
};

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
  // The agent reads the log from its start (--from-start): what it held before is sent too.
  std::ofstream(kmsg) << "IPv6: ADDRCONF(NETDEV_CHANGE): ib0: link becomes ready\n";
  Agent agent{SpawnAwan({"agent", "--node", kNode, "--server", s.url(), "--token", node, "--kernel-log", kmsg,
                         "--from-start", "--interval-s", "0.2"},
                        dir + "/agent.log")};
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
  std::ofstream(kmsg, std::ios::app) << kXid79 << "\n";
  const auto sent = std::chrono::steady_clock::now();
  Json all = WaitForDiagnosis(c, admin, "GPU-XID-079");
  std::cout << "diagnosed "
            << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - sent)
                   .count()
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
                   "application/json")
                ->status,
            403);
  EXPECT_EQ(c.Post("/v1/alerts", Bearer(node), R"({"alerts":[]})", "application/json")->status, 403);
  EXPECT_EQ(
      c.Post("/v1/signals", Bearer(lab), R"([{"kind":"kernel","text":"x"}])", "application/json")->status,
      403);
  EXPECT_EQ(
      c.Post("/v1/signals", Bearer(admin), R"([{"kind":"nosuch","text":"x"}])", "application/json")->status,
      400);
  // Alertmanager's webhook (version 4): a firing alert on the node's instance is a signal for that node.
  const std::string webhook =
      std::string(R"({"version":"4","status":"firing","alerts":[{"status":"firing",)") +
      R"("labels":{"alertname":"RocePauseStorm","severity":"warning","instance":")" + kNode + R"(:9100"}}]})";
  EXPECT_EQ(c.Post("/v1/alerts", Bearer(admin), webhook, "application/json")->status, 202);
  Json alerts = WaitForDiagnosis(c, admin, "ICX-ROCE-PFC-STORM", kNode);
  ASSERT_NE(Find(alerts, "ICX-ROCE-PFC-STORM"), nullptr) << alerts.dump(1);
  agent.Stop();
  std::ifstream log(dir + "/agent.log");
  const std::string agent_log((std::istreambuf_iterator<char>(log)), {});
  EXPECT_NE(agent_log.find("stopped (2 lines sent, 0 unsent)"), std::string::npos) << agent_log;
}

// Real monitoring: Debian's Prometheus evaluates a rule, Debian's Alertmanager posts the firing alert to
// awan's webhook (with an admin token), and awan diagnoses it; Prometheus scrapes awan's /metrics meanwhile.
TEST(DiagnoseLive, APrometheusRuleFiresThroughAlertmanagerAndIsDiagnosed) {
  if (system("command -v prometheus > /dev/null && command -v prometheus-alertmanager > /dev/null") != 0)
    GTEST_SKIP() << "prometheus or prometheus-alertmanager missing: run scripts/install-deps.sh";
  const std::string dir = TempDir("diagnose-alerting"), db = dir + "/awan.db";
  OneNodeFleet(dir);
  const std::string admin = Token(db, "", "admin");
  Server s(dir, db, dir + "/fleet.yaml", AnyUser());
  ASSERT_GT(s.port(), 0);
  std::ofstream(dir + "/token") << admin;
  std::ofstream(dir + "/rules.yml")
      << "groups:\n  - name: awan-test\n    rules:\n      - alert: RocePauseStorm\n"
         "        expr: vector(1)\n        labels: {severity: warning, instance: \""
      << kNode << ":9100\"}\n";
  const int prom = 20000 + getpid() % 10000, am = prom + 1;
  const std::string up = std::string(AWAN_SOURCE_DIR) + "/scripts/alerting-up.sh " + dir + "/mon " + s.url() +
                         " " + dir + "/token " + dir + "/rules.yml " + std::to_string(prom) + " " +
                         std::to_string(am);
  const std::string down = std::string(AWAN_SOURCE_DIR) + "/scripts/alerting-down.sh " + dir + "/mon";
  // Stopped at the end whether the test passed or not.
  struct Down {
    std::string cmd;
    ~Down() { (void)!system((cmd + " > /dev/null 2>&1").c_str()); }
  } stop_monitoring{down};
  ASSERT_EQ(system((up + " > " + dir + "/up.log 2>&1").c_str()), 0) << std::ifstream(dir + "/up.log").rdbuf();
  Http c(s.url());
  Json all = WaitForDiagnosis(c, admin, "ICX-ROCE-PFC-STORM", kNode);
  const Json* storm = Find(all, "ICX-ROCE-PFC-STORM");
  EXPECT_NE(storm, nullptr) << all.dump(1) << std::ifstream(dir + "/mon/alertmanager.log").rdbuf();
  if (storm != nullptr) {
    EXPECT_EQ((*storm)["entity"], kNode);
  }
  // Prometheus scrapes awan's /metrics with the token: the target is up.
  Http p("http://127.0.0.1:" + std::to_string(prom));
  bool scraped = false;
  for (int i = 0; i < 100 && !scraped; ++i) {
    auto r = p.Get("/api/v1/query?query=up%7Bjob%3D%22awan%22%7D");
    scraped = r && r->status == 200 && r->body.find("\"1\"]") != std::string::npos;
    if (!scraped) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(scraped) << "Prometheus did not scrape awan's /metrics";
  // The exposition passes Prometheus's own linter (names, types, suffixes), diagnoses' counters included.
  std::ofstream(dir + "/metrics.txt") << c.Get("/metrics", Bearer(admin))->body;
  EXPECT_EQ(
      system(("promtool check metrics < " + dir + "/metrics.txt > " + dir + "/promtool.log 2>&1").c_str()), 0)
      << std::ifstream(dir + "/promtool.log").rdbuf();
}

// A gang task that counts steps and saves the count in its job's checkpoint directory; a run starts from
// the count the last run saved and says so.
constexpr const char* kCheckpointingGang =
    "apiVersion: awan/v1\nkind: Job\nmetadata: {name: ckpt-gang}\n"
    "spec:\n  tasks: 2\n  gpus: 2\n  cpu: 1\n  memory_gib: 1\n"
    "  command: [sh, -c, 'f=$AWAN_CHECKPOINT_DIR/step-$AWAN_TASK_INDEX; s=$(cat $f 2>/dev/null || echo 0); "
    "echo \"run $AWAN_RUN resumes at step $s\"; while true; do s=$((s+1)); echo $s > $f.tmp && mv $f.tmp $f; "
    "sleep 0.05; done']\n";

// The step a run's log says it resumed at (-1 if it says nothing).
int ResumedAt(const std::string& log) {
  const size_t at = log.find("resumes at step ");
  return at == std::string::npos ? -1 : std::atoi(log.c_str() + at + 16);
}

// End to end, with remediation on: an Xid 79 on a node of a running two-node gang drains the node (cordoned,
// its jobs requeued at once: their other ranks would hang in NCCL until its timeout), the gang starts again
// on two other nodes from the step its checkpoint saved, the actions are in the audit log, the cordon
// outlives a server restart, and an operator's `awan nodes uncordon` brings the node back (audited too).
TEST(DiagnoseLive, AnXidOnAGangsNodeTakesTheNodeOutAndTheGangRestartsElsewhere) {
  const std::string dir = TempDir("diagnose-remediate"), db = dir + "/awan.db";
  std::ofstream(dir + "/fleet.yaml")
      << "node_types:\n  g2: {accelerator: H100, gpus: 2, cpu: 8, memory_gib: 64}\n"
         "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g2, nodes: 3}}\n"
         "tenants:\n  - {name: lab, guaranteed_gpus: 6}\n";
  const std::string admin = Token(db, "", "admin"), lab = Token(db, "lab", "member");
  auto s = std::make_unique<Server>(dir, db, dir + "/fleet.yaml", AnyUser({"--remediation", "on"}));
  ASSERT_GT(s->port(), 0) << s->output();
  Http c(s->url());
  auto sub = c.Post("/v1/jobs", Bearer(lab), kCheckpointingGang, "application/yaml");
  ASSERT_EQ(sub->status, 201) << sub->body;
  const std::string id = Json::parse(sub->body)["id"];
  Json job = WaitForState(c, lab, id, "Running");
  ASSERT_EQ(job["state"], "Running") << job.dump();
  ASSERT_EQ(job["placement"].size(), 2u) << job.dump();
  const std::string first = job["placement"][0]["node"];
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // some steps saved
  auto post = c.Post("/v1/signals", Bearer(admin),
                     Json::array({{{"kind", "kernel"}, {"node", first}, {"text", kXid79}}}).dump(),
                     "application/json");
  ASSERT_EQ(post->status, 202) << post->body;
  std::vector<std::string> now;
  for (int i = 0; i < 200; ++i) {
    job = Json::parse(c.Get("/v1/jobs/" + id, Bearer(lab))->body);
    now.clear();
    if (job["state"] == "Running" && job.value("runs", 0) == 2)
      for (const Json& p : job["placement"]) now.push_back(p["node"]);
    if (!now.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(now.size(), 2u) << job.dump(1);
  EXPECT_EQ(std::count(now.begin(), now.end(), first), 0) << job.dump(1);
  // The second run started from the step the first one saved.
  std::string log;
  for (int i = 0; i < 50 && ResumedAt(log) < 0; ++i) {
    log = c.Get("/v1/jobs/" + id + "/logs?task=0", Bearer(lab))->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(log.find("run 2 resumes at step"), std::string::npos) << log;
  EXPECT_GT(ResumedAt(log), 5) << log;
  EXPECT_EQ(ResumedAt(c.Get("/v1/jobs/" + id + "/logs?task=0&run=1", Bearer(lab))->body), 0);
  Json node = Json::parse(c.Get("/v1/nodes/" + first, Bearer(admin))->body);
  EXPECT_EQ(node["state"], "cordoned") << node.dump();
  EXPECT_EQ(node["hold"]["by"], "diagnosis") << node.dump();
  const std::string audit = c.Get("/v1/audit", Bearer(admin))->body;
  EXPECT_NE(audit.find(R"("kind":"cordon_node","mode":"applied","node":")" + first + R"(","reason")"),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find(R"("job":")" + id + R"(","kind":"requeue_job","mode":"applied","node":")" + first),
            std::string::npos)
      << audit;
  EXPECT_NE(audit.find(R"("scenario":"GPU-XID-079")"), std::string::npos) << audit;
  // A restart keeps the cordon (the node's agent is gone, the diagnosis forgotten: only the store knows).
  s->Kill(SIGKILL);
  s = std::make_unique<Server>(dir, db, dir + "/fleet.yaml", AnyUser({"--remediation", "on"}));
  ASSERT_GT(s->port(), 0) << s->output();
  Http c2(s->url());
  node = Json::parse(c2.Get("/v1/nodes/" + first, Bearer(admin))->body);
  EXPECT_EQ(node["state"], "cordoned") << node.dump();
  EXPECT_EQ(Json::parse(c2.Get("/v1/jobs/" + id, Bearer(lab))->body)["state"], "Running");
  // A tenant may not uncordon; the operator may, with the CLI.
  EXPECT_EQ(c2.Post("/v1/nodes/" + first + "/uncordon", Bearer(lab), "", "application/json")->status, 403);
  const std::string out = RunAwan("nodes uncordon " + first + " --reason 'GPU reseated' --server " +
                                  s->url() + " --token " + admin);
  EXPECT_NE(out.find("node/" + first + " uncordoned"), std::string::npos) << out;
  EXPECT_NE(out.find("State:       ready"), std::string::npos) << out;
  const std::string audit2 = c2.Get("/v1/audit", Bearer(admin))->body;
  EXPECT_NE(audit2.find(R"("by":"admin","kind":"uncordon_node","mode":"applied","node":")" + first +
                        R"(","reason":"GPU reseated")"),
            std::string::npos)
      << audit2;
  EXPECT_EQ(c2.Post("/v1/jobs/" + id + "/cancel", Bearer(lab), "", "text/plain")->status, 200);
  ExpectAuditVerifies(c2, db, dir, dir + "/fleet.yaml");
}

// In dry-run (the default) the same diagnosis is only written to the audit log: the gang keeps running there.
TEST(DiagnoseLive, DryRunRemediationIsAuditedButChangesNothing) {
  const std::string dir = TempDir("diagnose-dryrun"), db = dir + "/awan.db";
  OneNodeFleet(dir);
  const std::string admin = Token(db, "", "admin"), lab = Token(db, "lab", "member");
  Server s(dir, db, dir + "/fleet.yaml", AnyUser());
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const std::string id = SubmitGang(c, lab);
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(WaitForState(c, lab, id, "Running")["state"], "Running");
  ASSERT_EQ(c.Post("/v1/signals", Bearer(admin),
                   Json::array({{{"kind", "kernel"}, {"node", kNode}, {"text", kXid79}}}).dump(),
                   "application/json")
                ->status,
            202);
  std::string audit;
  for (int i = 0; i < 100 && audit.find("dry-run") == std::string::npos; ++i) {
    audit = c.Get("/v1/audit", Bearer(admin))->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(audit.find(R"("mode":"dry-run")"), std::string::npos) << audit;
  const Json job = Json::parse(c.Get("/v1/jobs/" + id, Bearer(lab))->body);
  EXPECT_EQ(job["state"], "Running");
  EXPECT_EQ(job.value("runs", 0), 1);
  EXPECT_EQ(c.Post("/v1/jobs/" + id + "/cancel", Bearer(lab), "", "text/plain")->status, 200);
}

// The agent runs nvidia-smi (here a script printing its report) and sends what it says is wrong, with the
// GPU.
TEST(DiagnoseLive, TheAgentForwardsWhatNvidiaSmiSaysIsWrong) {
  const std::string dir = TempDir("diagnose-smi"), db = dir + "/awan.db";
  OneNodeFleet(dir);
  const std::string admin = Token(db, "", "admin"), node = NodeToken(db, kNode);
  Server s(dir, db, dir + "/fleet.yaml", AnyUser());
  ASSERT_GT(s.port(), 0);
  std::ofstream(dir + "/smi.sh")
      << "cat <<'R'\n==============NVSMI LOG==============\nAttached GPUs : 2\n"
         "GPU 00000000:18:00.0\n    Clocks Event Reasons\n        Idle : Not Active\n"
         "        HW Thermal Slowdown : Not Active\n"
         "GPU 00000000:2A:00.0\n    Clocks Event Reasons\n        Idle : Not Active\n"
         "        HW Thermal Slowdown : Active\nR\n";
  std::ofstream(dir + "/kmsg").flush();
  Agent agent{SpawnAwan(
      {"agent", "--node", kNode, "--server", s.url(), "--token", node, "--kernel-log", dir + "/kmsg",
       "--interval-s", "0.2", "--gpu-health-cmd", "sh " + dir + "/smi.sh", "--gpu-health-s", "0.2"},
      dir + "/agent.log")};
  Http c(s.url());
  Json all = WaitForDiagnosis(c, admin, "GPU-HW-THERMAL-SLOWDOWN", kNode);
  const Json* hot = Find(all, "GPU-HW-THERMAL-SLOWDOWN");
  ASSERT_NE(hot, nullptr) << all.dump(1) << std::ifstream(dir + "/agent.log").rdbuf();
  EXPECT_EQ((*hot)["gpu"], 1) << "the second GPU's section said it";
  EXPECT_EQ((*hot)["evidence"].size(), 1u) << "sent once while it lasts, not at every check";
  agent.Stop();
}

// A job that waits tells the diagnosis why: its tenant finds the scheduling cause with `awan diagnose JOB`.
TEST(DiagnoseLive, AJobThatWaitsIsDiagnosedWithItsWaitReason) {
  const std::string dir = TempDir("diagnose-wait"), db = dir + "/awan.db";
  OneNodeFleet(dir);
  const std::string lab = Token(db, "lab", "member");
  Server s(dir, db, dir + "/fleet.yaml", AnyUser({"--report-waits-after-s", "1"}));
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const std::string first = SubmitGang(c, lab), second = SubmitGang(c, lab);
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  ASSERT_EQ(WaitForState(c, lab, first, "Running")["state"], "Running");
  Json found;
  for (int i = 0; i < 200 && (!found.is_object() || found["items"].empty()); ++i) {
    found = Json::parse(c.Get("/v1/diagnoses?target=" + second, Bearer(lab))->body);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(found["items"].empty()) << found.dump(1);
  EXPECT_EQ(found["items"][0]["layer"], "scheduling") << found.dump(1);
  EXPECT_EQ(found["items"][0]["jobs"], Json::array({second}));
  const std::string cli =
      RunAwan("diagnose " + second + " --since 1h --server " + s.url() + " --token " + lab);
  EXPECT_NE(cli.find("SCHED-"), std::string::npos) << cli;
  EXPECT_EQ(system((std::string(AWAN_BINARY) + " diagnose --since soon > /dev/null 2>&1").c_str()) >> 8, 2);
  EXPECT_EQ(c.Post("/v1/jobs/" + first + "/cancel", Bearer(lab), "", "text/plain")->status, 200);
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
  Agent agent{SpawnAwan({"agent", "--node", kNode, "--server", url, "--token", node, "--kernel-log", kmsg,
                         "--from-start", "--interval-s", "0.2"},
                        dir + "/agent.log")};
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
  agent.Stop();
}

}  // namespace
}  // namespace awan::testing
