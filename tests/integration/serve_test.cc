// `awan serve` end to end on 127.0.0.1: the real binary, the real SQLite store, real processes. Jobs run to
// completion on the GPUs awan chose; every endpoint keeps tenants apart; bad tokens and bad bodies get a
// clear 4xx and the server keeps serving; and a job that got 201 survives SIGKILL at random moments (20
// rounds).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "integration/serve_harness.h"

namespace {

using namespace awan::testing;  // NOLINT
TEST(Serve, JobsRunOnTheGpusAwanChoseAndTenantsStayApart) {
  const std::string dir = TempDir("run");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), b = Token(db, "sg-fintech", "member");
  const std::string viewer = Token(db, "my-university", "viewer"), admin = Token(db, "", "admin");
  const std::string revoked = Token(db, "my-university", "member");
  RunAwan("token revoke --store sqlite:" + db + " " + revoked);
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto health = c.Get("/v1/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(c.Get("/v1/readyz")->status, 200);
  auto openapi = c.Get("/v1/openapi.json");
  ASSERT_EQ(openapi->status, 200);
  EXPECT_TRUE(Json::parse(openapi->body)["paths"].contains("/v1/jobs"));
  const Json api = Json::parse(openapi->body);  // named: a range-for over a temporary's member dangles
  std::vector<std::string> submit_params;
  for (const Json& p : api["paths"]["/v1/jobs"]["post"]["parameters"]) submit_params.push_back(p["name"]);
  EXPECT_EQ(submit_params,
            (std::vector<std::string>{"dry_run", "hold", "array", "dependency", "priority", "time_limit"}));

  // Submit as tenant A: 201 with an id; it runs its two tasks on the devices awan chose and succeeds.
  auto sub = c.Post("/v1/jobs", Bearer(a), kShortJob, "application/yaml");
  ASSERT_EQ(sub->status, 201) << sub->body;
  const std::string id = Json::parse(sub->body)["id"];
  Json done = WaitForState(c, a, id, "Succeeded");
  ASSERT_EQ(done["state"], "Succeeded") << done.dump();
  ASSERT_EQ(done["placement"].size(), 2u);
  for (int t = 0; t < 2; ++t) {
    auto logs = c.Get("/v1/jobs/" + id + "/logs?task=" + std::to_string(t), Bearer(a));
    ASSERT_EQ(logs->status, 200);
    const Json& p = done["placement"][static_cast<size_t>(t)];
    EXPECT_NE(logs->body.find("devices " + p["devices"].get<std::string>() + " node " +
                              p["node"].get<std::string>()),
              std::string::npos)
        << logs->body << " vs " << p.dump();
  }

  // The audit log: one hash-chained entry per placement, with the rules that allowed it; admins only. It
  // passes `awan audit verify` against the fleet.
  EXPECT_EQ(c.Get("/v1/audit", Bearer(a))->status, 403);
  auto audit_log = c.Get("/v1/audit", Bearer(admin));
  ASSERT_EQ(audit_log->status, 200);
  EXPECT_NE(audit_log->body.find("\"job\":\"" + id + "\""), std::string::npos) << audit_log->body;
  std::ofstream(dir + "/audit.jsonl") << audit_log->body;
  const std::string verify =
      RunAwan("audit verify --fleet " + std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml --log " +
              dir + "/audit.jsonl 2>&1; echo rc=$?");
  EXPECT_NE(verify.find("rc=0"), std::string::npos) << verify;

  // Tenant B sees nothing of A's: every endpoint answers 404 or leaves it out.
  EXPECT_EQ(c.Get("/v1/jobs/" + id, Bearer(b))->status, 404);
  EXPECT_EQ(c.Get("/v1/jobs/" + id + "/logs", Bearer(b))->status, 404);
  EXPECT_EQ(c.Post("/v1/jobs/" + id + "/cancel", Bearer(b), "", "text/plain")->status, 404);
  EXPECT_EQ(c.Delete("/v1/jobs/" + id, Bearer(b))->status, 404);
  EXPECT_TRUE(Json::parse(c.Get("/v1/jobs", Bearer(b))->body)["items"].empty());
  EXPECT_TRUE(Json::parse(c.Get("/v1/jobs?tenant=my-university", Bearer(b))->body)["items"].empty());
  const Json tenants_b = Json::parse(c.Get("/v1/tenants", Bearer(b))->body);
  for (const Json& t : tenants_b["items"]) EXPECT_EQ(t["name"], "sg-fintech");
  // B may not submit for A.
  std::string for_a = kShortJob;
  for_a.replace(for_a.find("{name: hello}"), 13, "{name: hello, tenant: my-university}");
  EXPECT_EQ(c.Post("/v1/jobs", Bearer(b), for_a, "application/yaml")->status, 403);
  // A and the admin see it.
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs", Bearer(a))->body)["items"].size(), 1u);
  EXPECT_EQ(c.Get("/v1/jobs/" + id, Bearer(admin))->status, 200);
  // A viewer reads but may not write.
  EXPECT_EQ(c.Get("/v1/jobs/" + id, Bearer(viewer))->status, 200);
  EXPECT_EQ(c.Post("/v1/jobs", Bearer(viewer), kShortJob, "application/yaml")->status, 403);

  // Missing, malformed, unknown and revoked tokens: 401 with a message.
  for (const httplib::Headers& h :
       {httplib::Headers{}, Bearer("nonsense"), Bearer("awan_" + std::string(64, '0')), Bearer(revoked)}) {
    auto r = c.Get("/v1/jobs", h);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << r->body;
    EXPECT_TRUE(Json::parse(r->body).contains("error"));
  }
  // A token revoked while the server runs stops working within a second (good tokens are cached that long).
  const std::string late = Token(db, "my-university", "member");
  ASSERT_EQ(c.Get("/v1/jobs", Bearer(late))->status, 200);
  RunAwan("token revoke --store sqlite:" + db + " " + late);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(c.Get("/v1/jobs", Bearer(late))->status, 401);
  // Malformed and oversized bodies: a clear 4xx, and the server keeps serving.
  auto bad = c.Post("/v1/jobs", Bearer(a),
                    "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 3.5, duration_s: 5}\n",
                    "application/yaml");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(Json::parse(bad->body)["error"].get<std::string>().find("whole number of GPUs"),
            std::string::npos)
      << bad->body;
  EXPECT_EQ(c.Post("/v1/jobs", Bearer(a), "{not yaml: [", "application/yaml")->status, 400);
  auto big = c.Post("/v1/jobs", Bearer(a), std::string(300 * 1024, 'x'), "application/yaml");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  EXPECT_EQ(c.Get("/v1/nosuch", Bearer(a))->status, 404);
  EXPECT_EQ(c.Get("/v1/jobs?limit=abc", Bearer(a))->status, 400);
  EXPECT_EQ(c.Get("/v1/healthz")->status, 200);

  // Cancel a long job; metrics count what happened.
  std::string sleeper = kShortJob;
  sleeper.replace(sleeper.find("command: [sh, -c, \""), 19, "command: [sh, -c, \"sleep 60; ");
  auto s2 = c.Post("/v1/jobs", Bearer(a), sleeper, "application/yaml");
  ASSERT_EQ(s2->status, 201);
  const std::string id2 = Json::parse(s2->body)["id"];
  WaitForState(c, a, id2, "Running");
  auto cancelled = c.Post("/v1/jobs/" + id2 + "/cancel", Bearer(a), "", "text/plain");
  ASSERT_EQ(cancelled->status, 200);
  EXPECT_EQ(Json::parse(cancelled->body)["state"], "Cancelled");
  // Metrics need a token; a tenant sees its own series and the fleet's, never another tenant's name.
  EXPECT_EQ(c.Get("/metrics")->status, 401);
  auto metrics = c.Get("/metrics", Bearer(admin));
  ASSERT_EQ(metrics->status, 200);
  for (const char* m :
       {"awan_jobs_waiting{tenant=\"my-university\"}", "awan_jobs_waiting{tenant=\"sg-fintech\"}",
        "awan_scheduling_cycle_seconds_bucket", "awan_api_request_seconds_count", "awan_decisions_total 2",
        "awan_jobs_submitted_total 2", "awan_cycle_stage_seconds_total{stage=\"place\"}",
        "awan_cycle_stage_seconds_total{stage=\"reserve\"}"}) {
    EXPECT_NE(metrics->body.find(m), std::string::npos) << m << "\n" << metrics->body;
  }
  const std::string mine = c.Get("/metrics", Bearer(a))->body;
  EXPECT_NE(mine.find("awan_jobs_waiting{tenant=\"my-university\"}"), std::string::npos) << mine;
  EXPECT_EQ(mine.find("sg-fintech"), std::string::npos) << mine;
}

// Durability: a client submits as fast as it can while the server is killed with SIGKILL at a random moment;
// after a restart every job that got 201 is there, in a consistent state. 20 rounds.
TEST(Serve, EveryAcceptedJobSurvivesSigkill) {
  const std::string dir = TempDir("kill");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  std::mt19937 rng(20261123);
  std::vector<std::string> accepted;
  const std::string job =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: d}\nspec: {gpus: 1, duration_s: 5}\n";
  for (int round = 0; round < 20; ++round) {
    Server s(dir, db);
    ASSERT_GT(s.port(), 0) << "round " << round;
    std::atomic<bool> stop{false};
    std::vector<std::string> got;
    std::thread client([&] {
      httplib::Client c(s.url());
      c.set_read_timeout(2);
      while (!stop) {
        auto r = c.Post("/v1/jobs", Bearer(token), job, "application/yaml");
        if (!r) break;  // the server is gone
        if (r->status == 201) got.push_back(Json::parse(r->body)["id"]);
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 200));
    s.Kill(SIGKILL);
    stop = true;
    client.join();
    accepted.insert(accepted.end(), got.begin(), got.end());
  }
  std::printf("%zu jobs accepted over 20 rounds of SIGKILL\n", accepted.size());
  ASSERT_GT(accepted.size(), 20u);
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  std::set<std::string> listed;
  std::string after;
  for (;;) {
    auto r = c.Get("/v1/jobs?limit=1000" + (after.empty() ? "" : "&after=" + after), Bearer(token));
    ASSERT_EQ(r->status, 200);
    Json page = Json::parse(r->body);
    for (const Json& j : page["items"]) {
      listed.insert(j["id"]);
      const std::string st = j["state"];
      EXPECT_TRUE(st == "Pending" || st == "Running" || st == "Succeeded") << j.dump();
    }
    if (!page.contains("next")) break;
    after = page["next"];
  }
  for (const std::string& id : accepted) EXPECT_TRUE(listed.count(id)) << id << " got 201 but is gone";
  // The audit chain survived the kills: it continues across restarts and still verifies.
  ExpectAuditVerifies(c, db, dir);
}

// The SIGKILL rounds' job: its task prints, runs for 2 s, prints again.
constexpr const char* kTwoSecondJob =
    "apiVersion: awan/v1\nkind: Job\nmetadata: {name: t}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
    "command: [sh, -c, 'echo start; sleep 2; echo end']}\n";

// One round: a client submits up to 20 jobs, 20 ms apart, while `s` lives; `before_kill` runs just before
// the server is killed with SIGKILL, 300-1,000 ms in. The ids that got 201.
std::vector<std::string> SubmitUntilKilled(Server& s, const std::string& token, std::mt19937& rng,
                                           const std::function<void()>& before_kill = {}) {
  std::atomic<bool> stop{false};
  std::vector<std::string> got;
  std::thread client([&] {
    httplib::Client c(s.url());
    c.set_read_timeout(5);
    for (int i = 0; i < 20 && !stop; ++i) {
      auto r = c.Post("/v1/jobs", Bearer(token), kTwoSecondJob, "application/yaml");
      if (!r) break;  // the server is gone
      if (r->status == 201) got.push_back(Json::parse(r->body)["id"]);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 700));
  if (before_kill) before_kill();
  s.Kill(SIGKILL);
  stop = true;
  client.join();
  return got;
}

// Every accepted job ended Succeeded after one run from start to end: one log, no earlier run, runs == 1.
// How many did.
int ExpectEachRanOnce(Http& c, const std::string& token, const std::vector<std::string>& accepted) {
  int ran_once = 0;
  for (const std::string& id : accepted) {
    const Json end = WaitForEnd(c, token, id, 30);
    EXPECT_EQ(end["state"], "Succeeded") << end.dump();
    const std::string log = c.Get("/v1/jobs/" + id + "/logs", Bearer(token))->body;
    const std::string earlier = c.Get("/v1/jobs/" + id + "/logs?run=1", Bearer(token))->body;
    EXPECT_EQ(log, "start\nend\n") << id;
    EXPECT_EQ(earlier, "") << id << " ran twice";
    EXPECT_EQ(end.value("runs", 0), 1) << end.dump();
    ran_once += log == "start\nend\n" && earlier.empty() && end.value("runs", 0) == 1;
  }
  return ran_once;
}

// Durability with work running: 10 rounds of SIGKILL while a client submits jobs whose tasks run for 2 s.
// Every job that got 201 ends Succeeded, each task ran exactly once from start to end (one log, no second
// run: a restart neither killed nor reran it), and the audit chain verifies.
TEST(Serve, SigkillRoundsWithTasksRunning) {
  if (geteuid() != 0) GTEST_SKIP() << "task isolation needs root";
  const std::string dir = TempDir("kill-tasks");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  std::mt19937 rng(20261202);
  std::vector<std::string> accepted;
  for (int round = 0; round < 10; ++round) {
    Server s(dir, db, "", {"--heavy-reads-per-s", "0"});
    ASSERT_GT(s.port(), 0) << "round " << round;
    const std::vector<std::string> got = SubmitUntilKilled(s, token, rng);
    accepted.insert(accepted.end(), got.begin(), got.end());
  }
  ASSERT_GT(accepted.size(), 10u);
  Server s(dir, db, "", {"--heavy-reads-per-s", "0"});
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const int ran_once = ExpectEachRanOnce(c, token, accepted);
  std::printf("%zu jobs accepted over 10 rounds of SIGKILL with tasks running; %d ran exactly once\n",
              accepted.size(), ran_once);
  ExpectAuditVerifies(c, db, dir);
}

// The same with the etcd store (a three-member cluster on 127.0.0.1, scripts/etcd-up.sh) and a failover: in
// one round the etcd leader is killed with the server, and the rounds go on on the two members left. Each new
// server waits for the previous one's leadership lease to lapse, then adopts what runs.
TEST(Serve, SigkillRoundsWithTasksRunningOnEtcdWithAFailover) {
  if (geteuid() != 0) GTEST_SKIP() << "task isolation needs root";
  if (std::system("command -v etcd > /dev/null") != 0)
    GTEST_SKIP() << "etcd is not installed (scripts/install-deps.sh installs it)";
  const std::string dir = TempDir("kill-etcd");
  FILE* up =
      popen((std::string(AWAN_SOURCE_DIR) + "/scripts/etcd-up.sh " + dir + "/etcd 25790").c_str(), "r");
  char buf[512] = {0};
  const bool got_eps = fgets(buf, sizeof buf, up) != nullptr;
  pclose(up);
  std::string eps = buf;
  eps.erase(eps.find_last_not_of('\n') + 1);
  struct Down {
    std::string dir;
    ~Down() {
      std::system((std::string(AWAN_SOURCE_DIR) + "/scripts/etcd-down.sh " + dir + "/etcd").c_str());
    }
  } down{dir};
  ASSERT_TRUE(got_eps && eps.rfind("http://", 0) == 0) << "scripts/etcd-up.sh failed: " << eps;
  const std::string store = "etcd:" + eps;
  const std::string token = Token(store, "my-university", "member");
  ASSERT_EQ(token.rfind("awan_", 0), 0u) << token;
  auto ready = [](Server& s) {
    for (int i = 0; i < 150; ++i) {  // the previous server's lease (3 s) must lapse first
      httplib::Client p(s.url());
      p.set_connection_timeout(0, 300000);
      auto r = p.Get("/v1/readyz");
      if (r && r->status == 200) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  // The etcd leader dies with the server.
  auto kill_etcd_leader = [&] {
    FILE* p = popen(("ETCDCTL_API=3 etcdctl --endpoints=" + eps + " endpoint status -w json").c_str(), "r");
    std::string status;
    while (size_t n = fread(buf, 1, sizeof buf, p)) status.append(buf, n);
    pclose(p);
    const Json members = Json::parse(status, nullptr, false);
    int leader = 0;
    for (const Json& e : members.is_array() ? members : Json::array()) {
      if (e["Status"]["header"]["member_id"] == e["Status"]["leader"])
        leader = e["Endpoint"].get<std::string>().back() - '0';  // ports 25791..25793: members 1..3
    }
    ASSERT_GE(leader, 1) << status;
    std::ifstream pidfile(dir + "/etcd/e" + std::to_string(leader) + ".pid");
    pid_t pid = 0;
    pidfile >> pid;
    ASSERT_GT(pid, 0);
    kill(pid, SIGKILL);
  };
  std::mt19937 rng(20261203);
  std::vector<std::string> accepted;
  constexpr int kRounds = 6, kFailoverRound = 2;
  for (int round = 0; round < kRounds; ++round) {
    Server s(dir, store, "", {"--heavy-reads-per-s", "0"});
    ASSERT_GT(s.port(), 0) << "round " << round;
    ASSERT_TRUE(ready(s)) << "round " << round << ": never became leader\n" << s.output();
    const std::vector<std::string> got = SubmitUntilKilled(
        s, token, rng,
        round == kFailoverRound ? std::function<void()>(kill_etcd_leader) : std::function<void()>());
    accepted.insert(accepted.end(), got.begin(), got.end());
  }
  ASSERT_GT(accepted.size(), 10u);
  Server s(dir, store, "", {"--heavy-reads-per-s", "0"});
  ASSERT_GT(s.port(), 0);
  ASSERT_TRUE(ready(s)) << s.output();
  Http c(s.url());
  const int ran_once = ExpectEachRanOnce(c, token, accepted);
  std::printf(
      "%zu jobs accepted over %d rounds of SIGKILL on etcd (leader killed in round %d); %d ran exactly "
      "once\n",
      accepted.size(), kRounds, kFailoverRound + 1, ran_once);
  ExpectAuditVerifies(c, store, dir);
}

}  // namespace

namespace {

// The slurm executor against a real Slurm cluster on 127.0.0.1 (slurmctld + slurmd with 4 fake GPUs, started
// by scripts/slurm-up.sh): the job runs through sbatch on the node awan chose, with the GPU count Slurm
// allocated and the device indices awan chose, to completion.
TEST(Serve, SlurmExecutorRunsTheJobWhereAwanPlacedIt) {
  if (getuid() != 0) GTEST_SKIP() << "needs root to start slurmd and munged (scripts/slurm-up.sh)";
  const std::string dir = TempDir("slurm");
  const std::string up =
      std::string(AWAN_SOURCE_DIR) + "/scripts/slurm-up.sh " + dir + "/slurm 4 16917 16918";
  FILE* p = popen(up.c_str(), "r");
  char buf[256] = {0};
  const bool got = fgets(buf, sizeof buf, p) != nullptr;
  const int rc = pclose(p);
  ASSERT_TRUE(got && rc == 0) << "scripts/slurm-up.sh failed; see " << dir << "/slurm/log";
  std::string host = buf;
  host.erase(host.find_last_not_of("\n") + 1);
  setenv("SLURM_CONF", (dir + "/slurm/slurm.conf").c_str(), 1);
  struct Down {
    std::string dir;
    ~Down() {
      std::system((std::string(AWAN_SOURCE_DIR) + "/scripts/slurm-down.sh " + dir + "/slurm").c_str());
    }
  } down{dir};
  // Slurm runs a job as a Unix user the cluster knows: the tenant "lab" maps to one made for the test;
  // "other" to a uid no user has.
  ASSERT_EQ(std::system(
                "id awan-slurm-lab > /dev/null 2>&1 || { getent group 61234 > /dev/null || groupadd -g "
                "61234 awan-slurm-lab; useradd -M -u 61234 -g 61234 -s /usr/sbin/nologin awan-slurm-lab; }"),
            0);
  OneNodeFleet(dir, "  - {name: other, guaranteed_gpus: 2, uid: 61999, gid: 61999}\n");
  {
    std::ifstream in(dir + "/fleet.yaml");
    std::string fleet((std::istreambuf_iterator<char>(in)), {});
    fleet.replace(fleet.find("{name: lab, guaranteed_gpus: 4}"), 31,
                  "{name: lab, guaranteed_gpus: 4, uid: 61234, gid: 61234}");
    std::ofstream(dir + "/fleet.yaml") << fleet;
  }
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member"), other = Token(db, "other", "member");
  setenv("AWAN_TEST_SERVER_SECRET", "leaked", 1);  // in the server's environment: must not reach a job
  Server s(dir, db, dir + "/fleet.yaml", {"--executor", "slurm", "--slurm-nodes", "z-b0-s0-0=" + host});
  unsetenv("AWAN_TEST_SERVER_SECRET");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const std::string job =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: on-slurm}\nspec:\n  gpus: 2\n  cpu: 1\n"
      "  memory_gib: 0.1\n  command: [sh, -c, 'echo devices=$CUDA_VISIBLE_DEVICES job=$SLURM_JOB_ID "
      "node=$SLURMD_NODENAME uid=$(id -u) secret=$AWAN_TEST_SERVER_SECRET. cwd=$(pwd)']\n";
  auto sub = c.Post("/v1/jobs", Bearer(token), job, "application/yaml");
  ASSERT_EQ(sub->status, 201) << sub->body;
  const std::string id = Json::parse(sub->body)["id"];
  const Json done = WaitForEnd(c, token, id, 60);
  ASSERT_EQ(done["state"], "Succeeded") << done.dump();
  const std::string devices = done["placement"][0]["devices"];
  EXPECT_EQ(devices.size(), 3u) << devices;  // two devices, "i,j"
  const std::string logs = c.Get("/v1/jobs/" + id + "/logs?task=0", Bearer(token))->body;
  EXPECT_NE(logs.find("devices=" + devices + " "), std::string::npos) << logs;
  EXPECT_NE(logs.find("node=" + host), std::string::npos) << logs;
  EXPECT_NE(logs.find("uid=61234 "), std::string::npos) << logs;  // its tenant's user, not root
  EXPECT_NE(logs.find("secret=. "), std::string::npos) << logs;   // nothing of the server's environment
  EXPECT_NE(logs.find("cwd=" + dir + "/state/logs/" + id + "/out"), std::string::npos) << logs;
  struct stat st {};
  ASSERT_EQ(stat((dir + "/state/logs/" + id + "/out").c_str(), &st), 0);  // its output and cwd: the user's
  EXPECT_EQ(st.st_uid, 61234u);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(stat((dir + "/state/logs/" + id).c_str(), &st), 0);  // its script: root's, not the user's
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 0777, 0711u);
  // A tenant whose uid is no user of the cluster: its job fails with a message that says what to do.
  auto bad = c.Post("/v1/jobs", Bearer(other), job, "application/yaml");
  ASSERT_EQ(bad->status, 201) << bad->body;
  const Json refused = WaitForEnd(c, other, Json::parse(bad->body)["id"], 30);
  EXPECT_EQ(refused["state"], "Failed") << refused.dump();
  EXPECT_NE(refused["message"].get<std::string>().find("Unix users"), std::string::npos) << refused.dump();
  // Slurm jobs outlive awan: a server killed while one runs, the next one finds it by name and tracks it to
  // its end; it runs once.
  const std::string longer =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: outlives}\nspec: {gpus: 1, cpu: 1, memory_gib: 0.1, "
      "command: [sh, -c, 'echo begin $SLURM_JOB_ID; sleep 4; echo finished']}\n";
  auto lr = c.Post("/v1/jobs", Bearer(token), longer, "application/yaml");
  ASSERT_EQ(lr->status, 201) << lr->body;
  const std::string lid = Json::parse(lr->body)["id"];
  ASSERT_EQ(WaitForState(c, token, lid, "Running")["state"], "Running");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // sbatch'ed and started
  s.Kill(SIGKILL);
  Server again(dir, db, dir + "/fleet.yaml", {"--executor", "slurm", "--slurm-nodes", "z-b0-s0-0=" + host});
  ASSERT_GT(again.port(), 0);
  Http c2(again.url());
  const Json lend = WaitForEnd(c2, token, lid, 60);
  EXPECT_EQ(lend["state"], "Succeeded") << lend.dump();
  EXPECT_EQ(lend.value("runs", 0), 1) << lend.dump();
  const std::string llog = c2.Get("/v1/jobs/" + lid + "/logs?task=0", Bearer(token))->body;
  EXPECT_EQ(llog.find("begin"), llog.rfind("begin")) << llog;  // one run
  EXPECT_NE(llog.find("finished"), std::string::npos) << llog;
  FILE* sq = popen(("squeue --noheader --states=all --name=awan-" + lid + "-0-r1 --format=%i").c_str(), "r");
  int slurm_jobs = 0;
  while (fgets(buf, sizeof buf, sq)) ++slurm_jobs;
  pclose(sq);
  EXPECT_EQ(slurm_jobs, 1) << "the task was submitted to Slurm more than once";
  const size_t at = logs.find("job=");
  ASSERT_NE(at, std::string::npos) << logs;
  const std::string slurm_id = logs.substr(at + 4, logs.find(' ', at) - at - 4);
  FILE* q = popen(("scontrol show job -o " + slurm_id).c_str(), "r");
  std::string info;
  while (fgets(buf, sizeof buf, q)) info += buf;
  pclose(q);
  EXPECT_NE(info.find("JobState=COMPLETED"), std::string::npos) << info;
  EXPECT_NE(info.find("NodeList=" + host), std::string::npos) << info;
  EXPECT_NE(info.find("TresPerNode=gres:gpu:2"), std::string::npos)
      << info;  // Slurm allocated 2 GPUs to run it
}

}  // namespace

namespace {

// Heartbeats: a node that has beaten and then falls silent is marked down, its job is stopped and requeued;
// when it beats again the job runs again.
TEST(Serve, SilentNodeIsMarkedDownAndItsWorkRequeued) {
  const std::string dir = TempDir("beat");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member"), admin = Token(db, "", "admin");
  Server s(dir, db, dir + "/fleet.yaml", {"--heartbeat-timeout", "1"});
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto beat = [&] {
    return c.Post("/v1/nodes/z-b0-s0-0/heartbeat", Bearer(admin), "", "text/plain")->status;
  };
  ASSERT_EQ(beat(), 200);
  EXPECT_EQ(c.Post("/v1/nodes/z-b0-s0-0/heartbeat", Bearer(token), "", "text/plain")->status,
            403);  // members may not
  EXPECT_EQ(c.Post("/v1/nodes/nosuch/heartbeat", Bearer(admin), "", "text/plain")->status, 404);
  const std::string job =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: long}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
      "command: [sleep, '60']}\n";
  auto sub = c.Post("/v1/jobs", Bearer(token), job, "application/yaml");
  ASSERT_EQ(sub->status, 201);
  const std::string id = Json::parse(sub->body)["id"];
  Json j = WaitForState(c, token, id, "Running");
  ASSERT_EQ(j["state"], "Running") << j.dump();
  EXPECT_EQ(j["runs"], 1) << j.dump();
  EXPECT_EQ(j["restarts"], 0) << j.dump();
  // Silence: within a few seconds the node is down and the job waits again.
  Json requeued;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    requeued = Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body);
    if (requeued["state"] == "Pending") break;
  }
  ASSERT_EQ(requeued["state"], "Pending") << requeued.dump();
  const Json nodes = Json::parse(c.Get("/v1/nodes", Bearer(token))->body);
  EXPECT_FALSE(nodes["items"][0]["up"].get<bool>()) << nodes.dump();
  // It beats again: the node is back and the job runs again.
  Json again;
  for (int i = 0; i < 100; ++i) {
    beat();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    again = Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body);
    if (again["state"] == "Running") break;
  }
  EXPECT_EQ(again["state"], "Running") << again.dump();
  EXPECT_EQ(again["runs"], 2) << again.dump();  // describe shows it: runs 2 (restarts: 1)
  EXPECT_EQ(again["restarts"], 1) << again.dump();
  const std::string shown = RunAwan("describe " + id + " --server " + s.url() + " --token " + token);
  EXPECT_NE(shown.find("runs: 2 (restarts: 1)"), std::string::npos) << shown;
}

}  // namespace

