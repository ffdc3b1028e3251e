// Prometheus metrics for `awan serve` (text exposition format 0.0.4), built from the control plane's state
// and counters. Names: awan_jobs_waiting{tenant}, awan_gpus_allocated{tenant}, awan_fleet_gpus_allocated,
// awan_gpus_capacity, awan_scheduling_cycles_total, awan_decisions_total, awan_preemptions_total,
// awan_jobs_submitted_total, awan_scheduling_cycle_seconds (histogram), awan_api_request_seconds (histogram).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "server/control_plane.h"

namespace awan::server {

class Histogram {
 public:
  static constexpr std::array<double, 12> kBuckets = {0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.05,   0.1,   0.25,   0.5,   1.0};
  Histogram() : Histogram(std::vector<double>(kBuckets.begin(), kBuckets.end())) {}
  // `bounds`: the buckets' upper bounds, ascending (+Inf is implied).
  explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size()) {}
  void Observe(double seconds);
  // `labels`: series labels without braces (`model_name="m"`), or "".
  std::string Render(const std::string& name, const std::string& help, const std::string& labels = "") const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  double sum_ = 0;
};

class Metrics {
 public:
  // Folds the cycle latencies in (call it from the scheduling loop); counters are read live at Render.
  void Absorb(const ControlPlaneStats& s);
  void ObserveApi(double seconds) { api_.Observe(seconds); }
  // The series `who` may see: every tenant's for an admin, else the fleet-wide ones and its own tenant's.
  std::string Render(const ControlPlane& cp, const Principal& who) const;
  // More series, appended to every Render (e.g. the services'). REQUIRES: before serving.
  void AddSection(std::function<std::string(const Principal&)> f) { sections_.push_back(std::move(f)); }

 private:
  Histogram cycle_, api_;
  std::vector<std::function<std::string(const Principal&)>> sections_;
};

}  // namespace awan::server
