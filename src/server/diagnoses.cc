#include "server/diagnoses.h"

#include <fmt/format.h>

#include <algorithm>

namespace awan::server {

using diagnosis::Diagnosis;
using diagnosis::Signal;
using Json = nlohmann::json;

diagnosis::DiagTopology DiagTopologyOf(const config::FleetFile& fleet) {
  diagnosis::DiagTopology t;
  const Fleet& f = fleet.fleet;
  for (uint32_t i = 0; i < f.size(); ++i) {
    const NodeSpec& n = f.node(NodeIndex(i));
    const DomainId block = n.topology.at(TopologyLevel::kBlock);
    const std::string& zone =
        f.topology().DomainName(TopologyLevel::kZone, n.topology.at(TopologyLevel::kZone));
    t.nodes.push_back({n.name, {zone + "/" + f.topology().DomainName(TopologyLevel::kBlock, block), ""}});
  }
  return t;
}

DiagnosisHub::DiagnosisHub(diagnosis::Catalog catalog, const config::FleetFile& fleet, Clock& clock,
                           diagnosis::EngineOptions options)
    : catalog_(std::move(catalog)),
      clock_(clock),
      options_(options),
      engine_(catalog_, DiagTopologyOf(fleet), options) {
  for (uint32_t i = 0; i < fleet.fleet.size(); ++i) nodes_.push_back(fleet.fleet.node(NodeIndex(i)).name);
  std::sort(nodes_.begin(), nodes_.end());
}

void DiagnosisHub::Add(Signal s) {
  if (s.at_ms == 0) s.at_ms = clock_.NowMs();
  if (s.text.size() > kMaxSignalText) s.text.resize(kMaxSignalText);
  std::lock_guard<std::mutex> l(mu_);
  if (!s.job.empty() && !s.tenant.empty()) {
    if (job_tenant_.size() > 100000) job_tenant_.clear();
    job_tenant_[s.job] = s.tenant;
  }
  engine_.Add(std::move(s));
  engine_.Forget(clock_.NowMs() - 2 * options_.window_ms);
}

Status DiagnosisHub::AddJson(const Json& body, const std::string& only_node) {
  const Json* list = &body;
  if (body.is_object() && body.contains("signals")) list = &body["signals"];
  if (!list->is_array()) return InvalidArgument("expected a JSON array of signals or {\"signals\": [...]}");
  if (list->size() > kMaxSignalsPerPost)
    return InvalidArgument(fmt::format("at most {} signals per request", kMaxSignalsPerPost));
  std::vector<Signal> parsed;
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& j = (*list)[i];
    const std::string where = fmt::format("signal {}", i);
    if (!j.is_object() || !j.contains("kind") || !j["kind"].is_string() || !j.contains("text") ||
        !j["text"].is_string())
      return InvalidArgument(where + ": needs \"kind\" and \"text\" strings");
    const auto kind = diagnosis::ParseSignalKind(j["kind"].get<std::string>());
    if (!kind) return InvalidArgument(where + ": unknown kind '" + j["kind"].get<std::string>() + "'");
    Signal s;
    s.kind = *kind;
    s.text = j["text"].get<std::string>();
    if (j.contains("node")) {
      if (!j["node"].is_string()) return InvalidArgument(where + ": \"node\" must be a string");
      s.node = j["node"].get<std::string>();
      if (!only_node.empty() && s.node != only_node)
        return PermissionDenied(where + ": a node token speaks only for " + only_node);
      if (!std::binary_search(nodes_.begin(), nodes_.end(), s.node))
        return InvalidArgument(where + ": \"node\" must name a node of the fleet");
    }
    if (j.contains("gpu") && j["gpu"].is_number_integer()) s.gpu = std::clamp(j["gpu"].get<int>(), -1, 1023);
    if (!only_node.empty()) s.node = only_node;
    parsed.push_back(std::move(s));
  }
  for (Signal& s : parsed) Add(std::move(s));
  return Status::Ok();
}