namespace {

// TLS by flag: with a certificate the API is HTTPS only, and the CLI verifies it against AWAN_CA.
TEST(Serve, TlsByFlag) {
  const std::string dir = TempDir("tls");
  ASSERT_EQ(
      std::system(("openssl req -x509 -newkey rsa:2048 -nodes -keyout " + dir + "/key.pem -out " + dir +
                   "/cert.pem -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null")
                      .c_str()),
      0);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db, "", {"--tls-cert", dir + "/cert.pem", "--tls-key", dir + "/key.pem"});
  ASSERT_GT(s.port(), 0);
  ASSERT_EQ(s.url().rfind("https://", 0), 0u) << s.url();
  Http tls(s.url());
  tls.raw().set_ca_cert_path((dir + "/cert.pem").c_str());
  tls.raw().enable_server_certificate_verification(true);
  auto ok = tls.Get("/v1/healthz");
  ASSERT_TRUE(ok) << httplib::to_string(ok.error());
  EXPECT_EQ(ok->status, 200);
  httplib::Client plain("http://127.0.0.1:" + std::to_string(s.port()));
  plain.set_read_timeout(2);
  auto no = plain.Get("/v1/healthz");
  EXPECT_TRUE(!no || no->status != 200);  // plain HTTP is not served
  EXPECT_NE(RunAwan("queue --ca " + dir + "/cert.pem --server " + s.url() + " --token " + token).find("ID"),
            std::string::npos);
  // Without the CA the self-signed certificate is refused.
  EXPECT_EQ(RunAwan("queue --server " + s.url() + " --token " + token).find("ID"), std::string::npos);
}

}  // namespace

