// Autoscaler: how many replicas a service wants, from what its replicas report (issue 17). One interface for
// every scaler (hpa, kpa, rayserve, aibrix; later oracle and awan), chosen by name from the PluginRegistry
// and driven alike by the simulator and the gateway. The implementations are in src/serving/autoscalers.h.
//
// Contract: deterministic given the samples and decisions it was given (time comes in the calls, never from
// a clock); Decide returns a count within [bounds.min, bounds.max]; Clone copies the state (windows, delays).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

namespace awan {

// What the replicas of a service report at one instant: requests in flight (running and waiting) over the
// ready replicas, and how many replicas are ready (replicas still starting are left out, as HPA does).
struct ScaleSample {
  int64_t at_ms = 0;
  double in_flight = 0;
  int ready = 0;
};

// The service's bounds and its per-replica target for the metric (requests in flight per replica).
struct ScaleBounds {
  int min = 0, max = 1;
  double target = 1;
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
  virtual std::unique_ptr<Autoscaler> Clone() const = 0;
};

}  // namespace awan
