#include "sim/experiment.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "sim/packing_bound.h"

namespace awan::sim {

Stat Summarize(const std::vector<double>& v) {
  Stat s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  s.min = s.max = v[0];
  double sum = 0;
  for (double x : v) sum += x, s.min = std::min(s.min, x), s.max = std::max(s.max, x);
  s.mean = sum / v.size();
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.stddev = std::sqrt(ss / (v.size() - 1));
  }
  return s;
}

static std::vector<std::optional<double>> MeanCurve(const std::vector<const Curve*>& curves) {
  std::vector<std::optional<double>> out(kCurvePoints);
  for (int k = 0; k < kCurvePoints; ++k) {
    double sum = 0;
    int n = 0;
    for (const Curve* c : curves) {
      if ((*c)[k]) sum += *(*c)[k], ++n;
    }
    if (n > 0) out[k] = sum / n;
  }
  return out;
}

namespace {

// Cost of a run per pod, relative to a replay (one unit per pod), for the progress percentage and ETA only.
// Rough, from docs/benchmarks.md (one thread): a replay of `default` takes 0.1-0.4 s, the offline bound about
// 1.2 s a seed, a bound given a policy's admissions a replay plus the LPs, `bound-online` 10-40 s a seed.
int64_t ProgressWeight(const std::string& policy) {
  if (!IsBoundPolicy(policy)) return 1;
  return policy == kOnlineBoundPolicy ? 60 : 8;
}

// A bound's "run": no replay, so no fragmentation or free-server curve and an allocation curve known only at
// its points.
RunSummary EmptyBoundRun(const std::string& workload, std::string policy, uint64_t seed, int64_t pods) {
  RunSummary r;
  r.workload = workload;
  r.policy = std::move(policy);
  r.seed = seed;
  r.pods = pods;
  r.alloc_curve.assign(kCurvePoints, std::nullopt);
  r.frag_curve.assign(kCurvePoints, std::nullopt);
  r.free_widest_curve.assign(kCurvePoints, std::nullopt);
  return r;
}

// Records the LP optimum `b` as the bound at arrived `k` %; at 100 %, also what it leaves out, by shape.
void RecordBoundAt(const PackingBound& b, int64_t capacity, int k, RunSummary& r) {
  // At most 100 %: the solver's rounding can put the optimum a hair above capacity ("-0.00" unallocated).
  if (k >= 0 && k < kCurvePoints) {
    r.alloc_curve[k] = std::min(100.0, 100.0 * b.max_allocated_milli / static_cast<double>(capacity));
  }
  if (k != 100) return;
  for (const PackingBound::LeftOut& l : b.left_out) {
    r.failed_gpu_by_shape_100[ShapeName(*l.pod)] +=
        static_cast<int64_t>(std::llround(l.count * static_cast<double>(l.pod->total_gpu().value)));
  }
}

}  // namespace

StatusOr<RunSummary> BoundRun(const Fleet& fleet, const Workload& wl, uint64_t seed, double tune_ratio,
                              const std::vector<int>& points, bool online) {
  const int64_t capacity = fleet.total_gpus() * kWholeGpu.value;
  const std::vector<uint32_t> seq = OpenbSequenceForSeed(wl.pods_by_name, capacity, tune_ratio, seed);
  RunSummary r = EmptyBoundRun(wl.name, online ? kOnlineBoundPolicy : kBoundPolicy, seed,
                               static_cast<int64_t>(seq.size()));
  std::vector<const PodSpec*> prefix;
  int64_t arrived = 0;
  size_t next = 0;
  for (int k : points) {
    // Every pod whose arrived value rounds to bucket k or below: the allocation at any event of bucket k is
    // at most the optimum over this prefix, so 100 - bound is a floor for the bucket's mean.
    while (next < seq.size()) {
      const PodSpec& p = wl.pods_by_name[seq[next]];
      if (PastBucket(arrived + p.total_gpu().value, capacity, k)) break;
      arrived += p.total_gpu().value;
      prefix.push_back(&p);
      ++next;
    }
    AWAN_ASSIGN_OR_RETURN(PackingBound b,
                          online ? MaxAllocatableGpuOnline(fleet, prefix) : MaxAllocatableGpu(fleet, prefix));
    RecordBoundAt(b, capacity, k, r);
  }
  r.unalloc_100 = UnallocatedAt(r.alloc_curve, 100);
  r.unalloc_130 = UnallocatedAt(r.alloc_curve, 130);
  return r;
}

std::optional<std::string> GivenBoundPolicy(std::string_view name) {
  if (!name.starts_with(kGivenBoundPrefix)) return std::nullopt;
  return std::string(name.substr(kGivenBoundPrefix.size()));
}

bool IsBoundPolicy(std::string_view name) {
  return name == kBoundPolicy || name == kOnlineBoundPolicy || GivenBoundPolicy(name).has_value();
}

