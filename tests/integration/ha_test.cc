// High availability: a three-member etcd cluster (scripts/etcd-up.sh) and two `awan serve` replicas on
// 127.0.0.1. One replica leads (readyz 200), the other stands by (503). The test kills the active replica and
// the etcd leader at the same moment and checks that the standby takes over and schedules within 10 s, and
// that every job that got 201 before the failure is still there.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "shell.h"

namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

using awan::testing::Shell;

struct Replica {
  pid_t pid = -1;
  std::string url;
};

Replica Start(const std::string& dir, const std::string& store, int n) {
  Replica r;
  const std::string log = dir + "/replica" + std::to_string(n) + ".log";
  r.pid = fork();
  if (r.pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    const std::string fleet = std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml";
    const std::string state = dir + "/state" + std::to_string(n);
    execl(AWAN_BINARY, AWAN_BINARY, "serve", "--store", store.c_str(), "--listen", "127.0.0.1:0", "--fleet",
          fleet.c_str(), "--state-dir", state.c_str(), "--tick-ms", "100", static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 100 && r.url.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::ifstream f(log);
    std::string line;
    while (std::getline(f, line)) {
      const size_t at = line.find("http://127.0.0.1:");
      if (at != std::string::npos) r.url = line.substr(at, line.find(' ', at) - at);
    }
  }
  return r;
}

int Ready(const std::string& url) {
  httplib::Client c(url);
  c.set_connection_timeout(0, 300000);
  auto r = c.Get("/v1/readyz");
  return r ? r->status : 0;
}

TEST(HighAvailability, StandbyTakesOverWhenTheActiveReplicaAndTheEtcdLeaderDie) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / ("awan-ha-" + std::to_string(getpid()))).string();
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string eps = Shell(std::string(AWAN_SOURCE_DIR) + "/scripts/etcd-up.sh " + dir + "/etcd 26790");
  ASSERT_EQ(eps.rfind("http://", 0), 0u) << "scripts/etcd-up.sh failed: " << eps;
  struct Cleanup {
    std::string dir;
    std::vector<pid_t> pids;
    ~Cleanup() {
      for (pid_t p : pids) kill(p, SIGKILL), waitpid(p, nullptr, 0);
      std::system((std::string(AWAN_SOURCE_DIR) + "/scripts/etcd-down.sh " + dir + "/etcd").c_str());
    }
  } cleanup{dir, {}};
  const std::string store = "etcd:" + eps;
  Shell(std::string(AWAN_BINARY) + " init --store " + store);
  const std::string token = Shell(std::string(AWAN_BINARY) + " token create --store " + store +
                                  " --tenant my-university --role member 2>/dev/null | tail -1");
  ASSERT_EQ(token.rfind("awan_", 0), 0u) << token;
  Replica a = Start(dir, store, 1), b = Start(dir, store, 2);
  cleanup.pids = {a.pid, b.pid};
  ASSERT_FALSE(a.url.empty());
  ASSERT_FALSE(b.url.empty());
  // Exactly one leads.
  Replica* active = nullptr;
  Replica* standby = nullptr;
  for (int i = 0; i < 100 && !active; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (Ready(a.url) == 200) active = &a, standby = &b;
    if (Ready(b.url) == 200) active = &b, standby = &a;
  }
  ASSERT_NE(active, nullptr) << "no replica became leader";
  EXPECT_EQ(Ready(standby->url), 503);

  // Accepted jobs before the failure.
  httplib::Client c(active->url);
  const httplib::Headers auth = {{"Authorization", "Bearer " + token}};
  const std::string job =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: ha}\nspec: {gpus: 1, duration_s: 2}\n";
  std::vector<std::string> accepted;
  for (int i = 0; i < 30; ++i) {
    auto r = c.Post("/v1/jobs", auth, job, "application/yaml");
    ASSERT_TRUE(r && r->status == 201);
    accepted.push_back(Json::parse(r->body)["id"]);
  }
  // The etcd leader.
  const std::string status = Shell("ETCDCTL_API=3 etcdctl --endpoints=" + eps + " endpoint status -w json");
  Json st = Json::parse(status, nullptr, false);
  ASSERT_FALSE(st.is_discarded()) << status;
  int leader_member = 0;
  for (const Json& e : st) {
    if (e["Status"]["header"]["member_id"] == e["Status"]["leader"]) {
      const std::string ep = e["Endpoint"];
      leader_member = ep.back() - '0';  // ports 26791..26793 -> members 1..3
    }
  }
  ASSERT_GE(leader_member, 1);
  const std::string pidfile = dir + "/etcd/e" + std::to_string(leader_member) + ".pid";
  const pid_t etcd_leader = std::stoi(Shell("cat " + pidfile));

  // Kill both at once.
  const auto t0 = Clock::now();
  kill(active->pid, SIGKILL);
  kill(etcd_leader, SIGKILL);
  waitpid(active->pid, nullptr, 0);
  bool took_over = false;
  while (Clock::now() - t0 < std::chrono::seconds(10) && !took_over) {
    took_over = Ready(standby->url) == 200;
    if (!took_over) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double takeover_s = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_TRUE(took_over) << "the standby did not take over within 10 s";
  // Scheduling resumes: a job submitted to the new leader runs, within 10 s of the failure.
  httplib::Client n(standby->url);
  auto fresh = n.Post("/v1/jobs", auth, job, "application/yaml");
  ASSERT_TRUE(fresh && fresh->status == 201);
  const std::string fresh_id = Json::parse(fresh->body)["id"];
  std::string state;
  while (Clock::now() - t0 < std::chrono::seconds(10) && state != "Running" && state != "Succeeded") {
    auto r = n.Get("/v1/jobs/" + fresh_id, auth);
    if (r && r->status == 200) state = Json::parse(r->body)["state"];
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double resumed_s = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_TRUE(state == "Running" || state == "Succeeded")
      << "state " << state << " after " << resumed_s << " s";
  std::printf("takeover after %.1f s, a new job running after %.1f s\n", takeover_s, resumed_s);
  // No accepted job is lost.
  std::set<std::string> listed;
  auto all = n.Get("/v1/jobs?limit=1000", auth);
  ASSERT_EQ(all->status, 200);
  const Json page = Json::parse(all->body);
  for (const Json& j : page["items"]) listed.insert(j["id"].get<std::string>());
  for (const std::string& id : accepted)
    EXPECT_TRUE(listed.count(id)) << id << " got 201 but is gone; listed " << all->body.substr(0, 300);
  // Damaged data in the store is a clear error, and the server goes on serving.
  Shell("ETCDCTL_API=3 etcdctl --endpoints=" + eps + " put /awan/jobs/j-99999999 'not json' >/dev/null 2>&1");
  auto bad = n.Get("/v1/jobs/j-99999999", auth);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 500);
  EXPECT_NE(bad->body.find("a stored job that is not a JSON object"), std::string::npos) << bad->body;
  EXPECT_EQ(Ready(standby->url), 200);
}

}  // namespace
