// Fault injection and the engine's evaluation.
//
// FaultWorld is a synthetic fleet to inject into: nodes of 8 GPUs under leaf switches (8 nodes each) and on
// power feeds that cut across the switches (two nodes of each switch per feed), gangs of 1-4 nodes from
// several tenants each reading a dataset, inference services with replicas, and the control plane.
// GenerateCase injects 1-3 catalog scenarios at entities of their scope: each scenario's inject lines
// (optional ones sometimes missing), the symptoms its `explains` classes produce on the jobs that ran there,
// and noise: healthy log and kernel lines, benign scenarios (on the faulty node too), and lone symptoms on
// other jobs. A healthy case has the noise only.
//
// Evaluate runs cases through a fresh Engine each and scores: a fault is top-1 when the best diagnosis at
// its place (PlaceOf) is its scenario, top-3 when it is among the first three there; a healthy case is a
// false alarm when any non-benign diagnosis comes out. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rng.h"
#include "diagnosis/catalog.h"
#include "diagnosis/engine.h"
#include "diagnosis/signal.h"

namespace awan::diagnosis {

struct FaultWorldOptions {
  int switches = 8;
  int nodes_per_switch = 8;
  int feeds = 4;
  int services = 3;
  int tenants = 4;
  int datasets = 6;
};

struct WorldJob {
  std::string id, tenant, dataset;
  std::vector<int> nodes;  // node indexes, one per 8 ranks
};

struct WorldService {
  std::string name, tenant;
  std::vector<int> nodes;  // one replica per node
};

struct FaultWorld {
  std::vector<std::string> nodes, node_switch, node_feed, node_ip;
  std::vector<int> node_job;  // job index on each node, -1 when idle or serving
  std::vector<WorldJob> jobs;
  std::vector<WorldService> services;
  std::vector<std::string> tenants, switches, feeds, datasets;
  DiagTopology Topology() const;
};

FaultWorld MakeFaultWorld(uint64_t seed, const FaultWorldOptions& o = {});

struct InjectedFault {
  int scenario = -1;
  Scope scope = Scope::kNode;
  std::string entity;
  std::string place() const { return PlaceOf(scope, entity); }
};

struct FaultCase {
  std::vector<Signal> signals;        // in time order
  std::vector<InjectedFault> faults;  // empty: a healthy case
  int64_t end_ms = 0;                 // diagnose at this time
};

struct FaultOptions {
  int min_faults = 1, max_faults = 3;
  double missing = 0.3;        // chance that an optional line, or a symptom line, is left out
  double node_missing = 0.15;  // switch and feed causes: chance that one node's lines are all missing
  int noise_lines = 40;        // healthy lines (the count varies by +-50 %)
  int benign = 2;              // benign scenarios injected (up to this many)
  double lone_symptom = 0.3;   // chance of a symptom on an unrelated job (a distractor)
  bool noise = true;           // false: the faults' lines only (for the per-scenario tests)
};

// A case with the given scenarios (catalog indexes) at entities chosen by `rng`; an empty list: healthy.
FaultCase GenerateCase(const Catalog& catalog, const FaultWorld& world, const std::vector<int>& scenarios,
                       const FaultOptions& o, Rng& rng);

// A case made real, for the live local executor and the node agent: a Job manifest whose one task writes
// the case's log lines (those of the first job the faults touched) to stderr and ends as the failure does
// (exit code, or killed by its signal), the kernel lines to append to the node agent's kernel log, the alerts
// as an Alertmanager webhook body, and the other node facts (GPU health, Slurm states) to POST to
// /v1/signals.
struct LiveFault {
  std::string manifest;
  std::vector<std::string> kernel_lines;
  std::string alerts;  // JSON, Alertmanager webhook version 4 ("" when none)
  std::vector<Signal> node_signals;
};
LiveFault ToLive(const FaultCase& fc, const std::string& node);

// The lines of scenario `scenario` on `node` (GPU `gpu`) at about `at_ms` (each within 30 s after it), about
// `job` of `tenant` when one ran there ("" when none), and that job's task exit: what a broken node shows
// the engine each time it fails a run (for the simulator's fault injection). Optional lines sometimes
// missing (`missing`).
std::vector<Signal> NodeFaultSignals(const Catalog& catalog, int scenario, const std::string& node, int gpu,
                                     const std::string& job, const std::string& tenant, int64_t at_ms,
                                     double missing, Rng& rng);

struct EvalOptions {
  uint64_t seed = 1;
  int cases = 1000;  // fault cases; one healthy case is added for every four of them
  FaultOptions faults;
  EngineOptions engine;
};

struct EvalMiss {
  std::string scenario, place, got;  // got: the best diagnosis at the place ("" when none)
};

struct EvalResult {
  int scenarios = 0;  // catalog scenarios that can be injected as faults (not benign)
  int cases = 0, faults = 0, top1 = 0, top3 = 0;
  int healthy_cases = 0, false_alarms = 0;
  int64_t signals = 0;
  double top1_pct() const { return faults == 0 ? 0 : 100.0 * top1 / faults; }
  double top3_pct() const { return faults == 0 ? 0 : 100.0 * top3 / faults; }
  double false_alarm_pct() const { return healthy_cases == 0 ? 0 : 100.0 * false_alarms / healthy_cases; }
  std::vector<EvalMiss> misses;  // top-1 misses (the first 50)
};

EvalResult Evaluate(const Catalog& catalog, const EvalOptions& o);

// The rank (0-based) of `fault` among the diagnoses at its place; -1 when absent.
int RankAtPlace(const std::vector<Diagnosis>& found, const InjectedFault& fault, std::string* best = nullptr,
                const Catalog* catalog = nullptr);

}  // namespace awan::diagnosis
