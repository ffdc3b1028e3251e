// `awan submit --dry-run` (POST /v1/jobs?dry_run=true): the manifest checked as a submit checks it, then
// tried alone on a copy of the live scheduler state, now: where it would start, or why it would wait. Nothing
// is stored, queued or charged to the tenant's submit rate (it is an expensive read).
#include <fmt/format.h>

#include "server/control_plane.h"

namespace awan::server {

StatusOr<DryRunResult> ControlPlane::DryRun(const Principal& who, std::string_view text,
                                            std::string_view source) {
  AWAN_ASSIGN_OR_RETURN(Checked c, CheckSubmit(who, text, source));
  std::unique_ptr<SchedulerState> copy;
  int tenant = -1;
  DryRunResult out;
  out.tenant = c.tenant;
  {
    std::lock_guard<std::mutex> lock(mu_);
    AWAN_ASSIGN_OR_RETURN(copy, state_->Clone());
    const auto it = tenant_index_.find(c.tenant);
    if (it == tenant_index_.end()) return InvalidArgument("unknown tenant '" + c.tenant + "'");
    tenant = it->second;
    out.waiting_ahead = sched_->pending_count();
  }
  // On the copy, outside the lock: the job as the next submit, tried alone.
  const int64_t now_s = clock_->NowMs() / 1000;
  c.manifest.job.name = "dry-run";
  JobScheduler& sched = copy->scheduler();
  const size_t i = sched.AddJob(c.manifest.job, tenant, now_s, c.residency);
  sched.Submit(i, now_s);
  AWAN_ASSIGN_OR_RETURN(std::optional<WaitReason> why, sched.TryStartOne(i, now_s));
  if (why) {
    out.reason = WaitReasonName(*why);
    return out;
  }
  out.would_start = true;
  for (const Placement& p : sched.placements(i)) {
    out.tasks.push_back(
        {fleet_->fleet.node(p.node).name, p.devices.ToString(),
         fleet_->fleet.topology().DomainName(TopologyLevel::kRegion, fleet_->fleet.region_of(p.node))});
  }
  return out;
}

}  // namespace awan::server
