#include "sim/workload_gen.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "common/rng.h"
#include "core/residency.h"

namespace awan::sim {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Log-normal with the given median and shape, clamped to [lo, hi] seconds, rounded to a minute.
int64_t LogNormal(Rng& rng, double median_s, double sigma, double lo, double hi) {
  const double u1 = std::max(1e-12, rng.UniformDouble()), u2 = rng.UniformDouble();
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * kPi * u2);
  const double x = std::clamp(median_s * std::exp(sigma * z), lo, hi);
  return std::max<int64_t>(60, std::llround(x / 60.0) * 60);
}

struct Kind {
  const char* name;
  double share;  // of job count
  int tasks_lo, tasks_hi;
  double gpus;  // per task
  const char* accelerator;
  double median_s, lo_s, hi_s;
};

// The job mix. Mean GPU-seconds per job follows from it (the log-normal's mean is median x e^(sigma^2/2),
// before clamping; the generator rescales arrivals with the sampled jobs' actual GPU-time).
constexpr Kind kKinds[] = {
    {"train", 0.08, 2, 4, 8, "H100|H200", 4 * 3600.0, 3600, 24 * 3600},
    {"finetune", 0.17, 1, 1, 8, "H100|H200|A100", 2 * 3600.0, 1200, 12 * 3600},
    {"experiment", 0.40, 1, 1, 1, "", 3600.0, 300, 8 * 3600},
    {"inference", 0.35, 1, 1, 0.5, "", 2700.0, 300, 6 * 3600},
};

int UtcOffsetHours(const std::string& jurisdiction) {
  return jurisdiction == "ID" || jurisdiction == "TH" || jurisdiction == "VN" ? 7 : 8;
}

// RegionalWorkloadOptions::time_limit_factor.
void AddTimeLimits(Rng rng, double factor, std::vector<JobSpec>& jobs) {
  static constexpr int64_t kH = 3600;
  static constexpr int64_t kRound[] = {900,     1800,    kH,      2 * kH,  4 * kH,   8 * kH,
                                       12 * kH, 24 * kH, 48 * kH, 72 * kH, 168 * kH, 336 * kH};
  for (JobSpec& j : jobs) {
    const double want = static_cast<double>(j.duration_s) * std::exp(rng.UniformDouble() * std::log(factor));
    j.time_limit_s = static_cast<int64_t>(std::ceil(want));
    for (int64_t r : kRound) {
      if (static_cast<double>(r) >= want) {
        j.time_limit_s = r;
        break;
      }
    }
  }
}

}  // namespace

