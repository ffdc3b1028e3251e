// The local executor: runs each task as a process on this machine, isolated from the server and from other
// tenants (docs/security.md):
//
//   - Identity: the task runs as its tenant's Unix uid/gid (TaskLaunch::uid/gid), never as root unless
//     `allow_root` says so; supplementary groups are cleared, every capability is dropped from the bounding
//     set, and no_new_privs is set, so neither setuid binaries nor file capabilities give any of it back.
//   - Namespaces (`sandbox`): the task is started with clone(2) in new pid, mount, ipc and uts namespaces.
//   The
//     first process in them is a small init (a copy of this process that never execs): it mounts a fresh
//     /proc and a private /tmp (tmpfs), drops privileges, forks the task's argv, forwards
//     SIGTERM/SIGINT/SIGHUP to it, reaps whatever it leaves, and exits with its status. Being the pid
//     namespace's init, its exit kills every descendant, including those that called setsid(2): nothing
//     outlives a task.
//   - Files: the state directory is 0711 (traversable, not listable); task logs live in <state>/logs/<job>/
//   (0700,
//     root-owned files the task writes only through the descriptor it was given); the working directory is
//     <state>/work/<job> (0700, owned by the task's uid), or the manifest's `workdir`; the job's checkpoint
//     directory, <state>/work/<job>/checkpoint ($AWAN_CHECKPOINT_DIR), is the same for every run.
//   - Environment: an allowlist of the server's (PATH, LANG, LC_ALL, TZ), then the manifest's `env` (reserved
//     keys are refused at submit), then HOME, TMPDIR and the AWAN_* and CUDA_VISIBLE_DEVICES awan sets.
//   - cgroup v1, where the machine has writable hierarchies: memory (the manifest's memory), cpu (a CFS quota
//   of
//     its cores), pids (`pids_max`), and devices (deny all but the ordinary character devices and the GPU
//     device nodes of the devices awan assigned, found through `gpu_device_pattern`). Each task's group is
//     awan/<instance>/<job>-<task>, <instance> a hash of the state directory.
//   - Logs: each run's output is capped in place (`max_log_bytes`): the oldest bytes are dropped, offsets
//     stay stable, and ReadLog says from where the log is still kept.
//   - Kill, time limit and restart stop a task by killing its init (the whole pid namespace) and then every
//     process still in its cgroups.
//
// A task without a command is a placeholder that "runs" for its duration. Thread-compatible (the control
// plane calls it under its lock).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "server/executor.h"

namespace awan::server {

struct LocalExecutorOptions {
  std::string state_dir = "awan-state";  // logs/ and work/ go below it
  std::string cgroup_root = "/sys/fs/cgroup";
  bool sandbox = true;      // namespaces, private /tmp, mounts (needs root)
  bool allow_root = false;  // may a task run as uid 0 (or as the server's uid, when that is 0)?
  std::string gpu_device_pattern = "/dev/nvidia{}";  // {} = the device index
  std::vector<std::string> shared_devices = {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"};
  int64_t pids_max = 4096;
  int64_t tmp_mib = 1024;       // size of the private /tmp
  int64_t kill_grace_ms = 100;  // between SIGTERM and SIGKILL on Kill
  // Each run's log keeps at most about this many bytes on disk (0 = no cap). Over it, the oldest part is
  // dropped in place (a hole is punched, so offsets stay valid: `awan logs` and -f go on from where they
  // were) down to half the cap. Checked at every Poll, so a task writing faster than the tick can overshoot
  // by what it writes in one tick. Init refuses a state directory whose filesystem cannot punch holes.
  int64_t max_log_bytes = int64_t{64} << 20;
  // Tasks with an image (TaskLaunch::image) run in a container: `container_runtime` (podman, with runc as its
  // OCI runtime) is started as root inside the task's sandbox and runs the image as the tenant's uid, with
  // every capability dropped, no_new_privs, a read-only root, a private /tmp, the task's limits and its
  // working directory bound at the same path, on the host's network. Each node has its own image store
  // below <state_dir>/images/<node> (its own pulls, its own cache: what a real node's containers/storage
  // is). An image from a registry on 127.0.0.1 or localhost is pulled over plain HTTP; any other over TLS.
  std::string container_runtime = "podman";
};

class LocalExecutor final : public Executor {
 public:
  // REQUIRES: clock outlives it.
  LocalExecutor(LocalExecutorOptions options, Clock& clock);
  ~LocalExecutor() override;
  // Creates the state directory's layout with its modes; checks that tasks can be isolated as configured (a
  // trial sandbox is started when `sandbox`). FailedPrecondition naming what is missing otherwise.
  Status Init();
  Status Launch(const TaskLaunch& t) override;
  std::vector<TaskExit> Poll() override;
  void Kill(const std::string& job_id) override;
  std::string Logs(const std::string& job_id, int task) const override;
  LogChunk ReadLog(const std::string& job_id, int task, int run, int64_t offset,
                   int64_t max_bytes) const override;
  // Adopts a task whose init still runs (its pid file names it, with its start time against pid reuse), or
  // reports one whose init recorded its exit code while no server watched.
  Adoption Adopt(const TaskLaunch& t, int64_t started_ms) override;
  int ReapUnadopted() override { return ReapOrphans(); }
  bool HasImage(const std::string& node, const std::string& image) const override;
  Status Prepull(const std::string& node, const std::string& image) override;
  bool cgroups_enabled() const { return cgroups_; }
  // Stops every task a previous server on this state directory left running that was not adopted: kills the
  // init recorded in <logs>/<job>/<task>.pid and every process in the task's cgroups. Returns how many it
  // stopped.
  int ReapOrphans();

