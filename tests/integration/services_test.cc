// Services in `awan serve` end to end on 127.0.0.1: the real binary, SQLite, replicas as real `awan replica`
// processes. Two minutes of the Azure conv trace go through the OpenAI-compatible gateway ten times faster
// than recorded; the service scales up and back down, attainment is reported, no replica runs outside the
// tenant's places, and every replica is gone once the service is deleted. The API keeps tenants apart and
// refuses bad input; a service and its replicas survive a SIGKILL of the server.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "integration/services_harness.h"

namespace {

using namespace awan::testing;  // NOLINT

TEST(Services, TheApiRefusesBadInputAndKeepsTenantsApart) {
  const std::string dir = TempDir("svc-api");
  const std::string db = dir + "/awan.db";
  const std::string a = Token(db, "my-university", "member"), b = Token(db, "sg-fintech", "member");
  const std::string viewer = Token(db, "my-university", "viewer");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  EXPECT_EQ(c.Post("/v1/services", kChat, "application/yaml")->status, 401);
  EXPECT_EQ(c.Post("/v1/services", Bearer(viewer), kChat, "application/yaml")->status, 403);
  auto bad =
      c.Post("/v1/services", Bearer(a),
             std::string(kChat).replace(std::string(kChat).find("H100"), 4, "TPU9"), "application/yaml");
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("TPU9"), std::string::npos) << bad->body;
  std::string unknown_scaler = kChat;
  unknown_scaler.replace(unknown_scaler.find("autoscaler: awan"), 16, "autoscaler: nope");
  auto bad2 = c.Post("/v1/services", Bearer(a), unknown_scaler, "application/yaml");
  EXPECT_EQ(bad2->status, 400);
  EXPECT_NE(bad2->body.find("nope"), std::string::npos) << bad2->body;
  ASSERT_EQ(c.Post("/v1/services", Bearer(a), kChat, "application/yaml")->status, 201);
  EXPECT_EQ(c.Post("/v1/services", Bearer(a), kChat, "application/yaml")->status, 409);
  // Another tenant sees nothing of it, cannot call it, cannot delete it.
  EXPECT_TRUE(Json::parse(c.Get("/v1/services", Bearer(b))->body)["items"].empty());
  EXPECT_EQ(c.Get("/v1/services/chat", Bearer(b))->status, 404);
  EXPECT_EQ(c.Get("/v1/services/my-university/chat", Bearer(b))->status, 404);
  EXPECT_EQ(c.Delete("/v1/services/chat", Bearer(b))->status, 404);
  EXPECT_TRUE(Json::parse(c.Get("/v1/models", Bearer(b))->body)["data"].empty());
  auto call =
      c.Post("/v1/chat/completions", Bearer(b),
             R"({"model": "chat", "messages": [{"role": "user", "content": "x"}]})", "application/json");
  EXPECT_EQ(call->status, 404);
  // The gateway checks the request before it costs anything.
  EXPECT_EQ(c.Post("/v1/completions", Bearer(a), "{", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/v1/completions", Bearer(a), R"({"prompt": "x"})", "application/json")->status, 400);
  EXPECT_EQ(c.Post("/v1/completions", Bearer(a), R"({"model": "chat", "prompt": "x", "max_tokens": 0})",
                   "application/json")
                ->status,
            400);
  EXPECT_EQ(c.Post("/v1/completions", R"({"model": "chat", "prompt": "x"})", "application/json")->status,
            401);
  EXPECT_EQ(Json::parse(c.Get("/v1/models", Bearer(a))->body)["data"][0]["id"], "chat");

  // The CLI: submit (a Service manifest goes to /v1/services), services, describe service/NAME, delete.
  const std::string flags = " --server " + s.url() + " --token " + a;
  std::ofstream(dir + "/code.yaml") << std::string(kChat).replace(std::string(kChat).find("name: chat"), 10,
                                                                  "name: code");
  EXPECT_NE(RunAwan("submit " + dir + "/code.yaml" + flags).find("service/code created"), std::string::npos);
  const std::string listed = RunAwan("services" + flags);
  EXPECT_NE(listed.find("chat "), std::string::npos) << listed;
  EXPECT_NE(listed.find("code "), std::string::npos) << listed;
  EXPECT_TRUE(WaitFor(60, [&] { return Describe(c, a, "code")["replicas"]["ready"] == 1; }));
  const std::string described = RunAwan("describe service/code" + flags);
  EXPECT_NE(described.find("Ready"), std::string::npos) << described;
  EXPECT_NE(described.find("0 -> 1"), std::string::npos) << described;
  EXPECT_NE(RunAwan("delete service/code" + flags).find("service/code deleted (1 replica(s) stopped)"),
            std::string::npos);
  EXPECT_EQ(RunAwan("services" + flags).find("code "), std::string::npos);
  // Its replicas outlive the server's SIGKILL at the end (as they must): deleted, so none is left behind.
  EXPECT_EQ(c.Delete("/v1/services/chat", Bearer(a))->status, 200);
}

// SIGKILL of the server under load: the replica keeps serving (straight to it while no server runs), the new
// server adopts it (same job, one run: not started twice), and the gateway answers again within 10 s.
TEST(Services, ReplicasKeepServingThroughASigkillOfTheServerUnderLoad) {
  const std::string dir = TempDir("svc-restart");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  const std::string ask = R"({"model": "chat", "prompt": "hello there", "max_tokens": 20})";
  std::string replica_job, api_key;
  int port = 0;
  {
    Server s(dir, db);
    Http c(s.url());
    ASSERT_EQ(c.Post("/v1/services", Bearer(token), kChat, "application/yaml")->status, 201);
    ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }));
    const Json d = Describe(c, token, "chat");
    replica_job = d["replica_list"][0]["job"];
    port = d["replica_list"][0]["port"];
    const Json job = Json::parse(c.Get("/v1/jobs/" + replica_job, Bearer(token))->body);
    api_key = job["manifest"]["spec"]["env"]["VLLM_API_KEY"];
    EXPECT_EQ(job["manifest"]["spec"]["command"].dump().find(api_key), std::string::npos);  // not an argument
    // Load through the gateway while the server dies.
    std::atomic<bool> going{true};
    std::atomic<int> answered{0};
    std::vector<std::thread> load;
    for (int k = 0; k < 4; ++k) {
      load.emplace_back([&] {
        while (going) {
          httplib::Client cc("127.0.0.1", s.port());
          cc.set_read_timeout(5, 0);
          auto r = cc.Post("/v1/completions", Bearer(token), ask, "application/json");
          if (r && r->status == 200) ++answered;
        }
      });
    }
    ASSERT_TRUE(WaitFor(20, [&] { return answered > 20; }));
    s.Kill(SIGKILL);
    going = false;
    for (std::thread& t : load) t.join();
  }
  // No server: the replica still answers, straight, to whoever has its key (its tenant: the key is in its
  // job's manifest); anything else on the node is refused.
  {
    httplib::Client direct("127.0.0.1", port);
    direct.set_read_timeout(30, 0);
    const std::string body = R"({"prompt": "still there?", "max_tokens": 5})";
    auto refused = direct.Post("/v1/completions", body, "application/json");
    ASSERT_TRUE(refused);
    EXPECT_EQ(refused->status, 401);
    auto r =
        direct.Post("/v1/completions", {{"Authorization", "Bearer " + api_key}}, body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  const auto restarted = std::chrono::steady_clock::now();
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  bool back = false;
  while (!back && std::chrono::steady_clock::now() - restarted < std::chrono::seconds(30)) {
    httplib::Client cc("127.0.0.1", s.port());
    cc.set_read_timeout(5, 0);
    auto r = cc.Post("/v1/completions", Bearer(token), ask, "application/json");
    back = r && r->status == 200;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - restarted).count();
  ASSERT_TRUE(back) << s.output();
  EXPECT_LT(seconds, 10) << "the gateway answered again only after " << seconds << " s";
  std::fprintf(stderr, "gateway answering again %.2f s after the restart began\n", seconds);
  const Json d = Describe(c, token, "chat");
  ASSERT_EQ(d["replica_list"].size(), 1u) << d.dump();
  EXPECT_EQ(d["replica_list"][0]["job"], replica_job);  // adopted, not started again
  EXPECT_EQ(d["replica_list"][0]["port"], port);
  auto job = c.Get("/v1/jobs/" + replica_job, Bearer(token));
  EXPECT_EQ(Json::parse(job->body)["runs"], 1) << job->body;
  auto jobs = Json::parse(c.Get("/v1/jobs", Bearer(token))->body)["items"];
  EXPECT_EQ(jobs.size(), 1u) << jobs.dump();  // no second replica job
  EXPECT_EQ(c.Delete("/v1/services/chat", Bearer(token))->status, 200);
}

// The autoscaler reads the replicas' own metrics (vLLM's names), not only the gateway's counts: load sent
// straight to a replica (by its tenant, with the key in its job's manifest) scales the service up although
// the gateway saw none of it.
TEST(Services, TheAutoscalerSeesLoadThatBypassesTheGateway) {
  const std::string dir = TempDir("svc-metrics");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  ASSERT_EQ(c.Post("/v1/services", Bearer(token), kChat, "application/yaml")->status, 201);
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }));
  Json d = Describe(c, token, "chat");
  const int port = d["replica_list"][0]["port"];
  const std::string job = d["replica_list"][0]["job"];
  const std::string key =
      Json::parse(c.Get("/v1/jobs/" + job, Bearer(token))->body)["manifest"]["spec"]["env"]["VLLM_API_KEY"];
  // 150 long requests at once, straight to the replica: far more than the 59 it sustains within the SLO.
  const std::string body = Json{{"prompt", Words(512)}, {"max_tokens", 1500}}.dump();
  std::vector<std::thread> direct;
  std::atomic<int> answered{0};
  for (int i = 0; i < 150; ++i) {
    direct.emplace_back([&] {
      httplib::Client rc("127.0.0.1", port);
      rc.set_read_timeout(120, 0);
      auto r = rc.Post("/v1/completions", {{"Authorization", "Bearer " + key}}, body, "application/json");
      answered += r && r->status == 200;
    });
  }
  const bool scaled = WaitFor(40, [&] { return Describe(c, token, "chat")["replicas"]["ready"] >= 2; });
  d = Describe(c, token, "chat");
  for (std::thread& t : direct) t.join();
  EXPECT_TRUE(scaled) << d.dump(1);
  EXPECT_EQ(d["requests"], 0) << "none went through the gateway";
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(c.Delete("/v1/services/chat", Bearer(token))->status, 200);
}

