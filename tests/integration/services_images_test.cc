// Replicas in containers, end to end on 127.0.0.1: a real registry (Debian's docker-registry, started by
// scripts/registry-up.sh), the replica image built from this build's awan binary (scripts/replica-image.sh),
// podman with runc pulling it into each node's own image store. The first replica pulls; awan pre-pulls the
// image onto the nodes of its region, and the replicas of a scale-up start on nodes that hold it. Each
// replica runs as its tenant's uid with no capabilities, in the image's root filesystem. A manifest whose
// image would smuggle runtime options is refused; deleting the service leaves no container behind.
// Needs root (the container runtime runs as root; the images' processes do not).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/services_harness.h"
#include "shell.h"

namespace {

using namespace awan::testing;  // NOLINT
namespace fs = std::filesystem;

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// The processes whose command line starts with `prefix` (NUL-separated argv).
std::vector<int> Pids(const std::string& prefix) {
  std::vector<int> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream f(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(f)), {});
    if (cmd.rfind(prefix, 0) == 0) out.push_back(std::stoi(name));
  }
  return out;
}

std::string StatusField(int pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(field + ":", 0) == 0) return line.substr(field.size() + 1);
  return "";
}

// Nodes whose image store holds `image` (the store's own index, as the executor reads it).
int NodesHolding(const std::string& state, const std::string& image) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(state + "/images", ec)) {
    std::ifstream f(e.path() / "storage/overlay-images/images.json");
    const std::string s((std::istreambuf_iterator<char>(f)), {});
    n += s.find("\"" + image + "\"") != std::string::npos;
  }
  return n;
}

class Registry {
 public:
  explicit Registry(const std::string& dir) : dir_(dir) {
    address_ = Shell(std::string(AWAN_SOURCE_DIR) + "/scripts/registry-up.sh " + dir + " " +
                     std::to_string(FreePort()) + " 2>&1");
  }
  ~Registry() { Shell(std::string(AWAN_SOURCE_DIR) + "/scripts/registry-down.sh " + dir_); }
  const std::string& address() const { return address_; }

 private:
  std::string dir_, address_;
};