 private:
  // Launch's steps.
  Status PrepareLog(const TaskLaunch& t) const;
  StatusOr<std::string> TaskWorkdir(const TaskLaunch& t, bool drop, int64_t uid, int64_t gid) const;
  std::vector<std::string> TaskEnvironment(const TaskLaunch& t, const std::string& workdir) const;
  std::string CheckpointDir(const std::string& job_id) const;
  int64_t OomKilled(const std::string& job_id, int task) const;
  Status MakeCheckpointDir(const TaskLaunch& t, bool drop, int64_t uid, int64_t gid) const;
  // Containers: the runtime's global arguments for a node's image store; the argv that runs `t` in its image
  // (the environment from a file: no value is an argument); the container's name; a detached `rm -f` of it
  // after a kill.
  std::vector<std::string> RuntimeArgs(const std::string& node) const;
  std::vector<std::string> ContainerArgv(const TaskLaunch& t, const std::string& workdir,
                                         const std::string& env_file, int64_t uid, int64_t gid) const;
  // The container's environment (the task's, but PATH) in a root-only file beside its log; and the root
  // runtime's own environment, fixed: no variable of the tenant's (CONTAINERS_CONF, HOME, ...) may steer it.
  StatusOr<std::string> WriteContainerEnv(const TaskLaunch& t, const std::vector<std::string>& env) const;
  std::vector<std::string> RuntimeEnvironment(const std::string& node) const;
  std::string EnvFilePath(const std::string& node, const std::string& job_id, int task) const;
  std::string ContainerName(const std::string& job_id, int task) const;
  void RemoveContainer(const std::string& node, const std::string& name);
  void ReapPulls();  // the background pulls and removals that ended
  std::string NodeImageDir(const std::string& node) const;
  Status PrepareContainer(const TaskLaunch& t) const;
  std::string ImageNote(const TaskLaunch& t) const;

  struct Running {
    std::string job_id;
    int task = 0;
    pid_t pid = -1;       // the task's init (host pid); -1 for a placeholder
    int64_t ends_ms = 0;  // placeholder end, or the time limit (0 = none)
    bool timed_out = false;
    bool adopted = false;   // started by a previous server: not our child (polled, not waited for)
    int ended_code = -1;    // >= 0: it ended while no server watched; reported at the next Poll
    int run = 0;            // TaskLaunch::run
    std::string node = "";  // TaskLaunch::node, and the container's name when it runs an image
    std::string container = "";
  };
  struct Pull {  // a pre-pull in the background
    std::string node, image;
    pid_t pid = -1;
  };
  // A node's image-store index as last read: the names it records, and the file's identity then (the store
  // replaces the file by a rename on every change, so a new inode, time or size means read it again).
  struct ImageIndex {
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
    std::set<std::string> names;
  };
  std::string ExitPath(const std::string& job_id, int task) const;
  std::string JobLogDir(const std::string& job_id) const;
  std::string LogPath(const std::string& job_id, int task, int run = 0) const;
  std::string PidPath(const std::string& job_id, int task) const;
  // The task's cgroup below a controller's root: awan/<instance>/<job>-<task>.
  std::string CgroupPath(const std::string& job_id, int task) const;
  std::string Cgroup(const std::string& controller, const std::string& job_id, int task) const;
  std::vector<std::string> Controllers() const;  // the enabled ones
  void DetectCgroups();
  // SIGKILL to every process in the task's cgroups until they are empty, then removes the groups.
  void KillCgroups(const std::string& job_id, int task) const;
  Status SetUpCgroups(const TaskLaunch& t, std::vector<std::string>* procs) const;
  void Stop(Running& r, bool graceful);
  bool Tracked(const std::string& job_id, int task) const;  // in running_ (launched or adopted)
  // Drops the oldest part of the task's current log when it is over max_log_bytes (see the option).
  void CapLog(const Running& r) const;

  LocalExecutorOptions o_;
  std::string logs_dir_, work_dir_;
  std::string cgroup_instance_;  // hex hash of the state directory's absolute path
  bool cgroups_ = false;         // memory and cpu
  bool pids_cgroup_ = false, devices_cgroup_ = false;
  Clock* clock_;
  std::vector<Running> running_;
  std::vector<Pull> pulls_;
  mutable std::mutex images_mu_;  // guards image_index_: HasImage is const and may be asked from any thread
  mutable std::map<std::string, ImageIndex> image_index_;  // by node
};

}  // namespace awan::server
