// `awan explain`: for a job that waits at some instant, each constraint that blocks it and what would change
// the outcome. Every counterfactual is computed, not written from a template: the scheduler's state is
// cloned (SchedulerState::Clone), one input is changed, and the core is asked again:
//   reclassify   the dataset (or the bound item it inherits from) classified internal: the catalog is
//   rebuilt,
//                the job's allowed regions recomputed, and the job tried alone now
//   fewer_gpus   the same job with fewer tasks (a gang) or fewer GPUs per task, tried alone now; the
//                largest request that starts is reported
//   lend_quota   a tenant of the same cohort lends all its idle quota (no lending limit), tried alone now
//   borrow_limit the job's tenant may borrow without limit, tried alone now
//   wait         nothing changes: running jobs finish at their expected ends (no new arrivals, no
//                failures) and the full cycle runs after each; the first instant the job starts
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/residency.h"
#include "core/scheduler_state.h"

namespace awan {

enum class CounterfactualKind : uint8_t { kReclassify, kFewerGpus, kLendQuota, kBorrowLimit, kWait };
// "reclassify", "fewer_gpus", "lend_quota", "borrow_limit", "wait"
const char* CounterfactualKindName(CounterfactualKind k);

struct Counterfactual {
  CounterfactualKind kind = CounterfactualKind::kWait;
  std::string text;    // "would start now in sg-1 if dataset x were classified internal"
  std::string region;  // where it would start
  // The change, to apply and check:
  std::vector<std::string> datasets;  // reclassify: these items classified internal
  int tasks = 0;                      // fewer_gpus: the smaller shape
  int gpus_per_task = 0;
  std::string tenant;     // lend_quota (the lender), borrow_limit (the borrower)
  int64_t start_s = -1;   // wait: when it would start
  std::string after_job;  // wait: the job whose end lets it start
};

struct PendingExplanation {
  std::string job, tenant;
  int64_t submit_s = 0, gpus = 0;
  int tasks = 1;
  std::string reason;                 // the wait reason now (core WaitReasonName)
  std::vector<std::string> blocking;  // each blocking constraint, in words, with figures
  std::vector<Counterfactual> counterfactuals;
};

// The explanation as JSON (what `awan explain -o json` prints and GET /v1/jobs/{id}/explain answers).
nlohmann::json ToJson(const PendingExplanation& e);

// What the catalog was built from, to rebuild it with one item reclassified.
struct CatalogInputs {
  std::vector<DataSpec> declared;
  const std::vector<JobSpec>* jobs = nullptr;
  std::map<std::string, TenantSpec> tenants;
};

// What explaining needs of a scheduler's state, whoever holds it (the simulator: sim::SourceOf, the server):
// the fleet, the scheduler, each job's spec by scheduler index, the instant, and a deep copy on demand.
struct ExplainSource {
  const Fleet* fleet = nullptr;
  const JobScheduler* sched = nullptr;
  std::function<const JobSpec&(size_t)> spec;
  int64_t now = 0;
  std::function<StatusOr<std::unique_ptr<SchedulerState>>()> clone;
};

// Explains every job waiting now (or only `job_name` if not empty).
StatusOr<std::vector<PendingExplanation>> ExplainPending(const ExplainSource& src,
                                                         const CatalogInputs& catalog,
                                                         const std::string& job_name = "");

// Applies a counterfactual to a fresh clone and tries the job alone now (for `wait`: runs the clone to the
// stated start). Returns true if the job then starts: the check the tests use.
StatusOr<bool> CounterfactualHolds(const ExplainSource& src, const CatalogInputs& catalog, size_t job,
                                   const Counterfactual& cf);

}  // namespace awan