namespace {

// cgroup-v1 limits for local tasks, where the machine allows: a task runs in its own memory and cpu cgroup
// with the manifest's limits, and a task that goes over its memory is killed (exit 137, job Failed).
TEST(Serve, LocalTasksRunUnderCgroupLimits) {
  if (access("/sys/fs/cgroup/memory/memory.limit_in_bytes", W_OK) != 0 &&
      access("/sys/fs/cgroup/memory", W_OK) != 0) {
    GTEST_SKIP() << "no writable cgroup-v1 memory hierarchy on this machine";
  }
  const std::string dir = TempDir("cgroup");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const std::string show =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: limits}\nspec: {gpus: 1, cpu: 2, memory_gib: 0.0625, "
      "command: [sh, -c, "
      "'echo $AWAN_CGROUP; cat /sys/fs/cgroup/memory/$AWAN_CGROUP/memory.limit_in_bytes "
      "/sys/fs/cgroup/cpu/$AWAN_CGROUP/cpu.cfs_quota_us; "
      "grep memory /proc/self/cgroup']}\n";
  auto a = c.Post("/v1/jobs", Bearer(token), show, "application/yaml");
  ASSERT_EQ(a->status, 201);
  const std::string ida = Json::parse(a->body)["id"];
  ASSERT_EQ(WaitForState(c, token, ida, "Succeeded")["state"], "Succeeded");
  const std::string log = c.Get("/v1/jobs/" + ida + "/logs", Bearer(token))->body;
  EXPECT_NE(log.find("67108864"), std::string::npos) << log;  // 64 MiB
  EXPECT_NE(log.find("200000"), std::string::npos) << log;    // 2 cores of CFS quota
  // Its own group: awan/<this server's instance>/<job>-<task>, the same one /proc says it is in.
  const std::string group = log.substr(0, log.find('\n'));
  EXPECT_EQ(group.rfind("awan/", 0), 0u) << log;
  EXPECT_NE(group.find("/" + ida + "-0"), std::string::npos) << log;
  EXPECT_NE(log.find(":/" + group), std::string::npos) << log;
  const std::string hog =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: hog}\nspec: {gpus: 1, cpu: 1, memory_gib: 0.0625, "
      "command: [sh, -c, "
      "'x=$(head -c 400000000 /dev/zero | tr \"\\\\000\" a); echo survived']}\n";
  auto b = c.Post("/v1/jobs", Bearer(token), hog, "application/yaml");
  ASSERT_EQ(b->status, 201) << b->body;
  const std::string idb = Json::parse(b->body)["id"];
  const Json failed = WaitForEnd(c, token, idb, 30);
  EXPECT_EQ(failed["state"], "Failed") << failed.dump();
  EXPECT_EQ(failed.value("exit_code", 0), 137) << failed.dump();
}

}  // namespace

