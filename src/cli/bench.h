// `awan bench placement`: placement decisions per second and per-decision latency (p50/p99) of each policy,
// measured over the openb protocol's own pod sequence on one thread, with a steady clock around every
// Framework::Schedule call. Use a Release build. Results go to docs/benchmarks.md by hand, with the command.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

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

}  // namespace awan::cli
