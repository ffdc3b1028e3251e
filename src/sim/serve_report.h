// The HTML report of `awan sim serve --report DIR`: per run (autoscaler and router), load and replicas over
// time, the TTFT CDF, cold-start times, and attainment per tenant and per user location (gnuplot charts).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "sim/report_util.h"
#include "sim/serve_sim.h"

namespace awan::sim {

// `window`: the part of the trace the time charts show (the whole of it by default).
Status WriteServeReport(const std::string& dir, const std::vector<ServeSimResult>& results,
                        const std::vector<std::string>& service_names, const std::string& title,
                        const TimeWindow& window = {});

}  // namespace awan::sim
