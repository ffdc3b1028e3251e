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
  // Tokens of KV cache the replica holds (prompt and generated tokens of all running sequences).
  int64_t KvCapacityTokens() const { return kv_capacity_; }

 private:
  ReplicaModel() = default;
  double params_ = 0, weights_ = 0, kv_ = 0;  // parameters, bytes, bytes per token
  double flops_ = 0, bandwidth_ = 0;          // of the whole replica, at its utilization
  double step_overhead_ = 0, tp_term_ = 0;
  int64_t kv_capacity_ = 0;
};

}  // namespace awan::serving
