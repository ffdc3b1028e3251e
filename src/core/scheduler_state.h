// SchedulerState: everything one job scheduler decides with, owned together: the cluster snapshot, the
// placement framework (its profile built from the one plugin registry), the queue ordering and the
// JobScheduler bound to them. The simulator (sim::JobsSimulation) and the control plane
// (server::ControlPlane) each own one, built the same way; `Clone()` gives the deep copy counterfactuals need
// (core/explain.h).
//
// A placement profile whose plugins need a target workload (FGD, awan) gets one estimated online from the
// jobs submitted so far (core/target_workload.h): call Observe() for every submitted job; when the window
// has moved enough, the profile is rebuilt on the new estimate and swapped into the framework (which drops
// its score cache). Other profiles ignore Observe().
//
// Pure: no I/O, no clock. Not thread-safe.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/framework.h"
#include "core/job_scheduler.h"
#include "core/queue_order.h"
#include "core/registry.h"
#include "core/snapshot.h"
#include "core/target_workload.h"
#include "model/fleet.h"

namespace awan {

class SchedulerState {
 public:
  // REQUIRES: fleet and registry outlive the state.
  static StatusOr<std::unique_ptr<SchedulerState>> Create(const Fleet& fleet, const PluginRegistry& registry,
                                                          const std::string& placement,
                                                          std::unique_ptr<QueueOrder> order,
                                                          const SchedulerOptions& options);
  // A deep copy: the snapshot, a framework of the same profile on the same target workload, the ordering
  // with its history, and the scheduler rebound to them.
  StatusOr<std::unique_ptr<SchedulerState>> Clone() const;

  // A job was submitted: its tasks join the target workload (placements that need one only).
  Status Observe(const JobSpec& job);
  // From now on, nodes that hold a pod's image are preferred (ImageLocality, weighted above everything else
  // the profile scores, so a warm node wins whenever one is feasible). REQUIRES: images outlives the state
  // (and its clones).
  Status PreferWarmNodes(const NodeImages* images);
  // Whether the placement follows an online target workload, and the pods it estimates from now.
  bool online_target() const { return target_.has_value(); }
  const std::vector<PodSpec>& target_pods() const { return pods_; }

  const Fleet& fleet() const { return *fleet_; }
  const std::string& placement() const { return placement_; }
  ClusterSnapshot& snapshot() { return *snap_; }
  const ClusterSnapshot& snapshot() const { return *snap_; }
  Framework& framework() { return *fw_; }
  QueueOrder& order() { return *order_; }
  const QueueOrder& order() const { return *order_; }
  JobScheduler& scheduler() { return *sched_; }
  const JobScheduler& scheduler() const { return *sched_; }

 private:
  SchedulerState() = default;
  StatusOr<Profile> BuildProfile() const;

  const Fleet* fleet_ = nullptr;
  const PluginRegistry* registry_ = nullptr;
  std::string placement_;
  std::optional<TargetWorkload> target_;
  std::vector<PodSpec> pods_;  // the target workload the current profile was built on (empty: none needed)
  const NodeImages* images_ = nullptr;
  std::unique_ptr<ClusterSnapshot> snap_;
  std::unique_ptr<Framework> fw_;
  std::unique_ptr<QueueOrder> order_;
  std::unique_ptr<JobScheduler> sched_;
};

}  // namespace awan
