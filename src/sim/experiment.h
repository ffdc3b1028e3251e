// An openb experiment: workloads x policies x seeds, run on worker threads (each run is independent and
// deterministic, so results do not depend on the thread count), then summarized over seeds.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sim/alloc_curve.h"
#include "sim/openb_protocol.h"

namespace awan::sim {

struct Workload {
  std::string name;
  std::vector<PodSpec> pods_by_name;
};

// The pseudo-policy that, instead of a replay, computes the LP upper bound on allocation
// (sim/packing_bound.h) over each seed's pod sequence at `ExperimentSpec::bound_points` arrived %.
inline constexpr const char* kBoundPolicy = "bound";
// The same at the same points, over placements that follow the online rule (a pod fails only when no node can
// host it), even knowing the whole sequence: MaxAllocatableGpuOnline. Tighter; holds for every built-in
// policy.
inline constexpr const char* kOnlineBoundPolicy = "bound-online";

// The pseudo-policy "bound:P" replays policy P, then computes the LP bound over placements that place at
// least the pods P placed by arrived 100 % (MaxAllocatableGpuPlacing), at that point only. P's distance to it
// is what P lost by packing; the rest of its distance to `bound` is what it lost by admitting every pod that
// fit (an offline optimum may skip one to keep its room for larger pods).
inline constexpr std::string_view kGivenBoundPrefix = "bound:";
// P for "bound:P", nullopt for any other name.
std::optional<std::string> GivenBoundPolicy(std::string_view name);
// True for "bound" and "bound:P": pseudo-policies that report a bound instead of a replay.
bool IsBoundPolicy(std::string_view name);

struct ExperimentSpec {
  const Fleet* fleet = nullptr;
  std::vector<Workload> workloads;
  std::vector<std::string> policies;
  std::vector<uint64_t> seeds;
  double tune_ratio = 1.3;
  int threads = 1;
  std::vector<int> bound_points = {50,  60,  70,  80, 90,
                                   100, 110, 120, 130};  // arrived % for `bound`, ascending
};

// One run, reduced to what reports need.
struct RunSummary {
  std::string workload, policy;
  uint64_t seed = 0;
  int64_t pods = 0, placed = 0, failed = 0;
  std::array<int64_t, kFitReasonCount> failures_by_reason{};
  // GPU milli that failed before arrived reached 100 % of capacity, by pod shape ("1x460 cpu=6000"):
  // what makes up the headline "unallocated at 100 %" figure.
  std::map<std::string, int64_t> failed_gpu_by_shape_100;
  // Replays only: OpenbRunResult::idle_devices_at_100.
  std::map<int32_t, int64_t> idle_devices_at_100;
  Curve alloc_curve;
  Curve frag_curve;
  Curve free_widest_curve;  // replays only: FreeWidestCurve
  std::optional<double> unalloc_100, unalloc_130;
  FrameworkStats stats;
};

struct Stat {
  double mean = 0, min = 0, max = 0, stddev = 0;
  int n = 0;
};
Stat Summarize(const std::vector<double>& v);

// Seeds of one (workload, policy) cell, aggregated.
struct CellSummary {
  std::string workload, policy;
  Stat unalloc_100, unalloc_130;
  std::vector<std::optional<double>> mean_alloc_curve;  // mean over seeds per arrived %
  std::vector<std::optional<double>> mean_frag_curve;
  std::vector<std::optional<double>> mean_free_widest_curve;
};

struct ExperimentResult {
  std::vector<RunSummary> runs;  // workload-major, then policy, then seed (spec order)
  std::vector<CellSummary> cells;
  int widest_gpus = 0;  // the fleet's largest GPU count per node: the servers `free_widest_curve` counts
  double wall_seconds = 0;
};

// Progress, reported about five times a second from the calling thread while workers run, and once at
// the end: runs finished, runs in all, work done so far, work expected in all (an estimate). Work is what the
// percentage and the ETA count: a replay is one unit per pod, a bound run its pods times a rough cost weight
// (its LPs take far longer than a replay of the same pods), so the ETA does not stall while bounds are
// solved.
struct Progress {
  int64_t runs_done = 0, runs_total = 0, work_done = 0, work_total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

// The bound's "run" for one seed: alloc_curve holds the most any placement could allocate (% of capacity)
// at each of `points` (ascending arrived %), other points empty; unalloc_100/130 as for a policy.
StatusOr<RunSummary> BoundRun(const Fleet& fleet, const Workload& wl, uint64_t seed, double tune_ratio,
                              const std::vector<int>& points, bool online = false);

// The "bound:P" run for one seed: alloc_curve[100] and unalloc_100 only; failed_gpu_by_shape_100 holds what
// the optimum leaves out beyond P's placements.
StatusOr<RunSummary> GivenBoundRun(const Fleet& fleet, const Workload& wl, const std::string& policy,
                                   uint64_t seed, double tune_ratio, const PluginRegistry& registry);

// NotFound naming the first of `policies` that is neither a registered profile nor a bound (bound,
// bound-online, bound:P with P registered). RunExperiment checks it first; the CLI too, before reading input.
Status CheckPolicyNames(const std::vector<std::string>& policies, const PluginRegistry& registry);

StatusOr<ExperimentResult> RunExperiment(const ExperimentSpec& spec, const PluginRegistry& registry,
                                         const ProgressFn& progress);

// "2x1000 cpu=16000" (GPU pods), "cpu=4000" (CPU-only pods); a model constraint is appended as " [T4|P100]".
std::string ShapeName(const PodSpec& pod);

// Parses "42-51", "42,45,50" or "7" into seeds.
StatusOr<std::vector<uint64_t>> ParseSeeds(const std::string& text);

}  // namespace awan::sim