namespace {

// Explain through the API and the CLI: a job waiting behind a full node is told why, and what would change
// it, computed by the core on a clone of the live state.
TEST(Serve, ExplainAWaitingJob) {
  const std::string dir = TempDir("explain");
  OneNodeFleet(dir, "  - {name: other, guaranteed_gpus: 0}\n");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member"), other = Token(db, "other", "member");
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const std::string big =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: big}\nspec: {gpus: 4, cpu: 1, memory_gib: 1, "
      "duration_s: 600, command: [sleep, '30']}\n";
  auto a = c.Post("/v1/jobs", Bearer(token), big, "application/yaml");
  ASSERT_EQ(a->status, 201);
  const std::string ida = Json::parse(a->body)["id"];
  ASSERT_EQ(WaitForState(c, token, ida, "Running")["state"], "Running");
  auto b = c.Post("/v1/jobs", Bearer(token), big, "application/yaml");
  ASSERT_EQ(b->status, 201);
  const std::string idb = Json::parse(b->body)["id"];
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto ex = c.Get("/v1/jobs/" + idb + "/explain", Bearer(token));
  ASSERT_EQ(ex->status, 200) << ex->body;
  const Json e = Json::parse(ex->body);
  EXPECT_EQ(e["reason"], "capacity") << e.dump();
  bool wait = false;
  for (const Json& cf : e["counterfactuals"]) wait = wait || (cf["kind"] == "wait" && cf["after_job"] == ida);
  EXPECT_TRUE(wait) << e.dump();
  EXPECT_EQ(c.Get("/v1/jobs/" + ida + "/explain", Bearer(token))->status,
            409);  // running: nothing to explain
  EXPECT_EQ(c.Get("/v1/jobs/" + idb + "/explain", Bearer(other))->status, 404);  // another tenant's
  // Queues: each tenant's waiting and running jobs; a tenant sees only its own.
  const Json queues = Json::parse(c.Get("/v1/queues", Bearer(token))->body);
  ASSERT_EQ(queues["items"].size(), 1u) << queues.dump();
  EXPECT_EQ(queues["items"][0]["waiting"], Json::array({idb}));
  EXPECT_EQ(queues["items"][0]["running"], Json::array({ida}));
  const Json theirs = Json::parse(c.Get("/v1/queues", Bearer(other))->body);
  ASSERT_EQ(theirs["items"].size(), 1u);
  EXPECT_EQ(theirs["items"][0]["tenant"], "other");
  // The CLI reads the server and token from a config file too.
  std::ofstream(dir + "/config.yaml") << "url: " << s.url() << "\ntoken: " << token << "\n";
  const std::string cfg_cmd = "AWAN_CONFIG=" + dir + "/config.yaml " + std::string(AWAN_BINARY) + " queues";
  FILE* p = popen(cfg_cmd.c_str(), "r");
  std::string cfg_out;
  char buf[1024];
  while (fgets(buf, sizeof buf, p)) cfg_out += buf;
  pclose(p);
  EXPECT_NE(cfg_out.find("lab"), std::string::npos) << cfg_out;
  const std::string cli = RunAwan("explain " + idb + " --server " + s.url() + " --token " + token);
  EXPECT_NE(cli.find("waits for capacity"), std::string::npos) << cli;
  EXPECT_NE(cli.find("when job " + ida + " ends"), std::string::npos) << cli;
}

}  // namespace

namespace {

// `awan logs -f` follows a running task's output until the job ends; `--tail N` starts at the last N bytes.
TEST(Serve, LogsFollowUntilTheJobEnds) {
  ServerFixture f("follow");
  Server& s = *f.s;
  const std::string& token = f.token;
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto r =
      c.Post("/v1/jobs", Bearer(token),
             "apiVersion: awan/v1\nkind: Job\nmetadata: {name: talk}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
             "command: [sh, -c, 'for i in 1 2 3; do echo line$i; sleep 1; done']}\n",
             "application/yaml");
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id = Json::parse(r->body)["id"];
  ASSERT_EQ(WaitForState(c, token, id, "Running")["state"], "Running");
  const std::string followed = RunAwan("logs " + id + " -f --server " + s.url() + " --token " + token);
  EXPECT_EQ(followed, "line1\nline2\nline3\n");
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body)["state"], "Succeeded");
  EXPECT_EQ(RunAwan("logs " + id + " --tail 6 --server " + s.url() + " --token " + token), "line3\n");
}

// Tasks outlive the control plane: a server killed with SIGKILL leaves its tasks running, and the next server
// adopts them where they run (same processes, found through the task's memory cgroup) and tracks them to the
// end; a task that ended while no server watched is recorded, not rerun. Each run keeps its own log.
TEST(Serve, RestartAdoptsRunningTasks) {
  if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) != 0)
    GTEST_SKIP() << "no writable cgroup-v1 memory hierarchy";
  const std::string dir = TempDir("adopt");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  auto job = [](const std::string& name, int seconds) {
    return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name +
           "}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
           "command: [sh, -c, 'echo $AWAN_CGROUP; sleep " +
           std::to_string(seconds) + "; echo done']}\n";
  };
  auto pids = CgroupPids;
  std::string id, quick, group;
  std::vector<pid_t> first;
  {
    Server s(dir, db, dir + "/fleet.yaml");
    ASSERT_GT(s.port(), 0);
    Http c(s.url());
    // Long enough to outlive the kill, the pause and a restart under a sanitizer build on a loaded machine.
    auto sub = c.Post("/v1/jobs", Bearer(token), job("long", 8), "application/yaml");
    ASSERT_EQ(sub->status, 201);
    id = Json::parse(sub->body)["id"];
    auto sub2 = c.Post("/v1/jobs", Bearer(token), job("quick", 1), "application/yaml");
    ASSERT_EQ(sub2->status, 201);
    quick = Json::parse(sub2->body)["id"];
    ASSERT_EQ(WaitForState(c, token, id, "Running")["state"], "Running");
    ASSERT_EQ(WaitForState(c, token, quick, "Running")["state"], "Running");
    for (int i = 0; i < 100 && group.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      const std::string log = c.Get("/v1/jobs/" + id + "/logs", Bearer(token))->body;
      if (log.find('\n') != std::string::npos) group = log.substr(0, log.find('\n'));
    }
    ASSERT_FALSE(group.empty());
    for (int i = 0; i < 100 && first.size() < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      first = pids(group);  // the task's init, sh and sleep
    }
    ASSERT_EQ(first.size(), 3u);
    s.Kill(SIGKILL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // `quick` ends while no server runs
  for (pid_t p : first) EXPECT_TRUE(Alive(p)) << "the task should outlive the killed server";
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const Json q = WaitForEnd(c, token, quick, 10);
  EXPECT_EQ(q["state"], "Succeeded") << q.dump();
  EXPECT_NE(c.Get("/v1/jobs/" + quick + "/logs", Bearer(token))->body.find("done"), std::string::npos);
  EXPECT_EQ(c.Get("/v1/jobs/" + quick + "/logs?run=1", Bearer(token))->body, "");  // ran once: not rerun
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body)["state"], "Running");
  for (pid_t p : first) EXPECT_TRUE(Alive(p)) << "a restart killed a running task";
  EXPECT_EQ(pids(group), first) << "the adopted task is not the one that ran";
  const Json end = WaitForEnd(c, token, id, 15);
  EXPECT_EQ(end["state"], "Succeeded") << end.dump();
  const std::string log = c.Get("/v1/jobs/" + id + "/logs", Bearer(token))->body;
  EXPECT_NE(log.find("done"), std::string::npos) << log;  // one run, from start to end, one log
  EXPECT_EQ(c.Get("/v1/jobs/" + id + "/logs?run=1", Bearer(token))->body, "");
  for (pid_t p : first) EXPECT_FALSE(Alive(p));
}

}  // namespace

