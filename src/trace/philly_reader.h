// Reader for the Microsoft Philly job table (as published with the Pollux OSDI'21 artifact; the development
// split in ../shared/traces/philly-dev): `timestamp,duration,num_gpus,gpu_time,cluster`.
//   timestamp  submit time, "YYYY-mm-dd HH:MM:SS" (a wall clock without zone; read as UTC)
//   duration   run time in seconds (a decimal; rounded to the nearest second, at least 1)
//   num_gpus   1..`max_gpus`; more than `gpus_per_node` becomes a gang of k = ceil(n / gpus_per_node) equal
//              tasks of n / k GPUs (12 -> 2 x 6, 32 -> 4 x 8); n must divide into k equal tasks
//   gpu_time   duration x num_gpus, checked to 0.1 % (a mismatch is a malformed row)
//   cluster    the virtual cluster, used as the tenant
// Jobs come back sorted by submit time (stable: file order on ties), named "philly-<line>", with submit_s
// relative to the earliest submission. Every malformed field is an error naming file, line and column.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/job.h"

namespace awan::trace {

struct PhillyOptions {
  int gpus_per_node = 8;
  int max_gpus = 1024;
  int64_t cpu_milli_per_gpu = 0;  // CPU and memory each task asks for, per GPU (Philly records none)
  int64_t mem_mib_per_gpu = 0;
};

StatusOr<std::vector<JobSpec>> ParsePhillyJobs(std::string_view text, std::string_view source,
                                               const PhillyOptions& options = {});
StatusOr<std::vector<JobSpec>> ReadPhillyJobs(const std::string& path, const PhillyOptions& options = {});

// Days since 1970-01-01 for a proleptic Gregorian date (exposed for tests).
int64_t DaysFromCivil(int64_t y, int m, int d);

}  // namespace awan::trace