// 240 completions from 4 clients, request i's body from ask(i), each retried while the gateway answers 429
// (at capacity): how many were answered, and why the others were not.
std::pair<int, std::string> SendAll(const std::string& url, const std::string& token,
                                    const std::function<std::string(int)>& ask) {
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  std::mutex mu;
  std::map<std::string, int> failures;
  for (int t = 0; t < 4; ++t) {
    clients.emplace_back([&, t] {
      Http g(url);
      for (int i = t; i < 240; i += 4) {
        auto r = g.Post("/v1/completions", Bearer(token), ask(i), "application/json");
        for (int retry = 0; retry < 200 && r && r->status == 429; ++retry) {
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
          r = g.Post("/v1/completions", Bearer(token), ask(i), "application/json");
        }
        answered += r && r->status == 200;
        if (r && r->status != 200) {
          std::lock_guard<std::mutex> l(mu);
          ++failures[std::to_string(r->status) + " " + r->body.substr(0, 160)];
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::string why;
  for (const auto& [f, n] : failures) why += std::to_string(n) + " x " + f + "\n";
  return {answered.load(), why};
}

// The long-prompt mix to service `small`: 240 completions of 500 words, 1 in 30 of 8,000 words instead, each
// of those starting with its own word (no prefix in common: a prefix cache holds none of it).
std::pair<int, std::string> SendLongPromptMix(const std::string& url, const std::string& token) {
  const std::string short_ask = Json{{"model", "small"}, {"prompt", Words(500)}, {"max_tokens", 4}}.dump();
  return SendAll(url, token, [&](int i) {
    if (i % 30 != 7) return short_ask;
    return Json{
        {"model", "small"}, {"prompt", "q" + std::to_string(i) + " " + Words(7999)}, {"max_tokens", 4}}
        .dump();
  });
}

// A service of two shapes: the L40S first, which cannot give an 8,000-token prompt its first token within
// 500 ms, then the H100. Its first replica starts on the L40S (before any request the prior mix, 1,024-token
// prompts, fits it).
constexpr const char* kTwoShapes = R"(apiVersion: awan/v1
kind: Service
metadata: {name: small}
spec:
  model: {name: llama-3.1-8b, parameters_b: 8.0, weights_gib: 15, kv_kib_per_token: 128, layers: 32}
  shapes: [{accelerator: L40S, gpus: 1}, {accelerator: H100, gpus: 1}]
  replicas: {min: 1, max: 2}
  slo: {ttft_ms: 500, tpot_ms: 40}
  autoscaler: awan
  router: awan
  time_scale: 10
)";

// Once the gateway has seen the mix (240 requests, 1 in 30 with an 8,000-token prompt, each a different
// text) the service's shape is the H100, an H100 replica starts beside the L40S one, and the L40S one drains
// once it is ready: the rolling replacement the simulator runs (serving::PlanReplacement), told in the
// service's decisions.
TEST(Services, AReplicaOnAShapeTooSlowForTheLongPromptsIsReplacedByAFittingOne) {
  const std::string dir = TempDir("svc-replace");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  ASSERT_EQ(c.Post("/v1/services", Bearer(token), kTwoShapes, "application/yaml")->status, 201);
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "small")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "small").dump(1);
  EXPECT_EQ(Describe(c, token, "small")["replica_list"][0]["accelerator"], "L40S");
  const auto [answered, why] = SendLongPromptMix(s.url(), token);
  EXPECT_EQ(answered, 240) << why;
  // Only H100 replicas serve, and the decisions say why.
  Json d;
  const bool replaced = WaitFor(90, [&] {
    d = Describe(c, token, "small");
    int h100 = 0, l40s = 0;
    for (const Json& r : d["replica_list"]) {
      if (r["state"] == "Draining") continue;
      h100 += r["accelerator"] == "H100" && r["state"] == "Ready";
      l40s += r["accelerator"] == "L40S";
    }
    return h100 >= 1 && l40s == 0;
  });
  EXPECT_TRUE(replaced) << d.dump(1);
  EXPECT_NE(d["decisions"].dump().find("replacing replicas on L40S: the mix needs H100"), std::string::npos)
      << d["decisions"].dump(1);
  EXPECT_EQ(c.Delete("/v1/services/small", Bearer(token))->status, 200);
}

// The same mix on a service whose only shape is the L40S: no shape can give the 8,000-token prompts their
// first token in 500 ms, so they miss however many replicas run, and the service says so, once, in its
// decisions and in its capacity.
TEST(Services, AServiceWhoseShapesCannotServeItsLongPromptsSaysSo) {
  const std::string dir = TempDir("svc-late");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  std::string l40s_only = kTwoShapes;
  l40s_only.replace(l40s_only.find(", {accelerator: H100, gpus: 1}"), 30, "");
  ASSERT_EQ(c.Post("/v1/services", Bearer(token), l40s_only, "application/yaml")->status, 201);
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "small")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "small").dump(1);
  EXPECT_TRUE(Describe(c, token, "small")["capacity"]["long_prompts_in_time"]);  // none seen yet
  const auto [answered, why] = SendLongPromptMix(s.url(), token);
  EXPECT_EQ(answered, 240) << why;
  Json d;
  const bool told = WaitFor(60, [&] {
    d = Describe(c, token, "small");
    return d["decisions"].dump().find("no usable shape gives the long prompts") != std::string::npos;
  });
  EXPECT_TRUE(told) << d.dump(1);
  EXPECT_FALSE(d["capacity"]["long_prompts_in_time"]) << d["capacity"].dump();
  EXPECT_GE(d["capacity"]["long_prompt_tokens"].get<double>(), 8000) << d["capacity"].dump();
  int said = 0;
  for (const Json& e : d["decisions"]) said += e["why"].get<std::string>().find("no usable shape gives") == 0;
  EXPECT_EQ(said, 1) << d["decisions"].dump(1);  // once, not at every decision
  EXPECT_EQ(c.Delete("/v1/services/small", Bearer(token))->status, 200);
}

