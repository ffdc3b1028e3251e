#include "serving/scale_signals.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace awan::serving {

double EquivalentRps(double requests, double prompt_tokens, double output_tokens, double mix_prompt,
                     double mix_output, double seconds) {
  double eq = requests;
  if (mix_prompt > 0) eq = std::max(eq, prompt_tokens / mix_prompt);
  if (mix_output > 0) eq = std::max(eq, output_tokens / mix_output);
  return eq / seconds;
}

ScaleSignals::ScaleSignals(const ServiceSpec& spec, std::vector<ReplicaModel> models,
                           std::vector<bool> usable, int64_t max_batched_tokens, int max_seqs)
    : spec_(&spec),
      models_(std::move(models)),
      usable_(std::move(usable)),
      max_batched_tokens_(max_batched_tokens),
      max_seqs_(max_seqs) {
  serves_tail_.assign(usable_.size(), true);
  first_usable_ = static_cast<int>(std::find(usable_.begin(), usable_.end(), true) - usable_.begin());
  if (first_usable_ == static_cast<int>(usable_.size())) first_usable_ = 0, servable_ = false;
}

namespace {
constexpr double kBucketsPerOctave = 16;
}  // namespace

void ScaleSignals::Count(Histogram& h, double tokens) {
  const double b = std::floor(std::log2(std::max(1.0, tokens)) * kBucketsPerOctave);
  ++h[static_cast<size_t>(std::clamp<double>(b, 0, kPromptBuckets - 1))];
}

double ScaleSignals::Quantile(const Histogram& h, int64_t count, double q) {
  if (count <= 0) return 0;
  const auto rank =
      static_cast<int64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count) - 1e-9));
  int64_t below = 0;
  for (int i = 0; i < kPromptBuckets; ++i) {
    below += h[static_cast<size_t>(i)];
    if (below >= std::max<int64_t>(1, rank)) return std::exp2((i + 1) / kBucketsPerOctave);
  }
  return std::exp2(kPromptBuckets / kBucketsPerOctave);
}

void ScaleSignals::CountMix(double prompt_tokens, double output_tokens) {
  ++seen_, prompt_sum_ += prompt_tokens, output_sum_ += output_tokens;
  Count(prompt_hist_, prompt_tokens);
}

void ScaleSignals::Prefilled(double tokens, double prompt_tokens) {
  ++prefilled_;
  Count(prefill_hist_, tokens);
  prefill_sum_ += std::clamp(tokens, 0.0, std::max(0.0, prompt_tokens));
  prefill_prompt_sum_ += std::max(0.0, prompt_tokens);
}

double ScaleSignals::PromptQuantile(double q) const { return Quantile(prompt_hist_, seen_, q); }
double ScaleSignals::PrefillQuantile(double q) const { return Quantile(prefill_hist_, prefilled_, q); }

void ScaleSignals::Arrive(double prompt_tokens, double output_tokens) {
  ++in_sample_;
  prompt_in_sample_ += prompt_tokens, output_in_sample_ += output_tokens;
  CountMix(prompt_tokens, output_tokens);
}

void ScaleSignals::ResetMix() {
  seen_ = 0, prompt_sum_ = 0, output_sum_ = 0, prompt_hist_.fill(0);
  prefilled_ = 0, prefill_hist_.fill(0), prefill_sum_ = 0, prefill_prompt_sum_ = 0;
  long_prompts_in_time_ = true;
  cap_prompt_ = -1, cap_prefill_ = -1, cap_output_ = -1, cap_tail_ = -1;  // recomputed at the next Capacity()
}

double ScaleSignals::MeanPrompt() const {
  return prompt_sum_ / static_cast<double>(std::max<int64_t>(1, seen_));
}
double ScaleSignals::MeanOutput() const {
  return output_sum_ / static_cast<double>(std::max<int64_t>(1, seen_));
}

SloCapacity ScaleSignals::ShapeCapacity(double prompt, double output, int* shape,
                                        const std::vector<bool>* only, double prefill) const {
  for (size_t k = 0; k < models_.size(); ++k) {
    if (!usable_[k] || (only != nullptr && !(*only)[k])) continue;
    const ReplicaModel& m = models_[k];
    const SloCapacity c =
        CapacityWithinSlo(m, prompt, output, spec_->slo, TokenBudget(m, spec_->slo, max_batched_tokens_),
                          max_seqs_, kTpotHeadroom, prefill);
    if (c.rps > 0) {
      if (shape) *shape = static_cast<int>(k);
      return c;
    }
  }
  if (shape) *shape = first_usable_;
  return {};
}

