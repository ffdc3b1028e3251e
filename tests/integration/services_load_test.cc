// Services under load, end to end on 127.0.0.1: two minutes of the Azure conv trace (each request three
// times) go through the OpenAI-compatible gateway ten times faster than recorded; the service scales up and
// back down, attainment is reported, no replica runs outside the tenant's places, and every replica is gone
// once the service is deleted. A quality test: labelled slow (Release only; under the sanitizers the machine,
// not the policy, would be measured).
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "integration/services_harness.h"
#include "trace/request_trace.h"

namespace {

using namespace awan::testing;  // NOLINT

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
  const Json described = Describe(c, token, "chat");  // kept alive: the loops walk into it
  for (const Json& r : described["replica_list"]) ports.push_back(r["port"]);
  auto del = c.Delete("/v1/services/chat", Bearer(token));
  ASSERT_EQ(del->status, 200) << del->body;
  const Json deleted = Json::parse(del->body);
  for (const Json& id : deleted["replicas_cancelled"]) {
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

}  // namespace