StatusOr<RunSummary> GivenBoundRun(const Fleet& fleet, const Workload& wl, const std::string& policy,
                                   uint64_t seed, double tune_ratio, const PluginRegistry& registry) {
  OpenbRunOptions opt;
  opt.tune_ratio = tune_ratio;
  opt.record_frag = false;
  AWAN_ASSIGN_OR_RETURN(OpenbRunResult run,
                        RunOpenb(fleet, wl.pods_by_name, wl.name, policy, seed, registry, opt));
  const int64_t capacity = fleet.total_gpus() * kWholeGpu.value;
  // The pods of bucket 100 and before (the rounding of BoundRun), and those of them the policy placed.
  std::vector<const PodSpec*> prefix, placed;
  size_t next_failed = 0;
  int64_t arrived = 0;
  for (size_t pos = 0; pos < run.sequence.size(); ++pos) {
    const PodSpec& p = wl.pods_by_name[run.sequence[pos]];
    if (PastBucket(arrived + p.total_gpu().value, capacity, 100)) break;
    arrived += p.total_gpu().value;
    prefix.push_back(&p);
    if (next_failed < run.failed_at.size() && run.failed_at[next_failed] == pos) {
      ++next_failed;
    } else {
      placed.push_back(&p);
    }
  }
  AWAN_ASSIGN_OR_RETURN(PackingBound b, MaxAllocatableGpuPlacing(fleet, prefix, placed));
  RunSummary r = EmptyBoundRun(wl.name, std::string(kGivenBoundPrefix) + policy, seed,
                               static_cast<int64_t>(prefix.size()));
  RecordBoundAt(b, capacity, 100, r);
  r.unalloc_100 = UnallocatedAt(r.alloc_curve, 100);
  return r;
}

Status CheckPolicyNames(const std::vector<std::string>& policies, const PluginRegistry& registry) {
  for (const auto& p : policies) {
    const std::optional<std::string> given = GivenBoundPolicy(p);
    if (given && (given->empty() || !registry.Knows(*given))) {
      return NotFound("'" + p + "' names no known policy after 'bound:' (for example bound:awan)");
    }
    if (!IsBoundPolicy(p) && !registry.Knows(p)) {
      std::string known;
      for (const auto& n : registry.ProfileNames()) known += (known.empty() ? "" : ", ") + n;
      return NotFound("unknown policy '" + p + "' (known: " + known + ")");
    }
  }
  return Status::Ok();
}

