// The workload file (YAML, documented in docs/formats/workload.md): the data a fleet's jobs read and write
// (datasets, models, checkpoints with a classification and where they may be processed) and the jobs
// themselves (tenant, submit time, duration, gang shape, accelerator, data, users' location). Strict like
// the fleet file: every error names the file, line and column. Model names and regions are checked against
// the fleet.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/job.h"
#include "model/residency.h"

namespace awan::config {

struct WorkloadFile {
  std::string name;
  std::vector<DataSpec> datasets;
  std::vector<JobSpec> jobs;  // sorted by submit time (stable)
};

StatusOr<WorkloadFile> ParseWorkloadFile(std::string_view text, std::string_view source, const Fleet& fleet);
StatusOr<WorkloadFile> ReadWorkloadFile(const std::string& path, const Fleet& fleet);

// Writes a workload file that ParseWorkloadFile reads back unchanged (one flow mapping per dataset and job).
std::string FormatWorkloadFile(const WorkloadFile& w, const Fleet& fleet, const std::string& header_comment);

}  // namespace awan::config