// The same mix, but the long prompts are one 7,680-token document with a question after it: the replica's
// prefix cache holds the document after the first, and says so in each answer's usage (cached_tokens, as vLLM
// reports it), so the gateway's long-prompt check reads what was prefilled and the L40S stays.
TEST(Services, LongPromptsThatShareACachedPrefixKeepTheFirstShape) {
  const std::string dir = TempDir("svc-prefix");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  // One replica at most: a replica's first long prompt finds its cache cold (several replicas would make
  // several such in these few requests, more than the 0.5 % the check allows; over a day they are nothing).
  std::string one = kTwoShapes;
  one.replace(one.find("max: 2"), 6, "max: 1");
  ASSERT_EQ(c.Post("/v1/services", Bearer(token), one, "application/yaml")->status, 201);
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "small")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "small").dump(1);
  const std::string short_ask = Json{{"model", "small"}, {"prompt", Words(100)}, {"max_tokens", 4}}.dump();
  // Thirty short answers first, one at a time: the gateway measures prefills before the burst (else, on a
  // slow machine, 200 arrivals, retries after a 429 among them, can come before any answer, and the prompts'
  // verdict, the H100, stands until 200 prefills are measured), and the mix the first scale decisions see is
  // not one long prompt among a handful (a mean the L40S cannot sustain, for a moment).
  for (int i = 0; i < 30; ++i)
    ASSERT_EQ(c.Post("/v1/completions", Bearer(token), short_ask, "application/json")->status, 200);
  // The proxy threads record them just after the answers.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto [answered, why] = SendAll(s.url(), token, [&](int i) {
    if (i % 30 != 7) return short_ask;
    return Json{{"model", "small"},
                {"prompt", Words(7680) + "q" + std::to_string(i) + " " + Words(319)},
                {"max_tokens", 4}}
        .dump();
  });
  EXPECT_EQ(answered, 240) << why;
  std::this_thread::sleep_for(std::chrono::seconds(3));  // a few scale decisions (one a second)
  const Json d = Describe(c, token, "small");
  for (const Json& r : d["replica_list"]) EXPECT_EQ(r["accelerator"], "L40S") << d.dump(1);
  EXPECT_EQ(d["decisions"].dump().find("replacing replicas"), std::string::npos) << d["decisions"].dump(1);
  EXPECT_EQ(c.Delete("/v1/services/small", Bearer(token))->status, 200);
}

