#include "cli/bench_gateway.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "trace/request_trace.h"

namespace awan::cli {
namespace {

using Json = nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

double Pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))];
}

std::string Words(int64_t n) {
  std::string s;
  s.reserve(static_cast<size_t>(std::max<int64_t>(1, n)) * 2);
  for (int64_t i = 0; i < std::max<int64_t>(1, n); ++i) s += "w ";
  return s;
}

// A request's prompt as text the replicas' prefix caches key the way the trace means (awan replica hashes
// each 512-token block, chained, one token per word): with hash ids, each block is its id's word and then
// filler, so requests that share their first ids share those blocks' text and nothing more (Mooncake's
// meaning); without (Azure, or --count without a trace), the request's own word first, so no two prompts
// share a block (the simulator caches nothing for them either).
std::string PromptText(const InferenceRequest& r, size_t index) {
  const int64_t n = std::max<int32_t>(1, r.prompt_tokens);
  if (r.hash_ids.empty()) return fmt::format("r{} ", index) + Words(n - 1);
  std::string s;
  s.reserve(static_cast<size_t>(n) * 2 + r.hash_ids.size() * 18);
  int64_t left = n;
  for (const uint64_t id : r.hash_ids) {
    if (left <= 0) break;
    const int64_t block = std::min<int64_t>(512, left);
    s += fmt::format("h{:x} ", id);
    for (int64_t k = 1; k < block; ++k) s += "w ";
    left -= block;
  }
  if (left > 0) s += fmt::format("r{} ", index) + Words(left - 1);  // past the ids: the request's own
  return s;
}

// The last `"cached_tokens":N` in an answer (a whole body, or a stream's usage chunk): -1 when not seen.
void ReadCached(std::string_view data, int64_t* cached) {
  constexpr std::string_view kKey = "\"cached_tokens\":";
  const size_t at = data.rfind(kKey);
  if (at == std::string_view::npos) return;
  int64_t v = 0;
  bool any = false;
  for (size_t k = at + kKey.size(); k < data.size() && data[k] >= '0' && data[k] <= '9'; ++k)
    v = v * 10 + (data[k] - '0'), any = true;
  if (any) *cached = v;
}

struct Outcome {
  int status = 0;  // 0: no answer
  double ttft_s = -1, e2e_s = 0;
  int64_t cached = -1;  // prompt tokens the replica's prefix cache held, as its usage says (-1: not said)
};

}  // namespace

void AddBenchGateway(CLI::App& bench, BenchGatewayArgs& a) {
  CLI::App* c = bench.add_subcommand(
      "gateway",
      "Replay a request trace against an OpenAI-compatible endpoint (awan serve's gateway, awan replica)");
  c->add_option("--url", a.url, "the endpoint's base URL")->capture_default_str();
  c->add_option("--token", a.token, "API token (default $AWAN_TOKEN)");
  c->add_option("--model", a.model, "the model (a service's name, for the gateway)")->required();
  c->add_option("--requests", a.requests, "a request trace (Azure LLM CSV or Mooncake JSONL)");
  c->add_option("--count", a.count, "without a trace: this many requests")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  c->add_option("--rate", a.rate, "without a trace: requests per second")->capture_default_str();
  c->add_option("--prompt-tokens", a.prompt_tokens,
                "without a trace: prompt tokens (each prompt its own: none shares a cached block)")
      ->capture_default_str();
  c->add_option("--output-tokens", a.output_tokens, "without a trace: answer tokens")->capture_default_str();
  c->add_option("--seconds", a.seconds, "replay this many seconds of the trace (0: all)")
      ->capture_default_str();
  c->add_option("--scale", a.scale, "send each request this many times")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  c->add_option("--speed", a.speed, "replay this many times faster than recorded")->capture_default_str();
  c->add_option("--stream", a.stream, "stream the answers (server-sent events): time to first token is seen")
      ->capture_default_str();
  c->add_option("--max-in-flight", a.max_in_flight, "requests open at once at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--warmup-s", a.warmup_s,
                "replay the trace's first seconds before it, not counted (as awan sim serve --warmup-s)")
      ->capture_default_str();
  c->add_option("--slo-ttft-ms", a.slo_ttft_ms,
                "with --slo-tpot-ms: report attainment (in the trace's time)");
  c->add_option("--slo-tpot-ms", a.slo_tpot_ms,
                "with --slo-ttft-ms: report attainment (in the trace's time)");
  c->add_option("--json", a.json, "write the figures to this file too");
}

