// Executor: runs the tasks of the jobs the scheduler placed, and reports how they end. Behind one interface:
// `local` (isolated processes on this machine, local_executor.h) and `slurm` (sbatch, slurm_executor.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace awan::server {

// As a task's command[0]: run the awan binary the server itself runs (e.g. `awan replica`, the inference
// engine stand-in), whatever its path and whether the tenant could see that path.
inline constexpr const char* kSelfCommand = "@awan";

// The first line of a task that runs an image says what its start cost (written by the local executor, read
// by the service manager): "awan: pulling image IMAGE to node NODE" or "awan: image IMAGE already present on
// node NODE".
inline constexpr const char* kImagePullingNote = "awan: pulling image ";
inline constexpr const char* kImagePresentNote = " already present on node ";

struct TaskLaunch {
  std::string job_id;
  int task = 0;         // index within the gang
  std::string node;     // the node awan chose
  std::string devices;  // the GPU device indices awan chose on it ("0,3"), for CUDA_VISIBLE_DEVICES
  std::vector<std::string> command;  // argv; empty = a placeholder that ends after duration_s
  std::map<std::string, std::string> env;
  int64_t duration_s = 0;  // placeholder run time; for a command, a time limit if > 0
  int gpus = 0;            // devices (a fractional request counts as one)
  int cpus = 1;            // cores (rounded up)
  int64_t mem_mib = 0;
  // Who runs it and where: the tenant's Unix identity (-1 = the server's own, only when the executor allows
  // it), the working directory ("" = a fresh per-job directory owned by uid), and a wall-time limit enforced
  // by the executor (0 = none; the task is killed and reported as timed out).
  std::string tenant;
  int64_t uid = -1, gid = -1;
  std::string workdir;
  int64_t time_limit_s = 0;
  int run =
      0;  // which run of its job this is (1, 2, ...; 0 = unknown): files of an earlier run are not this one's
  // An OCI image the command runs in, pulled to the node's own image store when it is not there yet ("" =
  // the command runs on the node itself). Executors that cannot run images refuse the launch.
  std::string image;
  // Set by awan itself besides the per-task ones every executor sets (names start with AWAN_): a job array's
  // AWAN_ARRAY_INDEX and AWAN_ARRAY_COUNT. Executors export them after the job's own env.
  std::map<std::string, std::string> awan_env;
};

struct TaskExit {
  std::string job_id;
  int task = 0;
  int exit_code = 0;            // 128 + signal if killed by one
  bool timed_out = false;       // killed at its time limit
  int64_t oom_limit_bytes = 0;  // > 0: its memory cgroup's OOM killer killed a process of it (the limit)
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual Status Launch(const TaskLaunch& t) = 0;
  // Tasks that ended since the last call.
  virtual std::vector<TaskExit> Poll() = 0;
  // Stops every task of the job (SIGTERM to each task's process group, SIGKILL after a grace period).
  virtual void Kill(const std::string& job_id) = 0;
  // After a restart of the control plane: a task the previous server launched as `t` at `started_ms`.
  // kRunning: it still runs and is tracked again (its end comes through Poll); kEnded: it ended while no
  // server watched (its exit comes through the next Poll); kLost: nothing of it is left (or it cannot be
  // adopted here); kNeverStarted: lost, and nothing shows it ever began (the previous server recorded the
  // start and stopped before the task ran: the run does not count as one).
  enum class Adoption { kRunning, kEnded, kLost, kNeverStarted };
  virtual Adoption Adopt(const TaskLaunch& t, int64_t started_ms) {
    (void)t, (void)started_ms;
    return Adoption::kLost;
  }
  // After the adoptions: stops whatever a previous server left running that was not adopted (so that a job
  // requeued after a restart never runs twice). Returns how many tasks it stopped.
  virtual int ReapUnadopted() { return 0; }
  // Nodes the executor's own engine holds out, with why, for the diagnosis: (awan node, "state=DRAIN
  // reason=...") for each node that is drained, down or failed there now (Slurm's node states and reasons).
  // Called from the control plane's tick thread, outside its lock. None by default.
  virtual std::vector<std::pair<std::string, std::string>> NodeStates() { return {}; }
  // Images on nodes (for placement that prefers warm nodes, and pre-pulls). Whether `node`'s image store
  // holds `image` now; and a pull of it there in the background (done when HasImage says so; asked again
  // while it runs, it starts no second pull: pre-pulls ask each tick until it is done). Executors without
  // images answer false and FailedPrecondition.
  virtual bool HasImage(const std::string& node, const std::string& image) const {
    (void)node, (void)image;
    return false;
  }
  virtual Status Prepull(const std::string& node, const std::string& image) {
    (void)node, (void)image;
    return FailedPrecondition("this executor does not run images");
  }
  // The captured output of one task ("" if none).
  virtual std::string Logs(const std::string& job_id, int task) const = 0;
  // A window of it: at most `max_bytes` from `offset` (a negative offset counts from the end, like tail -c).
  // Thread-safe against the executor's other calls (it reads files only).
  struct LogChunk {
    std::string data;
    int64_t offset = 0;  // where `data` starts
    int64_t size = 0;    // the log's size now
    int64_t start = 0;   // the first byte still kept: the bytes before it were dropped by the log cap
  };
  // `run`: 0 = the task's current (or last) run; k >= 1 = its k-th run when it ran more than once.
  virtual LogChunk ReadLog(const std::string& job_id, int task, int run, int64_t offset,
                           int64_t max_bytes) const {
    if (run > 0) return {};
    const std::string all = Logs(job_id, task);
    LogChunk c;
    c.size = static_cast<int64_t>(all.size());
    c.offset = offset < 0 ? std::max<int64_t>(0, c.size + offset) : std::min(offset, c.size);
    c.data = all.substr(static_cast<size_t>(c.offset), static_cast<size_t>(std::max<int64_t>(0, max_bytes)));
    return c;
  }
};

}  // namespace awan::server
