#include "server/replica_standin.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

#include "model/hardware.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;
using Kind = serving::ReplicaEngine::EventKind;

double NowS() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
int64_t UnixS() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// vLLM's histogram buckets for these series (vllm/engine/metrics.py).
const std::vector<double> kTtftBuckets = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,
                                          0.25,  0.5,   0.75, 1.0,  2.5,  5.0,  7.5,  10.0};
const std::vector<double> kTpotBuckets = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,
                                          0.3,  0.4,   0.5,  0.75,  1.0, 2.5};
const std::vector<double> kE2eBuckets = {0.3,  0.5,  0.8,  1.0,  1.5,  2.0,  2.5, 5.0,
                                         10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0};

// The filler the stand-in "generates": one word per token, deterministic per request.
std::string_view Word(uint64_t id, int k) {
  static constexpr std::array<std::string_view, 16> kWords = {
      " the",  " model", " serves", " tokens", " near",   " its",   " users", " in",
      " time", " and",   " within", " the",    " region", " where", " data",  " stays"};
  return kWords[(id * 7 + static_cast<uint64_t>(k)) % kWords.size()];
}

// The prompt's tokens, one per whitespace-separated word or token id; with `blocks`, also the hash of each
// full block of kKvBlockTokens tokens, chained (a block's id depends on every token before it, as vLLM's
// prefix cache keys blocks): prompts that share their first blocks share those ids.
class PromptScan {
 public:
  explicit PromptScan(std::vector<uint64_t>* blocks) : blocks_(blocks) {}
  void Text(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && Space(s[i])) ++i;
      const size_t from = i;
      while (i < s.size() && !Space(s[i])) ++i;
      if (i > from) Token(blocks_ == nullptr ? 0 : std::hash<std::string_view>{}(s.substr(from, i - from)));
    }
  }
  void Token(uint64_t t) {
    ++tokens_;
    if (blocks_ == nullptr) return;
    h_ = (h_ ^ t) * 0x100000001b3ULL + (h_ >> 29);
    if (++in_block_ == serving::kKvBlockTokens) blocks_->push_back(h_), in_block_ = 0;
  }
  int64_t tokens() const { return tokens_; }

 private:
  static bool Space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  std::vector<uint64_t>* blocks_;
  uint64_t h_ = 0xcbf29ce484222325ULL;
  int64_t tokens_ = 0, in_block_ = 0;
};

// OpenAI's error shape.
void OpenAiError(HttpResponse& res, int code, const std::string& message, const char* type) {
  res.status = code;
  res.set_content(
      Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}}.dump(
          -1, ' ', false, Json::error_handler_t::replace) +
          "\n",
      "application/json");
}
void BadRequest(HttpResponse& res, const std::string& message) {
  OpenAiError(res, 400, message, "invalid_request_error");
}

// The prompt's tokens: a string, a one-element list of strings, or a list of token ids.
StatusOr<int64_t> PromptTokens(const Json& body, bool chat, std::vector<uint64_t>* blocks) {
  PromptScan scan(blocks);
  if (chat) {
    const auto it = body.find("messages");
    if (it == body.end() || !it->is_array() || it->empty())
      return InvalidArgument("messages must be a non-empty list");
    if (it->size() > 4096) return InvalidArgument("more than 4096 messages");
    for (const Json& m : *it) {
      if (!m.is_object() || !m.contains("role")) return InvalidArgument("each message needs a role");
      const auto c = m.find("content");
      if (c == m.end() || c->is_null()) continue;
      if (c->is_string()) {
        scan.Text(c->get_ref<const std::string&>());
      } else if (c->is_array()) {
        for (const Json& part : *c)
          if (part.is_object() && part.value("type", "") == "text" && part.contains("text") &&
              part["text"].is_string())
            scan.Text(part["text"].get_ref<const std::string&>());
      } else {
        return InvalidArgument("a message's content must be a string or a list of parts");
      }
    }
    return std::max<int64_t>(1, scan.tokens());
  }
  const auto p = body.find("prompt");
  if (p == body.end()) return InvalidArgument("prompt is required");
  if (p->is_array() && !p->empty() && (*p)[0].is_number_integer()) {
    for (const Json& t : *p) {
      if (!t.is_number_integer()) return InvalidArgument("a prompt of token ids must hold integers only");
      scan.Token(static_cast<uint64_t>(t.get<int64_t>()));
    }
    return scan.tokens();
  }
  const Json* text = p->is_string()                                           ? &*p
                     : p->is_array() && p->size() == 1 && (*p)[0].is_string() ? &(*p)[0]
                                                                              : nullptr;
  if (text == nullptr)
    return InvalidArgument("prompt must be a string, one string in a list, or a list of token ids");
  scan.Text(text->get_ref<const std::string&>());
  return std::max<int64_t>(1, scan.tokens());
}

}  // namespace

