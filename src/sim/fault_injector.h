// Fault injection into the simulator's jobs (issue 19): nodes break at given times with a catalog scenario
// (an Xid 79, a row-remap failure, a kernel panic, ...), and every run on a broken node fails some minutes
// after it starts there, showing the engine the scenario's lines and the task's exit each time. The
// diagnosis runs on them as in the live server (diagnosis::Engine, and diagnosis::ActionsFor: the one action
// policy); with remediation the node is drained (or the GPU taken out of service) as soon as the cause is
// diagnosed, without it an operator drains it `manual_detect_s` after the fault. A drained node is repaired
// and back `repair_s` later. What it costs is measured: runs failed, detection time, JCT.
//
// Deterministic: the lines come from a seeded Rng; faults and checks happen at event times of the
// simulation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/rng.h"
#include "common/status.h"
#include "core/job_scheduler.h"
#include "diagnosis/catalog.h"
#include "diagnosis/engine.h"

namespace awan::sim {

struct SimFault {
  int64_t at_s = 0;
  uint32_t node = 0;  // fleet index
  int scenario = -1;  // catalog index
  int gpu = -1;       // the broken device for a GPU-scope scenario (-1: the whole node)
};

struct FaultInjectionOptions {
  const diagnosis::Catalog* catalog = nullptr;  // REQUIRES: outlives the simulation
  std::vector<SimFault> faults;
  bool remediate = false;      // the diagnosis's actions applied at once (awan serve --remediation on)
  int64_t fail_after_s = 600;  // a run on a broken node (or GPU) fails this long after it began there
  int64_t manual_detect_s =
      21600;                 // an operator drains a broken node this long after its fault (if still up)
  int64_t repair_s = 14400;  // a drained broken node is repaired and back this long after the drain
  double missing = 0.3;      // chance that an optional line of the scenario is missing
  uint64_t seed = 1;
};

struct FaultInjectionStats {
  int64_t faults = 0, runs_failed = 0;
  int64_t drained_by_diagnosis = 0, drained_by_operator = 0;
  int64_t diagnosed_top1 = 0;            // faults whose node the engine put first with the injected scenario
  std::vector<int64_t> detect_s;         // per fault drained: seconds from the fault to the drain
  int64_t false_drains = 0;              // drains the diagnosis asked for on nodes that were not broken
  std::vector<std::string> undiagnosed;  // scenario ids of the faults never put first at their node
};

class FaultInjector {
 public:
  FaultInjector(const Fleet& fleet, FaultInjectionOptions o);
  // The next instant something happens: a fault, a run failing, an operator's drain, a repair.
  int64_t NextEvent(const JobScheduler& sched) const;
  bool pending() const;  // faults or repairs still to come
  // At `now`, before the cycle: `name(job)` and `tenant(job)` name the scheduler's jobs in the lines.
  Status Step(int64_t now, JobScheduler& sched, const std::function<std::string(size_t)>& name,
              const std::function<std::string(size_t)>& tenant);
  const FaultInjectionStats& stats() const { return stats_; }

 private:
  struct Broken {
    const SimFault* fault;
    bool drained = false, diagnosed = false;
    int64_t drained_at = 0;
  };
  int64_t DueAt(const JobScheduler& sched, size_t job, const Broken& b) const;
  Status Drain(int64_t now, JobScheduler& sched, uint32_t node, Broken* b, bool by_diagnosis);
  void Diagnose(int64_t now, JobScheduler& sched);

  const Fleet& fleet_;
  FaultInjectionOptions o_;
  diagnosis::Engine engine_;
  Rng rng_;
  size_t next_fault_ = 0;
  int64_t next_diagnose_s_ =
      INT64_MAX;                       // once the lines just emitted have all arrived (they spread over 30 s)
  std::map<uint32_t, Broken> broken_;  // node -> its fault
  FaultInjectionStats stats_;
};

// Faults for a simulation: `count` node-wide hardware scenarios of the catalog (critical, at a node or GPU,
// with a node-wide automatic action), on random nodes with GPUs, at random times in [0, horizon_s).
std::vector<SimFault> GenerateSimFaults(const Fleet& fleet, const diagnosis::Catalog& catalog, int count,
                                        int64_t horizon_s, uint64_t seed);

}  // namespace awan::sim