// The gateway routes by prefix affinity (the `awan` router, as `awan sim serve` runs it): it remembers the KV
// blocks of the prompts it sent to each replica, so a prompt whose document one replica already holds goes
// there, not to the first of two idle replicas; the replica's answer says its cache held the document. Two
// replicas, one kept busy by a long answer while the document first goes to the other.
TEST(Services, TheGatewaySendsAPromptToTheReplicaThatHoldsItsPrefix) {
  const std::string dir = TempDir("svc-affinity");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  // Two L40S replicas, in real time (a long answer takes seconds).
  const char* two = R"(apiVersion: awan/v1
kind: Service
metadata: {name: small}
spec:
  model: {name: llama-3.1-8b, parameters_b: 8.0, weights_gib: 15, kv_kib_per_token: 128, layers: 32}
  shapes: [{accelerator: L40S, gpus: 1}]
  replicas: {min: 2, max: 2}
  slo: {ttft_ms: 500, tpot_ms: 40}
  autoscaler: awan
  router: awan
  time_scale: 1
)";
  auto created = c.Post("/v1/services", Bearer(token), two, "application/yaml");
  ASSERT_EQ(created->status, 201) << created->body;
  ASSERT_TRUE(WaitFor(90, [&] { return Describe(c, token, "small")["replicas"]["ready"] == 2; }))
      << Describe(c, token, "small").dump(1);
  // The cached share of a prompt, from the answer's usage (vLLM's fields).
  auto ask = [&](Http& h, const std::string& prompt, int max_tokens) {
    auto r = h.Post("/v1/completions", Bearer(token),
                    Json{{"model", "small"}, {"prompt", prompt}, {"max_tokens", max_tokens}}.dump(),
                    "application/json");
    if (r->status != 200) return int64_t{-1};
    return Json::parse(r->body)["usage"]["prompt_tokens_details"].value("cached_tokens", int64_t{-2});
  };
  // A long answer keeps the first replica busy (~14 s of decode) ...
  std::jthread busy([&] {
    Http h(s.url());
    EXPECT_EQ(ask(h, "story " + Words(50), 500), 0);
  });
  ASSERT_TRUE(WaitFor(30, [&] {
    int in_flight = 0;
    const Json d = Describe(c, token, "small");  // kept: a range-for over a temporary's member dangles
    for (const Json& r : d["replica_list"]) in_flight += r["in_flight"].get<int>();
    return in_flight == 1;
  })) << Describe(c, token, "small").dump(1);
  // ... so the document (two 512-token blocks and a question) goes to the other, cold.
  const std::string document = "report " + Words(1100);
  EXPECT_EQ(ask(c, document + " q1", 4), 0);
  busy.join();
  // Both idle now: the next question on the document goes where the document is (without affinity, the
  // first replica, whose cache never saw it).
  EXPECT_EQ(ask(c, document + " q2", 4), 2 * 512);
  EXPECT_EQ(ask(c, document + " q3", 4), 2 * 512);
  EXPECT_EQ(c.Delete("/v1/services/small", Bearer(token))->status, 200);
}