void ReadAnswerTiming(const Json& j, double* ttft_s, double* tpot_s) {
  if (!j.is_object()) return;
  const auto t = j.find("timing");
  if (t == j.end() || !t->is_object()) return;
  const auto a = t->find("ttft_ms"), b = t->find("tpot_ms");
  if (a != t->end() && a->is_number()) *ttft_s = a->get<double>() / 1000;
  if (b != t->end() && b->is_number()) *tpot_s = b->get<double>() / 1000;
}

int64_t AnswerPrefilledTokens(const Json& j, int64_t prompt_tokens) {
  if (!j.is_object()) return prompt_tokens;
  const auto u = j.find("usage");
  if (u == j.end() || !u->is_object()) return prompt_tokens;
  const auto p = u->find("prompt_tokens"), d = u->find("prompt_tokens_details");
  if (p == u->end() || !p->is_number() || d == u->end() || !d->is_object()) return prompt_tokens;
  const auto c = d->find("cached_tokens");
  if (c == d->end() || !c->is_number()) return prompt_tokens;
  const double total = p->get<double>(), cached = c->get<double>();
  if (!(total > 0)) return prompt_tokens;
  const double share = 1 - std::clamp(cached / total, 0.0, 1.0);
  return std::max<int64_t>(1, std::llround(share * static_cast<double>(prompt_tokens)));
}

StatusOr<OpenAiRequest> ParseOpenAiRequest(const Json& body, bool chat, int32_t max_tokens_limit,
                                           bool prefix_blocks) {
  if (!body.is_object()) return InvalidArgument("the body must be a JSON object");
  OpenAiRequest r;
  if (body.contains("model")) {
    if (!body["model"].is_string()) return InvalidArgument("model must be a string");
    r.model = body["model"].get<std::string>();
  }
  AWAN_ASSIGN_OR_RETURN(r.prompt_tokens,
                        PromptTokens(body, chat, prefix_blocks ? &r.prefix_blocks : nullptr));
  for (const char* key : {"max_tokens", "max_completion_tokens"}) {
    if (!body.contains(key) || body[key].is_null()) continue;
    if (!body[key].is_number_integer() || body[key].get<int64_t>() < 1 ||
        body[key].get<int64_t>() > max_tokens_limit)
      return InvalidArgument(fmt::format("{} must be an integer from 1 to {}", key, max_tokens_limit));
    r.max_tokens = static_cast<int32_t>(body[key].get<int64_t>());
  }
  if (body.contains("n") && body["n"] != 1) return InvalidArgument("n must be 1");
  if (body.contains("stream") && !body["stream"].is_boolean() && !body["stream"].is_null())
    return InvalidArgument("stream must be true or false");
  r.stream = body.value("stream", false) == true;
  r.include_usage = r.stream && body.contains("stream_options") && body["stream_options"].is_object() &&
                    body["stream_options"].value("include_usage", false) == true;
  return r;
}

StatusOr<std::unique_ptr<ReplicaStandIn>> ReplicaStandIn::Create(ReplicaStandInOptions o) {
  const std::optional<AcceleratorHardware> hw = FindHardware(o.accelerator);
  if (!hw) return InvalidArgument("unknown accelerator " + o.accelerator);
  if (!(o.time_scale > 0) || o.time_scale > 10000) return InvalidArgument("time_scale must be in (0, 10000]");
  if (o.max_seqs < 1 || o.max_waiting < 1 || o.max_tokens_limit < 1 || o.max_batched_tokens < 1)
    return InvalidArgument("max_seqs, max_waiting, max_tokens_limit and max_batched_tokens must be positive");
  if (o.slo.ttft_ms <= 0 || o.slo.tpot_ms <= 0)
    return InvalidArgument("the SLO's ttft and tpot must be positive");
  AWAN_ASSIGN_OR_RETURN(serving::ReplicaModel m,
                        serving::ReplicaModel::Create(o.model, *hw, o.gpus, o.gpu_fraction));
  if (o.served_name.empty()) o.served_name = o.model.name;
  return std::unique_ptr<ReplicaStandIn>(new ReplicaStandIn(std::move(o), std::move(m)));
}

