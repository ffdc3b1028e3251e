#include "server/control_loop.h"

#include <utility>

namespace awan::server {

ControlLoop::ControlLoop(ControlPlane& plane, Metrics& metrics, LeaderElection* election, Clock& clock,
                         ControlLoopOptions o)
    : plane_(plane), metrics_(metrics), election_(election), clock_(clock), o_(std::move(o)) {
  leading_ = election_ == nullptr;
  if (!o_.log) o_.log = [](const std::string&) {};
}

// A standby tries to lead; once it does, it recovers the plane before anything else.
Status ControlLoop::Lead() {
  StatusOr<bool> got = election_->TryAcquire();
  if (!got.ok() || !*got) return Status::Ok();
  if (Status s = plane_.Recover(); !s.ok()) return Internal("elected but cannot recover: " + s.message());
  if (o_.on_recovered) {
    if (Status s = o_.on_recovered(); !s.ok()) return Internal("elected but cannot recover: " + s.message());
  }
  leading_ = true;
  last_renew_ms_ = clock_.MonotonicMs();
  o_.log("elected leader; scheduling");
  return Status::Ok();
}

Status ControlLoop::Step() {
  if (election_ != nullptr && clock_.MonotonicMs() - last_renew_ms_ > o_.renew_ms) {
    // Another replica may lead now: stop at once rather than schedule twice.
    if (!election_->KeepAlive()) return FailedPrecondition("lost leadership (lease expired)");
    last_renew_ms_ = clock_.MonotonicMs();
  }
  if (o_.check_store) AWAN_RETURN_IF_ERROR(o_.check_store());
  if (Status s = plane_.Tick(); !s.ok()) o_.log("scheduling error: " + s.message());
  if (plane_.fenced()) {
    return FailedPrecondition(
        "another server is writing to the store (the audit log's sequence conflicts); stopping so that no "
        "job "
        "runs twice and the audit chain stays whole");
  }
  metrics_.Absorb(plane_.TakeStats());
  if (o_.after_tick) o_.after_tick();
  return Status::Ok();
}

Status ControlLoop::Run() {
  while (!stop_) {
    if (!leading_) {
      AWAN_RETURN_IF_ERROR(Lead());
      if (!leading_) {
        clock_.SleepMs(o_.standby_retry_ms);
        continue;
      }
    }
    AWAN_RETURN_IF_ERROR(Step());
    // A cycle cut short at its start budget: the next one at once (API calls get the lock in between).
    if (!plane_.more_to_start()) clock_.SleepMs(o_.tick_ms);
  }
  return Status::Ok();
}

}  // namespace awan::server
