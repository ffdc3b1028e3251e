// What the diagnoses call for: the automatic actions of their scenarios, at the place each was found. One
// policy for the live server (server/diagnoses.h, applied by ControlPlane::Remediate) and the simulator's
// fault injection (sim/fault_injector.h): never forked.
//
//   - cordon_node, drain_node, mark_gpu_unhealthy: only for critical causes at a node or GPU (the node is
//     drained; a GPU its signals named is taken out of service alone);
//   - requeue_job: a job-scope cause (the job restarts from its last checkpoint);
//   - restart_replica: a service-scope cause, for each replica its signals name.
// Benign causes call for nothing. Whether an action is taken (off, dry-run, on; the riskiest allowed) is the
// caller's policy.
#pragma once

#include <string>
#include <vector>

#include "diagnosis/catalog.h"
#include "diagnosis/engine.h"

namespace awan::diagnosis {

struct Action {
  std::string scenario, node, reason;  // reason: the scenario's title
  AutoAction action = AutoAction::kNone;
  Risk risk = Risk::kHigh;
  int gpu = -1;     // mark_gpu_unhealthy: the device, when a signal named it (else the node is drained)
  std::string job;  // requeue_job: the job; restart_replica: the replica's job (node empty for both)
};

// In the order of `found` (best first).
std::vector<Action> ActionsFor(const Catalog& catalog, const Engine& engine,
                               const std::vector<Diagnosis>& found);

}  // namespace awan::diagnosis