StatusOr<config::WorkloadFile> GenerateRegionalWorkload(const config::FleetFile& file,
                                                        const RegionalWorkloadOptions& o) {
  const Fleet& fleet = file.fleet;
  if (file.tenants.empty()) return InvalidArgument("the fleet file lists no tenants to generate work for");
  if (o.days < 1 || o.days > 366) return InvalidArgument("days must be in 1..366");
  if (!(o.load > 0 && o.load <= 10)) return InvalidArgument("load must be in (0, 10]");
  if (o.time_limit_factor != 0 && !(o.time_limit_factor >= 1 && o.time_limit_factor <= 100))
    return InvalidArgument("the time limit factor must be 0 (no limits) or in [1, 100]");
  Rng rng(o.seed);
  config::WorkloadFile w;
  w.name = fmt::format("{}-{}d-load{:.2f}-seed{}", file.name.empty() ? "fleet" : file.name, o.days, o.load,
                       o.seed);
  double total_guarantee = 0;
  for (const TenantSpec& t : file.tenants)
    total_guarantee += static_cast<double>(std::max<int64_t>(1, t.guaranteed_gpus));

  // Expected GPU-seconds of one job of the mix (sampled, so that the load comes out right after clamping).
  Rng probe = rng.Fork(99);
  double mean_gpu_s = 0;
  constexpr int kProbe = 20000;
  for (int i = 0; i < kProbe; ++i) {
    for (const Kind& k : kKinds) {
      const double tasks = (k.tasks_lo + k.tasks_hi) / 2.0;
      mean_gpu_s += k.share * tasks * k.gpus *
                    static_cast<double>(LogNormal(probe, k.median_s, 0.8, k.lo_s, k.hi_s)) / kProbe;
    }
  }
  const double span_s = 86400.0 * o.days;
  const double jobs_total = o.load * static_cast<double>(fleet.total_gpus()) * span_s / mean_gpu_s;

  for (size_t ti = 0; ti < file.tenants.size(); ++ti) {
    const TenantSpec& t = file.tenants[ti];
    Rng tr = rng.Fork(1000 + ti);
    // The tenant's home: the allowed region with the most GPUs (first such in file order).
    const std::vector<uint8_t> ok = AllowedRegions(fleet, t.data_class, t.data_places);
    std::vector<int64_t> gpus(fleet.region_count(), 0);
    for (uint32_t n = 0; n < fleet.size(); ++n)
      gpus[fleet.region_of(NodeIndex(n)).value] += fleet.node(NodeIndex(n)).gpu_count;
    uint32_t home = 0;
    int64_t best = -1;
    // Tenants live where their name's jurisdiction prefix points ("my-..." -> MY), else in the largest
    // region.
    std::string prefix = t.name.substr(0, 2);
    std::transform(prefix.begin(), prefix.end(), prefix.begin(),
                   [](char c) { return static_cast<char>(std::toupper(c)); });
    for (uint32_t r = 0; r < fleet.region_count(); ++r) {
      const bool allowed = ok[r] && !(fleet.region(DomainId(r)).edge);
      const bool local = fleet.region(DomainId(r)).jurisdiction == prefix;
      const int64_t score = gpus[r] + (local ? 1000000 : 0);
      if (allowed && score > best) best = score, home = r;
    }
    const std::string home_name = fleet.topology().DomainName(TopologyLevel::kRegion, DomainId(home));
    const std::string jur = fleet.region(DomainId(home)).jurisdiction;
    // Users: the declared location nearest to the home region.
    std::string user;
    double user_ms = 1e18;
    for (const std::string& loc : fleet.user_locations()) {
      const double ms = fleet.user_latency_ms(loc, DomainId(home));
      if (ms < user_ms) user_ms = ms, user = loc;
    }
    const std::string data = t.name + "-data", corpus = t.name + "-corpus";
    DataSpec d{data, t.data_class, t.data_places, home_name};
    w.datasets.push_back(d);
    w.datasets.push_back(DataSpec{corpus, DataClass::kPublic, {}, home_name});

    const double share = static_cast<double>(std::max<int64_t>(1, t.guaranteed_gpus)) / total_guarantee;
    const double rate = jobs_total * share / span_s;  // mean arrivals per second
    // Diurnal arrivals by thinning: rate x (1 + 0.6 sin(...)) peaking mid-afternoon local time.
    const double peak = rate * 1.6;
    std::vector<std::string> checkpoints;
    int64_t n = 0;
    for (double now = 0;;) {
      now += -std::log(std::max(1e-12, tr.UniformDouble())) / peak;
      if (now >= span_s) break;
      const double local_h = std::fmod(now / 3600.0 + UtcOffsetHours(jur), 24.0);
      const double f = (1 + 0.6 * std::sin(2 * kPi * (local_h - 9) / 24.0)) / 1.6;
      if (tr.UniformDouble() >= f) continue;
      double u = tr.UniformDouble();
      const Kind* k = &kKinds[0];
      for (const Kind& c : kKinds) {
        k = &c;
        if (u < c.share) break;
        u -= c.share;
      }
      JobSpec j;
      j.name = fmt::format("{}-{}-{}", t.name, k->name, n++);
      j.tenant = t.name;
      j.submit_s = static_cast<int64_t>(now);
      j.duration_s = LogNormal(tr, k->median_s, 0.8, k->lo_s, k->hi_s);
      j.tasks =
          k->tasks_lo + static_cast<int>(tr.Uniform(static_cast<uint64_t>(k->tasks_hi - k->tasks_lo + 1)));
      if (k->gpus < 1) {
        j.task.gpu_count = 1;
        j.task.gpu_milli = GpuMilli(std::llround(k->gpus * 1000));
      } else {
        j.task.gpu_count = static_cast<int>(k->gpus);
        j.task.gpu_milli = kWholeGpu;
      }
      j.task.model_constraint = k->accelerator;
      const double per = std::max(k->gpus, 0.125);
      j.task.cpu = CpuMilli(std::llround(8000 * per));
      j.task.memory = MemMiB(std::llround(64 * 1024 * per));
      j.task.name = j.name;
      if (j.tasks > 1) j.widest = TopologyLevel::kZone;
      const std::string kind = k->name;
      if (kind == "train") {
        j.reads = {corpus, data};
        j.writes = {"ckpt-" + j.name};
        checkpoints.push_back(j.writes[0]);
      } else if (kind == "finetune") {
        j.reads = {data};
        if (!checkpoints.empty()) j.reads.push_back(checkpoints[tr.Uniform(checkpoints.size())]);
        j.writes = {"ckpt-" + j.name};
        checkpoints.push_back(j.writes[0]);
      } else if (kind == "experiment") {
        j.reads = {tr.UniformDouble() < 0.5 ? data : corpus};
      } else {
        j.reads = {checkpoints.empty() ? corpus : checkpoints.back()};
        j.user_location = user;
      }
      w.jobs.push_back(std::move(j));
    }
  }
  // Model constraints resolve against the fleet; drop models the fleet lacks (e.g. no H200 anywhere).
  for (JobSpec& j : w.jobs) {
    std::string kept;
    size_t from = 0;
    while (!j.task.model_constraint.empty() && from <= j.task.model_constraint.size()) {
      const size_t bar = std::min(j.task.model_constraint.find('|', from), j.task.model_constraint.size());
      const std::string m = j.task.model_constraint.substr(from, bar - from);
      const AcceleratorId id = fleet.models().Find(m);
      if (id != kNoAccelerator) {
        kept += (kept.empty() ? "" : "|") + m;
        j.task.allowed_models.Add(id);
      }
      from = bar + 1;
    }
    j.task.model_constraint = kept;
  }
  std::stable_sort(w.jobs.begin(), w.jobs.end(),
                   [](const JobSpec& a, const JobSpec& b) { return a.submit_s < b.submit_s; });
  if (o.time_limit_factor >= 1) AddTimeLimits(rng.Fork(7), o.time_limit_factor, w.jobs);
  return w;
}

}  // namespace awan::sim