Status DiagnosisHub::AddAlertmanager(const Json& body) {
  if (!body.is_object() || !body.contains("alerts") || !body["alerts"].is_array())
    return InvalidArgument("expected an Alertmanager webhook body with \"alerts\"");
  if (body["alerts"].size() > kMaxSignalsPerPost)
    return InvalidArgument(fmt::format("at most {} alerts per request", kMaxSignalsPerPost));
  for (const Json& a : body["alerts"]) {
    if (!a.is_object() || a.value("status", "firing") != "firing") continue;
    const Json labels = a.value("labels", Json::object());
    if (!labels.is_object()) continue;
    std::string text = "alertname=" + labels.value("alertname", std::string("unknown"));
    if (labels.contains("severity") && labels["severity"].is_string())
      text += " severity=" + labels["severity"].get<std::string>();
    for (const auto& [k, v] : labels.items())
      if (k != "alertname" && k != "severity" && v.is_string()) text += " " + k + "=" + v.get<std::string>();
    Signal s;
    s.kind = diagnosis::SignalKind::kAlert;
    s.text = std::move(text);
    std::string node = labels.value("node", std::string());
    if (node.empty())
      node = labels.value("instance", std::string())
                 .substr(0, labels.value("instance", std::string()).find(':'));
    if (std::binary_search(nodes_.begin(), nodes_.end(), node)) s.node = node;
    if (labels.contains("gpu") && labels["gpu"].is_string()) {
      try {
        s.gpu = std::stoi(labels["gpu"].get<std::string>());
      } catch (...) {
      }
    }
    Add(std::move(s));
  }
  return Status::Ok();
}

std::vector<Diagnosis> DiagnosisHub::DiagnoseLocked() const {
  std::vector<Diagnosis> found = engine_.Diagnose(clock_.NowMs());
  for (const Diagnosis& d : found) seen_[catalog_.at(static_cast<size_t>(d.scenario)).id].insert(d.entity);
  if (seen_.size() > 10000) seen_.clear();
  return found;
}

Json DiagnosisHub::Diagnoses(const Principal& who, const std::string& target, int64_t since_s) const {
  std::lock_guard<std::mutex> l(mu_);
  const std::vector<Diagnosis> found = DiagnoseLocked();
  const bool admin = who.role == Role::kAdmin;
  Json items = Json::array();
  for (const Diagnosis& d : found) {
    if (since_s > 0 && d.last_ms < clock_.NowMs() - since_s * 1000) continue;
    const diagnosis::Scenario& s = catalog_.at(static_cast<size_t>(d.scenario));
    std::vector<std::string> jobs;
    for (const std::string& j : d.jobs) {
      const auto t = job_tenant_.find(j);
      if (admin || (t != job_tenant_.end() && t->second == who.tenant)) jobs.push_back(j);
    }
    if (!admin && jobs.empty()) continue;
    if (!target.empty()) {
      bool about = std::find(jobs.begin(), jobs.end(), target) != jobs.end() || (admin && d.entity == target);
      for (size_t i = 0; admin && !about && i < d.evidence.size(); ++i)
        about = engine_.signal(d.evidence[i]).node == target;
      if (!about) continue;
    }
    Json j = {{"scenario", s.id},
              {"title", s.title},
              {"layer", s.layer},
              {"severity", diagnosis::Name(s.severity)},
              {"scope", diagnosis::Name(d.scope)},
              {"confidence", d.confidence},
              {"first_ms", d.first_ms},
              {"last_ms", d.last_ms},
              {"root_cause", s.root_cause},
              {"action", s.action},
              {"auto_action", diagnosis::Name(s.auto_action)},
              {"auto_risk", diagnosis::Name(s.auto_risk)},
              {"jobs", jobs},
              {"symptoms_explained", d.explained.size()}};
    // A tenant sees its own job's or its own tenant's name, never a node's, a switch's or a dataset's.
    if (admin || d.scope == diagnosis::Scope::kJob ||
        (d.scope == diagnosis::Scope::kTenant && d.entity == who.tenant))
      j["entity"] = d.entity;
    if (admin) {
      if (d.gpu >= 0) j["gpu"] = d.gpu;
      j["members"] = d.members;
      Json ev = Json::array();
      for (size_t i = 0; i < d.evidence.size() && i < 10; ++i) {
        const Signal& sig = engine_.signal(d.evidence[i]);
        ev.push_back({{"at_ms", sig.at_ms},
                      {"kind", diagnosis::Name(sig.kind)},
                      {"node", sig.node},
                      {"job", sig.job},
                      {"text", sig.text}});
      }
      j["evidence"] = ev;
    }
    items.push_back(std::move(j));
  }
  return {{"items", items}};
}

std::vector<NodeAction> DiagnosisHub::NodeActions() const {
  std::lock_guard<std::mutex> l(mu_);
  return diagnosis::ActionsFor(catalog_, engine_, DiagnoseLocked());
}

std::vector<std::pair<std::string, int64_t>> DiagnosisHub::Counts() const {
  std::lock_guard<std::mutex> l(mu_);
  DiagnoseLocked();
  std::vector<std::pair<std::string, int64_t>> out;
  for (const auto& [id, entities] : seen_) out.push_back({id, static_cast<int64_t>(entities.size())});
  return out;
}

}  // namespace awan::server
