// ScaleSignals: what a service's autoscaler is told, computed one way for `awan sim serve` and `awan serve`:
// the request mix seen so far and what one replica sustains within the SLO for it (CapacityWithinSlo of the
// first usable shape that can, and that gives the mix's long prompts their first token in time: the prompt
// at the 1 - (1 - attainment) / 2 quantile, 99.5 % for a 99 % objective, within the TTFT objective alone and
// at the concurrency the capacity is of, which is kept that low; when no shape does, the first that can
// serve the mix; of the tokens really prefilled, a prefix cache's hits left out, once measured: Prefilled),
// the arrivals since the last sample counted in
// requests of that mix (EquivalentRps: a burst of long prompts counts for the requests of the mix it takes
// to bring as many tokens), and the bounds the scaler decides within.
//
// Pure and deterministic; thread-compatible.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/autoscaler.h"
#include "model/service.h"
#include "serving/replica_model.h"

namespace awan::serving {

// A load in requests/s of the mix a capacity was computed for (mix_prompt, mix_output mean tokens; <= 0:
// requests only), from `requests` with these tokens over `seconds`.
double EquivalentRps(double requests, double prompt_tokens, double output_tokens, double mix_prompt,
                     double mix_output, double seconds);

// Replicas on a shape that no longer fits the mix (ScaleSignals::Fits: the mix moved, or the first replicas
// started on the prior mix's shape) are replaced by a rolling update, in `awan sim serve` and `awan serve`
// alike: one fitting replica is started beside them as a surge (not counted for the autoscaler, so it is not
// scaled away), a ready unfit one drains for each ready fitting one beyond what keeps `desired` ready (never
// fewer ready than wanted) and a surge replica then counts as the one it replaced; unfit replicas not yet
// ready are cancelled (they hold no requests); a scale-down takes unfit ones first.
struct ReplacementStep {
  int drain_ready_unfit = 0;  // how many ready unfit replicas to drain now
  int surge_counted = 0;      // how many surge replicas now count as the ones drained
  bool cancel_unready_unfit = false;
  bool add_surge = false;  // start one fitting replica beside the unfit ones
};
ReplacementStep PlanReplacement(int fitting_ready, int surging, int unfit_ready, int unfit_starting,
                                int desired);
// The replicas the autoscaler is told of: every one not draining, less the surge of a replacement.
inline int CountedReplicas(int alive, int surging) { return alive - surging; }

class ScaleSignals {
 public:
  // `models[k]` is shape k's replica model and `usable[k]` whether the service may use it (it meets the TPOT
  // objective and exists where the service may run). `max_batched_tokens`, `max_seqs`: the engine's limits.
  ScaleSignals(const ServiceSpec& spec, std::vector<ReplicaModel> models, std::vector<bool> usable,
               int64_t max_batched_tokens, int max_seqs);

  // A request arrived: counted in the mix and in the current sample.
  void Arrive(double prompt_tokens, double output_tokens);
  // Counted in the mix only (a trace read ahead), or the mix forgotten.
  void CountMix(double prompt_tokens, double output_tokens);
  // A request's replica prefilled `tokens` of its prompt's `prompt_tokens` (less the prefix its KV cache
  // held): `awan sim serve` at its first token, `awan serve` from every answer's usage (an answer that does
  // not say, and a failed request, as all of its prompt). Once as many are measured as the long-prompt check
  // needs (2 / (1 - attainment)), it reads these, not the prompts (until then its last verdict stands), and
  // the capacity prefills only the share of the prompts' tokens the caches did not hold (a prefix cache makes
  // a replica serve more of the same mix; the share is cumulative since the last ResetMix).
  void Prefilled(double tokens, double prompt_tokens);
  void ResetMix();
  double MeanPrompt() const;  // of the mix (0 before any request)
  double MeanOutput() const;

