// Job manifests (YAML or JSON, documented in docs/formats/job-manifest.md; examples under examples/jobs/):
// what `awan submit FILE` sends and the server's POST /v1/jobs accepts. Shaped like a Kubernetes object:
//   apiVersion: awan/v1
//   kind: Job
//   metadata: {name: NAME, tenant: TENANT}        # tenant optional: the caller's own by default
//   spec: {tasks, gpus, accelerator, cpu, memory_gib, topology, reads, writes, user,   # as in workload files
//          command: [argv...], env: {K: V}, duration_s,                                # what runs
//          time_limit: SECONDS | "30m" | "2h" | "1-00:00:00", workdir: /abs/path,           # how long at
//          image: REGISTRY/NAME:TAG}                                                       # most, where, in
//          what
// Strict: unknown keys, wrong types and impossible values are errors naming source:line:column. Bounded: a
// manifest larger than kMaxManifestBytes is refused before parsing; one whose YAML nests deeper than
// kMaxManifestDepth, or whose aliases expand past kMaxManifestExpandedBytes, is refused before it is used;
// the command and environment are capped (kMaxArgs, kMaxEnvVars, kMaxArgvEnvBytes). Environment names are
// [A-Za-z_][A-Za-z0-9_]*, and the keys awan sets for the task (reserved: CUDA_VISIBLE_DEVICES and the other
// GPU visibility variables, HOME, TMPDIR, AWAN_*) are refused.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/job.h"

namespace awan::config {

inline constexpr size_t kMaxManifestBytes = 256 * 1024;
inline constexpr int kMaxManifestDepth = 32;
inline constexpr size_t kMaxManifestExpandedBytes =
    1024 * 1024;  // scalars and keys, aliases counted every time
inline constexpr size_t kMaxArgs = 1024;
inline constexpr size_t kMaxEnvVars = 256;
inline constexpr size_t kMaxArgvEnvBytes = 64 * 1024;
inline constexpr int64_t kMaxTimeLimitS = 365LL * 24 * 3600;

inline constexpr size_t kMaxImageReference = 255;

// An OCI image reference ([registry[:port]/]name[:tag][@digest]), checked for what it may hold before any
// runtime sees it: InvalidArgument otherwise.
Status CheckImageReference(std::string_view ref);
// Is `key` one that awan sets for every task (and a manifest may not)?
bool IsReservedEnvKey(const std::string& key);
// "90", "90s", "30m", "2h", "1d", or Slurm's "MM:SS", "HH:MM:SS", "D-HH:MM:SS": seconds (InvalidArgument
// otherwise).
StatusOr<int64_t> ParseTimeLimit(const std::string& text);

// A job's dependency on another (sbatch --dependency): start only after `job` succeeded (afterok) or ended in
// any way (afterany).
enum class DependencyKind : uint8_t { kAfterOk, kAfterAny };
struct Dependency {
  DependencyKind kind = DependencyKind::kAfterOk;
  std::string job;  // its id, "j-..."
  bool operator==(const Dependency&) const = default;
};
inline constexpr size_t kMaxDependencies = 64;
// "afterok:j-1:j-2,afterany:j-3" (sbatch's syntax for these two kinds); at most kMaxDependencies jobs.
StatusOr<std::vector<Dependency>> ParseDependencies(std::string_view text);
// The same text back ("afterok:j-1:j-2,afterany:j-3").
std::string DependencyText(const std::vector<Dependency>& deps);

struct JobManifest {
  JobSpec job;                       // name, tenant ("" if not given), shape, data; duration_s 0 if not given
  std::vector<std::string> command;  // argv; empty = no process (a placeholder that runs for duration_s)
  std::map<std::string, std::string> env;
  int64_t time_limit_s = 0;  // 0 = none
  std::string workdir;       // "" = a fresh per-job directory
  std::string image;         // an OCI image the command runs in ("" = on the node itself)
  // metadata.array {index, count}: this job is element `index` of a job array of `count` (awan submit
  // --array sets it; its tasks get $AWAN_ARRAY_INDEX and $AWAN_ARRAY_COUNT). index -1: not in an array.
  int array_index = -1, array_count = 0;
  std::vector<Dependency> dependencies;  // spec.dependency
};

StatusOr<JobManifest> ParseJobManifest(std::string_view text, std::string_view source, const Fleet& fleet);

// The `kind` a manifest says it is ("Job", "Service"), or "" when it is not a bounded YAML mapping with one.
std::string ManifestKind(std::string_view text);
// The documents of a YAML stream, split at its '---' lines (a line that is "---", maybe followed by a space
// and more), each as its text; documents with nothing but blank lines and comments are left out.
std::vector<std::string> SplitYamlDocuments(std::string_view text);

// A job array's indices, as sbatch --array writes them: "0-999", "1,3,5-7", "0-15:4" (a step); each in
// [0, kMaxArrayIndex], at most kMaxArrayJobs of them, no index twice; in the order written.
inline constexpr int kMaxArrayJobs = 10000;
inline constexpr int kMaxArrayIndex = 999999;
StatusOr<std::vector<int>> ParseArraySpec(std::string_view spec);

}  // namespace awan::config
