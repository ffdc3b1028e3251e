// Services: models served near their users, scaled on load toward an SLO (read from a services file,
// docs/formats/services.md). A ServiceSpec says which model (its size and KV cache per token, for the replica
// performance model), how one replica runs on each accelerator it may use (GPUs, tensor parallelism, or a
// fraction of one device for a small model), the SLO (time to first token, time per output token), how many
// replicas (and whether it may scale to zero), its priority against batch work, where its users are, and the
// data its weights come from (a model fine-tuned on restricted Malaysian data may only be served in Malaysia:
// residency follows the data, core/residency.h, as it does for jobs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/strong_types.h"
#include "model/accelerator.h"

namespace awan {

// A served model's shape, from its published configuration.
struct ServedModel {
  std::string name;                // e.g. "llama-3.1-8b"
  double parameters_b = 0;         // billions of parameters
  int64_t weight_bytes = 0;        // in the serving precision
  int64_t kv_bytes_per_token = 0;  // 2 x layers x KV heads x head dim x bytes per element
  int layers = 0;  // transformer layers (tensor parallelism all-reduces twice per layer); 0: unknown
};

// How one replica runs on one accelerator model.
struct ReplicaShape {
  std::string accelerator;  // the fleet's model name
  AcceleratorId model = kNoAccelerator;
  int gpus = 1;                    // devices per replica (all in one node)
  int tensor_parallel = 1;         // = gpus for whole devices; 1 for a fraction
  GpuMilli gpu_milli = kWholeGpu;  // below a whole GPU: a fraction of one shared device
  CpuMilli cpu;
  MemMiB memory;
};

struct ServiceSlo {
  int64_t ttft_ms = 0;         // time to first token
  int64_t tpot_ms = 0;         // time per output token after the first
  double attainment_pct = 99;  // requests that must meet both
};

struct ServiceSpec {
  std::string name;
  std::string tenant;
  std::string model;                 // a ServedModel's name
  std::vector<ReplicaShape> shapes;  // in order of preference
  ServiceSlo slo;
  int min_replicas = 1, max_replicas = 1;
  bool scale_to_zero = false;  // min_replicas = 0 when idle (a cold start on the next request)
  // Against batch work: above 0, a scale-up may stop preemptible batch jobs (through the core's preemption
  // stage); 0 waits like a job.
  int priority = 0;
  std::vector<std::string> users;  // fleet user locations its requests come from
  std::vector<std::string> reads;  // data items its weights come from (checkpoints, datasets): residency
};

}  // namespace awan