TEST(ServiceImages, ReplicasRunInContainersPulledFromTheLocalRegistryAndScaleUpOntoWarmNodes) {
  if (geteuid() != 0) GTEST_SKIP() << "the container runtime needs root (CI runs as root)";
  ASSERT_FALSE(Shell("command -v podman").empty()) << "podman missing: run scripts/install-deps.sh";
  ASSERT_FALSE(Shell("command -v docker-registry").empty()) << "docker-registry missing: run install-deps.sh";
  const std::string dir = TempDir("svc-images");
  Registry registry(dir + "/registry");
  ASSERT_EQ(registry.address().rfind("127.0.0.1:", 0), 0u) << registry.address();
  const std::string image = Shell(std::string(AWAN_SOURCE_DIR) + "/scripts/replica-image.sh " +
                                  registry.address() + " " + AWAN_BINARY + " 2>&1");
  ASSERT_EQ(image.rfind(registry.address() + "/awan/replica:", 0), 0u) << image;

  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0) << s.output();
  Http c(s.url());
  // An image that would be read as a runtime option, or that climbs paths, is refused before anything runs.
  for (const std::string bad : {"--privileged", "-v/:/host", "a/../../etc", "x y"}) {
    std::string m = std::string(kChat) + "  image: \"" + bad + "\"\n";
    auto r = c.Post("/v1/services", Bearer(token), m, "application/yaml");
    EXPECT_EQ(r->status, 400) << bad << ": " << r->body;
  }
  const std::string job_with_bad_image = std::string(kShortJob) + "  image: \"--privileged\"\n";
  auto refused = c.Post("/v1/jobs", Bearer(token), job_with_bad_image, "application/yaml");
  EXPECT_EQ(refused->status, 400);
  EXPECT_NE(refused->body.find("image"), std::string::npos) << refused->body;

  std::string manifest = kChat;
  manifest.replace(manifest.find("max: 6"), 6, "max: 3");
  manifest += "  image: " + image + "\n";
  ASSERT_EQ(c.Post("/v1/services", Bearer(token), manifest, "application/yaml")->status, 201);
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "chat").dump(1);
  Json d = Describe(c, token, "chat");
  EXPECT_EQ(d["replica_list"][0]["image"], "pulled") << d.dump(1);  // nothing held it: the first one pulls
  // It runs in the image, as the tenant, with nothing of root's.
  const std::vector<int> pids = Pids(std::string("/usr/local/bin/awan") + '\0' + "replica");
  ASSERT_EQ(pids.size(), 1u);
  const int pid = pids[0];
  EXPECT_EQ(StatusField(pid, "Uid").find("\t0\t"), std::string::npos) << StatusField(pid, "Uid");
  EXPECT_EQ(StatusField(pid, "CapEff"), "\t0000000000000000");
  EXPECT_EQ(StatusField(pid, "NoNewPrivs"), "\t1");
  const std::string root = "/proc/" + std::to_string(pid) + "/root";
  EXPECT_TRUE(fs::exists(root + "/usr/local/bin/awan"));
  EXPECT_FALSE(fs::exists(root + "/usr/bin/podman"));  // the image's files, not the node's
  EXPECT_FALSE(fs::exists(root + dir + "/awan.db"));   // nor the server's store
  // The gateway reaches it; awan pre-pulls the image onto another node of its region meanwhile. Idle, the
  // service wants two warm replica slots (serving::PrefetchSlots: a quarter of its one replica and a spare);
  // its replica's 8-GPU node has room for one more 4-GPU replica, so one more node (two slots) is enough.
  // Pre-pulls count replica slots, as the simulator does: a third node would mean it counted nodes.
  auto r = c.Post("/v1/completions", Bearer(token),
                  R"({"model": "chat", "prompt": "hi there", "max_tokens": 8})", "application/json");
  EXPECT_EQ(r->status, 200) << r->body;
  ASSERT_TRUE(WaitFor(60, [&] { return NodesHolding(dir + "/state", image) >= 2; }))
      << NodesHolding(dir + "/state", image);
  std::this_thread::sleep_for(std::chrono::seconds(12));  // two more pre-pull rounds (every 5 s)
  EXPECT_EQ(NodesHolding(dir + "/state", image), 2);

  // A burst: the autoscaler adds replicas, and they land on nodes that hold the image.
  std::thread burst([&] {
    RunAwan("bench gateway --url " + s.url() + " --token " + token +
            " --model chat --count 2000 --rate 200 --prompt-tokens 1024 --output-tokens 128 --stream false");
  });
  const bool scaled = WaitFor(60, [&] { return Describe(c, token, "chat")["replicas"]["ready"] >= 2; });
  burst.join();
  ASSERT_TRUE(scaled) << Describe(c, token, "chat").dump(1);
  d = Describe(c, token, "chat");
  int warm = 0, replicas = 0;
  for (const Json& rep : d["replica_list"]) {
    if (rep["job"] == d["replica_list"][0]["job"]) continue;
    ++replicas;
    warm += rep["image"] == "warm";
  }
  EXPECT_GE(replicas, 1);
  EXPECT_EQ(warm, replicas) << d.dump(1);
  EXPECT_GE(d["image"]["starts_on_warm_node"].get<int>(), 1) << d.dump(1);
  const std::string metrics = c.Get("/metrics", Bearer(token))->body;
  EXPECT_NE(
      metrics.find(
          "awan_service_replica_starts_total{tenant=\"my-university\",service=\"chat\",image=\"warm\"}"),
      std::string::npos);

  // Deleted: every replica stops, and no container is left in any node's store.
  ASSERT_EQ(c.Delete("/v1/services/chat", Bearer(token))->status, 200);
  EXPECT_TRUE(
      WaitFor(30, [&] { return Pids(std::string("/usr/local/bin/awan") + '\0' + "replica").empty(); }));
  EXPECT_TRUE(WaitFor(30, [&] {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir + "/state/images", ec)) {
      const std::string p = e.path().string();
      const std::string ps = Shell("podman --root " + p + "/storage --runroot " + p +
                                   "/run --cgroup-manager cgroupfs --events-backend none ps -aq 2>/dev/null");
      if (!ps.empty()) return false;
    }
    return true;
  }));

  // The tenant's environment never steers the root runtime: a containers.conf named by CONTAINERS_CONF that
  // would bind the node's /etc into the container is not read (the variable reaches the container only).
  // (outside /tmp, which a task's sandbox replaces: the runtime could read it there)
  const std::string evil = "/var/tmp/awan-evil-" + std::to_string(getpid()) + ".conf";
  std::ofstream(evil) << "[containers]\nvolumes = [\"/etc:/hostetc:ro\"]\n";
  fs::permissions(
      evil, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read | fs::perms::group_read);
  const std::string job =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: steer}\nspec:\n  gpus: 1\n"
      "  accelerator: H100\n  image: " +
      image + "\n  env: {CONTAINERS_CONF: " + evil +
      "}\n  command: [/usr/local/bin/awan, replica, --listen, '127.0.0.1:0']\n";
  auto submitted = c.Post("/v1/jobs", Bearer(token), job, "application/yaml");
  ASSERT_EQ(submitted->status, 201) << submitted->body;
  const std::string steer = std::string("/usr/local/bin/awan") + '\0' + "replica" + '\0' + "--listen";
  ASSERT_TRUE(WaitFor(30, [&] { return Pids(steer).size() == 1; }));
  const int spid = Pids(steer)[0];
  EXPECT_FALSE(fs::exists("/proc/" + std::to_string(spid) + "/root/hostetc"));
  std::ifstream environ_file("/proc/" + std::to_string(spid) + "/environ");
  const std::string environ_text((std::istreambuf_iterator<char>(environ_file)), {});
  EXPECT_NE(environ_text.find("CONTAINERS_CONF=" + evil), std::string::npos);  // the container got it
  EXPECT_EQ(
      c.Delete("/v1/jobs/" + Json::parse(submitted->body)["id"].get<std::string>(), Bearer(token))->status,
      200);
  EXPECT_TRUE(WaitFor(30, [&] { return Pids(steer).empty(); }));
  fs::remove(evil);
}

}  // namespace