// A scale-up goes through the core like any job: on a fleet whose GPUs another tenant's batch jobs borrowed,
// the service's replicas (its tenant under its guarantee) take them back by preemption (the core's reclaim,
// under any ordering), and the batch jobs wait again rather than fail; once the service is deleted they run
// again.
TEST(Services, ScaleUpsReclaimBorrowedGpusFromBatchWorkThroughPreemption) {
  const std::string dir = TempDir("svc-preempt");
  std::ofstream(dir + "/fleet.yaml")
      << "node_types:\n  g4: {accelerator: H100, gpus: 4, cpu: 128, memory_gib: 2048}\n"
         "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g4, nodes: 2}}\n"
         "tenants:\n  - {name: serving, guaranteed_gpus: 8, cohort: c}\n"
         "  - {name: batch, guaranteed_gpus: 0, cohort: c, borrowing_limit_gpus: 8}\n";
  const std::string db = dir + "/awan.db";
  const std::string serving = Token(db, "serving", "member"), batch = Token(db, "batch", "member");
  Server s(dir, db, dir + "/fleet.yaml", {"--min-run-s", "0", "--checkpoint-s", "0"});
  ASSERT_GT(s.port(), 0) << s.output();
  Http c(s.url());
  std::vector<std::string> jobs;
  for (int i = 0; i < 2; ++i) {
    const std::string m = "apiVersion: awan/v1\nkind: Job\nmetadata: {name: train-" + std::to_string(i) +
                          "}\nspec: {gpus: 4, memory_gib: 8, duration_s: 3600}\n";
    auto r = c.Post("/v1/jobs", Bearer(batch), m, "application/yaml");
    ASSERT_EQ(r->status, 201) << r->body;
    jobs.push_back(Json::parse(r->body)["id"]);
  }
  for (const std::string& j : jobs) WaitForState(c, batch, j, "Running");
  std::string svc = kChat;
  svc.replace(svc.find("max: 6"), 6, "max: 2");
  svc.replace(svc.find("{min: 1"), 7, "{min: 2");
  ASSERT_EQ(c.Post("/v1/services", Bearer(serving), svc, "application/yaml")->status, 201);
  const bool up = WaitFor(60, [&] { return Describe(c, serving, "chat")["replicas"]["ready"] == 2; });
  EXPECT_TRUE(up) << Describe(c, serving, "chat").dump(1);
  for (const std::string& j : jobs) {
    const Json job = Json::parse(c.Get("/v1/jobs/" + j, Bearer(batch))->body);
    EXPECT_EQ(job["state"], "Pending") << job.dump();  // stopped and waiting again (its one run counted)
    EXPECT_EQ(job["runs"], 1) << job.dump();
  }
  // The replicas' placements are in the audit log, as every job's are, with the rules that allowed them.
  const std::string admin = Token(db, "", "admin");
  const std::string audit = c.Get("/v1/audit", Bearer(admin))->body;
  const Json described = Describe(c, serving, "chat");  // kept: the loop below walks into it
  for (const Json& r : described["replica_list"]) {
    const std::string entry = "\"job\":\"" + r["job"].get<std::string>() + "\"";
    EXPECT_NE(audit.find(entry), std::string::npos) << entry << " in " << audit.substr(0, 2000);
  }
  ASSERT_EQ(c.Delete("/v1/services/chat", Bearer(serving))->status, 200);
  for (const std::string& j : jobs) WaitForState(c, batch, j, "Running");  // the GPUs went back
}

}  // namespace

