// ControlLoop: the loop that drives a control plane, out of the CLI: with a LeaderElection (etcd) it waits to
// lead, recovers the plane once it does and renews its lease every second; it ticks the plane every tick_ms,
// hands its statistics to the metrics, and stops with an error the moment going on could run a job twice or
// lose one: leadership lost, the store replaced under it, another writer on the store (the audit sequence),
// or no recovery after election. Time comes from the injected Clock; no globals.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "common/clock.h"
#include "common/status.h"
#include "server/control_plane.h"
#include "server/etcd_store.h"
#include "server/metrics.h"

namespace awan::server {

struct ControlLoopOptions {
  int64_t tick_ms = 200;
  int64_t renew_ms = 1000;         // lease renewal period, when leading through an election
  int64_t standby_retry_ms = 500;  // how often a standby tries to lead
  // Checked before every tick: an error stops the loop (say, the SQLite file was deleted or replaced).
  std::function<Status()> check_store;
  // Told of what happens that an operator should see (elected, errors that do not stop the loop).
  std::function<void(const std::string&)> log;
  // Run after the plane recovered on election (its error stops the loop), and after every tick as leader
  // (the services' control step).
  std::function<Status()> on_recovered;
  std::function<void()> after_tick;
};

class ControlLoop {
 public:
  // `election` null: this process is the only one (SQLite); the plane must be recovered already.
  ControlLoop(ControlPlane& plane, Metrics& metrics, LeaderElection* election, Clock& clock,
              ControlLoopOptions o);
  // Runs until Stop() (OK) or until it must not go on (the reason; the caller should exit at once).
  Status Run();
  // Safe from any thread (a signal handler thread).
  void Stop() { stop_ = true; }

 private:
  Status Lead();  // standby: try to lead; once it does (leading_), recover the plane
  Status Step();  // one tick as leader
  ControlPlane& plane_;
  Metrics& metrics_;
  LeaderElection* election_;
  Clock& clock_;
  ControlLoopOptions o_;
  std::atomic<bool> stop_{false};
  bool leading_ = false;
  int64_t last_renew_ms_ = 0;
};

}  // namespace awan::server
