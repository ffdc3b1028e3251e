// The HTML report of `awan sim jobs --report DIR`: the summary table, and PNG charts drawn by gnuplot: JCT
// distribution (CDF), jobs waiting and GPUs in use over time, average JCT per tenant, and why jobs waited.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sim/jobs_sim.h"
#include "sim/report_util.h"

namespace awan::sim {

// `window`: the part of the trace the time charts show (the whole of it by default).
Status WriteJobsReport(const std::string& dir, const std::vector<JobsSimResult>& results,
                       const std::string& title, const TimeWindow& window = {});

}  // namespace awan::sim
