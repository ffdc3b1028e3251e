// ReplicaStandIn: `awan replica`, a stand-in for an inference engine (vLLM) on machines without GPUs. It
// serves the OpenAI completions and chat completions API (streamed as server-sent events too), /v1/models,
// /health and Prometheus metrics under vLLM's names, and answers with the timing of the calibrated replica
// model on virtual GPUs: requests go through the same serving::ReplicaEngine the simulator runs (continuous
// batching, chunked prefill within the SLO's token budget, KV admission), and each iteration takes the
// model's time in wall time (divided by `time_scale`, to replay a trace faster).
//
// What it computes is not text: its tokenizer counts one token per whitespace-separated word of the prompt
// (or per token id when the prompt is a list of ids), and it always generates `max_tokens` tokens (as vLLM
// with ignore_eos) of filler words. Timing figures (metrics, the `timing` field of an answer) are in the
// model's time, i.e. wall time x time_scale.
//
// Authenticated when given an API key (`VLLM_API_KEY` in its environment, as vLLM reads it: an argument would
// be visible to every user in /proc): then every route refuses a request without it (401), before reading its
// body. Bounded: request bodies by the HTTP server, max_tokens, prompt + answer by the KV cache (400 beyond),
// requests waiting for the batch by max_waiting (429 with Retry-After beyond). A client that disconnects
// has its request aborted.
//
// Thread-safe: handlers run on the HTTP server's threads, the engine on its own.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "model/service.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "serving/replica_engine.h"

namespace awan::server {

// An OpenAI completions (chat: chat completions) request body as the stand-in and the gateway read it, with
// one tokenizer (a token per whitespace-separated word of the prompt or the messages' text, or per token id):
// InvalidArgument naming what is wrong. `model` is "" when the body names none.
struct OpenAiRequest {
  std::string model;
  int64_t prompt_tokens = 0;
  int32_t max_tokens = 16;
  bool stream = false, include_usage = false;
  // With prefix_blocks: the chained hash of each full KV block of the prompt (serving::kKvBlockTokens
  // tokens), what the prefix cache is keyed by.
  std::vector<uint64_t> prefix_blocks;
};
StatusOr<OpenAiRequest> ParseOpenAiRequest(const nlohmann::json& body, bool chat, int32_t max_tokens_limit,
                                           bool prefix_blocks = false);

// What a replica's answer says, read defensively (the replica may be a tenant's own program: malformed or
// absent fields leave the outputs as they were, nothing throws). The timing, `timing.ttft_ms` and
// `timing.tpot_ms` (the stand-in's), where they are numbers.
void ReadAnswerTiming(const nlohmann::json& answer, double* ttft_s, double* tpot_s);
// The prompt tokens the replica prefilled, in the gateway's count (`prompt_tokens`): the share of the prompt
// its prefix cache did not hold (usage.prompt_tokens_details.cached_tokens over usage.prompt_tokens, vLLM's
// fields, in the replica's own tokens), at least 1; all of `prompt_tokens` when the answer does not say.
int64_t AnswerPrefilledTokens(const nlohmann::json& answer, int64_t prompt_tokens);

struct ReplicaStandInOptions {
  std::string served_name;  // the model name clients ask for ("" = the model's name)
  ServedModel model;
  std::string accelerator = "H100";  // a known hardware name (model/hardware.h)
  int gpus = 1;                      // tensor-parallel devices, or 1 with gpu_fraction < 1
  double gpu_fraction = 1.0;
  ServiceSlo slo{1000, 60, 99};       // sizes the token budget (serving::TokenBudget)
  int max_seqs = 256;                 // vLLM's max_num_seqs
  int64_t max_batched_tokens = 8192;  // vLLM's max_num_batched_tokens (the budget's ceiling)
  double time_scale = 1.0;            // > 1: iterations take 1/time_scale of the model's time
  int64_t max_waiting = 4096;         // requests queued for the batch at most (more: 429)
  int32_t max_tokens_limit = 32768;   // the largest max_tokens accepted
  // Non-empty: every route answers 401 unless the request carries "Authorization: Bearer <api_key>" (awan
  // serve gives each replica its own key, so that no other process on the node, another tenant's task among
  // them, can call it).
  std::string api_key;
};

class ReplicaStandIn {
 public:
  // InvalidArgument for an unknown accelerator, a model that does not fit, or bad options.
  static StatusOr<std::unique_ptr<ReplicaStandIn>> Create(ReplicaStandInOptions o);
  ~ReplicaStandIn();
  ReplicaStandIn(const ReplicaStandIn&) = delete;
  ReplicaStandIn& operator=(const ReplicaStandIn&) = delete;

  // POST /v1/completions, POST /v1/chat/completions, GET /v1/models, GET /health, GET /metrics.
  void RegisterRoutes(HttpServer& http);
  // Starts the engine's thread; Stop ends it and every open stream (idempotent; the destructor calls it).
  void Start();
  void Stop();

  std::string RenderMetrics() const;
  const ReplicaStandInOptions& options() const { return o_; }
  int64_t kv_capacity_tokens() const;

 private:
  struct Active {
    std::shared_ptr<ResponseStream> out;
    bool chat = false, sse = false, include_usage = false;
    std::string id;
    int64_t created_s = 0;
    int64_t prompt = 0;
    int32_t output = 0, produced = 0;
    double arrive_s = 0, first_s = -1;  // wall seconds (steady)
    std::string text;                   // the answer so far (non-streamed requests)
    std::vector<uint64_t> blocks;       // the prompt's KV block hashes (the prefix cache's keys)
    int64_t cached = 0;                 // prompt tokens the prefix cache held (not prefilled)
  };
  explicit ReplicaStandIn(ReplicaStandInOptions o, serving::ReplicaModel m);
  void Handle(const HttpRequest& req, HttpResponse& res, bool chat);
  void Loop();
  void Deliver(const std::vector<serving::ReplicaEngine::Event>& events, double now_s);
  void Token(Active& a, uint64_t id, bool last);
  void Finish(uint64_t id, Active& a, double now_s);
  void Abort(uint64_t id);

  ReplicaStandInOptions o_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  serving::ReplicaEngine engine_;
  std::map<uint64_t, Active> active_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;
  Histogram ttft_, tpot_, e2e_;
  std::atomic<int64_t> prompt_tokens_{0}, generation_tokens_{0}, succeeded_{0}, aborted_{0};
};

}  // namespace awan::server
