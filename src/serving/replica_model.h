// ReplicaModel: how fast one replica of a served model runs on its accelerator (the roofline model of the
// inference reference, ../shared/reference/INFERENCE.md §4; calibrated in docs/benchmarks.md §8). A replica
// is one engine instance (vLLM-like) on `tp` GPUs of one node, or on a fraction of one GPU. Per iteration it
// runs the waiting prefills that fit a token budget (chunked prefill) and one decode step for every running
// sequence (continuous batching); this class gives the times of those pieces, the simulator composes them.
//   prefill of n tokens    max(2 P n / (tp F MFU), W / (tp B MBU))           compute-bound for long prompts
//   decode step, batch b,  max((W + C kv) / (tp B MBU), 2 P b / (tp F MFU)) + step overhead + TP all-reduce
//   C tokens of context                                                     memory-bound for small batches
//   KV capacity            (tp x memory x 0.9 - W) / kv tokens               new sequences wait when full
// P parameters, W weight bytes, kv KV bytes per token, F dense BF16 FLOP/s and B HBM bytes/s per GPU. A
// fraction f of one GPU gets f of its memory, bandwidth and compute (time-sliced or MPS sharing).
//
// Pure and deterministic; thread-compatible.
#pragma once

#include <cstdint>

#include "common/status.h"
#include "model/hardware.h"
#include "model/service.h"

namespace awan::serving {

// Defaults calibrated against published A100 measurements (docs/benchmarks.md §8), within the ranges the
// inference reference gives (MFU 0.4-0.6, MBU 0.6-0.8).
struct ReplicaModelOptions {
  double mfu = 0.6;                 // model FLOPs utilization in prefill
  double mbu = 0.7;                 // memory bandwidth utilization in decode
  double step_overhead_s = 0.001;   // per iteration: scheduling, sampling, kernel launches
  double tp_allreduce_s = 0.00002;  // per all-reduce and hop (log2 tp hops), tensor parallel only (NVLink)
  int layers = 32;                  // when the model does not say: all-reduces per step = 2 x layers
  double memory_share = 0.9;        // of GPU memory for weights and KV cache
};

class ReplicaModel {
 public:
  // `gpus`: devices of one node (tensor-parallel across them), or 1 with gpu_fraction < 1 for a shared
  // device. InvalidArgument if the weights do not fit the replica's memory.
  static StatusOr<ReplicaModel> Create(const ServedModel& model, const AcceleratorHardware& hw, int gpus,
                                       double gpu_fraction, ReplicaModelOptions o = {});

  // Seconds to prefill `tokens` prompt tokens in one iteration (without the iteration's step overhead).
  double PrefillS(int64_t tokens) const;
  // Seconds to the first token of a lone request with a `tokens`-token prompt: its prefill iteration.
  double FirstTokenS(int64_t tokens) const { return PrefillS(tokens) + step_overhead_; }
  // Seconds of one decode step for `batch` sequences holding `context_tokens` tokens of KV cache in all.
  double DecodeStepS(int64_t batch, int64_t context_tokens) const;
  // Seconds of one iteration of a mixed batch: `prefill_tokens` prompt tokens (chunks of prefills) and one
  // decode step for `batch` sequences holding `context_tokens` tokens of KV cache (weights read once):
  //   max(2 P (prefill + batch) / (tp F MFU), (W + C kv) / (tp B MBU)) + step overhead + TP all-reduce
  double IterationS(int64_t prefill_tokens, int64_t batch, int64_t context_tokens) const;
  // Tokens of KV cache the replica holds (prompt and generated tokens of all running sequences).
  int64_t KvCapacityTokens() const { return kv_capacity_; }
  // Seconds of compute per token in a batch (2 P / (tp F MFU)).
  double ComputeSPerToken() const { return 2.0 * params_ / flops_; }

 private:
  ReplicaModel() = default;
  double params_ = 0, weights_ = 0, kv_ = 0;  // parameters, bytes, bytes per token
  double flops_ = 0, bandwidth_ = 0;          // of the whole replica, at its utilization
  double step_overhead_ = 0, tp_term_ = 0;
  int64_t kv_capacity_ = 0;
};

inline constexpr double kTpotHeadroom = 0.8;  // the share of the TPOT objective an iteration may take

// The iteration's token budget (vLLM's max_num_batched_tokens) that keeps an iteration within `headroom` of
// the TPOT objective, as Sarathi-Serve sizes its chunks: prefill chunks never stall the running decodes past
// the objective. Within [256, max_batched_tokens].
int64_t TokenBudget(const ReplicaModel& m, const ServiceSlo& slo, int64_t max_batched_tokens = 8192,
                    double headroom = kTpotHeadroom);

// What one replica sustains within a service's SLO for a request mix (mean prompt and output tokens), in the
// steady state of continuous batching with chunked prefill: with b sequences decoding, each iteration also
// prefills b x prompt / output tokens (one request finishes per output/b iterations and another starts), so
// TPOT = the iteration time t(b) and the rate is b / (output x t(b)). The largest b whose TPOT is within
// `headroom` x the TPOT objective, whose first token is within half the TTFT objective (its prompt's chunks
// in the iteration budget left beside the batch, stretched by 1 / (1 - rho) for the prompts queued before it,
// rho the share of that room the prompts use), and whose KV cache fits. `prefill_tokens` (<= the prompt;
// < 0: all of it) is how much of each prompt is prefilled when a prefix cache holds the rest: it sets only
// the prefill work per iteration (and so rho); the KV cache, the attention context and the first token's own
// chunks count the whole prompt (the tail of first tokens is the requests the cache missed). With
// `tail_prefill_tokens` > 0 (the long prompts' prefill), b is also kept where such a prefill gets its first
// token within the TTFT objective (FirstTokenAtCapacityS): a replica fast enough for the long prompts only
// when idle is run at the concurrency that keeps them in time.
struct SloCapacity {
  int concurrency = 0;  // sequences in flight per replica (0: the SLO cannot be met even alone)
  double rps = 0;       // requests per second at that concurrency
  double tpot_s = 0;    // the iteration time there
  double room = 0;      // prefill tokens an iteration has beside the batch (the budget less the sequences)
  double rho = 0;       // the share of that room the mix's prompts use
  int64_t context = 0;  // KV tokens the batch holds
  double mean_prefill_s = 0;  // the mix's prefill (its chunks at the iteration time there)
};
SloCapacity CapacityWithinSlo(const ReplicaModel& m, double prompt_tokens, double output_tokens,
                              const ServiceSlo& slo, int64_t max_batched_tokens = 8192, int max_seqs = 256,
                              double headroom = kTpotHeadroom, double prefill_tokens = -1,
                              double tail_prefill_tokens = 0);

// Seconds to the first token of a request whose `prefill_tokens` are prefilled on replica `m` run at capacity
// `c` (the operating point CapacityWithinSlo chose): its chunks, each filling the room beside the batch (an
// iteration of room + batch tokens), after the prompts queued before it (rho / (1 - rho) of the mix's
// prefill on average). Infinite when `c` sustains nothing.
double FirstTokenAtCapacityS(const ReplicaModel& m, const SloCapacity& c, double prefill_tokens);

// Seconds to the first token of a lone request with a `prompt_tokens`-token prompt on a replica that prefills
// in chunks of at most `token_budget` tokens per iteration (one iteration per chunk, as the engine runs it).
double ChunkedFirstTokenS(const ReplicaModel& m, int64_t prompt_tokens, int64_t token_budget);

}  // namespace awan::serving
