// `awan sim jobs`: jobs over time on a fleet file (docs/formats/fleet.md) from a Philly job table or a
// workload file (datasets with residency rules, and jobs).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "core/cycle_policy.h"
#include "sim/jobs_sim.h"

namespace awan::cli {

struct SimJobsArgs {
  std::string fleet;
  std::string jobs;
  std::string workload;  // a workload file (docs/formats/workload.md): datasets and jobs, with residency
  bool ignore_residency = false;  // what-if: place as if no data were bound (violations still counted)
  double price_weight = 1.0, latency_weight = 0.02;  // the region objective's weights
  std::string region_objective = "price-latency", fair_share_policy = "drf-decayed";
  std::string audit_out;  // the audit log (JSON lines, hash-chained); one file per policy
  std::string policies = "fifo,sjf,srtf,tiresias,awan";
  bool isolated = false;
  bool topology_blind = false;
  bool fair_share = false;
  std::string backfill = CyclePolicyNames{}.backfill;      // selective, easy, conservative, none
  std::string relocate = "on", bound_regions_last = "on";  // SchedulerOptions: residency
  int max_preemptions = 3;                                 // 0: no bound
  double aging = 0;                                        // key units per second waited
  std::string preemption = "cost-aware";                   // cost-aware, plain (core/cycle_policy.h)
  bool legacy = false;                                     // backfill and preemption as before scheduler v2
  double target_load = 0;
  std::string json_out;
  std::string jobs_csv;  // per-job outcomes, one file per policy
  std::string report_dir;
  std::string report_window;  // FROM..TO (sim/report_util.h): the part of the trace the time charts show
  std::string explain;        // a job name: print where its time went
  int threads = 0;
  bool quiet = false;
  // Fault injection (sim/fault_injector.h): a file of `awan generate faults --for-sim`, and whether the
  // diagnosis's actions are applied.
  std::string faults;
  std::string remediation = "off";
  int64_t fault_fail_after_s = 600, fault_detect_s = 21600, fault_repair_s = 14400;
};

void AddSimJobs(CLI::App& sim, SimJobsArgs& args);
// `--report-window FROM..TO` beside `report` (--report), for `sim jobs` and `sim serve`: checked as the
// command line is parsed (a bad window, or one without --report, is a usage error).
void AddReportWindowOption(CLI::App& c, std::string& window, CLI::Option* report, const char* unit);
int RunSimJobs(const SimJobsArgs& args);
// A run's summary as `sim jobs --json` writes it (also the batch side of `sim serve --json`).
nlohmann::json JobsSummaryJson(const sim::JobsSummary& s);
// Every job's outcome as CSV (`--jobs-csv`): name, tenant, submit, start, end, duration, GPUs, tasks,
// preemptions, failure requeues, GPU-seconds, cost. `jobs` are the run's input, in its order.
Status WriteJobsCsv(const std::string& path, const std::vector<JobSpec>& jobs, const sim::JobsSimResult& r);

}  // namespace awan::cli
