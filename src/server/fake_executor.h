// FakeExecutor: an Executor that runs nothing, for tests of the code around executors (the control plane,
// its restarts) without processes, cgroups or Slurm. A launched task "runs" until the injected clock passes
// its end; what it does is decided by a script the test provides (exit code, run time, output); by default
// a task is a placeholder that exits 0 after duration_s (its time limit, if shorter, kills it: timed out).
// It passes the same Executor contract suite as the real executors
// (tests/contract/executor_contract_test.cc). Thread-compatible.
#pragma once

#include <functional>
#include <iterator>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "server/executor.h"

namespace awan::server {

class FakeExecutor final : public Executor {
 public:
  struct Outcome {
    int exit_code = 0;
    int64_t run_ms = 0;
    std::string output;
  };
  using Script = std::function<Outcome(const TaskLaunch&)>;
  // REQUIRES: clock outlives it.
  explicit FakeExecutor(Clock& clock, Script script = {}) : clock_(&clock), script_(std::move(script)) {}

  Status Launch(const TaskLaunch& t) override {
    const auto key = std::make_pair(t.job_id, t.task);
    if (running_.count(key))
      return FailedPrecondition("task " + t.job_id + "/" + std::to_string(t.task) + " runs already");
    Outcome o = script_ ? script_(t) : Outcome{0, t.duration_s * 1000, ""};
    Task task{t, o, clock_->NowMs(), false};
    if (t.time_limit_s > 0 && o.run_ms > t.time_limit_s * 1000) {
      task.outcome.run_ms = t.time_limit_s * 1000;
      task.outcome.exit_code = 128 + 9;
      task.timed_out = true;
    }
    logs_[key] = o.output;
    running_[key] = std::move(task);
    launched_.push_back(t);
    return Status::Ok();
  }
  std::vector<TaskExit> Poll() override {
    std::vector<TaskExit> out;
    const int64_t now = clock_->NowMs();
    for (auto it = running_.begin(); it != running_.end();) {
      const Task& t = it->second;
      if (now - t.started_ms < t.outcome.run_ms) {
        ++it;
        continue;
      }
      out.push_back({t.launch.job_id, t.launch.task, t.outcome.exit_code, t.timed_out, 0});
      it = running_.erase(it);
    }
    return out;
  }
  void Kill(const std::string& job_id) override {
    for (auto it = running_.begin(); it != running_.end();)
      it = it->first.first == job_id ? running_.erase(it) : std::next(it);
    killed_.push_back(job_id);
  }
  std::string Logs(const std::string& job_id, int task) const override {
    auto it = logs_.find({job_id, task});
    return it == logs_.end() ? std::string() : it->second;
  }
  Adoption Adopt(const TaskLaunch& t, int64_t started_ms) override {
    (void)started_ms;
    return running_.count({t.job_id, t.task}) ? Adoption::kRunning : Adoption::kLost;
  }

  // What the test may check: every launch in order, every job killed.
  const std::vector<TaskLaunch>& launched() const { return launched_; }
  const std::vector<std::string>& killed() const { return killed_; }
  size_t running() const { return running_.size(); }

 private:
  struct Task {
    TaskLaunch launch;
    Outcome outcome;
    int64_t started_ms = 0;
    bool timed_out = false;
  };
  Clock* clock_;
  Script script_;
  std::map<std::pair<std::string, int>, Task> running_;
  std::map<std::pair<std::string, int>, std::string> logs_;
  std::vector<TaskLaunch> launched_;
  std::vector<std::string> killed_;
};

}  // namespace awan::server
