// `awan replica`: the inference-engine stand-in (server/replica_standin.h) as a process: an OpenAI-compatible
// server on virtual GPUs whose timing comes from the calibrated replica model.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace awan::cli {

struct ReplicaArgs {
  std::string listen = "127.0.0.1:8000";  // HOST:PORT (port 0: any free port, see --port-file)
  std::string port_file;                  // the bound port is written here once listening
  std::string served_name;
  std::string model_name = "llama-3.1-8b";  // Llama 3.1 8B, BF16
  double parameters_b = 8.03;
  double weights_gib = 14.96;
  int64_t kv_kib_per_token = 128;
  int layers = 32;
  std::string accelerator = "H100";
  int gpus = 1;
  double gpu_fraction = 1.0;
  int64_t ttft_ms = 1000, tpot_ms = 60;
  int max_num_seqs = 256;
  int64_t max_num_batched_tokens = 8192;
  double time_scale = 1.0;
  int64_t max_waiting = 4096;
  int http_threads = 4;
  double startup_s = 0;  // model seconds of loading and warm-up before it listens (weights + engine init)
};
void AddReplica(CLI::App& app, ReplicaArgs& a);
int RunReplica(const ReplicaArgs& a);

}  // namespace awan::cli