  // What one replica sustains for the mix so far (a prior of 1,024 prompt and 128 answer tokens before any
  // request), recomputed when the mix moved by more than 2 %; capacity_shape() is the shape it is of.
  const SloCapacity& Capacity();
  int capacity_shape() const { return cap_shape_; }
  const SloCapacity& last_capacity() const { return cap_; }  // as last computed (no update)
  double mix_prompt() const { return cap_prompt_; }          // the mix Capacity() is of
  double mix_prefill() const { return cap_prefill_; }        // of which prefilled (mix_prompt, or less)
  double mix_output() const { return cap_output_; }
  // The first usable shape's capacity for a mix (and which shape; the first usable one when none can),
  // among the shapes `only` marks when given.
  // `prefill` (< 0: all of the prompt) as CapacityWithinSlo's prefill_tokens.
  SloCapacity ShapeCapacity(double prompt, double output, int* shape, const std::vector<bool>* only = nullptr,
                            double prefill = -1) const;
  // Whether shape k may serve the mix: usable, and its long prompts in time when some usable shape can.
  bool ServesMix(int k) const {
    return usable_[static_cast<size_t>(k)] && serves_tail_[static_cast<size_t>(k)];
  }
  // Whether replicas of shape k fit the mix as it is now: the capacity's shape or a later usable one that
  // serves the long prompts in time. Replicas that do not are replaced (PlanReplacement).
  bool Fits(int k) const { return k >= cap_shape_ && ServesMix(k); }
  // The prompt length at quantile q of the mix (the upper end of its histogram bucket, at most 4.4 % above
  // it); 0 before any request.
  double PromptQuantile(double q) const;
  double PrefillQuantile(double q) const;  // the same, of the tokens prefilled (Prefilled)
  // The long prompts the last Capacity() kept in time (0: too few requests yet to tell), and whether some
  // usable shape gives them their first token within the TTFT objective: when none does, they miss however
  // many replicas run, and the service cannot meet its attainment objective on this mix.
  double long_prompt_tokens() const { return std::max(0.0, cap_tail_); }
  bool long_prompts_in_time() const { return long_prompts_in_time_; }
  // Why they miss, as `awan sim serve` warns and `awan serve` decides ("no usable shape gives the long
  // prompts ..."); empty while they are in time.
  std::string LongPromptsLateWhy() const;

  // The sample that ends now: the arrivals since the previous one over `seconds`, in requests of the
  // capacity's mix, with what is in flight and ready. Starts the next sample.
  ScaleSample TakeSample(int64_t at_ms, double seconds, double in_flight, int ready);
  // The bounds for a decision: the service's min and max, the capacity as target (sequences per replica)
  // and rate, and the expected cold start.
  ScaleBounds Bounds(int64_t cold_start_ms);

  const std::vector<ReplicaModel>& models() const { return models_; }
  const std::vector<bool>& usable() const { return usable_; }
  int first_usable() const { return first_usable_; }
  bool servable() const { return servable_; }

 private:
  const ServiceSpec* spec_;
  std::vector<ReplicaModel> models_;
  std::vector<bool> usable_;
  int64_t max_batched_tokens_;
  int max_seqs_;
  int first_usable_ = 0;
  bool servable_ = true;
  // Prompts of the mix by length: bucket i holds lengths in [2^(i/16), 2^((i+1)/16)), up to 2^24.
  static constexpr int kPromptBuckets = 384;
  using Histogram = std::array<int64_t, kPromptBuckets>;
  static void Count(Histogram& h, double tokens);
  static double Quantile(const Histogram& h, int64_t count, double q);
  Histogram prompt_hist_{}, prefill_hist_{};
  int64_t prefilled_ = 0;
  double prefill_sum_ = 0, prefill_prompt_sum_ = 0;  // tokens prefilled, of prompts of these tokens
  std::vector<bool> serves_tail_;  // per shape: serves the mix's long prompts in time (or none can)
  int64_t seen_ = 0, in_sample_ = 0;
  double prompt_sum_ = 0, output_sum_ = 0, prompt_in_sample_ = 0, output_in_sample_ = 0;
  SloCapacity cap_;
  double cap_prompt_ = -1, cap_prefill_ = -1, cap_output_ = -1, cap_tail_ = -1;
  int cap_shape_ = 0;
  bool long_prompts_in_time_ = true;
};

}  // namespace awan::serving
