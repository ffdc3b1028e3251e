#include "serving/replica_model.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace awan::serving {

StatusOr<ReplicaModel> ReplicaModel::Create(const ServedModel& model, const AcceleratorHardware& hw, int gpus,
                                            double gpu_fraction, ReplicaModelOptions o) {
  if (gpus < 1 || gpu_fraction <= 0 || gpu_fraction > 1 || (gpus > 1 && gpu_fraction < 1))
    return InvalidArgument("a replica runs on whole GPUs of one node, or on a fraction of one GPU");
  const double share = gpus * gpu_fraction;  // GPUs' worth of memory, bandwidth and compute
  ReplicaModel m;
  m.params_ = model.parameters_b * 1e9;
  m.weights_ = static_cast<double>(model.weight_bytes);
  m.kv_ = static_cast<double>(model.kv_bytes_per_token);
  m.flops_ = share * hw.bf16_dense_tflops * 1e12 * o.mfu;
  m.bandwidth_ = share * hw.hbm_tb_s * 1e12 * o.mbu;
  m.step_overhead_ = o.step_overhead_s;
  const int layers = model.layers > 0 ? model.layers : o.layers;
  m.tp_term_ = gpus > 1 ? 2.0 * layers * o.tp_allreduce_s * std::log2(static_cast<double>(gpus)) : 0.0;
  const double memory = share * hw.memory_gb * 1e9 * o.memory_share;
  if (memory <= m.weights_ || m.kv_ <= 0) {
    return InvalidArgument(model.name + " does not fit " + std::to_string(share).substr(0, 4) + " x " +
                           std::string(hw.name) + ": " +
                           std::to_string(static_cast<int64_t>(m.weights_ / 1e9)) + " GB of weights, " +
                           std::to_string(static_cast<int64_t>(memory / 1e9)) + " GB usable");
  }
  m.kv_capacity_ = static_cast<int64_t>((memory - m.weights_) / m.kv_);
  return m;
}

double ReplicaModel::PrefillS(int64_t tokens) const {
  const double compute = 2.0 * params_ * static_cast<double>(tokens) / flops_;
  return std::max(compute, weights_ / bandwidth_) + tp_term_;
}

double ReplicaModel::DecodeStepS(int64_t batch, int64_t context_tokens) const {
  const double memory = (weights_ + static_cast<double>(context_tokens) * kv_) / bandwidth_;
  const double compute = 2.0 * params_ * static_cast<double>(batch) / flops_;
  return std::max(memory, compute) + step_overhead_ + tp_term_;
}

double ReplicaModel::IterationS(int64_t prefill_tokens, int64_t batch, int64_t context_tokens) const {
  const double memory = (weights_ + static_cast<double>(context_tokens) * kv_) / bandwidth_;
  const double compute = 2.0 * params_ * static_cast<double>(prefill_tokens + batch) / flops_;
  return std::max(memory, compute) + step_overhead_ + tp_term_;
}

int64_t TokenBudget(const ReplicaModel& m, const ServiceSlo& slo, int64_t max_batched_tokens,
                    double headroom) {
  const double tokens = headroom * static_cast<double>(slo.tpot_ms) / 1000 / m.ComputeSPerToken();
  return std::clamp<int64_t>(static_cast<int64_t>(tokens), std::min<int64_t>(256, max_batched_tokens),
                             max_batched_tokens);
}

SloCapacity CapacityWithinSlo(const ReplicaModel& m, double prompt_tokens, double output_tokens,
                              const ServiceSlo& slo, int64_t max_batched_tokens, int max_seqs,
                              double headroom, double prefill_tokens, double tail_prefill_tokens) {
  SloCapacity best;
  const double out = std::max(1.0, output_tokens), prompt = std::max(1.0, prompt_tokens);
  const double fill = prefill_tokens < 0 ? prompt : std::clamp(prefill_tokens, 1.0, prompt);
  const auto budget = static_cast<double>(max_batched_tokens);
  for (int b = 1; b <= max_seqs && b < budget; ++b) {
    const double prefill_per_iter = b * fill / out;  // the prompts of the requests that replace finished ones
    const double rho = prefill_per_iter / (budget - b);  // share of the prefill room they use
    if (rho >= 1) break;
    if (static_cast<double>(b) * (prompt + out) > static_cast<double>(m.KvCapacityTokens())) break;
    const auto context = static_cast<int64_t>(b * (prompt + out / 2));
    const double t = m.IterationS(static_cast<int64_t>(prefill_per_iter), b, context);
    // The first token: the prompt's own chunks, stretched by the prompts queued before it (a queue at
    // utilization rho waits rho / (1 - rho) service times on average); kept within half the objective, for
    // the tail.
    const double own = std::ceil(prompt / (budget - b)) * t;
    const double miss = std::clamp(1 - slo.attainment_pct / 100, 1e-4, 0.5);
    const double ttft_tail = own / (1 - rho) * std::log(1 / miss);
    if (t > headroom * static_cast<double>(slo.tpot_ms) / 1000 ||
        ttft_tail > static_cast<double>(slo.ttft_ms) / 1000)
      break;
    const SloCapacity here{b, b / (out * t), t, budget - b, rho, context, std::ceil(fill / (budget - b)) * t};
    // The long prompts' first token at this load (their own chunks, after the queue).
    if (tail_prefill_tokens > 0 &&
        FirstTokenAtCapacityS(m, here, tail_prefill_tokens) > static_cast<double>(slo.ttft_ms) / 1000)
      break;
    best = here;
  }
  return best;
}

double FirstTokenAtCapacityS(const ReplicaModel& m, const SloCapacity& c, double prefill_tokens) {
  if (c.concurrency <= 0 || c.room < 1 || c.rho >= 1) return std::numeric_limits<double>::infinity();
  const double chunks = std::ceil(std::max(1.0, prefill_tokens) / c.room);
  const double full = m.IterationS(static_cast<int64_t>(c.room), c.concurrency, c.context);
  return chunks * full + c.rho / (1 - c.rho) * c.mean_prefill_s;
}

double ChunkedFirstTokenS(const ReplicaModel& m, int64_t prompt_tokens, int64_t token_budget) {
  const int64_t budget = std::max<int64_t>(1, token_budget), prompt = std::max<int64_t>(1, prompt_tokens);
  const int64_t full = (prompt - 1) / budget, last = prompt - full * budget;
  double s = 0;
  for (int64_t k = 0; k < full; ++k) s += m.IterationS(budget, 0, k * budget);
  return s + m.IterationS(last, 0, full * budget);
}

}  // namespace awan::serving
