#include "server/metrics.h"

#include <fmt/format.h>

#include <map>

namespace awan::server {

void Histogram::Observe(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  for (size_t b = 0; b < bounds_.size(); ++b)
    if (seconds <= bounds_[b]) ++counts_[b];
  ++count_;
  sum_ += seconds;
}

std::string Histogram::Render(const std::string& name, const std::string& help,
                              const std::string& labels) const {
  std::lock_guard<std::mutex> lock(mu_);
  const std::string sep = labels.empty() ? "" : ",";
  const std::string own = labels.empty() ? "" : "{" + labels + "}";
  std::string s = fmt::format("# HELP {0} {1}\n# TYPE {0} histogram\n", name, help);
  for (size_t b = 0; b < bounds_.size(); ++b)
    s += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, bounds_[b], counts_[b]);
  s += fmt::format("{0}_bucket{{{3}{4}le=\"+Inf\"}} {1}\n{0}_sum{5} {2}\n{0}_count{5} {1}\n", name, count_,
                   sum_, labels, sep, own);
  return s;
}

void Metrics::Absorb(const ControlPlaneStats& s) {
  for (double c : s.cycle_seconds) cycle_.Observe(c);
}

std::string Metrics::Render(const ControlPlane& cp, const Principal& who) const {
  std::string s;
  s += "# HELP awan_jobs_waiting Jobs waiting to start, per tenant.\n# TYPE awan_jobs_waiting gauge\n";
  auto load = cp.TenantLoad();
  std::erase_if(load, [&who](const auto& kv) { return !who.sees(kv.first); });  // others' names: admins only
  for (const auto& [tenant, v] : load)
    s += fmt::format("awan_jobs_waiting{{tenant=\"{}\"}} {}\n", tenant, v.first);
  s += "# HELP awan_gpus_allocated GPUs allocated to running jobs, per tenant.\n# TYPE awan_gpus_allocated "
       "gauge\n";
  for (const auto& [tenant, v] : load)
    s += fmt::format("awan_gpus_allocated{{tenant=\"{}\"}} {}\n", tenant, v.second / 1000.0);
  s += fmt::format(
      "# HELP awan_fleet_gpus_allocated GPUs allocated in the fleet (a gauge: no _total suffix).\n# TYPE "
      "awan_fleet_gpus_allocated "
      "gauge\n"
      "awan_fleet_gpus_allocated {}\n",
      cp.gpus_allocated_milli() / 1000.0);
  s += fmt::format(
      "# HELP awan_gpus_capacity GPUs in the fleet.\n# TYPE awan_gpus_capacity gauge\nawan_gpus_capacity "
      "{}\n",
      cp.fleet().fleet.total_gpus());
  const ControlPlaneStats c = cp.Counters();
  auto counter = [&s](const char* name, const char* help, int64_t value) {
    s += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name, help, value);
  };
  counter("awan_scheduling_cycles_total", "Scheduling cycles run.", c.cycles);
  counter("awan_decisions_total", "Runs started.", c.decisions);
  counter("awan_preemptions_total", "Runs stopped by the scheduler.", c.preemptions);
  counter("awan_jobs_submitted_total", "Jobs accepted.", c.submitted);
  counter("awan_store_errors_total", "Durable writes that failed (each retried at the next tick).",
          c.store_errors);
  s += "# HELP awan_cycle_stage_seconds_total Wall time spent in each named stage of the scheduling cycle.\n"
       "# TYPE awan_cycle_stage_seconds_total counter\n";
  for (int k = 0; k < kCycleStages; ++k) {
    s += fmt::format("awan_cycle_stage_seconds_total{{stage=\"{}\"}} {}\n",
                     CycleStageName(static_cast<CycleStage>(k)),
                     static_cast<double>(c.stages.stage_ns[static_cast<size_t>(k)]) / 1e9);
  }
  s += cycle_.Render("awan_scheduling_cycle_seconds", "Wall time of one scheduling cycle.");
  s += api_.Render("awan_api_request_seconds", "Wall time of one API request.");
  for (const auto& f : sections_) s += f(who);
  return s;
}

}  // namespace awan::server
