// The harness the `awan serve` integration tests share: a real `awan serve` on 127.0.0.1 (started and killed
// by the test), an HTTP client whose calls never crash the test, tokens made by the real CLI, small fleets,
// and waits for a job's state.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "shell.h"

namespace awan::testing {

using Json = nlohmann::json;

inline std::string TempDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("awan-serve-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

inline std::string RunAwan(const std::string& args) {
  return awan::testing::ShellOutput(std::string(AWAN_BINARY) + " " + args + " 2>/dev/null");
}

// The store URL for a test's store: an etcd URL as it is, else a SQLite file's path.
inline std::string StoreUrl(const std::string& db) { return db.rfind("etcd:", 0) == 0 ? db : "sqlite:" + db; }

inline std::string Token(const std::string& db, const std::string& tenant, const std::string& role) {
  if (db.rfind("etcd:", 0) == 0 || !std::filesystem::exists(db)) RunAwan("init --store " + StoreUrl(db));
  std::string out = RunAwan("token create --store " + StoreUrl(db) +
                            (tenant.empty() ? "" : " --tenant " + tenant) + " --role " + role);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out.substr(out.rfind('\n') + 1);
}

// The directories of this test's servers. Tasks, replicas among them, outlive their server by design (running
// work survives a restart), so a test that fails before it stops its services would leave them running: at
// the end of every test, each process whose working directory lies in one of these is killed (a task works in
// STATE/work/JOB unless its manifest says otherwise).
inline std::vector<std::string>& TestServerDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

inline void KillProcessesWorkingIn(const std::vector<std::string>& dirs) {
  std::error_code ec;
  for (const auto& p : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = p.path().filename().string();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const pid_t pid = std::stoi(name);
    if (pid == getpid()) continue;
    std::error_code link_ec;
    const std::string cwd = std::filesystem::read_symlink(p.path() / "cwd", link_ec).string();
    if (link_ec) continue;
    for (const std::string& d : dirs)
      if (cwd == d || cwd.rfind(d + "/", 0) == 0) kill(pid, SIGKILL);
  }
}

class LeftoverTaskReaper : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo&) override {
    if (!TestServerDirs().empty()) KillProcessesWorkingIn(TestServerDirs());
    TestServerDirs().clear();
  }
};

inline const bool kLeftoverTaskReaperInstalled = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new LeftoverTaskReaper);
  return true;
}();

// A running `awan serve`, killed with SIGKILL (or SIGTERM) by the test.
// Starts AWAN_BINARY with `args` (after argv[0]), its stdout and stderr to `log`: the child's pid.
inline pid_t SpawnAwan(std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), AWAN_BINARY);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execv(AWAN_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

class Server {
 public:
  Server(const std::string& dir, const std::string& db, std::string fleet = "",
         std::vector<std::string> extra = {}) {
    if (fleet.empty()) fleet = std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml";
    log_ = dir + "/serve-" + std::to_string(++starts_) + ".log";
    if (std::find(TestServerDirs().begin(), TestServerDirs().end(), dir) == TestServerDirs().end())
      TestServerDirs().push_back(dir);
    std::vector<std::string> args = {"serve",        "--store",   StoreUrl(db), "--listen",
                                     "127.0.0.1:0",  "--fleet",   fleet,        "--state-dir",
                                     dir + "/state", "--tick-ms", "50"};
    if (std::find(extra.begin(), extra.end(), "--listen") != extra.end())
      args.erase(args.begin() + 3, args.begin() + 5);
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = SpawnAwan(args, log_);
    for (int i = 0; i < 200 && port_ == 0; ++i) {  // at most 10 s
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream f(log_);
      std::string line;
      while (std::getline(f, line)) {
        const size_t at = line.find("://127.0.0.1:");
        if (at != std::string::npos) {
          port_ = std::stoi(line.substr(at + 13));
          scheme_ = line.substr(line.rfind(' ', at) + 1, at - line.rfind(' ', at) - 1);
        }
      }
    }
  }
  ~Server() { Kill(SIGKILL); }
  void Kill(int sig) {
    if (pid_ <= 0) return;
    kill(pid_, sig);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  // Waits up to `seconds` for the server to exit by itself: its exit code, or -1 if it still runs.
  int WaitExit(int seconds) {
    for (int i = 0; i < seconds * 20 && pid_ > 0; ++i) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return -1;
  }
  // What it printed so far.
  std::string output() const {
    std::ifstream f(log_);
    return std::string((std::istreambuf_iterator<char>(f)), {});
  }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }

 private:
  static inline int starts_ = 0;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string scheme_ = "http";
  std::string log_;
};

// A response that is never null: a request that failed (timeout, refused) is a test failure, not a crash.
struct Safe {
  httplib::Result r;
  httplib::Response empty{};
  const httplib::Response* operator->() {
    if (!r) {
      ADD_FAILURE() << "request failed: " << httplib::to_string(r.error());
      return &empty;
    }
    return &*r;
  }
  explicit operator bool() const { return static_cast<bool>(r); }
  httplib::Error error() const { return r.error(); }
};

// An HTTP client whose calls return Safe, with a generous timeout for loaded CI machines.
class Http {
 public:
  explicit Http(const std::string& url) : c_(url) {
    c_.set_read_timeout(30);
    c_.set_connection_timeout(5);
  }
  template <typename... A>
  Safe Get(A&&... a) {
    return Safe{c_.Get(std::forward<A>(a)...)};
  }
  template <typename... A>
  Safe Post(A&&... a) {
    return Safe{c_.Post(std::forward<A>(a)...)};
  }
  template <typename... A>
  Safe Delete(A&&... a) {
    return Safe{c_.Delete(std::forward<A>(a)...)};
  }
  httplib::Client& raw() { return c_; }

 private:
  httplib::Client c_;
};

// Writes DIR/fleet.yaml: one 4-GPU node (z-b0-s0-0) in region lab, tenant lab (4 GPUs guaranteed) and `more`.
inline void OneNodeFleet(const std::string& dir, const std::string& more_tenants = "") {
  std::ofstream(dir + "/fleet.yaml")
      << "node_types:\n  g4: {accelerator: H100, gpus: 4, cpu: 8, memory_gib: 64}\n"
         "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g4, nodes: 1}}\n"
         "tenants:\n  - {name: lab, guaranteed_gpus: 4}\n"
      << more_tenants;
}

inline httplib::Headers Bearer(const std::string& token) { return {{"Authorization", "Bearer " + token}}; }

inline const char* kShortJob = R"(apiVersion: awan/v1
kind: Job
metadata: {name: hello}
spec:
  tasks: 2
  gpus: 2
  command: [sh, -c, "echo task $AWAN_TASK_INDEX devices $CUDA_VISIBLE_DEVICES node $AWAN_NODE"]
)";

