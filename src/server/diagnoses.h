// DiagnosisHub: the live server's diagnosis (issue 19): one diagnosis::Engine fed by the control plane's own
// facts (tasks that failed, with the last lines of their logs; nodes whose heartbeats stopped), by node
// agents (`awan agent`: kernel lines, GPU health; POST /v1/signals) and by Prometheus Alertmanager (its
// webhook, POST /v1/alerts). GET /v1/diagnoses and `awan diagnose [JOB|NODE]` read it.
//
// The fleet's topology gives each node its switch (its block) for causes wider than one node; the fleet
// file has no power feeds, so feed-wide causes are not found live.
//
// Visibility: an admin sees every diagnosis; a tenant sees only those that touch its own jobs (the cause and
// its action, the tenant's job ids, not other tenants' jobs or the raw evidence of nodes).
//
// Thread-safe: one lock. Bounded: signals are kept for the engine's window and at most max_signals; a text
// longer than kMaxSignalText is cut.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "config/fleet_file.h"
#include "diagnosis/actions.h"
#include "diagnosis/catalog.h"
#include "diagnosis/engine.h"
#include "server/auth.h"

namespace awan::server {

inline constexpr size_t kMaxSignalText = 4096;
inline constexpr size_t kMaxSignalsPerPost = 1000;

// An automatic action on a node: the scenario that calls for it, the node, why, what and how risky.
// What a diagnosis calls for (diagnosis/actions.h: the one policy, shared with the simulator).
using NodeAction = diagnosis::Action;

class DiagnosisHub {
 public:
  DiagnosisHub(diagnosis::Catalog catalog, const config::FleetFile& fleet, Clock& clock,
               diagnosis::EngineOptions options = {});

  // Adds a fact (at_ms 0: now). The tenant of a job's signal is set by the caller (the control plane).
  void Add(diagnosis::Signal s);
  // Signals from a JSON array or object {"signals": [...]} (agents); errors name the item; nothing is added
  // unless every item is good. A signal may only name a node of the fleet; with `only_node` (a node agent's
  // token) every signal is that node's, whatever it says.
  Status AddJson(const nlohmann::json& body, const std::string& only_node = "");
  // An Alertmanager webhook (version 4): each alert becomes an `alert` signal "alertname=... severity=...
  // label=value ..." on the node of its `node` or `instance` label (host part).
  Status AddAlertmanager(const nlohmann::json& body);

  // The diagnoses now, as JSON, for `who`; `target` (optional: a job id or a node name) keeps those about it
  // (its job among theirs, their entity, or evidence from that node); `since_s` > 0 keeps those with a signal
  // in the last since_s seconds.
  nlohmann::json Diagnoses(const Principal& who, const std::string& target = "", int64_t since_s = 0) const;
  // The node-wide automatic actions the current diagnoses call for (cordon or drain a node, take a GPU's node
  // out of service).
  std::vector<NodeAction> NodeActions() const;
  // Diagnoses made so far per scenario id (for /metrics), counted once per (scenario, entity).
  std::vector<std::pair<std::string, int64_t>> Counts() const;
  const diagnosis::Catalog& catalog() const { return catalog_; }

 private:
  diagnosis::Catalog catalog_;
  Clock& clock_;
  mutable std::mutex mu_;
  diagnosis::EngineOptions options_;
  diagnosis::Engine engine_;
  std::vector<std::string> nodes_;  // sorted
  std::map<std::string, std::string> job_tenant_;
  mutable std::map<std::string, std::set<std::string>> seen_;  // scenario -> entities diagnosed
  // Diagnoses now (under mu_), counted in seen_.
  std::vector<diagnosis::Diagnosis> DiagnoseLocked() const;
};

// The topology the engine needs, from a fleet file: each node's block as its switch.
diagnosis::DiagTopology DiagTopologyOf(const config::FleetFile& fleet);

}  // namespace awan::server
