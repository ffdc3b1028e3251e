// `awan queue`: every job the caller may see, paged through the API (or the first --limit, saying how many
// more there are), with squeue's columns: reason, submit time, age or elapsed time, nodes; filters by name,
// state and tenant; sorted; --watch reprints until interrupted. `awan acct`: sacct's view of the same jobs.
#pragma once

#include <httplib.h>

#include "cli/serve.h"
#include "common/status.h"

namespace awan::cli {

int ListQueue(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h);
// Every job the caller may see that passes a's filters (state and tenant by the API; name and user here),
// paged through; at most a.limit (0: every one), *more set when there were more.
Status FetchJobs(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h,
                 std::vector<nlohmann::json>* out, int64_t* more);
// `awan acct` (sacct): the jobs that started, with start, end, elapsed time, GPU-hours, cost and exit code,
// filtered like `queue` (and --since: ran in the last seconds); --summary: GET /v1/usage per tenant and
// region. -o json|yaml prints the API's objects.
int ListAccounting(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h);
// `awan describe ID`'s detail below the job's row (scontrol show job): what it asked for (tasks, GPUs, CPUs,
// memory, accelerator, command, image, time limit), its times (submitted, started, ended, elapsed: local
// time), runs and restarts, GPU-hours and cost, exit code.
void PrintJobDetail(const nlohmann::json& job);

}  // namespace awan::cli
