// Job manifests (YAML or JSON, documented in docs/formats/job-manifest.md; examples under examples/jobs/): what
// `awan submit FILE` sends and the server's POST /v1/jobs accepts. Shaped like a Kubernetes object:
//   apiVersion: awan/v1
//   kind: Job
//   metadata: {name: NAME, tenant: TENANT}        # tenant optional: the caller's own by default
//   spec: {tasks, gpus, accelerator, cpu, memory_gib, topology, reads, writes, user,   # as in workload files
//          command: [argv...], env: {K: V}, duration_s}                                # what runs
// Strict: unknown keys, wrong types and impossible values are errors naming source:line:column. Bounded: a
// manifest larger than kMaxManifestBytes is refused before parsing.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/job.h"

namespace awan::config {

inline constexpr size_t kMaxManifestBytes = 256 * 1024;

struct JobManifest {
  JobSpec job;                       // name, tenant ("" if not given), shape, data; duration_s 0 if not given
  std::vector<std::string> command;  // argv; empty = no process (a placeholder that runs for duration_s)
  std::map<std::string, std::string> env;
};

StatusOr<JobManifest> ParseJobManifest(std::string_view text, std::string_view source, const Fleet& fleet);

}  // namespace awan::config
