// The slurm executor: each task of a placed job becomes a Slurm batch job pinned where awan placed it:
// `sbatch --nodelist=<the Slurm node of awan's node> --gres=gpu:<count> --cpus-per-task --mem`, whose script
// sets CUDA_VISIBLE_DEVICES to the device indices awan chose (Slurm's gres enforces the count; with
// TaskPlugin=task/none it does not fence devices, so awan's indices are what the task sees), AWAN_JOB_ID,
// AWAN_TASK_INDEX and AWAN_NODE, then execs the command. Progress is tracked with squeue and scontrol (at
// most every poll_ms), exit codes from Slurm's ExitCode; Kill is scancel. Slurm jobs outlive awan: after a
// restart the next server finds each task's Slurm job by name and tracks it again. Talks to the cluster named
// by SLURM_CONF. Fractional GPUs are requested as one whole GPU (Slurm shards/MPS are not used).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "server/executor.h"

namespace awan::server {

class SlurmExecutor final : public Executor {
 public:
  // `node_map`: awan node name -> Slurm node name (a node not in it keeps its name).
  SlurmExecutor(std::string dir, std::map<std::string, std::string> node_map, Clock& clock,
                int64_t poll_ms = 500);
  ~SlurmExecutor() override;
  Status Launch(const TaskLaunch& t) override;
  std::vector<TaskExit> Poll() override;
  std::vector<std::pair<std::string, std::string>> NodeStates() override;
  void Kill(const std::string& job_id) override;
  std::string Logs(const std::string& job_id, int task) const override;
  // After a restart: the Slurm job named awan-<job>-<task> (the newest, of any state slurmctld still keeps)
  // is tracked again (kRunning, or kEnded: its exit comes through the next Poll); none: kNeverStarted (the
  // previous server recorded the start and stopped before sbatch).
  Adoption Adopt(const TaskLaunch& t, int64_t started_ms) override;

 private:
  struct Running {
    std::string job_id;
    int task = 0;
    std::string slurm_id;
    int64_t limit_s = 0;  // the task's time limit (0: none)
  };
  std::string dir_;
  std::map<std::string, std::string> node_map_;
  Clock* clock_;
  int64_t poll_ms_, last_poll_ms_ = 0;
  std::vector<Running> running_;
};

// Runs argv (no shell), returns its stdout; an error with its stderr if it fails.
StatusOr<std::string> RunCommand(const std::vector<std::string>& argv);

}  // namespace awan::server