// Placements that need a target workload (awan, FGD) estimate it online from the jobs submitted so far
// (core/target_workload.h): the daemon runs them, and the example jobs run to the end under each.
TEST(Serve, EveryPlacementPolicyRunsTheExampleJobs) {
  for (const std::string placement : {"awan", "fgd"}) {
    const std::string dir = TempDir("placement-" + placement);
    const std::string db = dir + "/awan.db";
    const std::string uni = Token(db, "my-university", "member"), startup = Token(db, "my-startup", "member");
    Server s(dir, db, "", {"--placement", placement});
    ASSERT_GT(s.port(), 0) << placement;
    Http c(s.url());
    std::vector<std::pair<std::string, std::string>> ids;  // (token, id)
    for (const auto& [file, token] : {std::pair<std::string, std::string>{"notebook.yaml", uni},
                                      {"training-gang.yaml", uni},
                                      {"inference-worker.yaml", startup}}) {
      std::ifstream in(std::string(AWAN_SOURCE_DIR) + "/examples/jobs/" + file);
      const std::string manifest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto sub = c.Post("/v1/jobs", Bearer(token), manifest, "application/yaml");
      ASSERT_EQ(sub->status, 201) << placement << " " << file << ": " << sub->body;
      ids.push_back({token, Json::parse(sub->body)["id"]});
    }
    for (const auto& [token, id] : ids) {
      const Json end = WaitForEnd(c, token, id, 60);
      EXPECT_EQ(end["state"], "Succeeded") << placement << ": " << end.dump();
    }
  }
}

