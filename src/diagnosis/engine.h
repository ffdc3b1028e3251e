// The diagnosis engine: from signals to ranked causes with evidence.
//
// Each signal is matched once, when it is added, against the catalog's matchers of its kind. Diagnose(now)
// then groups the matches of the last `window_ms` by each scenario's scope (a GPU's node, a node, the nodes
// under a switch or on a power feed, a job, the jobs reading a dataset, a service, a tenant, the control
// plane), keeps the scenarios whose every key matcher matched, and ranks them:
//
//   score = 10 x key matchers + 2 x `also` matchers seen + min(5, symptoms explained)
//           (+ 3 x the share of the group's nodes or jobs that showed it, for switch, feed and dataset
//           causes)
//
// so a more specific scenario beats a more general one, and a cause beats the symptoms it explains. A symptom
// (a scenario with a class: an NCCL timeout, a task exit, a lost heartbeat) is attributed to a cause that
// explains its class on the place it came from (the job's nodes, the switch or feed of the node, the
// dataset the job read, the service's replicas' nodes) and is then reported under that cause, not on its
// own. A switch or power-feed cause needs its key signals on at least `group_min` nodes and `group_share` of
// the group; a dataset cause on at least `dataset_min_jobs` jobs. Benign scenarios are recognised and never
// reported. Deterministic: the same signals in the same order give the same diagnoses.
//
// Thread-compatible. Cost: Add is linear in the matchers of the signal's kind (each a few substring
// searches); Diagnose is linear in the matches within the window.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "diagnosis/catalog.h"
#include "diagnosis/signal.h"

namespace awan::diagnosis {

struct EngineOptions {
  int64_t window_ms = 600000;    // signals older than this at Diagnose time are not considered
  double group_share = 0.5;      // switch / power feed: the share of its nodes that must show the key signals
  int group_min = 2;             // ... and at least this many nodes
  int dataset_min_jobs = 2;      // dataset: at least this many jobs reading it
  size_t max_signals = 1000000;  // kept at most (the oldest are dropped first)
};

// One cause found: the scenario, where (scope and entity), how sure, and what shows it.
struct Diagnosis {
  int scenario = -1;  // index in the catalog
  Scope scope = Scope::kNode;
  std::string entity;  // the node, switch, feed, job, dataset, service, tenant, or "control-plane"
  int gpu = -1;        // for a GPU cause, when a signal named the GPU
  double score = 0;
  double confidence = 0;  // 0..1: key signals all present; the share of `also` signals and of the group seen
  int64_t first_ms = 0, last_ms = 0;
  std::vector<uint32_t> evidence;    // signal ids (Engine::signal) that matched its matchers
  std::vector<std::string> members;  // switch/feed: the nodes that showed it; dataset: the jobs
  std::vector<std::string> jobs;     // the jobs it touched (its own signals' and its explained symptoms')
  std::vector<std::pair<int, std::string>> explained;  // (symptom scenario, its entity) attributed to it
};

// Where a diagnosis is, for comparing places: GPU and node causes share the node's place.
std::string PlaceOf(Scope scope, const std::string& entity);

class Engine {
 public:
  Engine(const Catalog& catalog, DiagTopology topology, EngineOptions options = {});

  // Adds a signal (signals may arrive out of time order); returns its id.
  uint32_t Add(Signal s);
  // The causes found in (now - window, now], best first: by score, then critical before warning.
  std::vector<Diagnosis> Diagnose(int64_t now_ms) const;
  // Drops the signals older than `before_ms`.
  void Forget(int64_t before_ms);

  const Signal& signal(uint32_t id) const { return signals_[id - first_id_].signal; }
  size_t size() const { return signals_.size(); }
  uint64_t matched() const { return matched_; }  // signals that matched at least one matcher
  const Catalog& catalog() const { return *catalog_; }

 private:
  struct Hit {
    uint16_t scenario;
    uint8_t matcher;  // index in key, or in also
    bool key;
  };
  struct Stored {
    Signal signal;
    std::vector<Hit> hits;
  };
  struct Probe {
    uint16_t scenario;
    uint8_t matcher;
    bool key;
    const Matcher* m;
  };
  struct Group;

  std::string EntityOf(Scope scope, const Signal& s, std::string* member) const;
  void Attribute(std::vector<Diagnosis>& found, const std::vector<uint32_t>& window) const;

  const Catalog* catalog_;
  EngineOptions o_;
  std::unordered_map<std::string, DiagTopology::Place> place_;
  std::unordered_map<std::string, int> switch_size_, feed_size_;
  std::vector<std::vector<Probe>> by_kind_;
  std::deque<Stored> signals_;
  uint32_t first_id_ = 0;
  uint64_t matched_ = 0;
};

}  // namespace awan::diagnosis