namespace {

// A ready replica that stops answering (its process stopped: a hung engine) is a serving fact, diagnosed as
// SVC-HEALTH-CHECK-FAILING for the service's tenant; with remediation on, the replica is restarted (its job
// cancelled, audited) and the service starts another that becomes ready.
TEST(Services, AReplicaThatStopsAnsweringIsDiagnosedAndRestarted) {
  const std::string dir = TempDir("svc-hung");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member"), admin = Token(db, "", "admin");
  Server s(dir, db, "", AnyUser({"--remediation", "on"}));
  ASSERT_GT(s.port(), 0) << s.output();
  Http c(s.url());
  std::string manifest = kChat;
  manifest.replace(manifest.find("name: chat"), 10, "name: hung");
  ASSERT_EQ(c.Post("/v1/services", Bearer(token), manifest, "application/yaml")->status, 201);
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "hung")["replicas"]["ready"] == 1; }));
  const std::string first = Describe(c, token, "hung")["replica_list"][0]["job"];
  // Its process (the pattern anchored, so that the shell running pgrep does not match it) stops.
  std::vector<pid_t> stopped;
  if (FILE* f = popen("pgrep -f '^@awan replica .*--served-model-name hung '", "r")) {
    for (int pid = 0; fscanf(f, "%d", &pid) == 1;) stopped.push_back(pid);
    pclose(f);
  }
  ASSERT_FALSE(stopped.empty());
  for (pid_t pid : stopped) kill(pid, SIGSTOP);
  Json diagnoses;
  const bool diagnosed = WaitFor(30, [&] {
    diagnoses = Json::parse(c.Get("/v1/diagnoses", Bearer(token))->body);
    for (const Json& d : diagnoses["items"])
      if (d["scenario"] == "SVC-HEALTH-CHECK-FAILING") return true;
    return false;
  });
  EXPECT_TRUE(diagnosed) << diagnoses.dump(1);
  Json job;
  EXPECT_TRUE(WaitFor(20, [&] {
    job = Json::parse(c.Get("/v1/jobs/" + first, Bearer(token))->body);
    return job["state"] == "Cancelled";
  })) << job.dump(1);
  EXPECT_NE(job.value("message", "").find("restarted by the diagnosis (SVC-HEALTH-CHECK-FAILING"),
            std::string::npos)
      << job.dump(1);
  Json d;
  EXPECT_TRUE(WaitFor(60, [&] {
    d = Describe(c, token, "hung");
    return d["replicas"]["ready"] == 1 && d["replica_list"][0]["job"] != first;
  })) << d.dump(1);
  const std::string audit = c.Get("/v1/audit", Bearer(admin))->body;
  EXPECT_NE(audit.find(R"("job":")" + first + R"(","kind":"restart_replica","mode":"applied")"),
            std::string::npos)
      << audit;
  for (pid_t pid : stopped) kill(pid, SIGCONT);
  EXPECT_EQ(c.Delete("/v1/services/hung", Bearer(token))->status, 200);
}

}  // namespace
