// `awan bench placement`: placement decisions per second and per-decision latency (p50/p99) of each policy,
// measured over the openb protocol's own pod sequence on one thread, with a steady clock around every
// Framework::Schedule call. Use a Release build. Results go to docs/benchmarks.md by hand, with the command.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace awan::cli {

struct BenchArgs {
  std::string nodes;
  std::string pods;
  int generate_nodes = 0;
  std::string mix = "hgx";
  std::string policies = "random,dotprod,clustering,packing,bestfit,fgd,k8s";
  uint64_t seed = 42;
  int repeat = 3;
  int64_t max_pods = -1;
  std::string json_out;
};

void AddBench(CLI::App& bench, BenchArgs& args);
int RunBench(const BenchArgs& args);

// `awan bench cycle`: the jobs simulator's scheduling-cycle latency with a standing queue: a generated fleet
// of N 8-GPU nodes filled with 8-GPU jobs, `pending` more waiting, and jobs finishing one by one so that
// every timed cycle runs with the whole queue waiting (it stops scanning once the fleet is full again).
struct BenchCycleArgs {
  int nodes = 12500;
  int pending = 1000;
  std::string policy = "awan";
  int finishes = 2000;
};
void AddBenchCycle(CLI::App& bench, BenchCycleArgs& args);
int RunBenchCycle(const BenchCycleArgs& args);

// `awan bench store`: durable job creations per second through a StateStore (etcd or SQLite) from `clients`
// threads, and, for an etcd store, the raw put rate of the same cluster through the same client (one put of a
// job-sized value per request, kept-alive connections): the "at least 0.8x raw etcd".
struct BenchStoreArgs {
  std::string store;  // etcd:URL,... or sqlite:PATH, created here (--init is required: it writes jobs)
  int clients = 64;
  double seconds = 10;
  int rounds = 3;
  bool init = false;
};
void AddBenchStore(CLI::App& bench, BenchStoreArgs& args);
int RunBenchStore(const BenchStoreArgs& args);

// `awan bench router`: routing decisions per second of each router (residency first, through RouteWith, as
// the serving simulator and the gateway call it) over `replicas` replicas of one service, some of them in
// regions the requests may not reach, with prefix hash ids; one thread, a steady clock around the whole run.
struct BenchRouterArgs {
  int replicas = 64;
  int decisions = 2000000;
  int repeat = 5;
  std::string routers = "awan,nearest,least-work,prefix";
};
void AddBenchRouter(CLI::App& bench, BenchRouterArgs& args);
int RunBenchRouter(const BenchRouterArgs& args);

}  // namespace awan::cli
