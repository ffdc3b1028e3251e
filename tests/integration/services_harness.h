// Shared by the services integration tests: the test service, polling, and where a replica may run.
#pragma once

#include <chrono>
#include <string>
#include <thread>

#include "integration/serve_harness.h"

namespace awan::testing {

// Llama 3.1 70B on 4 x H100 per replica, 1 to 6 replicas, ten times faster than model time.
inline const char* kChat = R"(apiVersion: awan/v1
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

inline Json Describe(Http& c, const std::string& token, const std::string& name) {
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

inline bool InMalaysia(
    const std::string& node) {  // the ASEAN fleet's Malaysian zones: Cyberjaya, Johor, Penang
  return node.rfind("cj-", 0) == 0 || node.rfind("jh-", 0) == 0 || node.rfind("pg-", 0) == 0;
}

inline std::string Words(int64_t n) {
  std::string s;
  s.reserve(static_cast<size_t>(n) * 2);
  for (int64_t i = 0; i < n; ++i) s += "w ";
  return s;
}

}  // namespace awan::testing
