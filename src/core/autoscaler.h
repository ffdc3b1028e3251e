// Autoscaler: how many replicas a service wants, from what its replicas report (issue 17). One interface for
// every scaler (hpa, kpa, rayserve, aibrix, oracle, awan), chosen by name from the PluginRegistry
// and driven alike by the simulator and the gateway. The implementations are in src/serving/autoscalers.h.
//
// Contract: deterministic given the samples and decisions it was given (time comes in the calls, never from
// a clock); Decide returns a count within [bounds.min, bounds.max]; Clone copies the state (windows, delays).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace awan {

// What the replicas of a service report at one instant: requests in flight (running and waiting) over the
// ready replicas, and how many replicas are ready (replicas still starting are left out, as HPA does).
// Also the request rate that arrived since the previous sample (what a predictive scaler forecasts from), in
// requests of the mix capacity_rps was computed for: a burst of long prompts counts for the requests of that
// mix it takes to bring as many tokens.
struct ScaleSample {
  int64_t at_ms = 0;
  double in_flight = 0;
  int ready = 0;
  double arrival_rps = 0;
};

// The service's bounds and its per-replica target for the metric (requests in flight per replica), and
// what the replica model says (the hints the SLO-aware scalers use; the baselines read only the target).
struct ScaleBounds {
  int min = 0, max = 1;
  double target = 1;
  double capacity_rps = 0;    // requests/s one replica serves within the SLO; 0: unknown
  int64_t cold_start_ms = 0;  // expected from a scale-up decision to a ready replica where it would land
  // The arrivals to come: the rate of the busiest aligned 10 s that overlap [from, to), in requests of the
  // mix capacity_rps was computed for (as ScaleSample::arrival_rps). Known only to the reference oracle, and
  // only in the simulator (which has the trace); empty otherwise.
  std::function<double(int64_t from_ms, int64_t to_ms)> future_rps;
};

class Autoscaler {
 public:
  virtual ~Autoscaler() = default;
  virtual std::string_view name() const = 0;
  // How often it decides (its sync period or tick).
  virtual int64_t period_ms() const = 0;
  // A sample, in time order (every second or so).
  virtual void Observe(const ScaleSample& s) = 0;
  // The replicas it wants now, given how many exist (`current`, ready or starting).
  virtual int Decide(int64_t now_ms, int current, const ScaleBounds& bounds) = 0;
  // The arrival rate it expects `horizon_ms` from now (requests/s of the capacity's mix), for what is to be
  // prepared ahead (forecast-driven prefetch, serving::PrefetchSlots); < 0: it makes no forecast.
  virtual double ForecastRps(int64_t now_ms, int64_t horizon_ms) const {
    (void)now_ms, (void)horizon_ms;
    return -1;
  }
  virtual std::unique_ptr<Autoscaler> Clone() const = 0;
};

}  // namespace awan
