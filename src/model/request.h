// Inference requests as the serving simulator replays them (issue 17): when one arrives, how long its prompt
// and its answer are, the KV blocks of its prompt (Mooncake-style hash ids: equal ids across requests are a
// shared prefix) and where its user is. Readers for the Azure LLM 2023 CSV and Mooncake JSONL formats are in
// trace/request_trace.h; awan's own diurnal generator in sim/request_gen.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace awan {

struct InferenceRequest {
  int64_t at_ms = 0;  // arrival, from the start of the trace
  int32_t prompt_tokens = 0;
  int32_t output_tokens = 0;
  std::vector<uint64_t> hash_ids;  // one per 512-token block of the prompt, in order; empty: no prefix data
  std::string user;  // a fleet user location; "": the simulator picks one of the service's users
};

}  // namespace awan