StatusOr<ExperimentResult> RunExperiment(const ExperimentSpec& spec, const PluginRegistry& registry,
                                         const ProgressFn& progress) {
  if (spec.fleet == nullptr || spec.fleet->size() == 0) return InvalidArgument("experiment has no nodes");
  if (spec.fleet->total_gpus() == 0) return InvalidArgument("the fleet has no GPUs: nothing to measure");
  AWAN_RETURN_IF_ERROR(CheckPolicyNames(spec.policies, registry));
  struct Job {
    size_t w, p;
    uint64_t seed;
  };
  std::vector<Job> jobs;
  for (size_t w = 0; w < spec.workloads.size(); ++w)
    for (size_t p = 0; p < spec.policies.size(); ++p)
      for (uint64_t s : spec.seeds) jobs.push_back({w, p, s});

  ExperimentResult result;
  result.widest_gpus = WidestGpuCount(*spec.fleet);
  result.runs.resize(jobs.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> work_done{0};
  std::atomic<int64_t> runs_done{0};
  std::mutex mu;
  Status first_error;
  const auto start = std::chrono::steady_clock::now();

  auto worker = [&] {
    for (;;) {
      const size_t j = next.fetch_add(1);
      if (j >= jobs.size()) return;
      const Job& job = jobs[j];
      const Workload& wl = spec.workloads[job.w];
      if (IsBoundPolicy(spec.policies[job.p])) {
        const std::optional<std::string> given = GivenBoundPolicy(spec.policies[job.p]);
        auto b = given ? GivenBoundRun(*spec.fleet, wl, *given, job.seed, spec.tune_ratio, registry)
                       : BoundRun(*spec.fleet, wl, job.seed, spec.tune_ratio, spec.bound_points,
                                  spec.policies[job.p] == kOnlineBoundPolicy);
        std::lock_guard<std::mutex> lock(mu);
        if (!b.ok()) {
          if (first_error.ok()) first_error = b.status();
          next = jobs.size();
          return;
        }
        result.runs[j] = std::move(*b);
        work_done.fetch_add(result.runs[j].pods * ProgressWeight(spec.policies[job.p]));
        runs_done.fetch_add(1);
        continue;
      }
      OpenbRunOptions opt;
      opt.tune_ratio = spec.tune_ratio;
      opt.pods_done = &work_done;
      auto run =
          RunOpenb(*spec.fleet, wl.pods_by_name, wl.name, spec.policies[job.p], job.seed, registry, opt);
      if (!run.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = run.status();
        next = jobs.size();
        return;
      }
      RunSummary& r = result.runs[j];
      r.workload = wl.name;
      r.policy = spec.policies[job.p];
      r.seed = job.seed;
      r.pods = run->pods;
      r.placed = run->placed;
      r.failed = run->failed;
      r.failures_by_reason = run->failures_by_reason;
      r.idle_devices_at_100 = run->idle_devices_at_100;
      const int64_t capacity = spec.fleet->total_gpus() * kWholeGpu.value;
      for (uint32_t pos : run->failed_at) {
        if (PastBucket(run->timeline.arrived_milli[pos], capacity, 100)) break;
        const PodSpec& pod = wl.pods_by_name[run->sequence[pos]];
        r.failed_gpu_by_shape_100[ShapeName(pod)] += pod.total_gpu().value;
      }
      r.alloc_curve = AllocationCurve(run->timeline, run->total_gpus);
      r.frag_curve = FragmentationCurve(run->timeline, run->total_gpus);
      r.free_widest_curve = FreeWidestCurve(run->timeline, run->total_gpus);
      r.unalloc_100 = UnallocatedAt(r.alloc_curve, 100);
      r.unalloc_130 = UnallocatedAt(r.alloc_curve, 130);
      r.stats = run->stats;
      runs_done.fetch_add(1);
    }
  };
  // Expected work: the tuned sequence length of each workload for its first seed, times each policy's weight.
  int64_t work_total = 0;
  for (const Workload& wl : spec.workloads) {
    const int64_t len =
        static_cast<int64_t>(OpenbSequenceForSeed(wl.pods_by_name, spec.fleet->total_gpus() * kWholeGpu.value,
                                                  spec.tune_ratio, spec.seeds.empty() ? 0 : spec.seeds[0])
                                 .size());
    for (const std::string& p : spec.policies) {
      work_total += len * ProgressWeight(p) * static_cast<int64_t>(spec.seeds.size());
    }
  }
  const int threads = std::max(1, std::min<int>(spec.threads, static_cast<int>(jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(worker);
  auto report = [&] {
    if (progress) {
      progress(Progress{runs_done.load(), static_cast<int64_t>(jobs.size()), work_done.load(), work_total});
    }
  };
  while (runs_done.load() < static_cast<int64_t>(jobs.size())) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (!first_error.ok()) break;
    }
    report();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& t : pool) t.join();
  report();
  if (!first_error.ok()) return first_error;
  result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  for (size_t w = 0; w < spec.workloads.size(); ++w) {
    for (size_t p = 0; p < spec.policies.size(); ++p) {
      CellSummary c;
      c.workload = spec.workloads[w].name;
      c.policy = spec.policies[p];
      std::vector<double> u100, u130;
      std::vector<const Curve*> alloc, frag, free_nodes;
      for (const RunSummary& r : result.runs) {
        if (r.workload != c.workload || r.policy != c.policy) continue;
        if (r.unalloc_100) u100.push_back(*r.unalloc_100);
        if (r.unalloc_130) u130.push_back(*r.unalloc_130);
        alloc.push_back(&r.alloc_curve);
        frag.push_back(&r.frag_curve);
        free_nodes.push_back(&r.free_widest_curve);
      }
      c.unalloc_100 = Summarize(u100);
      c.unalloc_130 = Summarize(u130);
      c.mean_alloc_curve = MeanCurve(alloc);
      c.mean_frag_curve = MeanCurve(frag);
      c.mean_free_widest_curve = MeanCurve(free_nodes);
      result.cells.push_back(std::move(c));
    }
  }
  return result;
}

std::string ShapeName(const PodSpec& pod) {
  std::string s =
      pod.wants_gpu() ? std::to_string(pod.gpu_count) + "x" + std::to_string(pod.gpu_milli.value) + " " : "";
  s += "cpu=" + std::to_string(pod.cpu.value);
  if (!pod.model_constraint.empty()) s += " [" + pod.model_constraint + "]";
  return s;
}

StatusOr<std::vector<uint64_t>> ParseSeeds(const std::string& text) {
  std::vector<uint64_t> out;
  auto num = [](std::string_view s, uint64_t* v) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *v);
    return !s.empty() && ec == std::errc() && p == s.data() + s.size();
  };
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string_view part(text.data() + start, comma - start);
    const size_t dash = part.find('-');
    uint64_t a = 0, b = 0;
    if (dash == std::string_view::npos) {
      if (!num(part, &a))
        return InvalidArgument("bad seed '" + std::string(part) + "' (expected e.g. 42-51 or 1,2,3)");
      out.push_back(a);
    } else {
      if (!num(part.substr(0, dash), &a) || !num(part.substr(dash + 1), &b) || b < a || b - a > 100000) {
        return InvalidArgument("bad seed range '" + std::string(part) +
                               "' (expected FIRST-LAST, e.g. 42-51)");
      }
      for (uint64_t s = a; s <= b; ++s) out.push_back(s);
    }
    start = comma + 1;
  }
  if (out.empty()) return InvalidArgument("no seeds given");
  return out;
}

}  // namespace awan::sim
