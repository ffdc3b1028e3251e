// `awan sim openb` and `awan generate example`: the openb experiment on the command line.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace awan::cli {

struct SimOpenbArgs {
  std::string nodes;
  std::vector<std::string> pods;
  std::string policies = "random,dotprod,clustering,packing,bestfit,fgd,awan";
  std::string seeds = "42-51";
  std::string json_out;
  std::string report_dir;
  std::string published;
  double tune = 1.3;
  int threads = 0;
  bool bound = false;
  bool no_bound = false;
  bool quiet = false;
};

void AddSimOpenb(CLI::App& sim, SimOpenbArgs& args);
int RunSimOpenb(const SimOpenbArgs& args);

struct GenerateArgs {
  std::string out_dir = "out/example";
  int nodes = 200;
  std::string mix = "mixed";
  double demand = 1.0;
  uint64_t seed = 1;
};

void AddGenerate(CLI::App& app, GenerateArgs& args);
int RunGenerate(const GenerateArgs& args);

}  // namespace awan::cli
