// `awan bench gateway`: replays a request trace (Azure CSV or Mooncake JSONL) against an OpenAI-compatible
// endpoint (awan serve's gateway, or one `awan replica` directly), open loop at the trace's times (faster
// with --speed), and reports what the clients saw: answers, refusals, errors, time to first token and
// latency, and the share of prompt tokens the replicas' prefix caches held (from the answers' usage). A
// trace's prompts share text as its hash ids say (Mooncake); without hash ids (Azure) no two share a block.
// Without a trace, every prompt is the same words (all but its last block cached after the first).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace awan::cli {

struct BenchGatewayArgs {
  std::string url = "http://127.0.0.1:8080";  // the endpoint's base (…/v1/completions is appended)
  std::string token;                          // Bearer token ($AWAN_TOKEN when empty)
  std::string model;                          // the service (gateway) or the served model (replica)
  std::string requests;                       // a trace; empty: --count requests of --prompt/--output tokens
  int64_t count = 100;
  double rate = 10;  // requests/s without a trace
  int64_t prompt_tokens = 512, output_tokens = 64;
  double seconds = 0;  // of the trace from its start (0: all of it)
  int scale = 1;       // each request this many times
  double speed = 1;    // the trace's time divided by this
  bool stream = true;
  int max_in_flight = 1024;
  double warmup_s = 0;  // the trace's first seconds replayed before it, not counted (as awan sim serve does)
  int64_t slo_ttft_ms = 0, slo_tpot_ms = 0;  // > 0: attainment, in the trace's time (wall x speed)
  std::string json;                          // write the figures here too
};
void AddBenchGateway(CLI::App& bench, BenchGatewayArgs& args);
int RunBenchGateway(const BenchGatewayArgs& args);

}  // namespace awan::cli
