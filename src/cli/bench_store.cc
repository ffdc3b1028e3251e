// `awan bench store` (cli/bench.h).
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "cli/bench.h"
#include "cli/cli_util.h"
#include "server/etcd_store.h"
#include "server/store.h"

namespace awan::cli {
namespace {

using Clock = std::chrono::steady_clock;

// `clients` threads call `op(thread, k)` for `seconds`; operations per second that succeeded, and failures.
template <typename Op>
std::pair<double, int64_t> Drive(int clients, double seconds, Op op) {
  std::atomic<int64_t> done{0}, failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  const auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      for (int64_t k = 0; !stop.load(std::memory_order_relaxed); ++k) (op(c, k) ? done : failed)++;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double s = std::chrono::duration<double>(Clock::now() - t0).count();
  return {static_cast<double>(done.load()) / s, failed.load()};
}

// A job as the control plane stores one: a short manifest, names, times.
server::StoredJob BenchJob(int client, int64_t k) {
  server::StoredJob j;
  j.tenant = "bench";
  j.name = fmt::format("bench-{}-{}", client, k);
  j.manifest = R"({"apiVersion":"awan/v1","kind":"Job","metadata":{"name":"bench"},"spec":{"gpus":1,"cpu":1,)"
               R"("memory_gib":1,"tasks":1,"duration":"60s"}})";
  j.created_ms = j.updated_ms = 1764633600000 + k;
  j.message = "waiting: queue";
  return j;
}

}  // namespace

void AddBenchStore(CLI::App& bench, BenchStoreArgs& a) {
  CLI::App* c =
      bench.add_subcommand("store", "Durable job creations/s through a store; raw etcd puts/s beside it");
  c->add_option("--store", a.store, "etcd:URL[,URL...] or sqlite:PATH")->required();
  c->add_option("--clients", a.clients, "concurrent callers")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  c->add_option("--seconds", a.seconds, "length of each phase")
      ->capture_default_str()
      ->check(CLI::Range(0.5, 600.0));
  c->add_option("--rounds", a.rounds, "rounds of (raw puts, store creates)")
      ->capture_default_str()
      ->check(CLI::Range(1, 20));
  c->add_flag("--init", a.init, "create the store first (required: the benchmark writes jobs into it)");
}

int RunBenchStore(const BenchStoreArgs& a) {
  if (!a.init) {  // it writes thousands of jobs: never into a store a server will recover
    return Fail(InvalidArgument(
        "awan bench store writes jobs into the store it measures: pass --init to create a fresh one (a new "
        "SQLite file, or an etcd cluster awan has not initialized), never a store a server uses"));
  }
  auto store =
      server::OpenStore(a.store, a.init ? server::StoreOpenMode::kCreate : server::StoreOpenMode::kExisting);
  if (!store.ok()) return Fail(store.status());
  const bool etcd = a.store.rfind("etcd:", 0) == 0;
  std::unique_ptr<server::EtcdClient> raw;
  if (etcd) {
    auto eps = server::EtcdEndpoints(a.store);
    if (!eps.ok()) return Fail(eps.status());
    raw = std::make_unique<server::EtcdClient>(*eps);
  }
  // The raw put's value: a stored job's bytes, as the store would write them.
  const std::string value = nlohmann::json{
      {"id", "j-00000000"},
      {"tenant", "bench"},
      {"name", "bench-0-0"},
      {"manifest", BenchJob(0, 0).manifest},
      {"state", "Pending"},
      {"created_ms", 0},
      {"updated_ms", 0},
      {"message", "waiting: queue"},
      {"exit_code", -1},
      {"placement", ""},
      {"runs", 0}}.dump();
  fmt::print("{:<6} {:>16} {:>22} {:>8}\n", "round", "raw etcd puts/s", "durable creates/s", "ratio");
  std::vector<double> ratios, creates_all;
  for (int round = 1; round <= a.rounds; ++round) {
    double puts = 0;
    if (raw) {
      auto [rate, failed] = Drive(a.clients, a.seconds, [&](int c, int64_t k) {
        const std::string key = fmt::format("/awan-bench/raw/{}-{}-{}", round, c, k);
        return raw
            ->Call("/v3/kv/put",
                   nlohmann::json{{"key", server::Base64Encode(key)}, {"value", server::Base64Encode(value)}}
                       .dump())
            .ok();
      });
      if (failed > 0) fmt::print(stderr, "awan bench store: {} raw puts failed\n", failed);
      puts = rate;
    }
    auto [creates, failed] = Drive(
        a.clients, a.seconds, [&](int c, int64_t k) { return (*store)->CreateJob(BenchJob(c, k)).ok(); });
    if (failed > 0) fmt::print(stderr, "awan bench store: {} creates failed\n", failed);
    creates_all.push_back(creates);
    if (raw) {
      ratios.push_back(creates / std::max(puts, 1e-9));
      fmt::print("{:<6} {:>16.0f} {:>22.0f} {:>8.2f}\n", round, puts, creates, ratios.back());
    } else {
      fmt::print("{:<6} {:>16} {:>22.0f} {:>8}\n", round, "-", creates, "-");
    }
    std::fflush(stdout);
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  fmt::print("median: {:.0f} durable creates/s{}\n", median(creates_all),
             raw ? fmt::format(", {:.2f}x raw etcd puts", median(ratios)) : std::string());
  if (raw) {  // the raw keys are the benchmark's, not the store's
    (void)raw->Call("/v3/kv/deleterange", nlohmann::json{{"key", server::Base64Encode("/awan-bench/")},
                                                         {"range_end", server::Base64Encode("/awan-bench0")}}
                                              .dump());
  }
  return 0;
}

}  // namespace awan::cli
