// Request traces for the serving simulator (../shared/reference/INFERENCE.md §1), chosen by extension:
//   .csv    Azure LLM inference trace 2023 (Splitwise): TIMESTAMP,ContextTokens,GeneratedTokens, timestamps
//           "YYYY-MM-DD HH:MM:SS.fffffff"; arrivals are taken relative to the first row.
//   .jsonl  Mooncake (FAST'25): one object per line, {"timestamp": ms, "input_length": n, "output_length": n,
//           "hash_ids": [...]}; awan's generator adds an optional "user" (a fleet user location).
// Both are checked strictly (a bad field names the file, line and column or key); rows need not be sorted
// (the result is, stably, by arrival). Bounded: at most kMaxRequests requests, prompts and outputs of at most
// kMaxTokens tokens, at most kMaxTokens / 512 + 1 hash ids.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/request.h"

namespace awan::trace {

inline constexpr size_t kMaxRequests = 20'000'000;
inline constexpr int32_t kMaxTokens = 1 << 20;

StatusOr<std::vector<InferenceRequest>> ParseAzureLlmCsv(std::string_view text, std::string_view source);
StatusOr<std::vector<InferenceRequest>> ParseMooncakeJsonl(std::string_view text, std::string_view source);
// Reads `path` in the format its extension names.
StatusOr<std::vector<InferenceRequest>> ReadRequests(const std::string& path);
// Mooncake JSON lines (with "user" when set), the format ReadRequests reads back.
std::string FormatMooncakeJsonl(const std::vector<InferenceRequest>& requests);

}  // namespace awan::trace
