// The replica performance model: the roofline's regimes, tensor parallelism, fractions of a GPU, KV capacity.
#include "serving/replica_model.h"

#include <gtest/gtest.h>

namespace awan::serving {
namespace {

ServedModel Llama8b() { return ServedModel{"llama-3.1-8b", 8.0, 16'000'000'000, 128 * 1024}; }
ServedModel Llama70b() { return ServedModel{"llama-3.1-70b", 70.6, 141'000'000'000, 320 * 1024}; }

TEST(ReplicaModel, DecodeIsMemoryBoundAndPrefillComputeBound) {
  const AcceleratorHardware h100 = *FindHardware("H100");
  ReplicaModelOptions o;
  auto m = ReplicaModel::Create(Llama8b(), h100, 1, 1.0, o);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  // Batch 1, no context: reading the weights once at 70 % of 3.35 TB/s, plus the step overhead.
  EXPECT_NEAR(m->DecodeStepS(1, 0), 16e9 / (3.35e12 * 0.7) + o.step_overhead_s, 1e-9);
  // More sequences cost almost nothing until compute binds; more context costs its KV reads.
  EXPECT_NEAR(m->DecodeStepS(32, 0), m->DecodeStepS(1, 0), 1e-9);
  EXPECT_GT(m->DecodeStepS(32, 32 * 2000), m->DecodeStepS(32, 0));
  // A long prompt is compute-bound: linear in tokens; a short one costs a weight read.
  EXPECT_NEAR(m->PrefillS(8000) / m->PrefillS(4000), 2.0, 1e-9);
  EXPECT_NEAR(m->PrefillS(1), 16e9 / (3.35e12 * 0.7), 1e-9);
  // KV capacity: 90 % of 80 GB less the weights, per 128 KiB.
  EXPECT_EQ(m->KvCapacityTokens(), static_cast<int64_t>((80e9 * 0.9 - 16e9) / (128 * 1024)));
}

TEST(ReplicaModel, TensorParallelismFractionsAndWhatDoesNotFit) {
  const AcceleratorHardware h100 = *FindHardware("H100"), l40s = *FindHardware("L40S");
  EXPECT_FALSE(ReplicaModel::Create(Llama70b(), h100, 1, 1.0).ok());  // 141 GB on one 80 GB GPU
  auto tp2 = ReplicaModel::Create(Llama70b(), h100, 2, 1.0);
  ASSERT_TRUE(tp2.ok());  // 144 GB usable: it fits, with 3 GB (about 9,000 tokens) of KV cache
  EXPECT_LT(tp2->KvCapacityTokens(), 10000);
  auto tp4 = ReplicaModel::Create(Llama70b(), h100, 4, 1.0);
  ASSERT_TRUE(tp4.ok());
  EXPECT_GT(tp4->KvCapacityTokens(), 40 * tp2->KvCapacityTokens());
  auto one = ReplicaModel::Create(Llama8b(), h100, 1, 1.0),
       two = ReplicaModel::Create(Llama8b(), h100, 2, 1.0);
  ASSERT_TRUE(one.ok() && two.ok());
  // Two GPUs read the weights twice as fast, but pay the all-reduces.
  EXPECT_LT(two->DecodeStepS(1, 0), one->DecodeStepS(1, 0));
  const double overhead = ReplicaModelOptions{}.step_overhead_s;
  EXPECT_GT(two->DecodeStepS(1, 0), (one->DecodeStepS(1, 0) - overhead) / 2 + overhead);
  // Half an L40S: half its bandwidth and memory.
  auto half = ReplicaModel::Create(Llama8b(), l40s, 1, 0.5),
       whole = ReplicaModel::Create(Llama8b(), l40s, 1, 1.0);
  ASSERT_TRUE(half.ok() && whole.ok());
  EXPECT_LT(half->KvCapacityTokens(), whole->KvCapacityTokens() / 2);
  EXPECT_GT(half->DecodeStepS(1, 0), whole->DecodeStepS(1, 0));
  EXPECT_FALSE(ReplicaModel::Create(Llama8b(), l40s, 2, 0.5).ok());  // a fraction is of one GPU
}

// Calibration (docs/benchmarks.md §8): published FP16 measurements at batch 1, against the model with its
// default options. Llama 2 7B: 6.74 B parameters, 13.5 GB, 512 KiB of KV per token (32 layers, 32 KV heads);
// Llama 2 70B: 69 B, 138 GB, 320 KiB (80 layers, 8 KV heads).
struct Published {
  const char* source;
  const char* what;
  bool seventy;  // Llama 2 70B, else 7B
  const char* gpu;
  int tp;
  int64_t prompt;  // > 0: time to first token of this prompt; 0: a decode step
  double measured_ms;
};

double Modelled(const Published& p) {
  const ServedModel m = p.seventy ? ServedModel{"llama-2-70b", 69.0, 138'000'000'000, 320 * 1024, 80}
                                  : ServedModel{"llama-2-7b", 6.74, 13'500'000'000, 512 * 1024, 32};
  auto r = ReplicaModel::Create(m, *FindHardware(p.gpu), p.tp, 1.0);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) return 0;
  return 1000 * (p.prompt > 0 ? r->FirstTokenS(p.prompt) : r->DecodeStepS(1, 128));
}

TEST(ReplicaModel, ReproducesPublishedMeasurementsWithinAQuarter) {
  const Published within[] = {
      {"TensorRT-LLM v0.5 performance.md, A100 FP16 low latency", "7B TTFT, 2048 tokens", false, "A100", 1,
       2048, 133},
      {"TensorRT-LLM v0.5 performance.md, A100 FP16 low latency", "70B TTFT, 2048 tokens", true, "A100", 4,
       2048, 377},
      {"LMDeploy benchmark/a100_fp16.md, static inference", "7B TTFT, 2048 tokens", false, "A100", 1, 2048,
       139},
      {"LMDeploy benchmark/a100_fp16.md, static inference", "7B per output token", false, "A100", 1, 0, 10.0},
      {"LMDeploy benchmark/a100_fp16.md, static inference", "70B per output token", true, "A100", 4, 0, 30.0},
      {"Splitwise profiling (splitwise-sim data/perf_model.csv)", "70B prompt, 2048 tokens", true, "A100", 4,
       2048, 403},
  };
  for (const Published& p : within) {
    const double m = Modelled(p);
    EXPECT_NEAR(m / p.measured_ms, 1.0, 0.25)
        << p.source << ": " << p.what << " on " << p.tp << " x " << p.gpu << ": modelled " << m
        << " ms, measured " << p.measured_ms;
  }
}

}  // namespace
}  // namespace awan::serving