const SloCapacity& ScaleSignals::Capacity() {
  const double prompt = seen_ > 0 ? prompt_sum_ / static_cast<double>(seen_) : 1024;
  const double output = seen_ > 0 ? output_sum_ / static_cast<double>(seen_) : 128;
  // The long prompts: the 1 - miss / 2 quantile, once enough requests were seen for it to be more than the
  // longest one (2 / miss of them: 200 for a 99 % objective). Of the tokens prefilled once any is measured (a
  // cached prefix is not prefilled again: the prompts would overstate the work), else of the prompts; while
  // too few are measured, the last verdict stands.
  const double miss = std::clamp(1 - spec_->slo.attainment_pct / 100, 1e-4, 1.0);
  const double need = 2 / miss;
  double tail = 0;
  if (static_cast<double>(prefilled_) >= need) {
    tail = PrefillQuantile(1 - miss / 2);
  } else if (prefilled_ > 0) {
    tail = std::max(0.0, cap_tail_);
  } else if (static_cast<double>(seen_) >= need) {
    tail = PromptQuantile(1 - miss / 2);
  }
  // The work of the mix: its prompts less what a prefix cache held, once as many are measured.
  const double prefill = static_cast<double>(prefilled_) >= need && prefill_prompt_sum_ > 0
                             ? prompt * (prefill_sum_ / prefill_prompt_sum_)
                             : prompt;
  if (std::abs(prompt - cap_prompt_) > 0.02 * cap_prompt_ ||
      std::abs(prefill - cap_prefill_) > 0.02 * cap_prefill_ ||
      std::abs(output - cap_output_) > 0.02 * cap_output_ || tail != cap_tail_) {
    cap_tail_ = tail;
    // Which shapes serve the long prompts in time: alone, and at some load while sustaining the mix
    // (CapacityWithinSlo keeps the concurrency where they get their first token in time). The capacity is of
    // the first usable one, at that concurrency; when none does, of the first usable shape that sustains the
    // mix, as if there were no long prompts, and every shape serves them (nothing is gained by passing any
    // over).
    const double ttft_s = static_cast<double>(spec_->slo.ttft_ms) / 1000;
    cap_ = {}, cap_shape_ = first_usable_;
    for (size_t k = 0; k < models_.size(); ++k) {
      const ReplicaModel& m = models_[k];
      const int64_t budget = TokenBudget(m, spec_->slo, max_batched_tokens_);
      const bool alone = tail <= 0 || ChunkedFirstTokenS(m, static_cast<int64_t>(tail), budget) <= ttft_s;
      const SloCapacity c = alone ? CapacityWithinSlo(m, prompt, output, spec_->slo, budget, max_seqs_,
                                                      kTpotHeadroom, prefill, tail)
                                  : SloCapacity{};
      serves_tail_[k] = tail <= 0 || c.rps > 0;
      if (usable_[k] && c.rps > 0 && cap_.rps <= 0) cap_ = c, cap_shape_ = static_cast<int>(k);
    }
    long_prompts_in_time_ = tail <= 0 || cap_.rps > 0;
    if (cap_.rps <= 0) {
      cap_ = ShapeCapacity(prompt, output, &cap_shape_, nullptr, prefill);
      serves_tail_.assign(models_.size(), true);
    }
    cap_prompt_ = prompt, cap_prefill_ = prefill, cap_output_ = output;
  }
  return cap_;
}

std::string ScaleSignals::LongPromptsLateWhy() const {
  if (long_prompts_in_time_) return {};
  const double miss = std::clamp(1 - spec_->slo.attainment_pct / 100, 1e-4, 1.0);
  return fmt::format(
      "no usable shape gives the long prompts (the longest 1 in {:.0f}: {:.0f} tokens prefilled) their first "
      "token within {} ms, not even at the lowest load: they miss however many replicas run (a shape with "
      "more GPUs per replica would serve them)",
      2 / miss, long_prompt_tokens(), spec_->slo.ttft_ms);
}

ScaleSample ScaleSignals::TakeSample(int64_t at_ms, double seconds, double in_flight, int ready) {
  Capacity();  // the mix the load is counted in
  ScaleSample s;
  s.at_ms = at_ms;
  s.arrival_rps = EquivalentRps(static_cast<double>(in_sample_), prompt_in_sample_, output_in_sample_,
                                cap_prompt_, cap_output_, seconds);
  in_sample_ = 0, prompt_in_sample_ = 0, output_in_sample_ = 0;
  s.in_flight = in_flight;
  s.ready = ready;
  return s;
}

ScaleBounds ScaleSignals::Bounds(int64_t cold_start_ms) {
  const SloCapacity& cap = Capacity();
  ScaleBounds b;
  b.min = spec_->min_replicas;
  b.max = spec_->max_replicas;
  b.target = std::max(1, cap.concurrency);
  b.capacity_rps = cap.rps;
  b.cold_start_ms = cold_start_ms;
  return b;
}

ReplacementStep PlanReplacement(int fitting_ready, int surging, int unfit_ready, int unfit_starting,
                                int desired) {
  ReplacementStep step;
  if (unfit_ready + unfit_starting == 0) {
    step.surge_counted = surging;  // nothing left to replace: a surge replica is an ordinary one
    return step;
  }
  step.cancel_unready_unfit = unfit_starting > 0;
  // Ready replicas after draining must stay at least `desired` (or all there are, when fewer).
  const int keep_ready = std::min(desired, fitting_ready + unfit_ready);
  step.drain_ready_unfit = std::clamp(fitting_ready + unfit_ready - keep_ready, 0, unfit_ready);
  step.surge_counted =
      std::min(surging, step.drain_ready_unfit + (step.cancel_unready_unfit ? unfit_starting : 0));
  const int unfit_left = unfit_ready - step.drain_ready_unfit;
  step.add_surge = unfit_left > 0 && surging - step.surge_counted == 0;
  return step;
}

}  // namespace awan::serving
