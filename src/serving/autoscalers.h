// The baseline autoscalers, as their projects ship them (../shared/reference/INFERENCE.md §3), behind
// core/autoscaler.h and registered by name:
//   hpa       Kubernetes HPA (autoscaling/v2 defaults): desired = ceil(current x metric / target) skipped
//             within 10 % tolerance; sync 15 s; scale-up stabilization 0 s and at most max(+4 pods, x2) per
//             15 s; scale-down stabilization 300 s (the highest recommendation of the window), 100 % per 15 s
//   kpa       Knative KPA: target = concurrency target x 0.7; tick 2 s; stable window 60 s, panic window 6 s;
//             panic when the panic window wants >= 2 x ready, then never down until a stable window passes
//             without it; at most x1000 up and /2 down per decision; to zero only after 30 s without requests
//   rayserve  Ray Serve: the average ongoing requests over 30 s; desired = ceil(current x (1 + (ongoing /
//             (target x current) - 1) x smoothing 1.0)); a decision to go up must hold 30 s, down 600 s;
//             the controller decides every second
//   aibrix    AIBrix APA: the metric averaged over a 30 s sliding window; up when metric / target > 1.1, down
//             when < 0.9, desired = ceil(current x ratio) within x2 and /2 per decision; every 15 s
//   oracle    the reference (INFERENCE.md §3): knows the future arrivals; the fewest replicas the replica
//             model says serve the busiest 10 s up to a cold start and a minute ahead; every second
//   awan      SLO-aware, predictive (recent peak, trend, daily seasonality, bursts held 10 min),
//             cold-start-aware, guarded by the requests in flight; down after 120 s of lower wants; every 5 s
//             (see autoscalers.cc)
// (Where a project leaves a value open, the choice is named above: AIBrix's window and period, Ray's 1 s.)
#pragma once

#include "core/registry.h"

namespace awan::serving {

void RegisterAutoscalers(PluginRegistry& registry);

}  // namespace awan::serving