ReplicaStandIn::ReplicaStandIn(ReplicaStandInOptions o, serving::ReplicaModel m)
    : o_(std::move(o)),
      engine_(m, serving::TokenBudget(m, o_.slo, o_.max_batched_tokens), o_.max_seqs),
      ttft_(kTtftBuckets),
      tpot_(kTpotBuckets),
      e2e_(kE2eBuckets) {}

ReplicaStandIn::~ReplicaStandIn() { Stop(); }

int64_t ReplicaStandIn::kv_capacity_tokens() const { return engine_.model().KvCapacityTokens(); }

void ReplicaStandIn::Start() {
  std::lock_guard<std::mutex> l(mu_);
  if (thread_.joinable() || stop_) return;
  thread_ = std::thread([this] { Loop(); });
}

void ReplicaStandIn::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> l(mu_);
  for (auto& [id, a] : active_) a.out->Close();  // cut short: the client sees the stream end
  engine_.Clear();  // before the requests' blocks go: the engine may hold pointers to them
  active_.clear();
}

void ReplicaStandIn::RegisterRoutes(HttpServer& http) {
  // With a key, every route checks it before a byte of the body is read (a constant-time comparison).
  HeaderCheck check;
  if (!o_.api_key.empty()) {
    check = [key = "Bearer " + o_.api_key](HttpRequest& req, HttpResponse& res) {
      const std::string got = req.get_header_value("Authorization");
      unsigned diff = got.size() == key.size() ? 0 : 1;
      for (size_t i = 0; i < key.size(); ++i)
        diff |= i < got.size() ? static_cast<unsigned>(got[i] ^ key[i]) : 1U;
      if (diff == 0) return true;
      OpenAiError(res, 401, "this replica needs its API key", "AuthenticationError");
      return false;
    };
  }
  http.Route(
      "POST", "/v1/completions", [this](HttpRequest& req, HttpResponse& res) { Handle(req, res, false); },
      check);
  http.Route(
      "POST", "/v1/chat/completions", [this](HttpRequest& req, HttpResponse& res) { Handle(req, res, true); },
      check);
  http.Route(
      "GET", "/v1/models",
      [this](HttpRequest&, HttpResponse& res) {
        const Json m = {{"id", o_.served_name},
                        {"object", "model"},
                        {"created", 0},
                        {"owned_by", "awan"},
                        {"max_model_len", kv_capacity_tokens()}};
        res.set_content(Json{{"object", "list"}, {"data", Json::array({m})}}.dump() + "\n",
                        "application/json");
      },
      check);
  http.Route(
      "GET", "/health", [](HttpRequest&, HttpResponse& res) { res.set_content("", "text/plain"); }, check);
  http.Route(
      "GET", "/metrics",
      [this](HttpRequest&, HttpResponse& res) {
        res.set_content(RenderMetrics(), "text/plain; version=0.0.4");
      },
      check);
}

