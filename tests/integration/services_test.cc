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
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "integration/serve_harness.h"
#include "trace/request_trace.h"

namespace {

using namespace awan::testing;  // NOLINT

// Llama 3.1 70B on 4 x H100 per replica, 1 to 6 replicas, ten times faster than model time.
const char* kChat = R"(apiVersion: awan/v1
kind: Service
metadata: {name: chat}
spec:
  model: {name: llama-3.1-70b, parameters_b: 70.6, weights_gib: 131, kv_kib_per_token: 320, layers: 80}
  shapes: [{accelerator: H100, gpus: 4}]
  replicas: {min: 1, max: 6}
  slo: {ttft_ms: 1000, tpot_ms: 60}
  autoscaler: awan
  router: awan
  time_scale: 10
)";

Json Describe(Http& c, const std::string& token, const std::string& name) {
  auto r = c.Get("/v1/services/" + name, Bearer(token));
  return r->status == 200 ? Json::parse(r->body) : Json();
}

// Waits up to `seconds` for `done` (polled every 100 ms).
template <class F>
bool WaitFor(int seconds, F done) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

bool InMalaysia(const std::string& node) {  // the ASEAN fleet's Malaysian zones: Cyberjaya, Johor, Penang
  return node.rfind("cj-", 0) == 0 || node.rfind("jh-", 0) == 0 || node.rfind("pg-", 0) == 0;
}

std::string Words(int64_t n) {
  std::string s;
  s.reserve(static_cast<size_t>(n) * 2);
  for (int64_t i = 0; i < n; ++i) s += "w ";
  return s;
}