namespace {

// `awan queue` as squeue users expect: REASON, SUBMITTED, TIME and NODES columns, long names that do not
// break the columns, every job or the first --limit with a note that more match, --state in any case, and a
// bad --state refused (exit 2) before any request.
TEST(Cli, QueueHasSqueuesColumnsPagesAndValidatesItsFilters) {
  ServerFixture f("cli-queue");
  ASSERT_GT(f.s->port(), 0) << f.s->output();
  Http c(f.s->url());
  const std::string longname(40, 'x');
  for (int i = 0; i < 3; ++i) {
    auto r = c.Post(
        "/v1/jobs", Bearer(f.token),
        "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + (i == 0 ? longname : "j" + std::to_string(i)) +
            "}\nspec: {gpus: 4, cpu: 1, memory_gib: 1, command: [sleep, '600']}\n",
        "application/yaml");
    ASSERT_EQ(r->status, 201) << r->body;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::string flags = " --server " + f.s->url() + " --token " + f.token;
  const std::string all = RunAwan("queue" + flags);
  EXPECT_NE(all.find("REASON"), std::string::npos) << all;
  EXPECT_NE(all.find("SUBMITTED"), std::string::npos) << all;
  EXPECT_NE(all.find("NODES"), std::string::npos) << all;
  EXPECT_NE(all.find(longname.substr(0, 21) + "..."), std::string::npos) << all;
  EXPECT_EQ(all.find(longname), std::string::npos) << all;
  EXPECT_NE(all.find("(3 jobs)"), std::string::npos) << all;
  EXPECT_NE(all.find("capacity"), std::string::npos) << all;  // the waiting ones say why
  const std::string two = RunAwan("queue --limit 2" + flags);
  EXPECT_NE(two.find("(2 shown; more jobs match"), std::string::npos) << two;
  const std::string pending = RunAwan("queue --state pending -o json" + flags);
  const Json pj = Json::parse(pending, nullptr, false);
  ASSERT_TRUE(pj.is_object()) << pending;
  EXPECT_EQ(pj["items"].size(), 2u) << pending;
  const std::string bad = RunAwan("queue --state nope" + flags + "; echo rc=$?");
  EXPECT_NE(bad.find("rc=2"), std::string::npos) << bad;
  const std::string named = RunAwan("queue --name j2" + flags);
  EXPECT_NE(named.find("(1 job)"), std::string::npos) << named;
}

}  // namespace

namespace {

// `awan requeue ID` stops a running job and queues it again (audited; its next run sees the same checkpoint
// directory); a waiting one cannot be requeued; `awan cancel` takes several ids and says which failed.
TEST(Cli, RequeueRestartsARunningJobAndCancelTakesSeveralIds) {
  ServerFixture f("cli-requeue");
  ASSERT_GT(f.s->port(), 0) << f.s->output();
  Http c(f.s->url());
  std::vector<std::string> ids;
  for (int i = 0; i < 2; ++i) {
    auto r =
        c.Post("/v1/jobs", Bearer(f.token),
               "apiVersion: awan/v1\nkind: Job\nmetadata: {name: r" + std::to_string(i) +
                   "}\nspec: {gpus: 4, cpu: 1, memory_gib: 1, command: [sh, -c, 'echo run $AWAN_RUN; sleep "
                   "600']}\n",
               "application/yaml");
    ASSERT_EQ(r->status, 201) << r->body;
    ids.push_back(Json::parse(r->body)["id"]);
  }
  ASSERT_EQ(WaitForState(c, f.token, ids[0], "Running")["state"], "Running");
  const std::string flags = " --server " + f.s->url() + " --token " + f.token;
  const std::string waiting = RunAwan("requeue " + ids[1] + flags + " 2>&1; echo rc=$?");
  EXPECT_NE(waiting.find("only a running job can be requeued"), std::string::npos) << waiting;
  // Several ids at once: the waiting one is cancelled, the unknown one is an error (exit 1).
  const std::string cancelled = RunAwan("cancel " + ids[1] + " j-99999999" + flags + "; echo rc=$?");
  EXPECT_NE(cancelled.find(ids[1] + " cancelled"), std::string::npos) << cancelled;
  EXPECT_NE(cancelled.find("rc=1"), std::string::npos) << cancelled;
  const std::string requeued = RunAwan("requeue " + ids[0] + flags + "; echo rc=$?");
  EXPECT_NE(requeued.find("rc=0"), std::string::npos) << requeued;
  Json job;
  for (int i = 0; i < 100; ++i) {
    job = Json::parse(c.Get("/v1/jobs/" + ids[0], Bearer(f.token))->body);
    if (job.value("runs", 0) == 2 && job["state"] == "Running") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(job.value("runs", 0), 2) << job.dump(1);
  std::string log;
  for (int i = 0; i < 50 && log.find("run 2") == std::string::npos; ++i) {
    log = c.Get("/v1/jobs/" + ids[0] + "/logs", Bearer(f.token))->body;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_NE(log.find("run 2"), std::string::npos) << log;
  const std::string audit = c.Get("/v1/audit", Bearer(Token(f.db, "", "admin")))->body;
  EXPECT_NE(audit.find(R"("by":"tenant lab","job":")" + ids[0] + R"(","kind":"requeue_job")"),
            std::string::npos)
      << audit;
  EXPECT_NE(RunAwan("cancel " + ids[0] + flags).find(ids[0] + " cancelled"), std::string::npos);
}

}  // namespace

namespace {

// `awan submit --dry-run` says where a job would start now (or why it would wait) and submits nothing;
// `awan submit -` reads the manifest from standard input.
TEST(Cli, SubmitDryRunSubmitsNothingAndSubmitReadsStdin) {
  ServerFixture f("cli-dryrun");
  ASSERT_GT(f.s->port(), 0) << f.s->output();
  Http c(f.s->url());
  const std::string flags = " --server " + f.s->url() + " --token " + f.token;
  const std::string dir = f.dir;
  std::ofstream(dir + "/job.yaml") << "apiVersion: awan/v1\nkind: Job\nmetadata: {name: dry}\nspec: {gpus: "
                                      "4, cpu: 1, memory_gib: 1, command: "
                                      "[sleep, '600']}\n";
  const std::string dry = RunAwan("submit --dry-run " + dir + "/job.yaml" + flags);
  EXPECT_NE(dry.find("would start now"), std::string::npos) << dry;
  EXPECT_NE(dry.find("task on z-b0-s0-0 GPUs 0,1,2,3"), std::string::npos) << dry;
  EXPECT_TRUE(Json::parse(c.Get("/v1/jobs", Bearer(f.token))->body)["items"].empty());  // nothing submitted
  // From standard input, for real; then a dry run says the next one would wait.
  const std::string sub = RunAwan("submit -" + flags + " < " + dir + "/job.yaml");
  EXPECT_NE(sub.find("dry"), std::string::npos) << sub;
  ASSERT_EQ(Json::parse(c.Get("/v1/jobs", Bearer(f.token))->body)["items"].size(), 1u);
  Json j = WaitForState(c, f.token, Json::parse(c.Get("/v1/jobs", Bearer(f.token))->body)["items"][0]["id"],
                        "Running");
  const std::string wait = RunAwan("submit --dry-run " + dir + "/job.yaml" + flags);
  EXPECT_NE(wait.find("would wait: capacity"), std::string::npos) << wait;
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs", Bearer(f.token))->body)["items"].size(), 1u);
  // A bad manifest is refused as a submit would refuse it.
  std::ofstream(dir + "/bad.yaml")
      << "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 64}\n";
  const std::string bad = RunAwan("submit --dry-run " + dir + "/bad.yaml" + flags + " 2>&1; echo rc=$?");
  EXPECT_EQ(bad.find("rc=0"), std::string::npos) << bad;
}

}  // namespace

namespace {

// The dashboard's files come from the binary, with headers that keep the page to this origin; the endpoints
// only the dashboard needed answer each caller with its own: who it is, its queues' history, and (admins)
// the audit chain's check, which a changed entry in the store breaks.
TEST(Serve, TheDashboardIsServedAndItsEndpointsAnswerEachCallerWithItsOwn) {
  const std::string dir = TempDir("ui");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), b = Token(db, "sg-fintech", "member");
  const std::string admin = Token(db, "", "admin");
  Server s(dir, db);
  Http c(s.url());

  auto to_index = c.Get("/ui");
  ASSERT_EQ(to_index->status, 302);
  EXPECT_EQ(to_index->get_header_value("Location"), "/ui/");
  auto index = c.Get("/ui/");
  ASSERT_EQ(index->status, 200) << index->body;
  EXPECT_EQ(index->get_header_value("Content-Type"), "text/html; charset=utf-8");
  EXPECT_NE(index->get_header_value("Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(index->get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(index->get_header_value("X-Frame-Options"), "DENY");
  const size_t at = index->body.find("/ui/assets/");
  ASSERT_NE(at, std::string::npos) << index->body;
  const std::string script = index->body.substr(at, index->body.find('"', at) - at);
  auto js = c.Get(script);
  ASSERT_EQ(js->status, 200) << script;
  EXPECT_EQ(js->get_header_value("Content-Type"), "text/javascript; charset=utf-8");
  EXPECT_NE(js->get_header_value("Cache-Control").find("immutable"), std::string::npos);
  EXPECT_GT(js->body.size(), 10000u);
  EXPECT_EQ(c.Get("/ui/nosuch.js")->status, 404);
  EXPECT_EQ(c.Get("/ui/..%2F..%2Fawan.db")->status, 404);

  EXPECT_EQ(c.Get("/v1/whoami")->status, 401);
  EXPECT_EQ(Json::parse(c.Get("/v1/whoami", Bearer(a))->body),
            (Json{{"tenant", "my-university"}, {"role", "member"}, {"user", ""}}));
  EXPECT_EQ(Json::parse(c.Get("/v1/whoami", Bearer(admin))->body),
            (Json{{"tenant", ""}, {"role", "admin"}, {"user", ""}}));

  auto sub = c.Post("/v1/jobs", Bearer(a), kShortJob, "application/yaml");
  ASSERT_EQ(sub->status, 201) << sub->body;
  const std::string id = Json::parse(sub->body)["id"];
  ASSERT_EQ(WaitForState(c, a, id, "Succeeded")["state"], "Succeeded");
  const Json summary = Json::parse(c.Get("/v1/jobs?view=summary", Bearer(a))->body)["items"][0];
  EXPECT_FALSE(summary.contains("manifest"));
  EXPECT_EQ(summary["tasks"], 2);
  EXPECT_EQ(summary["gpus"], 2);
  EXPECT_TRUE(Json::parse(c.Get("/v1/jobs", Bearer(a))->body)["items"][0].contains("manifest"));

  // The history: sampled from the first tick; each tenant sees its own series only.
  const Json mine = Json::parse(c.Get("/v1/queues/history", Bearer(a))->body);
  ASSERT_FALSE(mine["t_s"].empty());
  ASSERT_EQ(mine["tenants"].size(), 1u);
  EXPECT_EQ(mine["tenants"][0]["name"], "my-university");
  EXPECT_EQ(mine["tenants"][0]["gpus"].size(), mine["t_s"].size());
  EXPECT_EQ(Json::parse(c.Get("/v1/queues/history", Bearer(b))->body)["tenants"][0]["name"], "sg-fintech");
  EXPECT_GT(Json::parse(c.Get("/v1/queues/history", Bearer(admin))->body)["tenants"].size(), 2u);

  EXPECT_EQ(c.Get("/v1/audit/verify", Bearer(a))->status, 403);
  const Json good = Json::parse(c.Get("/v1/audit/verify", Bearer(admin))->body);
  ASSERT_EQ(good["ok"], true) << good.dump();
  EXPECT_GE(good["entries"], 1);
  EXPECT_EQ(good["head"].get<std::string>().size(), 64u);
  // An entry changed behind the server's back: the check names the entry.
  ASSERT_EQ(
      std::system(("sqlite3 " + db +
                   " \"UPDATE audit SET line = replace(line, 'my-university', 'sg-fintech') WHERE seq = 1\"")
                      .c_str()),
      0);
  const Json bad = Json::parse(c.Get("/v1/audit/verify", Bearer(admin))->body);
  EXPECT_EQ(bad["ok"], false) << bad.dump();
  EXPECT_NE(bad.value("error", "").find("line 1 (entry 1): hash mismatch"), std::string::npos) << bad.dump();
}

}  // namespace

namespace {

// sacct's habit: each job that ran with its start, end, elapsed time, GPU-hours, cost (the node's price per
// GPU-hour) and exit code; --summary per tenant and region; another tenant sees none of it.
TEST(Cli, AcctShowsWhatEachJobUsedAndCost) {
  const std::string dir = TempDir("acct");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), b = Token(db, "sg-fintech", "member");
  Server s(dir, db);
  Http c(s.url());
  auto sub =
      c.Post("/v1/jobs", Bearer(a),
             "apiVersion: awan/v1\nkind: Job\nmetadata: {name: priced}\nspec: {gpus: 2, accelerator: L40S, "
             "cpu: 1, memory_gib: 1, command: [sleep, '2']}\n",
             "application/yaml");
  ASSERT_EQ(sub->status, 201) << sub->body;
  const std::string id = Json::parse(sub->body)["id"];
  ASSERT_EQ(WaitForState(c, a, id, "Succeeded")["state"], "Succeeded");
  const std::string flags = " --server " + s.url() + " --token ";
  const std::string table = RunAwan("acct" + flags + a);
  EXPECT_NE(table.find("GPU-HOURS"), std::string::npos) << table;
  EXPECT_NE(table.find(id), std::string::npos) << table;
  const Json j = Json::parse(RunAwan("acct -o json" + flags + a), nullptr, false);
  ASSERT_TRUE(j.is_object());
  ASSERT_EQ(j["items"].size(), 1u) << j.dump();
  const Json& job = j["items"][0];
  const double elapsed_h =
      static_cast<double>(job["ended_ms"].get<int64_t>() - job["started_ms"].get<int64_t>()) / 3.6e6;
  EXPECT_GE(elapsed_h * 3600, 2.0);
  EXPECT_NEAR(job["gpu_hours"].get<double>(), 2 * elapsed_h, 1e-6);
  // The ASEAN fleet's L40S nodes cost 1.20 USD per GPU-hour.
  EXPECT_NEAR(job["cost_usd"].get<double>() / job["gpu_hours"].get<double>(), 1.20, 1e-9);
  EXPECT_EQ(job["exit_code"], 0);
  // describe, like scontrol show job: what it asked for, its times, what it used.
  const std::string described = RunAwan("describe " + id + flags + a);
  for (const char* part : {"resources: 1 task(s) x 2 GPU(s) (L40S)", "command: sleep 2",
                           "submitted: ", "started: ", "ended: ", "elapsed: ", "runs: 1 (restarts: 0)",
                           "GPU-hours", "exit code: 0"})
    EXPECT_NE(described.find(part), std::string::npos) << part << "\n" << described;
  const std::string summary = RunAwan("acct --summary" + flags + a);
  EXPECT_NE(summary.find("my-university"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(all)"), std::string::npos) << summary;
  const Json usage = Json::parse(RunAwan("acct --summary -o json" + flags + a), nullptr, false);
  ASSERT_TRUE(usage.is_array()) << usage.dump();
  ASSERT_EQ(usage.size(), 1u);
  EXPECT_NEAR(usage[0]["cost_usd"].get<double>(), job["cost_usd"].get<double>(), 1e-9);
  EXPECT_EQ(Json::parse(RunAwan("acct -o json" + flags + b))["items"].size(), 0u);
  EXPECT_TRUE(Json::parse(c.Get("/v1/usage", Bearer(b))->body)["items"].empty());
  EXPECT_EQ(c.Get("/v1/usage?since_ms=soon", Bearer(a))->status, 400);
}

}  // namespace

namespace {

// `awan token list` shows ids, never tokens; a token is revoked by its id (or a unique prefix of it), and
// stops working; a prefix that names no token, or isn't hex, is refused.
TEST(Cli, TokensAreListedByIdAndRevokedById) {
  const std::string dir = TempDir("tokens");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), admin = Token(db, "", "admin");
  const std::string store = " --store sqlite:" + db;
  const std::string table = RunAwan("token list" + store);
  EXPECT_NE(table.find("my-university"), std::string::npos) << table;
  EXPECT_NE(table.find("(fleet)"), std::string::npos) << table;
  EXPECT_EQ(table.find("awan_"), std::string::npos) << "a token is never shown again";
  const Json list = Json::parse(RunAwan("token list -o json" + store), nullptr, false);
  ASSERT_TRUE(list.is_array()) << list.dump();
  ASSERT_EQ(list.size(), 2u);
  std::string id;
  for (const Json& t : list)
    if (t["tenant"] == "my-university") id = t["id"];
  ASSERT_EQ(id.size(), 12u);
  EXPECT_NE(RunAwan("token revoke" + store + " 0000000z; echo rc=$?").find("rc=1"), std::string::npos);
  EXPECT_NE(RunAwan("token revoke" + store + " ffffffffffff 2>&1; echo rc=$?").find("no token with id"),
            std::string::npos);
  Server s(dir, db);
  Http c(s.url());
  EXPECT_EQ(c.Get("/v1/jobs", Bearer(a))->status, 200);
  EXPECT_NE(RunAwan("token revoke" + store + " " + id.substr(0, 10)).find("revoked"), std::string::npos);
  int status = 0;
  for (int i = 0; i < 40 && status != 401; ++i) {  // good tokens are cached for a second
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    status = c.Get("/v1/jobs", Bearer(a))->status;
  }
  EXPECT_EQ(status, 401);
  EXPECT_EQ(c.Get("/v1/jobs", Bearer(admin))->status, 200);
  EXPECT_NE(RunAwan("token list" + store).find("yes"), std::string::npos);
}

}  // namespace

namespace {

// Manifests as strict as documented: a file of several documents submits each (or, if one is not a manifest,
// none); a duplicate key and an unknown tenant are refused with the reason, and nothing is stored.
TEST(Cli, SubmitSendsEveryDocumentAndRefusesDuplicateKeysAndUnknownTenants) {
  const std::string dir = TempDir("strict");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), admin = Token(db, "", "admin");
  Server s(dir, db);
  const std::string flags = " --server " + s.url() + " --token ";
  auto job = [](const std::string& name, const std::string& more = "") {
    return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name + more +
           "}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, command: [sleep, '1']}\n";
  };
  std::ofstream(dir + "/two.yaml") << "# two jobs\n---\n" << job("first") << "---\n" << job("second");
  const std::string out = RunAwan("submit " + dir + "/two.yaml" + flags + a + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("document 1 of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("document 2 of 2"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=0"), std::string::npos) << out;
  Http c(s.url());
  auto names = [&] {
    std::set<std::string> n;
    const Json list = Json::parse(c.Get("/v1/jobs", Bearer(admin))->body);
    for (const Json& j : list["items"]) n.insert(j["name"]);
    return n;
  };
  EXPECT_EQ(names(), (std::set<std::string>{"first", "second"}));

  std::ofstream(dir + "/bad.yaml") << job("third") << "---\nnot: a manifest\n";
  const std::string bad = RunAwan("submit " + dir + "/bad.yaml" + flags + a + " 2>&1; echo rc=$?");
  EXPECT_NE(bad.find("document 2 of 2 is not a Job or Service manifest"), std::string::npos) << bad;
  EXPECT_NE(bad.find("rc=1"), std::string::npos) << bad;
  std::ofstream(dir + "/dup.yaml") << job("fourth") << "metadata: {name: other}\n";
  const std::string dup = RunAwan("submit " + dir + "/dup.yaml" + flags + a + " 2>&1; echo rc=$?");
  EXPECT_NE(dup.find("duplicate key 'metadata'"), std::string::npos) << dup;
  EXPECT_NE(dup.find("rc=1"), std::string::npos) << dup;
  std::ofstream(dir + "/who.yaml") << job("fifth", ", tenant: no-such-tenant");
  const std::string who = RunAwan("submit " + dir + "/who.yaml" + flags + admin + " 2>&1; echo rc=$?");
  EXPECT_NE(who.find("unknown tenant 'no-such-tenant'"), std::string::npos) << who;
  EXPECT_EQ(names(), (std::set<std::string>{"first", "second"})) << "nothing else was stored";
}

}  // namespace

namespace {

// sbatch --array: one request makes every job, each with its index; bad specs are usage errors (exit 2) and
// store nothing.
TEST(Cli, SubmitArrayMakesEveryJobInOneRequest) {
  const std::string dir = TempDir("array");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member");
  Server s(dir, db);
  Http c(s.url());
  const std::string manifest =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: sweep}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
      "command: [sh, -c, 'echo index $AWAN_ARRAY_INDEX of $AWAN_ARRAY_COUNT']}\n";
  auto one = c.Post("/v1/jobs?array=0-3,10", Bearer(a), manifest, "application/yaml");
  ASSERT_EQ(one->status, 201) << one->body;
  const Json made = Json::parse(one->body);
  ASSERT_EQ(made["count"], 5);
  std::vector<std::string> ids;
  for (const Json& j : made["items"]) ids.push_back(j["id"]);
  EXPECT_EQ(made["items"][4]["name"], "sweep-10");
  for (size_t k = 1; k < ids.size(); ++k)
    EXPECT_EQ(std::stoll(ids[k].substr(2)), std::stoll(ids[k - 1].substr(2)) + 1);
  for (size_t k = 0; k < ids.size(); ++k) {
    ASSERT_EQ(WaitForState(c, a, ids[k], "Succeeded")["state"], "Succeeded");
    const std::string log = c.Get("/v1/jobs/" + ids[k] + "/logs", Bearer(a))->body;
    EXPECT_EQ(log, fmt::format("index {} of 5\n", k == 4 ? 10 : static_cast<int>(k))) << ids[k];
  }
  std::ofstream(dir + "/sweep.yaml") << manifest;
  const std::string flags = " --server " + s.url() + " --token " + a;
  const std::string out = RunAwan("submit --array 0-99 " + dir + "/sweep.yaml" + flags);
  EXPECT_NE(out.find("submitted an array of 100 jobs"), std::string::npos) << out;
  EXPECT_NE(out.find("(sweep-99)"), std::string::npos) << out;
  for (const char* bad : {"0-10000", "3-1", "x"}) {
    const std::string r = RunAwan(std::string("submit --array ") + bad + " " + dir + "/sweep.yaml" + flags +
                                  " 2>&1; echo rc=$?");
    EXPECT_NE(r.find("rc=2"), std::string::npos) << bad << ": " << r;
  }
  EXPECT_EQ(c.Post("/v1/jobs?array=0-10000", Bearer(a), manifest, "application/yaml")->status, 400);
  const Json all = Json::parse(RunAwan("queue -o json --limit 0" + flags));
  EXPECT_EQ(all["items"].size(), 105u);
}

}  // namespace

namespace {

// sbatch --hold / --dependency and scontrol hold / release, from the CLI against a real server.
TEST(Cli, HoldReleaseAndDependencies) {
  const std::string dir = TempDir("holds");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), b = Token(db, "sg-fintech", "member");
  Server s(dir, db);
  Http c(s.url());
  const std::string flags = " --server " + s.url() + " --token ";
  std::ofstream(dir + "/j.yaml")
      << "apiVersion: awan/v1\nkind: Job\nmetadata: {name: step}\nspec: {gpus: 1, cpu: "
         "1, memory_gib: 1, command: [sh, -c, 'echo ran']}\n";
  auto id_of = [](const std::string& out) {
    const size_t at = out.find("j-");
    return at == std::string::npos ? std::string() : out.substr(at, 10);
  };
  const std::string first = id_of(RunAwan("submit --hold " + dir + "/j.yaml" + flags + a));
  ASSERT_FALSE(first.empty());
  const std::string second =
      id_of(RunAwan("submit --dependency afterok:" + first + " " + dir + "/j.yaml" + flags + a));
  ASSERT_FALSE(second.empty());
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const Json f = Json::parse(c.Get("/v1/jobs/" + first, Bearer(a))->body);
  EXPECT_EQ(f["state"], "Pending");
  EXPECT_EQ(f["message"].get<std::string>().rfind("held", 0), 0u) << f.dump();
  const Json g = Json::parse(c.Get("/v1/jobs/" + second, Bearer(a))->body);
  EXPECT_EQ(g["message"].get<std::string>().rfind("waiting for dependency afterok:" + first, 0), 0u)
      << g.dump();
  const std::string queue = RunAwan("queue" + flags + a);
  EXPECT_NE(queue.find("held"), std::string::npos) << queue;
  // Another tenant can neither release it nor depend on it.
  EXPECT_NE(RunAwan("release " + first + flags + b + " 2>&1; echo rc=$?").find("rc=1"), std::string::npos);
  EXPECT_NE(
      RunAwan("submit --dependency afterok:" + first + " " + dir + "/j.yaml" + flags + b + " 2>&1; true")
          .find("dependency: no job " + first),
      std::string::npos);
  EXPECT_NE(RunAwan("submit --dependency beforeok:j-1 " + dir + "/j.yaml" + flags + a + " 2>&1; echo rc=$?")
                .find("rc=2"),
            std::string::npos);
  EXPECT_NE(RunAwan("release " + first + flags + a).find(first), std::string::npos);
  EXPECT_EQ(WaitForEnd(c, a, first, 60)["state"],
            "Succeeded");  // generous: CI runs two test binaries at once
  EXPECT_EQ(WaitForEnd(c, a, second, 60)["state"], "Succeeded");
  // Its history in describe (scontrol show job's events, kubectl describe's Events), oldest first.
  const std::string described = RunAwan("describe " + first + flags + a);
  size_t at = described.find("events:");
  for (const std::string& e :
       {std::string("submitted by a member of my-university, held"),
        std::string("released by a member of my-university"), std::string("Running: run 1 started on "),
        std::string("Succeeded: every task exited with code 0")}) {
    ASSERT_NE(at, std::string::npos) << described;
    at = described.find(e, at);
    EXPECT_NE(at, std::string::npos) << e << " in order in:\n" << described;
  }
  // Holding a job that already ran: refused with the reason.
  EXPECT_NE(RunAwan("hold " + first + flags + a + " 2>&1; true").find("only a waiting job can be held"),
            std::string::npos);