void ReplicaStandIn::Handle(const HttpRequest& req, HttpResponse& res, bool chat) {
  const Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object()) return BadRequest(res, "the body must be a JSON object");
  const StatusOr<OpenAiRequest> parsed = ParseOpenAiRequest(body, chat, o_.max_tokens_limit, true);
  if (!parsed.ok()) return BadRequest(res, parsed.status().message());
  if (!parsed->model.empty() && parsed->model != o_.served_name) {
    return OpenAiError(res, 404,
                       fmt::format("The model `{}` does not exist: this replica serves `{}`.", parsed->model,
                                   o_.served_name),
                       "NotFoundError");
  }
  const int64_t prompt = parsed->prompt_tokens, max_tokens = parsed->max_tokens;
  if (prompt + max_tokens > kv_capacity_tokens()) {
    return BadRequest(res, fmt::format("This model's maximum context length is {} tokens; the request has {} "
                                       "prompt tokens and max_tokens {}.",
                                       kv_capacity_tokens(), prompt, max_tokens));
  }
  const bool sse = parsed->stream;
  Active a;
  a.out = std::make_shared<ResponseStream>();
  a.chat = chat, a.sse = sse;
  a.include_usage = parsed->include_usage;
  a.created_s = UnixS();
  a.prompt = prompt;
  a.output = static_cast<int32_t>(max_tokens);
  a.arrive_s = NowS();
  a.blocks = parsed->prefix_blocks;
  uint64_t id = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (stop_) return OpenAiError(res, 503, "the replica is stopping", "ServiceUnavailable");
    if (static_cast<int64_t>(engine_.waiting()) >= o_.max_waiting) {
      res.set_header("Retry-After", "1");
      return OpenAiError(res, 429, fmt::format("{} requests wait already", o_.max_waiting), "RateLimitError");
    }
    id = next_id_++;
    a.id = fmt::format("{}-{}", chat ? "chatcmpl" : "cmpl", id);
    res.stream = a.out;
    Active& held = active_.emplace(id, std::move(a)).first->second;  // a map node: the blocks stay put
    engine_.Add(id, held.prompt, held.output, held.blocks.empty() ? nullptr : &held.blocks);
  }
  prompt_tokens_ += prompt;
  res.status = 200;
  res.content_type = sse ? "text/event-stream" : "application/json";
  if (sse) res.set_header("Cache-Control", "no-cache");
  res.stream->OnCancel([this, id] { Abort(id); });
  cv_.notify_one();
}

void ReplicaStandIn::Abort(uint64_t id) {
  std::lock_guard<std::mutex> l(mu_);
  const auto it = active_.find(id);
  if (it == active_.end()) return;
  engine_.Cancel(id);  // before its blocks go: the engine may hold a pointer to them
  active_.erase(it);
  ++aborted_;
}

void ReplicaStandIn::Loop() {
  std::vector<serving::ReplicaEngine::Event> events;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    events.clear();
    const std::optional<double> secs = engine_.StartIteration(events);
    Deliver(events, NowS());
    if (!secs) {
      cv_.wait(l, [this] { return stop_ || !engine_.idle(); });
      continue;
    }
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                               std::chrono::duration<double>(*secs / o_.time_scale));
    if (cv_.wait_until(l, until, [this] { return stop_; })) break;
    events.clear();
    engine_.EndIteration(events);
    Deliver(events, NowS());
  }
}

void ReplicaStandIn::Deliver(const std::vector<serving::ReplicaEngine::Event>& events, double now_s) {
  for (const serving::ReplicaEngine::Event& e : events) {
    const auto it = active_.find(e.id);
    if (it == active_.end()) continue;
    Active& a = it->second;
    if (e.kind == Kind::kDropped) {  // cannot happen (checked on arrival), but never leave a client waiting
      a.out->Close();
      active_.erase(it);
      continue;
    }
    if (e.kind == Kind::kFirstToken) a.first_s = now_s, a.cached = e.cached_tokens;
    if (e.kind == Kind::kFirstToken || e.kind == Kind::kToken) Token(a, e.id, a.produced + 1 == a.output);
    if (e.kind == Kind::kDone) {
      Finish(e.id, a, now_s);
      active_.erase(it);
    }
  }
}

// One generated token: an event of the stream, or a word of the answer.
void ReplicaStandIn::Token(Active& a, uint64_t id, bool last) {
  const std::string_view w = Word(id, a.produced++);
  ++generation_tokens_;
  if (!a.sse) {
    a.text += w;
    return;
  }
  Json choice = {{"index", 0}, {"finish_reason", last ? Json("length") : Json(nullptr)}};
  if (a.chat) {
    choice["delta"] = a.produced == 1 ? Json{{"role", "assistant"}, {"content", w}} : Json{{"content", w}};
  } else {
    choice["text"] = w;
    choice["logprobs"] = nullptr;
  }
  const Json chunk = {{"id", a.id},
                      {"object", a.chat ? "chat.completion.chunk" : "text_completion"},
                      {"created", a.created_s},
                      {"model", o_.served_name},
                      {"choices", Json::array({choice})}};
  a.out->Write("data: " + chunk.dump() + "\n\n");
}

