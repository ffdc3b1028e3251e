// Presenting an openb experiment: a terminal table, a JSON document and an HTML report with PNG charts
// drawn by gnuplot (run as a child process; its absence is a clear error, not a crash).
#pragma once

#include <string>

#include "common/status.h"
#include "sim/experiment.h"
#include "sim/published.h"

namespace awan::sim {

// policy x workload: unallocated GPU % at arrived 100 % and 130 % (mean [min, max] over seeds), and the
// published mean with the difference when `published` has the cell.
std::string FormatTable(const ExperimentResult& r, const PublishedCurves* published);

// {"meta":{...},"runs":[...],"summary":[...]} as documented in docs/formats/sim-openb-json.md.
std::string ToJson(const ExperimentResult& r, const PublishedCurves* published, double tune_ratio);
Status WriteJson(const std::string& path, const ExperimentResult& r, const PublishedCurves* published,
                 double tune_ratio);

// Writes DIR/index.html, DIR/*.png (and the gnuplot inputs beside them).
Status WriteHtmlReport(const std::string& dir, const ExperimentResult& r, const PublishedCurves* published);

}  // namespace awan::sim