  // Priority within the tenant (sbatch --priority, scontrol update priority=): set at submit, changed with
  // `awan update`, shown by describe; checked before anything changes.
  const std::string p1 = id_of(RunAwan("submit --hold --priority 7 " + dir + "/j.yaml" + flags + a));
  const std::string p2 = id_of(RunAwan("submit --hold " + dir + "/j.yaml" + flags + a));
  ASSERT_FALSE(p1.empty());
  ASSERT_FALSE(p2.empty());
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + p1, Bearer(a))->body)["manifest"]["spec"]["priority"], 7);
  const std::string updated = RunAwan("update " + p1 + " " + p2 + " --priority -2" + flags + a);
  EXPECT_NE(updated.find(p1 + " priority -2"), std::string::npos) << updated;
  EXPECT_NE(updated.find(p2 + " priority -2"), std::string::npos) << updated;
  EXPECT_NE(RunAwan("describe " + p2 + flags + a).find("priority: -2 (within its tenant)"),
            std::string::npos);
  // Another tenant's job: not found, exit 1; out of range or missing --priority: usage errors before any
  // call.
  EXPECT_NE(RunAwan("update " + p1 + " --priority 1" + flags + b + " 2>&1; echo rc=$?").find("rc=1"),
            std::string::npos);
  for (const char* bad : {" --priority 1000001", " --priority high", ""}) {
    const std::string r = RunAwan("update " + p1 + bad + flags + a + " 2>&1; echo rc=$?");
    EXPECT_NE(r.find("rc=2"), std::string::npos) << bad << ": " << r;
  }
  // Flags that don't go together are usage errors too (these checks were once overridden by the command's
  // own callback and never ran).
  for (const std::string& bad : {"submit --priority 5 --dry-run " + dir + "/j.yaml",
                                 "submit --hold --dry-run " + dir + "/j.yaml", std::string("nodes cordon")}) {
    const std::string r = RunAwan(bad + flags + a + " 2>&1; echo rc=$?");
    EXPECT_NE(r.find("rc=2"), std::string::npos) << bad << ": " << r;
  }
  // The API checks the body and the range itself.
  for (const char* body : {"{}", "{\"priority\": 1.5}", "{\"priority\": \"1\"}", "[1]",
                           "{\"priority\": 18446744073709551615}", "{\"priority\": 1, \"x\": 2}"}) {
    auto r = c.Post("/v1/jobs/" + p1 + "/priority", Bearer(a), body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body << ": " << r->body;
  }
  EXPECT_EQ(c.Post("/v1/jobs?priority=x", Bearer(a), "apiVersion: awan/v1", "application/yaml")->status, 400);
  // A time limit at submit (sbatch --time): it replaces the manifest's and is stored with it; a bad one is
  // a usage error before any call, and the API refuses it with the format's message.
  const std::string t1 = id_of(RunAwan("submit --hold --time 1:30:00 " + dir + "/j.yaml" + flags + a));
  ASSERT_FALSE(t1.empty());
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + t1, Bearer(a))->body)["manifest"]["spec"]["time_limit"], "5400");
  EXPECT_NE(RunAwan("submit --time soon " + dir + "/j.yaml" + flags + a + " 2>&1; echo rc=$?").find("rc=2"),
            std::string::npos);
  auto bad_limit = c.Post("/v1/jobs?time_limit=soon", Bearer(a), "apiVersion: awan/v1", "application/yaml");
  EXPECT_EQ(bad_limit->status, 400);
  EXPECT_NE(bad_limit->body.find("time_limit"), std::string::npos) << bad_limit->body;
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + p1, Bearer(a))->body)["manifest"]["spec"]["priority"], -2);
  EXPECT_EQ(
      c.Post("/v1/jobs/" + first + "/priority", Bearer(a), "{\"priority\": 1}", "application/json")->status,
      409);
}

}  // namespace

