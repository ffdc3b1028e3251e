// `awan diagnose catalog | eval | signals` and `awan generate faults`: the diagnosis catalog, the engine's
// evaluation on generated faults, and offline diagnosis of a signal file (JSON lines).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace awan::cli {

struct DiagnoseArgs {
  std::string catalog_dir;  // default: the catalog built into the binary
  std::string output = "table";
  // eval
  uint64_t seed = 1;
  int cases = 1000, min_faults = 1, max_faults = 3;
  double missing = 0.3;
  // signals
  std::string signals_file;
  int64_t at_ms = -1;
  // generate faults
  std::string scenarios, out_file;
  std::string live_dir, live_node;  // generate faults --live DIR --node NAME
  std::string for_sim_fleet;        // generate faults --for-sim FLEET: node faults for awan sim jobs --faults
  int64_t horizon_s = 604800;       // ... at times in [0, horizon_s)
  int count = 1;
  bool noise = true;
  // bench
  int64_t bench_signals = 1000000;
  // live: awan diagnose [JOB|NODE] against a server
  std::string target, server, token, ca, since;
};

// Adds `catalog`, `eval` and `signals` under `awan diagnose`, `faults` under `awan generate` and `diagnose`
// under `awan bench`.
void AddDiagnose(CLI::App& diagnose, CLI::App& generate, CLI::App& bench, DiagnoseArgs& args);
// Runs whichever was parsed; -1 when none of them was.
int RunDiagnose(CLI::App& diagnose, CLI::App& generate, CLI::App& bench, const DiagnoseArgs& args);

}  // namespace awan::cli
