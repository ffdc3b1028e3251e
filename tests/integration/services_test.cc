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

}  // namespace