inline Json WaitForState(Http& c, const std::string& token, const std::string& id, const std::string& state) {
  Json j;
  for (int i = 0; i < 200; ++i) {
    auto r = c.Get("/v1/jobs/" + id, Bearer(token));
    if (r && r->status == 200) {
      j = Json::parse(r->body);
      if (j["state"] == state) return j;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return j;
}

// Polls a job until it has ended (Succeeded, Failed, TimedOut or Cancelled), for at most `seconds`; returns
// its last view.
inline Json WaitForEnd(Http& c, const std::string& token, const std::string& id, int seconds) {
  Json j = Json::object();
  auto over = [](const std::string& s) {
    return s == "Succeeded" || s == "Failed" || s == "TimedOut" || s == "Cancelled";
  };
  for (int i = 0; i < seconds * 10 && !over(j.value("state", "")); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    j = Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body);
  }
  return j;
}

// `extra`, plus --unsandboxed-tasks when the test does not run as root (tasks are sandboxed only by a root
// server; the tests that check the sandbox itself skip without root).
inline std::vector<std::string> AnyUser(std::vector<std::string> extra = {}) {
  if (geteuid() != 0) extra.push_back("--unsandboxed-tasks");
  return extra;
}

inline bool Alive(pid_t pid) {  // running, not a zombie
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(stat)), {});
  if (s.empty()) return false;
  const size_t close = s.rfind(')');
  return close != std::string::npos && close + 2 < s.size() && s[close + 2] != 'Z';
}

// The processes in a task's memory cgroup (AWAN_CGROUP, relative to the hierarchy).
inline std::vector<pid_t> CgroupPids(const std::string& group) {
  std::vector<pid_t> out;
  std::ifstream f("/sys/fs/cgroup/memory/" + group + "/cgroup.procs");
  for (pid_t p; f >> p;) out.push_back(p);
  return out;
}

// A server on a one-node fleet with tenants lab and other, and tokens for a lab member, an other member and a
// lab viewer; `extra` flags go after AnyUser()'s.
struct ServerFixture {
  std::string dir, db, token, other, viewer;
  std::unique_ptr<Server> s;
  explicit ServerFixture(const std::string& name, std::vector<std::string> extra = {}) {
    dir = TempDir(name);
    OneNodeFleet(dir, "  - {name: other, guaranteed_gpus: 2}\n");
    db = dir + "/awan.db";
    token = Token(db, "lab", "member");
    other = Token(db, "other", "member");
    viewer = Token(db, "lab", "viewer");
    s = std::make_unique<Server>(dir, db, dir + "/fleet.yaml", AnyUser(std::move(extra)));
  }
};

// The server's audit log (read with an admin token) is not empty and `awan audit verify` accepts it against
// the ASEAN fleet (or `fleet`).
inline void ExpectAuditVerifies(Http& c, const std::string& db, const std::string& dir,
                                std::string fleet = "") {
  if (fleet.empty()) fleet = std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml";
  const std::string admin = Token(db, "", "admin");
  auto log = c.Get("/v1/audit?limit=10000", Bearer(admin));
  ASSERT_EQ(log->status, 200);
  EXPECT_FALSE(log->body.empty());
  std::ofstream(dir + "/audit.jsonl") << log->body;
  const std::string verify =
      RunAwan("audit verify --fleet " + fleet + " --log " + dir + "/audit.jsonl 2>&1; echo rc=$?");
  EXPECT_NE(verify.find("rc=0"), std::string::npos) << verify;
}

}  // namespace awan::testing
