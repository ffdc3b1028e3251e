// The built-in policies of the job cycle's stages (core/cycle_policy.h), registered by name:
//   admission   cohort         within the guarantee, or borrowing idle quota of the cohort within the
//                              tenant's borrowing limit and the lenders' lending limits (Kueue's cohorts)
//               isolated       each tenant alone on its guarantee (the Helios protocol)
//   backfill    easy           one reservation per set of allowed regions: its first blocked job (EASY)
//               conservative   every blocked job, in queue order, up to max_reservations
//               none           nothing held: any job that fits starts
//   preemption  cost-aware     never a gang nor a larger job for the ordering; only after the waiter waited
//                              as long as it is expected to run; only when the victim's key exceeds the
//                              waiter's by the stop's cost (lost work per GPU and the restart)
//               plain          whenever the ordering puts the victim strictly after the waiter
//   fair share  drf-decayed    dominant share over time (half-life) plus now, per unit of weight
//               drf            dominant share now, per unit of weight
//   region      price-latency  price weight x USD per GPU-hour + latency weight x ms to data and users
//               cheapest       the cheapest GPU-hour first (latency breaks ties)
//               nearest        the least latency to data and users first (price breaks ties)
#pragma once

#include "core/registry.h"

namespace awan::policies {

void RegisterCyclePolicies(PluginRegistry& registry);

}  // namespace awan::policies
