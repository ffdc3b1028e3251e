// `awan replica` end to end on 127.0.0.1: the real binary answers the OpenAI completions and chat API (whole
// and streamed as server-sent events) with the replica model's timing, refuses what it cannot serve with
// OpenAI-shaped errors, batches concurrent requests, aborts a request whose client left, and shows it all
// under vLLM's metric names.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/serve_harness.h"
#include "model/hardware.h"
#include "serving/replica_model.h"

namespace {

using namespace awan::testing;  // NOLINT

// One `awan replica` process (Llama 3.1 8B on one virtual H100 unless told).
class Replica {
 public:
  explicit Replica(const std::string& dir, std::vector<std::string> extra = {}) {
    const std::string port_file = dir + "/port";
    const std::string log = dir + "/replica.log";
    std::vector<std::string> args = {"replica", "--listen", "127.0.0.1:0", "--port-file", port_file};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = SpawnAwan(args, log);
    for (int i = 0; i < 200 && port_ == 0; ++i) {  // at most 10 s
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      std::ifstream f(port_file);
      f >> port_;
    }
  }
  ~Replica() {
    if (pid_ > 0) kill(pid_, SIGKILL), waitpid(pid_, nullptr, 0);
  }
  int port() const { return port_; }
  // Stops it with SIGTERM; its exit status.
  int Terminate() {
    int st = 0;
    kill(pid_, SIGTERM);
    waitpid(pid_, &st, 0);
    pid_ = -1;
    return st;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

httplib::Client Client(int port) {
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(60, 0);
  return c;
}

// A metric's value on the replica's /metrics ("" when absent).
double Metric(httplib::Client& c, const std::string& series) {
  auto r = c.Get("/metrics");
  if (!r || r->status != 200) return -1;
  const std::regex re("(^|\n)" + std::regex_replace(series, std::regex(R"([{}\[\]().*+?^$|\\])"), R"(\$&)") +
                      " ([0-9.e+-]+)");
  std::smatch m;
  return std::regex_search(r->body, m, re) ? std::stod(m[2]) : -1;
}

const char* kLabel = "{model_name=\"llama-3.1-8b\"}";

// The model the replica runs by default, for the timing's lower bounds.
awan::serving::ReplicaModel DefaultModel() {
  const awan::ServedModel m{"llama-3.1-8b", 8.03, static_cast<int64_t>(14.96 * 1024 * 1024 * 1024),
                            128 * 1024, 32};
  return *awan::serving::ReplicaModel::Create(m, *awan::FindHardware("H100"), 1, 1.0);
}

TEST(Replica, AnswersCompletionsAndChatWithTheModelsTiming) {
  Replica r(TempDir("replica"));
  ASSERT_GT(r.port(), 0);
  auto c = Client(r.port());
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  ASSERT_EQ(models->status, 200);
  EXPECT_EQ(Json::parse(models->body)["data"][0]["id"], "llama-3.1-8b");
  EXPECT_EQ(c.Get("/health")->status, 200);

  // A 2,000-word prompt and 20 tokens: the usage counts them; the answer takes at least the model's time.
  std::string prompt;
  for (int i = 0; i < 2000; ++i) prompt += "word ";
  const Json req = {{"model", "llama-3.1-8b"}, {"prompt", prompt}, {"max_tokens", 20}};
  auto res = c.Post("/v1/completions", req.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const Json out = Json::parse(res->body);
  EXPECT_EQ(out["object"], "text_completion");
  EXPECT_EQ(out["usage"]["prompt_tokens"], 2000);
  EXPECT_EQ(out["usage"]["completion_tokens"], 20);
  EXPECT_EQ(out["choices"][0]["finish_reason"], "length");
  const std::string text = out["choices"][0]["text"];
  EXPECT_EQ(std::count(text.begin(), text.end(), ' '), 20) << text;  // one word per token
  const awan::serving::ReplicaModel m = DefaultModel();
  EXPECT_GE(out["timing"]["ttft_ms"].get<double>(), m.IterationS(2000, 0, 0) * 1000 * 0.999);
  EXPECT_GE(out["timing"]["tpot_ms"].get<double>(), m.DecodeStepS(1, 2001) * 1000 * 0.999);

  // Chat, streamed: one event per token, the usage when asked, then [DONE].
  const Json chat = {
      {"messages", {{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}}},
      {"max_tokens", 5},
      {"stream", true},
      {"stream_options", {{"include_usage", true}}}};
  std::string body;
  auto sres = c.Post("/v1/chat/completions", httplib::Headers{}, chat.dump(), "application/json");
  ASSERT_TRUE(sres);
  ASSERT_EQ(sres->status, 200);
  EXPECT_EQ(sres->get_header_value("Content-Type"), "text/event-stream");
  EXPECT_EQ(sres->get_header_value("Transfer-Encoding"), "chunked");
  std::vector<Json> events;
  bool done = false;
  std::istringstream lines(sres->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("data: ", 0) != 0) continue;
    if (line == "data: [DONE]") {
      done = true;
      continue;
    }
    events.push_back(Json::parse(line.substr(6)));
  }
  ASSERT_TRUE(done) << sres->body;
  ASSERT_EQ(events.size(), 6u) << sres->body;  // 5 tokens and the usage
  EXPECT_EQ(events[0]["choices"][0]["delta"]["role"], "assistant");
  EXPECT_EQ(events[0]["object"], "chat.completion.chunk");
  EXPECT_EQ(events[4]["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(events[5]["usage"]["prompt_tokens"], 3);  // "be brief" + "hi"
  EXPECT_EQ(events[5]["usage"]["completion_tokens"], 5);

  EXPECT_EQ(
      Metric(c, std::string(
                    "vllm:request_success_total{model_name=\"llama-3.1-8b\",finished_reason=\"length\"}")),
      2);
  EXPECT_EQ(Metric(c, std::string("vllm:generation_tokens_total") + kLabel), 25);
  EXPECT_EQ(Metric(c, std::string("vllm:prompt_tokens_total") + kLabel), 2003);
  EXPECT_EQ(Metric(c, std::string("vllm:time_to_first_token_seconds_count") + kLabel), 2);
  EXPECT_EQ(Metric(c, std::string("vllm:num_requests_running") + kLabel), 0);
  EXPECT_EQ(r.Terminate(), 0);  // SIGTERM: a clean exit
}

// The replica's prefix cache, keyed by the prompt's 512-token blocks as vLLM keys them: a prompt that shares
// its first blocks with an earlier one prefills only the rest, and says so in usage.prompt_tokens_details.
TEST(Replica, APromptSharingAPrefixReportsTheTokensTheCacheHeld) {
  Replica r(TempDir("replica"));
  ASSERT_GT(r.port(), 0);
  auto c = Client(r.port());
  std::string document;  // 1,100 words: two full blocks
  for (int i = 0; i < 1100; ++i) document += "w" + std::to_string(i) + " ";
  auto cached = [&](const std::string& prompt, bool chat) {
    const Json req = chat ? Json{{"model", "llama-3.1-8b"},
                                 {"messages", Json::array({{{"role", "user"}, {"content", prompt}}})},
                                 {"max_tokens", 2},
                                 {"stream", true},
                                 {"stream_options", {{"include_usage", true}}}}
                          : Json{{"model", "llama-3.1-8b"}, {"prompt", prompt}, {"max_tokens", 2}};
    auto res = c.Post(chat ? "/v1/chat/completions" : "/v1/completions", req.dump(), "application/json");
    EXPECT_TRUE(res && res->status == 200);
    if (!res || res->status != 200) return int64_t{-1};
    std::string body = res->body;
    if (chat) {  // the usage event is the last before [DONE]
      const size_t end = body.rfind("data: [DONE]");
      const size_t start = body.rfind("data: {", end);
      body = body.substr(start + 6, end - start - 6);
    }
    const Json j = Json::parse(body, nullptr, false);
    EXPECT_TRUE(j.is_object() && j.contains("usage")) << body;
    if (!j.is_object() || !j.contains("usage")) return int64_t{-1};
    return j["usage"]["prompt_tokens_details"].value("cached_tokens", int64_t{-1});
  };
  EXPECT_EQ(cached(document + "first question", false), 0);
  EXPECT_EQ(cached(document + "second question", false), 1024);  // the document's two full blocks
  EXPECT_EQ(cached("another document entirely", false), 0);
  EXPECT_EQ(cached(document + "third question, streamed", true), 1024);
  // A different first word changes every block's key.
  EXPECT_EQ(cached("x " + document + "fourth", false), 0);
}

TEST(Replica, RefusesWhatItCannotServeWithOpenAiErrors) {
  // A quarter of an H100: about 16,000 tokens of KV cache; one sequence at a time, two waiting at most.
  Replica r(TempDir("replica-bad"), {"--gpu-fraction", "0.25", "--max-num-seqs", "1", "--max-waiting", "2"});
  ASSERT_GT(r.port(), 0);
  auto c = Client(r.port());
  auto expect = [&](const std::string& path, const std::string& body, int code, const std::string& words) {
    auto res = c.Post(path, body, "application/json");
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, code) << body << " -> " << res->body;
    const Json e = Json::parse(res->body, nullptr, false);
    ASSERT_TRUE(e.is_object() && e.contains("error")) << res->body;
    EXPECT_NE(e["error"]["message"].get<std::string>().find(words), std::string::npos) << res->body;
  };
  expect("/v1/completions", "{not json", 400, "JSON object");
  expect("/v1/completions", R"({"max_tokens": 3})", 400, "prompt is required");
  expect("/v1/completions", R"({"prompt": "x", "model": "gpt-4"})", 404, "does not exist");
  expect("/v1/completions", R"({"prompt": "x", "max_tokens": 0})", 400, "max_tokens");
  expect("/v1/completions", R"({"prompt": "x", "max_tokens": 1.5})", 400, "max_tokens");
  expect("/v1/completions", R"({"prompt": "x", "n": 2})", 400, "n must be 1");
  expect("/v1/completions", R"({"prompt": [1, "a"]})", 400, "prompt");
  expect("/v1/chat/completions", R"({"messages": []})", 400, "messages");
  expect("/v1/chat/completions", R"({"messages": [{"content": "x"}]})", 400, "role");
  expect("/v1/completions", R"({"prompt": "x", "max_tokens": 40000})", 400, "max_tokens");
  // Over the KV cache: refused before it costs anything.
  expect("/v1/completions", R"({"prompt": "x", "max_tokens": 30000})", 400, "maximum context length");
  EXPECT_EQ(Metric(c, std::string("vllm:prompt_tokens_total") + kLabel), 0);

  // Full: one request in the batch, two waiting; the next one gets 429 with Retry-After, and the others are
  // served.
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < 3; ++i) {
    clients.emplace_back([&, i] {
      auto cc = Client(r.port());
      const Json req = {{"prompt", "x"}, {"max_tokens", i == 0 ? 60 : 1}};
      auto res = cc.Post("/v1/completions", req.dump(), "application/json");
      if (res && res->status == 200) ++ok;
    });
    for (int k = 0; k < 200 && Metric(c, std::string("vllm:num_requests_waiting") + kLabel) +
                                       Metric(c, std::string("vllm:num_requests_running") + kLabel) <
                                   i + 1;
         ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto full = c.Post("/v1/completions", R"({"prompt": "x"})", "application/json");
  ASSERT_TRUE(full);
  EXPECT_EQ(full->status, 429) << full->body;
  EXPECT_EQ(full->get_header_value("Retry-After"), "1");
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok, 3);
}

TEST(Replica, BatchesConcurrentRequestsAndAbortsOnesWhoseClientLeft) {
  Replica r(TempDir("replica-batch"));
  ASSERT_GT(r.port(), 0);
  // A long streamed request whose client leaves after its first events: the replica aborts it.
  {
    httplib::Client c("127.0.0.1", r.port());
    int events = 0;
    const Json req = {{"prompt", "tell me everything"}, {"max_tokens", 20000}, {"stream", true}};
    httplib::Request hr;
    hr.method = "POST";
    hr.path = "/v1/completions";
    hr.body = req.dump();
    hr.set_header("Content-Type", "application/json");
    hr.content_receiver = [&](const char*, size_t, uint64_t, uint64_t) { return ++events < 3; };
    httplib::Response resp;
    httplib::Error err;
    c.send(hr, resp, err);
    EXPECT_GE(events, 3);
  }
  auto c = Client(r.port());
  double aborted = -1;
  for (int i = 0; i < 100 && aborted < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    aborted = Metric(c, std::string("awan_replica_requests_aborted_total") + kLabel);
  }
  EXPECT_EQ(aborted, 1);
  EXPECT_EQ(Metric(c, std::string("vllm:num_requests_running") + kLabel), 0);
  EXPECT_LT(Metric(c, std::string("vllm:generation_tokens_total") + kLabel), 20000);

  // Eight clients at once: all are served, and at some point several share the batch.
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&] {
      auto cc = Client(r.port());
      const Json req = {{"prompt", "a b c d"}, {"max_tokens", 200}};
      auto res = cc.Post("/v1/completions", req.dump(), "application/json");
      if (res && res->status == 200 && Json::parse(res->body)["usage"]["completion_tokens"] == 200) ++ok;
    });
  }
  double most = 0;
  for (int i = 0; i < 100; ++i) {
    most = std::max(most, Metric(c, std::string("vllm:num_requests_running") + kLabel));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok, 8);
  EXPECT_GT(most, 1);
}

// The attack: another process on the node (another tenant's task) calls a replica that awan serve gave a key.
TEST(Replica, WithAKeyRefusesEveryCallWithoutIt) {
  setenv("VLLM_API_KEY", "k-0123456789abcdef", 1);  // inherited by the replica only
  Replica r(TempDir("replica-key"));
  unsetenv("VLLM_API_KEY");
  ASSERT_GT(r.port(), 0);
  auto c = Client(r.port());
  const std::string ask = R"({"prompt": "hi", "max_tokens": 2})";
  for (const char* path : {"/health", "/v1/models", "/metrics"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res);
    EXPECT_EQ(res->status, 401) << path;
  }
  auto none = c.Post("/v1/completions", ask, "application/json");
  EXPECT_EQ(none->status, 401);
  auto wrong =
      c.Post("/v1/completions", {{"Authorization", "Bearer k-0123456789abcdeX"}}, ask, "application/json");
  EXPECT_EQ(wrong->status, 401);
  auto shorter = c.Post("/v1/completions", {{"Authorization", "Bearer k-0123"}}, ask, "application/json");
  EXPECT_EQ(shorter->status, 401);
  const httplib::Headers key = {{"Authorization", "Bearer k-0123456789abcdef"}};
  auto ok = c.Post("/v1/completions", key, ask, "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(c.Get("/health", key)->status, 200);
  // Nothing was computed for the refused calls.
  auto m = c.Get("/metrics", key);
  EXPECT_NE(
      m->body.find("vllm:request_success_total{model_name=\"llama-3.1-8b\",finished_reason=\"length\"} 1"),
      std::string::npos)
      << m->body;
}

}  // namespace