TEST(Services, ConvTraceThroughTheGatewayScalesUpAndBackDown) {
  const std::string dir = TempDir("svc-conv");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto created = c.Post("/v1/services", Bearer(token), kChat, "application/yaml");
  ASSERT_EQ(created->status, 201) << created->body;
  ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "chat").dump() << s.output();

  // Two minutes of the conv trace, sent ten times faster (the service's time_scale), as OpenAI requests.
  auto trace = awan::trace::ReadRequests(std::string(AWAN_SHARED_DIR) +
                                         "/traces/azure-llm-2023/AzureLLMInferenceTrace_conv.csv");
  ASSERT_TRUE(trace.ok()) << trace.status().ToString();
  std::vector<awan::InferenceRequest> slice;
  for (const auto& r :
       *trace)  // each request three times (as `awan sim serve --scale 3`): more than one replica
    if (r.at_ms - trace->front().at_ms < 120000)
      for (int k = 0; k < 3; ++k) slice.push_back(r);
  ASSERT_GT(slice.size(), 300u);
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::atomic<bool> sending{true};
  int peak = 0;
  std::thread watch([&] {
    while (sending) {
      const Json d = Describe(c, token, "chat");
      if (d.is_object()) {
        peak = std::max(peak, d["replicas"]["ready"].get<int>());
        for (const Json& r : d["replica_list"])
          EXPECT_TRUE(r["node"] == "" || InMalaysia(r["node"])) << r.dump();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (size_t i = 0; i < slice.size(); ++i) {
    const auto& r = slice[i];
    std::this_thread::sleep_until(start + std::chrono::milliseconds((r.at_ms - slice.front().at_ms) / 10));
    const bool stream = i % 5 == 0;
    const Json body = {{"model", "chat"},
                       {"prompt", Words(r.prompt_tokens)},
                       {"max_tokens", std::max<int64_t>(1, r.output_tokens)},
                       {"stream", stream}};
    clients.emplace_back([&, b = body.dump()] {
      httplib::Client cc("127.0.0.1", s.port());
      cc.set_read_timeout(120, 0);
      auto res = cc.Post("/v1/completions", Bearer(token), b, "application/json");
      if (res && res->status == 200)
        ++ok;
      else if (res && res->status == 429)
        ++refused;
      else
        ++other;
    });
  }
  for (std::thread& t : clients) t.join();
  sending = false;
  watch.join();
  EXPECT_EQ(ok + refused + other, static_cast<int>(slice.size()));
  EXPECT_EQ(other, 0);
  EXPECT_GT(ok, static_cast<int>(slice.size() * 9 / 10));
  EXPECT_GT(peak, 1) << "the service never scaled up";
  const Json after = Describe(c, token, "chat");
  ASSERT_TRUE(after["slo_attainment_pct"].is_number()) << after.dump();
  EXPECT_EQ(after["requests"], static_cast<int>(slice.size()));
  EXPECT_FALSE(after["decisions"].empty());
  std::fprintf(
      stderr,
      "conv x3 (2 min at 10x): %zu requests, %d ok, %d refused, peak %d replicas, attainment %.2f %%\n",
      slice.size(), ok.load(), refused.load(), peak, after["slo_attainment_pct"].get<double>());
  // Back down once the load is gone (the awan autoscaler holds 120 s of service time: 12 s here).
  EXPECT_TRUE(WaitFor(90, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "chat").dump();
  auto metrics = c.Get("/metrics", Bearer(token));
  EXPECT_NE(metrics->body.find("awan_service_ttft_seconds_count{tenant=\"my-university\",service=\"chat\"}"),
            std::string::npos);

  // Deleted: every replica's job is cancelled and its process is gone.
  std::vector<int> ports;
  for (const Json& r : Describe(c, token, "chat")["replica_list"]) ports.push_back(r["port"]);
  auto del = c.Delete("/v1/services/chat", Bearer(token));
  ASSERT_EQ(del->status, 200) << del->body;
  for (const Json& id : Json::parse(del->body)["replicas_cancelled"]) {
    EXPECT_TRUE(WaitFor(30, [&] {
      auto j = c.Get("/v1/jobs/" + id.get<std::string>(), Bearer(token));
      return j->status == 200 && Json::parse(j->body)["state"] == "Cancelled";
    }));
  }
  for (int port : ports) {
    EXPECT_TRUE(WaitFor(30,
                        [&] {
                          httplib::Client probe("127.0.0.1", port);
                          probe.set_connection_timeout(0, 200000);
                          return !probe.Get("/health");
                        }))
        << "a replica still answers on port " << port;
  }
  EXPECT_EQ(c.Get("/v1/services/chat", Bearer(token))->status, 404);
  auto gone =
      c.Post("/v1/completions", Bearer(token), R"({"model": "chat", "prompt": "x"})", "application/json");
  EXPECT_EQ(gone->status, 404);
}

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
}

TEST(Services, AServiceAndItsReplicasSurviveASigkillOfTheServer) {
  const std::string dir = TempDir("svc-restart");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "my-university", "member");
  std::string replica_job;
  {
    Server s(dir, db);
    Http c(s.url());
    ASSERT_EQ(c.Post("/v1/services", Bearer(token), kChat, "application/yaml")->status, 201);
    ASSERT_TRUE(WaitFor(60, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }));
    replica_job = Describe(c, token, "chat")["replica_list"][0]["job"];
    s.Kill(SIGKILL);
  }
  Server s(dir, db);
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  ASSERT_TRUE(WaitFor(30, [&] { return Describe(c, token, "chat")["replicas"]["ready"] == 1; }))
      << Describe(c, token, "chat").dump();
  const Json d = Describe(c, token, "chat");
  EXPECT_EQ(d["replica_list"][0]["job"], replica_job);  // adopted, not started again
  auto job = c.Get("/v1/jobs/" + replica_job, Bearer(token));
  EXPECT_EQ(Json::parse(job->body)["runs"], 1) << job->body;
  auto res = c.Post("/v1/completions", Bearer(token),
                    R"({"model": "chat", "prompt": "hello", "max_tokens": 3})", "application/json");
  EXPECT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(c.Delete("/v1/services/chat", Bearer(token))->status, 200);
}

}  // namespace
