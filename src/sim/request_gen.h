// awan's own request load (`awan generate requests`): diurnal, multi-tenant, with shared prompt prefixes, for
// the days-long runs the one-hour public traces cannot give (../shared/reference/INFERENCE.md §1).
//
// Per service: arrivals are a non-homogeneous Poisson process (thinning) whose rate follows the day,
//   rate(t) = peak x (trough + (1 - trough) x (1 - cos(2 pi (hour(t) - 4) / 24)) / 2)
// lowest at 04:00 and highest at 16:00 of the users' day; prompt and output lengths are log-normal around
// medians (by default the Azure conv trace's: 1,020 in, 129 out); every prompt starts with one of a few
// system prompts (Zipf-like popularity, a few 512-token KV blocks each: shared prefixes for prefix-cache
// routing), the rest of its blocks unique; each request comes from one of the service's user locations.
// Deterministic in the seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/request.h"
#include "model/service.h"

namespace awan::sim {

struct RequestGenOptions {
  double hours = 24;
  double peak_rps = 10;
  double trough = 0.15;  // the night's rate as a share of the peak
  double prompt_median = 1020, prompt_sigma = 0.9;
  double output_median = 129, output_sigma = 0.8;
  int32_t max_prompt = 8192, max_output = 2048;
  int system_prompts = 8, system_prompt_blocks = 2;
  uint64_t seed = 1;
};

// The requests of one service (its index picks its own random stream and its hash-id space).
std::vector<InferenceRequest> GenerateRequests(const ServiceSpec& service, size_t index,
                                               const RequestGenOptions& o);

}  // namespace awan::sim