namespace {

// Users inside a tenant (squeue -u): a token may name its user; jobs say who submitted them; `awan queue -u`
// and `awan acct -u` filter by it; everyone in the tenant still sees the tenant's jobs.
TEST(Cli, UsersInsideATenant) {
  const std::string dir = TempDir("users");
  const std::string db = dir + "/awan.db";
  auto user_token = [&](const std::string& user) {
    return RunAwan("token create --store sqlite:" + db + " --tenant my-university --role member --user " +
                   user + " | tail -1");
  };
  Token(db, "", "admin");  // makes the store
  std::string alice = user_token("alice"), bob = user_token("bob");
  alice.erase(alice.find_last_not_of("\n") + 1);
  bob.erase(bob.find_last_not_of("\n") + 1);
  ASSERT_EQ(alice.rfind("awan_", 0), 0u) << alice;
  EXPECT_NE(RunAwan("token create --store sqlite:" + db + " --role admin --user eve 2>&1; true")
                .find("a user belongs to a tenant"),
            std::string::npos);
  EXPECT_NE(RunAwan("token list --store sqlite:" + db).find("alice"), std::string::npos);
  Server s(dir, db);
  Http c(s.url());
  const std::string job =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: mine}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
      "duration_s: 600}\n";
  ASSERT_EQ(c.Post("/v1/jobs", Bearer(alice), job, "application/yaml")->status, 201);
  ASSERT_EQ(c.Post("/v1/jobs", Bearer(alice), job, "application/yaml")->status, 201);
  ASSERT_EQ(c.Post("/v1/jobs", Bearer(bob), job, "application/yaml")->status, 201);
  EXPECT_EQ(Json::parse(c.Get("/v1/whoami", Bearer(alice))->body)["user"], "alice");
  const std::string flags = " --server " + s.url() + " --token " + bob;
  const Json mine = Json::parse(RunAwan("queue -u alice -o json" + flags));
  ASSERT_EQ(mine["items"].size(), 2u) << mine.dump();
  for (const Json& j : mine["items"]) EXPECT_EQ(j["user"], "alice");
  EXPECT_EQ(Json::parse(RunAwan("queue -o json" + flags))["items"].size(), 3u);
  const std::string table = RunAwan("queue --user bob" + flags);
  EXPECT_NE(table.find("USER"), std::string::npos) << table;
  EXPECT_NE(table.find("bob"), std::string::npos) << table;
  EXPECT_EQ(table.find("alice"), std::string::npos) << table;
  // scancel -u / --name / --state: every waiting or running job that matches, and only those; ids or filters,
  // never neither (a bare `awan cancel` cancels nothing).
  for (const char* bad : {"cancel", "cancel j-00000001 --name mine"}) {
    const std::string r = RunAwan(std::string(bad) + flags + " 2>&1; echo rc=$?");
    EXPECT_NE(r.find("rc=2"), std::string::npos) << bad << ": " << r;
  }
  EXPECT_EQ(Json::parse(RunAwan("queue -o json --state pending" + flags))["items"].size() +
                Json::parse(RunAwan("queue -o json --state running" + flags))["items"].size(),
            3u);
  const std::string cancelled = RunAwan("cancel -u alice --name mine" + flags);
  EXPECT_EQ(std::count(cancelled.begin(), cancelled.end(), '\n'), 2) << cancelled;
  const Json after_cancel = Json::parse(RunAwan("queue -o json" + flags));  // named: not a temporary's items
  for (const Json& j : after_cancel["items"])
    EXPECT_EQ(j["state"] == "Cancelled", j["user"] == "alice") << j.dump();
  EXPECT_NE(RunAwan("cancel --name nosuch" + flags + " 2>&1; true").find("no waiting or running job matched"),
            std::string::npos);
  EXPECT_NE(RunAwan("cancel --state failed" + flags + " 2>&1; echo rc=$?").find("rc=2"), std::string::npos);
}

}  // namespace

namespace {

std::string Sh(const std::string& cmd) { return awan::testing::ShellOutput(cmd); }

// The `awan` front (apps/awan_front.cc): a submit of one job manifest to an http:// server it does itself,
// printing what awan-core prints; everything else it hands to awan-core. A copy of the front alone, without
// awan-core beside it, shows which is which: its submit still works, any hand-over fails saying so.
TEST(Cli, TheFrontSubmitsOneJobItselfAndHandsEverythingElseToTheCore) {
  const std::string dir = TempDir("front");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member");
  Server s(dir, db);
  const std::string core = std::filesystem::path(AWAN_BINARY).parent_path().string() + "/awan-core";
  ASSERT_TRUE(std::filesystem::exists(core));
  std::filesystem::create_directories(dir + "/alone");
  std::filesystem::copy_file(AWAN_BINARY, dir + "/alone/awan");
  const std::string alone = dir + "/alone/awan";
  std::ofstream(dir + "/j.yaml")
      << "apiVersion: awan/v1\nkind: Job\nmetadata: {name: quick}\nspec: {gpus: 1, "
         "cpu: 1, memory_gib: 1, command: [sh, -c, 'true']}\n";
  std::ofstream(dir + "/two.yaml") << "apiVersion: awan/v1\nkind: Job\nmetadata: {name: a}\nspec: {gpus: 1, "
                                      "duration_s: 5}\n---\napiVersion: awan/v1\nkind: Job\nmetadata: {name: "
                                      "b}\nspec: {gpus: 1, duration_s: 5}\n";
  std::ofstream(dir + "/other.yaml")
      << "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x, tenant: sg-fintech}\n"
         "spec: {gpus: 1, duration_s: 5}\n";
  const std::string flags = " --server " + s.url() + " --token " + a;
  auto without_id = [](std::string out) {  // the same answer but for the job's id
    for (size_t at = out.find("j-"); at != std::string::npos; at = out.find("j-", at + 1))
      out.replace(at, 10, "j-ID");
    return out;
  };
  // The same answers, from the front alone and from awan-core: a submit, a refusal (exit 1, the server's
  // error).
  const std::string fast =
      Sh(alone + " submit --hold --priority 3 " + dir + "/j.yaml" + flags + " 2>&1; echo rc=$?");
  const std::string full =
      Sh(core + " submit --hold --priority 3 " + dir + "/j.yaml" + flags + " 2>&1; echo rc=$?");
  EXPECT_NE(fast.find("quick"), std::string::npos) << fast;
  EXPECT_NE(fast.find("rc=0"), std::string::npos) << fast;
  EXPECT_EQ(without_id(fast), without_id(full));
  const std::string refused = Sh(alone + " submit " + dir + "/other.yaml" + flags + " 2>&1; echo rc=$?");
  EXPECT_EQ(refused, Sh(core + " submit " + dir + "/other.yaml" + flags + " 2>&1; echo rc=$?"));
  EXPECT_NE(refused.find("(HTTP 403)\nrc=1"), std::string::npos) << refused;
  EXPECT_EQ(
      Sh(alone + " submit " + dir + "/j.yaml --server " + s.url() + " --token awan_bad 2>&1; echo rc=$?"),
      Sh(core + " submit " + dir + "/j.yaml --server " + s.url() + " --token awan_bad 2>&1; echo rc=$?"));
  // The job it stored is the one awan-core would store: held, priority 3.
  const Json listed = Json::parse(RunAwan("queue -o json" + flags));
  ASSERT_EQ(listed["items"].size(), 2u) << listed.dump();
  for (const Json& j : listed["items"]) {
    EXPECT_EQ(j["message"].get<std::string>().rfind("held", 0), 0u) << j.dump();
    EXPECT_EQ(j["manifest"]["spec"]["priority"], 3) << j.dump();
  }
  // Everything else is awan-core's: another command, several documents, stdin, an option the front does not
  // take, a server it cannot reach (nothing was sent): the copy alone cannot, the real front does.
  for (const std::string& other :
       {std::string("--version"), "submit " + dir + "/two.yaml" + flags,
        "submit -" + flags + " < " + dir + "/j.yaml", "submit " + dir + "/j.yaml --token " + a + flags,
        "submit " + dir + "/j.yaml --server " + s.url() + "/ --token " + a,
        "submit --dry-run " + dir + "/j.yaml" + flags,
        "submit " + dir + "/j.yaml --server http://127.0.0.1:1 --token x", "queue" + flags}) {
    const std::string handed = Sh(alone + " " + other + " 2>&1; echo rc=$?");
    EXPECT_NE(handed.find("cannot run " + dir + "/alone/awan-core"), std::string::npos)
        << other << ": " << handed;
    EXPECT_NE(handed.find("rc=127"), std::string::npos) << other << ": " << handed;
    const std::string real = Sh(std::string(AWAN_BINARY) + " " + other + " 2>&1; echo rc=$?");
    // The same exit code as awan-core's, and the same answer where it does not depend on what runs meanwhile
    // (a dry run and the queue do: jobs start between the two calls).
    const std::string by_core = Sh(core + " " + other + " 2>&1; echo rc=$?");
    EXPECT_EQ(real.substr(real.rfind("rc=")), by_core.substr(by_core.rfind("rc="))) << other;
    if (other.find("--dry-run") == std::string::npos && other.rfind("queue", 0) != 0) {
      EXPECT_EQ(without_id(real), without_id(by_core)) << other;
    }
  }
  const Json after = Json::parse(RunAwan("queue -o json" + flags));
  EXPECT_EQ(after["items"].size(), 8u) << after.dump();  // + a and b (two.yaml) twice, the stdin job twice
}

}  // namespace