int RunBenchGateway(const BenchGatewayArgs& a) {
  std::vector<InferenceRequest> reqs;
  size_t warmup = 0;  // the first `warmup` requests are not counted
  if (!a.requests.empty()) {
    auto r = trace::ReadRequests(a.requests);
    if (!r.ok()) {
      fmt::print(stderr, "awan bench gateway: {}\n", r.status().message());
      return 1;
    }
    for (const InferenceRequest& x : *r) {
      if (a.seconds > 0 && static_cast<double>(x.at_ms - r->front().at_ms) >= a.seconds * 1000) break;
      for (int k = 0; k < a.scale; ++k) reqs.push_back(x);
    }
    const int64_t t0 = reqs.empty() ? 0 : reqs.front().at_ms;
    for (InferenceRequest& x : reqs) x.at_ms -= t0;
    // Warm-up: the first warmup_s of the trace, then the trace again from its start (counted).
    const auto warm_ms = static_cast<int64_t>(a.warmup_s * 1000);
    if (warm_ms > 0) {
      std::vector<InferenceRequest> both;
      for (const InferenceRequest& x : reqs)
        if (x.at_ms < warm_ms) both.push_back(x);
      warmup = both.size();
      for (InferenceRequest x : reqs) {
        x.at_ms += warm_ms;
        both.push_back(x);
      }
      reqs = std::move(both);
    }
  } else {
    for (int64_t i = 0; i < a.count; ++i) {
      InferenceRequest x;
      x.at_ms = static_cast<int64_t>(static_cast<double>(i) * 1000 / std::max(0.001, a.rate));
      x.prompt_tokens = static_cast<int32_t>(a.prompt_tokens);
      x.output_tokens = static_cast<int32_t>(a.output_tokens);
      reqs.push_back(x);
    }
  }
  if (!(a.speed > 0)) {
    fmt::print(stderr, "awan bench gateway: --speed must be > 0\n");
    return 1;
  }
  const std::string token =
      !a.token.empty() ? a.token : (std::getenv("AWAN_TOKEN") ? std::getenv("AWAN_TOKEN") : "");
  std::vector<Outcome> out(reqs.size());
  std::mutex mu;
  std::condition_variable cv;
  int open = 0;
  std::vector<std::thread> threads;
  const auto start = SteadyClock::now();
  for (size_t i = 0; i < reqs.size(); ++i) {
    const InferenceRequest& r = reqs[i];
    std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(
                                              static_cast<double>(r.at_ms) * 1000 / a.speed)));
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return open < a.max_in_flight; });
      ++open;
    }
    Json body = {{"model", a.model},
                 {"prompt", PromptText(r, i)},
                 {"max_tokens", std::max<int32_t>(1, r.output_tokens)},
                 {"stream", a.stream}};
    if (a.stream) body["stream_options"] = {{"include_usage", true}};
    threads.emplace_back([&, i, b = body.dump()] {
      httplib::Client c(a.url);
      c.set_read_timeout(600, 0);
      c.set_connection_timeout(5, 0);
      httplib::Request hr;
      hr.method = "POST";
      hr.path = "/v1/completions";
      hr.body = b;
      hr.set_header("Content-Type", "application/json");
      if (!token.empty()) hr.set_header("Authorization", "Bearer " + token);
      const auto t0 = SteadyClock::now();
      Outcome& o = out[i];
      hr.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
        if (o.ttft_s < 0 && a.stream && std::string_view(data, n).find("\"text\"") != std::string_view::npos)
          o.ttft_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
        ReadCached(std::string_view(data, n), &o.cached);
        return true;
      };
      httplib::Response resp;
      httplib::Error err;
      if (c.send(hr, resp, err)) o.status = resp.status;
      o.e2e_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
      std::lock_guard<std::mutex> l(mu);
      --open;
      cv.notify_one();
    });
  }
  for (std::thread& t : threads) t.join();
  const double wall = std::chrono::duration<double>(SteadyClock::now() - start).count();
  int64_t ok = 0, refused = 0, failed = 0, met = 0, cached = 0, prompted = 0;
  std::vector<double> ttft, e2e;
  for (size_t i = warmup; i < out.size(); ++i) {
    const Outcome& o = out[i];
    if (o.status == 200 && o.ttft_s >= 0) {
      const int32_t n = std::max<int32_t>(1, reqs[i].output_tokens);
      const double tpot = n > 1 ? (o.e2e_s - o.ttft_s) / (n - 1) : 0;
      met += o.ttft_s * a.speed * 1000 <= static_cast<double>(a.slo_ttft_ms) &&
             tpot * a.speed * 1000 <= static_cast<double>(a.slo_tpot_ms);
    }
    if (o.status == 200 && o.cached >= 0)
      cached += o.cached, prompted += std::max<int32_t>(1, reqs[i].prompt_tokens);
    if (o.status == 200) {
      ++ok;
      e2e.push_back(o.e2e_s);
      if (o.ttft_s >= 0) ttft.push_back(o.ttft_s);
    } else if (o.status == 429 || o.status == 503) {
      ++refused;
    } else {
      ++failed;
    }
  }
  const size_t counted = reqs.size() - warmup;
  Json j = {{"requests", counted},
            {"warmup_requests", warmup},
            {"ok", ok},
            {"refused", refused},
            {"failed", failed},
            {"wall_s", wall},
            {"answers_per_s", static_cast<double>(ok) / wall},
            {"ttft_p50_ms", Pct(ttft, 0.5) * 1000},
            {"ttft_p99_ms", Pct(ttft, 0.99) * 1000},
            {"e2e_p50_ms", Pct(e2e, 0.5) * 1000},
            {"e2e_p99_ms", Pct(e2e, 0.99) * 1000}};
  if (prompted > 0) {
    j["prompt_tokens_cached_pct"] = 100.0 * static_cast<double>(cached) / static_cast<double>(prompted);
    fmt::print("prompt tokens the replicas' prefix caches held (as their answers say): {:.1f} %\n",
               j["prompt_tokens_cached_pct"].get<double>());
  }
  if (a.slo_ttft_ms > 0 && a.slo_tpot_ms > 0 && counted > 0) {
    j["slo_attainment_pct"] = 100.0 * static_cast<double>(met) / static_cast<double>(counted);
    fmt::print(
        "SLO attainment (first token <= {} ms, then <= {} ms per token, in the trace's time): {:.2f} %\n",
        a.slo_ttft_ms, a.slo_tpot_ms, j["slo_attainment_pct"].get<double>());
  }
  fmt::print(
      "{} requests (after {} of warm-up) in {:.1f} s: {} answered, {} refused (429/503), {} failed; {:.1f} "
      "answers/s\n",
      counted, warmup, wall, ok, refused, failed, j["answers_per_s"].get<double>());
  const double ttft50 = j["ttft_p50_ms"].get<double>(), ttft99 = j["ttft_p99_ms"].get<double>();
  const std::string first = ttft99 > 0
                                ? fmt::format("first token p50 {:.1f} ms, p99 {:.1f} ms", ttft50, ttft99)
                                : std::string("first token not seen (answers not streamed)");
  fmt::print(
      "wall time (divide nothing: as the client saw it): {}; whole answer p50 {:.1f} ms, p99 {:.1f} ms\n",
      first, j["e2e_p50_ms"].get<double>(), j["e2e_p99_ms"].get<double>());
  if (!a.json.empty()) std::ofstream(a.json) << j.dump(1) << "\n";
  return failed > 0 ? 2 : 0;
}

}  // namespace awan::cli