void ReplicaStandIn::Finish(uint64_t, Active& a, double now_s) {
  const double scale = o_.time_scale;
  const double ttft = (a.first_s - a.arrive_s) * scale, e2e = (now_s - a.arrive_s) * scale;
  const double tpot = a.output > 1 ? (now_s - a.first_s) * scale / (a.output - 1) : 0;
  ttft_.Observe(ttft);
  if (a.output > 1) tpot_.Observe(tpot);
  e2e_.Observe(e2e);
  ++succeeded_;
  const Json usage = {{"prompt_tokens", a.prompt},
                      {"completion_tokens", a.output},
                      {"total_tokens", a.prompt + a.output},
                      {"prompt_tokens_details", {{"cached_tokens", a.cached}}}};
  const Json timing = {{"ttft_ms", ttft * 1000}, {"tpot_ms", tpot * 1000}, {"e2e_ms", e2e * 1000}};
  if (a.sse) {
    if (a.include_usage) {
      const Json last = {{"id", a.id},
                         {"object", a.chat ? "chat.completion.chunk" : "text_completion"},
                         {"created", a.created_s},
                         {"model", o_.served_name},
                         {"choices", Json::array()},
                         {"usage", usage},
                         {"timing", timing}};
      a.out->Write("data: " + last.dump() + "\n\n");
    }
    a.out->Write("data: [DONE]\n\n");
  } else {
    Json choice = {{"index", 0}, {"finish_reason", "length"}};
    if (a.chat) {
      choice["message"] = {{"role", "assistant"}, {"content", a.text}};
    } else {
      choice["text"] = a.text;
      choice["logprobs"] = nullptr;
    }
    const Json out = {{"id", a.id},
                      {"object", a.chat ? "chat.completion" : "text_completion"},
                      {"created", a.created_s},
                      {"model", o_.served_name},
                      {"choices", Json::array({choice})},
                      {"usage", usage},
                      {"timing", timing}};
    a.out->Write(out.dump() + "\n");
  }
  a.out->Close();
}

std::string ReplicaStandIn::RenderMetrics() const {
  const std::string label = fmt::format("model_name=\"{}\"", o_.served_name);
  size_t running = 0, waiting = 0;
  double kv = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    running = engine_.running(), waiting = engine_.waiting(), kv = engine_.kv_usage();
  }
  std::string s;
  auto gauge = [&](const char* name, const char* help, double v) {
    s += fmt::format("# HELP {0} {1}\n# TYPE {0} gauge\n{0}{{{2}}} {3}\n", name, help, label, v);
  };
  auto counter = [&](const char* name, const char* help, int64_t v, const std::string& extra = "") {
    s += fmt::format("# HELP {0} {1}\n# TYPE {0} counter\n{0}{{{2}{3}}} {4}\n", name, help, label, extra, v);
  };
  gauge("vllm:num_requests_running", "Number of requests in the batch.", static_cast<double>(running));
  gauge("vllm:num_requests_waiting", "Number of requests waiting for the batch.",
        static_cast<double>(waiting));
  gauge("vllm:gpu_cache_usage_perc", "KV cache usage (1 = full).", kv);
  counter("vllm:prompt_tokens_total", "Prompt tokens accepted.", prompt_tokens_.load());
  counter("vllm:generation_tokens_total", "Tokens generated.", generation_tokens_.load());
  counter("vllm:request_success_total", "Requests finished.", succeeded_.load(),
          ",finished_reason=\"length\"");
  counter("awan_replica_requests_aborted_total", "Requests whose client left before the end.",
          aborted_.load());
  s += ttft_.Render("vllm:time_to_first_token_seconds", "Time to first token (model time).", label);
  s += tpot_.Render("vllm:time_per_output_token_seconds", "Time per output token (model time).", label);
  s += e2e_.Render("vllm:e2e_request_latency_seconds", "Request latency (model time).", label);
  return s;
}

}  // namespace awan::server
