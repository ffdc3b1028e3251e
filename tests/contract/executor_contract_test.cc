// The Executor contract: what the control plane relies on from every executor, run against the local
// executor (isolated processes; needs root), the Slurm executor (a real slurmctld + slurmd on 127.0.0.1,
// started by scripts/slurm-up.sh; needs root) and the fake (tests of the code around executors).
//   - every task's end is reported once, with its exit code;
//   - its output is kept and readable after it ends;
//   - Kill stops a job's tasks, and nothing is reported for them afterwards;
//   - Adopt never claims a task that was never launched;
//   - a task past its time limit is stopped and reported as timed out (not the Slurm executor yet).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "common/clock.h"
#include "server/fake_executor.h"
#include "server/local_executor.h"
#include "server/slurm_executor.h"

namespace awan::server {
namespace {

Clock& Wall() {
  static SystemClock clock;
  return clock;
}
int64_t NowMs() { return Wall().NowMs(); }

std::string TempDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("awan-exec-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

constexpr int64_t kUid = 61234;  // a Unix user made for the tests (Slurm runs jobs only as users it knows)

// One Slurm cluster for the whole suite (started on first use, stopped at exit).
class SlurmCluster {
 public:
  static SlurmCluster& Get() {
    static SlurmCluster c;
    return c;
  }
  bool up() const { return !host_.empty(); }
  const std::string& host() const { return host_; }
  const std::string& why() const { return why_; }
  ~SlurmCluster() {
    if (up()) std::system((std::string(AWAN_SOURCE_DIR) + "/scripts/slurm-down.sh " + dir_).c_str());
  }

 private:
  SlurmCluster() {
    if (getuid() != 0) {
      why_ = "needs root to start slurmd and munged (scripts/slurm-up.sh)";
      return;
    }
    dir_ = TempDir("slurm") + "/slurm";
    FILE* p = popen(
        (std::string(AWAN_SOURCE_DIR) + "/scripts/slurm-up.sh " + dir_ + " 2 16927 16928").c_str(), "r");
    char buf[256] = {0};
    const bool got = fgets(buf, sizeof buf, p) != nullptr;
    if (pclose(p) != 0 || !got) {
      why_ = "scripts/slurm-up.sh failed; see " + dir_ + "/log";
      return;
    }
    host_ = buf;
    host_.erase(host_.find_last_not_of("\n") + 1);
    setenv("SLURM_CONF", (dir_ + "/slurm.conf").c_str(), 1);
  }
  std::string dir_, host_, why_;
};

// The fake's script: what the contract's commands would do.
FakeExecutor::Outcome Scripted(const TaskLaunch& t) {
  const std::string cmd = t.command.empty() ? "" : t.command.back();
  if (cmd.rfind("exit ", 0) == 0) return {std::stoi(cmd.substr(5)), 50, ""};
  if (cmd.rfind("echo ", 0) == 0) return {0, 50, cmd.substr(5) + "\n"};
  if (cmd.rfind("sleep ", 0) == 0) return {0, std::stoll(cmd.substr(6)) * 1000, ""};
  return {0, t.duration_s * 1000, ""};
}

class ExecutorContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const std::string kind = GetParam();
    if (kind == "fake") {
      exec_ = std::make_unique<FakeExecutor>(Wall(), Scripted);
      return;
    }
    if (getuid() != 0) GTEST_SKIP() << "the " << kind << " executor runs tasks as another user: needs root";
    ASSERT_EQ(
        std::system(
            "id awan-slurm-lab > /dev/null 2>&1 || { getent group 61234 > /dev/null || groupadd -g "
            "61234 awan-slurm-lab; useradd -M -u 61234 -g 61234 -s /usr/sbin/nologin awan-slurm-lab; }"),
        0);
    if (kind == "local") {
      LocalExecutorOptions o;
      o.state_dir = TempDir("local");
      auto local = std::make_unique<LocalExecutor>(o, Wall());
      ASSERT_TRUE(local->Init().ok());
      exec_ = std::move(local);
    } else {
      SlurmCluster& c = SlurmCluster::Get();
      if (!c.up()) GTEST_SKIP() << c.why();
      exec_ = std::make_unique<SlurmExecutor>(
          TempDir("slurm-exec"), std::map<std::string, std::string>{{"n0", c.host()}}, Wall(), 100);
    }
  }
  TaskLaunch Task(const std::string& job, int task, const std::string& script) {
    TaskLaunch t;
    t.job_id = job + "-" + GetParam() + "-" + std::to_string(getpid());
    t.task = task;
    t.node = "n0";
    t.command = {"sh", "-c", script};
    t.cpus = 1;
    t.mem_mib = 64;
    t.tenant = "lab";
    t.uid = t.gid = kUid;
    t.run = 1;
    return t;
  }
  // Polls until `want` ends of `job` were reported or `seconds` passed; every end reported, by task.
  std::map<int, TaskExit> WaitEnds(const std::string& job, size_t want, int seconds) {
    std::map<int, TaskExit> ends;
    for (int i = 0; i < seconds * 20; ++i) {
      for (const TaskExit& e : exec_->Poll()) {
        if (e.job_id != job) continue;
        EXPECT_EQ(ends.count(e.task), 0u) << "task " << e.task << " reported twice";
        ends[e.task] = e;
      }
      if (ends.size() >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return ends;
  }
  std::unique_ptr<Executor> exec_;
};

TEST_P(ExecutorContract, EveryEndIsReportedOnceWithItsExitCode) {
  const TaskLaunch ok = Task("codes", 0, "exit 0"), bad = Task("codes", 1, "exit 3");
  ASSERT_TRUE(exec_->Launch(ok).ok());
  ASSERT_TRUE(exec_->Launch(bad).ok());
  const auto ends = WaitEnds(ok.job_id, 2, 60);
  ASSERT_EQ(ends.size(), 2u);
  EXPECT_EQ(ends.at(0).exit_code, 0);
  EXPECT_EQ(ends.at(1).exit_code, 3);
  EXPECT_TRUE(WaitEnds(ok.job_id, 1, 1).empty()) << "an end reported again";
}

TEST_P(ExecutorContract, OutputIsKept) {
  const TaskLaunch t = Task("logs", 0, "echo hello-contract");
  ASSERT_TRUE(exec_->Launch(t).ok());
  ASSERT_EQ(WaitEnds(t.job_id, 1, 60).size(), 1u);
  std::string log;
  for (int i = 0; i < 40 && log.find("hello-contract") == std::string::npos; ++i) {  // Slurm writes it last
    log = exec_->Logs(t.job_id, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(log.find("hello-contract"), std::string::npos) << log;
}

TEST_P(ExecutorContract, KillStopsTheJobAndNothingIsReportedForIt) {
  const TaskLaunch t = Task("kill", 0, "sleep 300");
  ASSERT_TRUE(exec_->Launch(t).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(WaitEnds(t.job_id, 1, 1).empty()) << "ended on its own";
  exec_->Kill(t.job_id);
  EXPECT_TRUE(WaitEnds(t.job_id, 1, 2).empty()) << "a killed task was reported";
}

TEST_P(ExecutorContract, AdoptNeverClaimsATaskThatWasNeverLaunched) {
  const Executor::Adoption a = exec_->Adopt(Task("never", 0, "exit 0"), NowMs() - 1000);
  EXPECT_TRUE(a == Executor::Adoption::kLost || a == Executor::Adoption::kNeverStarted);
}

TEST_P(ExecutorContract, ATaskPastItsTimeLimitIsStoppedAsTimedOut) {
  TaskLaunch t = Task("limit", 0, "sleep 300");
  t.time_limit_s = 1;
  ASSERT_TRUE(exec_->Launch(t).ok());
  const auto ends = WaitEnds(t.job_id, 1, 30);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_TRUE(ends.at(0).timed_out);
}

// The diagnosis's view of an executor (issue 19): Slurm's drains with their reasons, and a task the memory
// cgroup's OOM killer ended, reported as such (not only as exit 137).
TEST(ExecutorFacts, SlurmSaysWhichNodeItDrainedAndWhy) {
  SlurmCluster& c = SlurmCluster::Get();
  if (!c.up()) GTEST_SKIP() << c.why();
  SlurmExecutor exec(TempDir("slurm-states"), std::map<std::string, std::string>{{"n0", c.host()}}, Wall(),
                     100);
  EXPECT_TRUE(exec.NodeStates().empty());
  ASSERT_EQ(std::system(
                ("scontrol update nodename=" + c.host() + " state=drain reason='Kill task failed'").c_str()),
            0);
  const auto states = exec.NodeStates();
  ASSERT_EQ(std::system(("scontrol update nodename=" + c.host() + " state=resume").c_str()), 0);
  ASSERT_EQ(states.size(), 1u);
  EXPECT_EQ(states[0].first, "n0");
  EXPECT_EQ(states[0].second, "state=DRAIN reason=Kill task failed");
  EXPECT_TRUE(exec.NodeStates().empty());
}

// A task's checkpoint directory is absolute (the task runs in its own working directory; a container
// mounts it by path) even when the server's state directory was given relative, and it is writable by the
// task.
TEST(ExecutorFacts, TheCheckpointDirectoryIsAbsoluteAndTheTasksOwn) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (another user)";
  ASSERT_EQ(std::system(
                "id awan-slurm-lab > /dev/null 2>&1 || { getent group 61234 > /dev/null || groupadd -g "
                "61234 awan-slurm-lab; useradd -M -u 61234 -g 61234 -s /usr/sbin/nologin awan-slurm-lab; }"),
            0);
  const std::string base = TempDir("local-rel");
  const std::string cwd = std::filesystem::current_path().string();
  std::filesystem::current_path(base);
  LocalExecutorOptions o;
  o.state_dir = "state";  // relative
  LocalExecutor exec(o, Wall());
  ASSERT_TRUE(exec.Init().ok());
  TaskLaunch t;
  t.job_id = "ckpt-" + std::to_string(getpid());
  t.node = "n0";
  t.command = {"sh", "-c", "echo dir=$AWAN_CHECKPOINT_DIR run=$AWAN_RUN; touch $AWAN_CHECKPOINT_DIR/saved"};
  t.cpus = 1, t.mem_mib = 64, t.uid = t.gid = kUid, t.run = 1;
  ASSERT_TRUE(exec.Launch(t).ok());
  std::vector<TaskExit> ends;
  for (int i = 0; i < 200 && ends.empty(); ++i) {
    ends = exec.Poll();
    if (ends.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const std::string log = exec.Logs(t.job_id, 0);
  std::filesystem::current_path(cwd);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].exit_code, 0) << log;
  EXPECT_NE(log.find("dir=" + base + "/state/work/" + t.job_id + "/checkpoint run=1"), std::string::npos)
      << log;
  EXPECT_TRUE(std::filesystem::exists(base + "/state/work/" + t.job_id + "/checkpoint/saved"));
}

TEST(ExecutorFacts, AMemoryCgroupKillIsReportedAsSuch) {
  if (getuid() != 0) GTEST_SKIP() << "needs root (cgroups, another user)";
  ASSERT_EQ(std::system(
                "id awan-slurm-lab > /dev/null 2>&1 || { getent group 61234 > /dev/null || groupadd -g "
                "61234 awan-slurm-lab; useradd -M -u 61234 -g 61234 -s /usr/sbin/nologin awan-slurm-lab; }"),
            0);
  LocalExecutorOptions o;
  o.state_dir = TempDir("local-oom");
  LocalExecutor exec(o, Wall());
  ASSERT_TRUE(exec.Init().ok());
  if (!exec.cgroups_enabled()) GTEST_SKIP() << "no writable memory cgroup here";
  TaskLaunch t;
  t.job_id = "oom-" + std::to_string(getpid());
  t.node = "n0";
  t.command = {"python3", "-c", "a = bytearray(512 << 20)"};  // 512 MiB under a 64 MiB limit
  t.cpus = 1, t.mem_mib = 64, t.uid = t.gid = kUid, t.run = 1;
  ASSERT_TRUE(exec.Launch(t).ok());
  std::vector<TaskExit> ends;
  for (int i = 0; i < 400 && ends.empty(); ++i) {
    ends = exec.Poll();
    if (ends.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_NE(ends[0].exit_code, 0);
  EXPECT_EQ(ends[0].oom_limit_bytes, int64_t{64} << 20) << "exit " << ends[0].exit_code;
}

// Which images a node holds is read from its image store's index file (no runtime process), and read again
// when the store replaces or rewrites it: a pull that lands, an image removed, a file that is not JSON.
TEST(ExecutorFacts, ANodesImagesFollowItsStoreIndex) {
  LocalExecutorOptions o;
  o.state_dir = TempDir("local-images");
  LocalExecutor exec(o, Wall());
  const std::string dir = o.state_dir + "/images/n0/storage/overlay-images";
  const std::string image = "127.0.0.1:5000/awan/echo";
  const auto write = [&](const std::string& text) {  // as the store does: a new file renamed over the old
    std::filesystem::create_directories(dir);
    { std::ofstream(dir + "/images.json.tmp") << text; }
    std::filesystem::rename(dir + "/images.json.tmp", dir + "/images.json");
  };
  EXPECT_FALSE(exec.HasImage("n0", image));  // no store yet
  write(R"([{"id":"a","names":["127.0.0.1:5000/awan/echo:latest"]}])");
  EXPECT_TRUE(exec.HasImage("n0", image));  // stored under the tag "latest"
  EXPECT_TRUE(exec.HasImage("n0", image + ":latest"));
  EXPECT_FALSE(exec.HasImage("n0", image + ":v2"));
  EXPECT_FALSE(exec.HasImage("n1", image));  // another node's store
  write(R"([{"id":"a","names":["127.0.0.1:5000/awan/echo:latest","127.0.0.1:5000/awan/echo:v2"]}])");
  EXPECT_TRUE(exec.HasImage("n0", image + ":v2"));
  write("[]");
  EXPECT_FALSE(exec.HasImage("n0", image));  // removed
  write(R"([{"id":"a","names":["127.0.0.1:5000/awan/echo:latest"]}])");
  EXPECT_TRUE(exec.HasImage("n0", image));
  {
    std::ofstream(dir + "/images.json", std::ios::app) << "{";  // rewritten in place, and not JSON now
  }
  EXPECT_FALSE(exec.HasImage("n0", image));
  std::filesystem::remove(dir + "/images.json");
  EXPECT_FALSE(exec.HasImage("n0", image));
}

INSTANTIATE_TEST_SUITE_P(Executors, ExecutorContract, ::testing::Values("fake", "local", "slurm"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace awan::server
