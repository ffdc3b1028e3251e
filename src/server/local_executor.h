// The local executor: each task is a process on this machine in its own process group, started through
// /bin/sh-free fork/exec of its argv, with CUDA_VISIBLE_DEVICES set to the devices awan assigned, AWAN_JOB_ID and
// AWAN_TASK_INDEX, stdout and stderr captured to <dir>/<job>/<task>.log; exit codes map to job states. Where the
// machine has writable cgroup-v1 memory and cpu hierarchies (/sys/fs/cgroup/{memory,cpu}), each task runs in its
// own cgroup awan/<job>-<task> with memory.limit_in_bytes = its memory and a CFS quota of its cores (a task over
// its memory is killed by the kernel: exit 137); elsewhere tasks run without limits (cgroups_enabled() says). A task
// without a command is a placeholder that "runs" for its duration. Thread-compatible (the control plane calls it
// under its lock).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "server/executor.h"

namespace awan::server {

class LocalExecutor final : public Executor {
 public:
  // `dir`: where task logs go; `now_ms`: the clock (placeholders end by it).
  LocalExecutor(std::string dir, std::function<int64_t()> now_ms);
  ~LocalExecutor() override;
  Status Launch(const TaskLaunch& t) override;
  std::vector<TaskExit> Poll() override;
  void Kill(const std::string& job_id) override;
  std::string Logs(const std::string& job_id, int task) const override;
  bool cgroups_enabled() const { return cgroups_; }
  // Kills the process groups of tasks a previous server left running (it was killed before it could stop
  // them): each task's pid is in <dir>/<job>/<task>.pid while it runs. Call before Recover requeues their jobs,
  // so that a job never runs twice. Returns how many were killed.
  int ReapOrphans();
  // The cgroup-v1 root (default /sys/fs/cgroup); call before any Launch.
  void SetCgroupRoot(const std::string& root);

 private:
  struct Running {
    std::string job_id;
    int task = 0;
    pid_t pid = -1;          // -1 for a placeholder
    int64_t ends_ms = 0;     // placeholder end, or the time limit (0 = none)
  };
  std::string LogPath(const std::string& job_id, int task) const;
  std::string PidPath(const std::string& job_id, int task) const;
  // The task's cgroup below a controller's root: awan/<instance>/<job>-<task>, <instance> a hash of the state
  // directory, so that two servers on one machine (whose job ids both start at j-00000001) never share a group.
  std::string CgroupPath(const std::string& job_id, int task) const;
  std::string Cgroup(const std::string& controller, const std::string& job_id, int task) const;
  void RemoveCgroups(const std::string& job_id, int task) const;
  std::string dir_;
  std::string cgroup_root_;
  std::string cgroup_instance_;  // hex hash of the state directory's absolute path
  bool cgroups_ = false;
  std::function<int64_t()> now_ms_;
  std::vector<Running> running_;
};

}  // namespace awan::server
