// ReplicaEngine: the iteration loop of one replica of a served model, as vLLM runs it: continuous batching
// (sequences join and leave the batch between iterations), chunked prefill within a token budget, admission
// while the KV cache holds a sequence's prompt and answer, and a prefix cache over KV blocks (Mooncake
// hash ids: a cached block is not prefilled again). The iteration's duration comes from the ReplicaModel.
//
// It is time-free: the caller starts an iteration, lets the seconds it returns pass (simulated time in
// `awan sim serve`, wall time in `awan replica`) and ends it. So the simulator and the live replica stand-in
// run the same engine, and agree on what a replica does with a load.
//
// Pure and deterministic; thread-compatible (the caller serializes calls).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "serving/replica_model.h"
#include "serving/routers.h"

namespace awan::serving {

inline constexpr int64_t kKvBlockTokens = 512;  // tokens per KV block (one Mooncake hash id)

// The prompt tokens a replica's prefix cache spares a request whose first `cached_blocks` KV blocks it holds.
// At least one prompt token is always prefilled (its logits give the first token), and none of an empty
// prompt is cached. The engine applies it at admission; the gateway uses it to count a replica's outstanding
// work.
inline int64_t CachedPromptTokens(int64_t prompt_tokens, int64_t cached_blocks) {
  return std::clamp<int64_t>(cached_blocks * kKvBlockTokens, 0, std::max<int64_t>(0, prompt_tokens - 1));
}

class ReplicaEngine {
 public:
  // `token_budget`: prompt and decode tokens one iteration may hold (TokenBudget); `max_seqs`: sequences in
  // the batch at most (vLLM's max_num_seqs).
  ReplicaEngine(ReplicaModel model, int64_t token_budget, int max_seqs);

  // What an iteration did to a request.
  enum class EventKind : uint8_t {
    kFirstToken,  // its prompt is prefilled: the first answer token is out
    kToken,       // one more answer token
    kDone,        // its last token is out (follows that token's event)
    kDropped,     // it can never fit the KV cache: refused
  };
  struct Event {
    uint64_t id = 0;
    EventKind kind = EventKind::kToken;
    int64_t cached_tokens = 0;  // kFirstToken: the prompt's tokens found in the prefix cache (not prefilled)
  };

  // Queues a request: `prompt` tokens (>= 1), `output` answer tokens (>= 1), the prompt's KV block hash ids
  // (may be null; must outlive the request in the engine).
  void Add(uint64_t id, int64_t prompt, int32_t output, const std::vector<uint64_t>* hash_ids = nullptr);

  // Starts an iteration: admits waiting requests in order while the batch and the KV cache hold them (one
  // that never fits is dropped, as an event), then decodes every running sequence and prefills prompts in
  // chunks within the token budget. Returns the iteration's seconds, or nullopt when there is nothing to do.
  // REQUIRES: !busy().
  std::optional<double> StartIteration(std::vector<Event>& events);
  // Ends the iteration in flight: appends the tokens it produced and the requests it finished, in batch
  // order. REQUIRES: busy().
  void EndIteration(std::vector<Event>& events);
  // Removes one request (its client left), waiting or running: true if the engine held it. Its KV and its
  // outstanding tokens are given back at once.
  bool Cancel(uint64_t id);
  // Stops everything (the replica stopped): the ids of the requests it held, waiting ones first.
  std::vector<uint64_t> Clear();

  bool busy() const { return busy_; }
  size_t waiting() const { return waiting_.size(); }
  size_t running() const { return running_.size(); }
  bool idle() const { return waiting_.empty() && running_.empty(); }
  // Prompt and answer tokens not yet computed, of every request it holds (the routers' outstanding work).
  int64_t outstanding_tokens() const { return outstanding_; }
  // KV tokens reserved by running sequences, and the share of the cache that is.
  int64_t kv_used() const { return kv_used_; }
  double kv_usage() const;
  // How many leading blocks of a prompt are in the prefix cache.
  int CachedPrefixBlocks(std::span<const uint64_t> hash_ids) const { return prefix_.CachedPrefix(hash_ids); }
  const ReplicaModel& model() const { return model_; }
  int64_t token_budget() const { return budget_; }

 private:
  struct Waiting {
    uint64_t id = 0;
    int64_t prompt = 0;
    int32_t output = 0;
    const std::vector<uint64_t>* hash_ids = nullptr;
  };
  // A sequence in the batch: prefilling (prefill_left > 0) or decoding.
  struct Seq {
    uint64_t id = 0;
    int64_t prefill_left = 0;
    int32_t out_left = 0;
    int64_t context = 0;  // tokens in its KV cache
    int64_t chunk = 0;    // prompt tokens in the iteration in flight
    int64_t need = 0;     // KV tokens reserved (prompt + answer)
    bool decoding = false;
    int64_t cached = 0;  // prompt tokens found in the prefix cache
  };
  void Admit(std::vector<Event>& events);

  ReplicaModel model_;
  int64_t budget_ = 0;
  int max_seqs_ = 0;
  std::deque<Waiting> waiting_;
  std::vector<Seq> running_;
  int64_t kv_used_ = 0, outstanding_ = 0;
  bool busy_ = false;
  PrefixCache prefix_;
};

}  // namespace awan::serving
