#include "sim/request_gen.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "common/rng.h"

namespace awan::sim {
namespace {

double Normal(Rng& rng) {  // Box-Muller
  const double u1 = std::max(1e-12, rng.UniformDouble()), u2 = rng.UniformDouble();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2 * std::numbers::pi * u2);
}

int32_t LogNormal(Rng& rng, double median, double sigma, int32_t max) {
  const double v = median * std::exp(sigma * Normal(rng));
  return static_cast<int32_t>(std::clamp<double>(std::round(v), 1, max));
}

}  // namespace

std::vector<InferenceRequest> GenerateRequests(const ServiceSpec& service, size_t index,
                                               const RequestGenOptions& o) {
  Rng rng = Rng(o.seed).Fork(index + 1);
  std::vector<InferenceRequest> out;
  const double end_s = o.hours * 3600;
  const double peak = std::max(1e-9, o.peak_rps);
  // Hash ids: the service's system prompts first, then a counter for unique blocks.
  const uint64_t base = (static_cast<uint64_t>(index) + 1) << 40;
  uint64_t next_unique = base + 1'000'000;
  double t = 0;
  while (true) {
    t += -std::log(std::max(1e-12, rng.UniformDouble())) / peak;  // candidate arrivals at the peak rate
    if (t >= end_s) break;
    const double hour = std::fmod(t / 3600, 24.0);
    const double shape = (1 - std::cos(2 * std::numbers::pi * (hour - 4) / 24)) / 2;
    if (rng.UniformDouble() > o.trough + (1 - o.trough) * shape) continue;  // thinning
    InferenceRequest r;
    r.at_ms = static_cast<int64_t>(t * 1000);
    r.prompt_tokens = LogNormal(rng, o.prompt_median, o.prompt_sigma, o.max_prompt);
    r.output_tokens = LogNormal(rng, o.output_median, o.output_sigma, o.max_output);
    // A system prompt by Zipf-like popularity (1/(k+1)), then the request's own blocks.
    const int sys = static_cast<int>(std::floor(std::pow(o.system_prompts + 1.0, rng.UniformDouble()))) - 1;
    const int blocks = (r.prompt_tokens + 511) / 512;
    for (int b = 0; b < blocks; ++b) {
      r.hash_ids.push_back(b < o.system_prompt_blocks
                               ? base + static_cast<uint64_t>(std::clamp(sys, 0, o.system_prompts - 1)) * 64 +
                                     static_cast<uint64_t>(b)
                               : next_unique++);
    }
    if (!service.users.empty()) r.user = service.users[rng.Uniform(service.users.size())];
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace awan::sim
