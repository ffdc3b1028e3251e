#include "audit/audit_log.h"

#include <openssl/evp.h>

#include <map>
#include <nlohmann/json.hpp>

namespace awan::audit {
namespace {

using Json = nlohmann::json;

std::string RegionName(const Fleet& fleet, DomainId r) {
  return fleet.topology().DomainName(TopologyLevel::kRegion, r);
}

Json RulesJson(const JobResidency& rules) {
  Json out = Json::array();
  for (const RuleCitation& c : rules.binding) {
    out.push_back({{"data", c.data},
                   {"class", std::string(DataClassName(c.cls))},
                   {"jurisdictions", c.places.jurisdictions},
                   {"regions", c.places.regions},
                   {"inherited", c.inherited}});
  }
  return out;
}

std::string Hash(const std::string& prev, const Json& body) { return Sha256Hex(prev + "\n" + body.dump()); }

}  // namespace

std::string Sha256Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string AuditChain::Append(const Fleet& fleet, int64_t t_s, const JobSpec& job, uint32_t run,
                               const std::vector<Placement>& tasks, const JobResidency& rules) {
  Json t = Json::array();
  for (const Placement& p : tasks) {
    const DomainId r = fleet.region_of(p.node);
    t.push_back({{"node", fleet.node(p.node).name},
                 {"region", RegionName(fleet, r)},
                 {"jurisdiction", fleet.region(r).jurisdiction},
                 {"edge", fleet.region(r).edge}});
  }
  Json allowed = Json::array();
  for (uint32_t r = 0; r < fleet.region_count(); ++r) {
    if (rules.Allows(DomainId(r))) allowed.push_back(RegionName(fleet, DomainId(r)));
  }
  Json body = {{"seq", seq_ + 1}, {"t_s", t_s}, {"job", job.name},           {"tenant", job.tenant},
               {"run", run},      {"tasks", t}, {"rules", RulesJson(rules)}, {"allowed_regions", allowed},
               {"prev", head_}};
  head_ = Hash(head_, body);
  ++seq_;
  body["hash"] = head_;
  return body.dump();
}

std::string AuditChain::AppendAction(int64_t t_s, const Action& a) {
  Json action = {
      {"kind", a.kind}, {"node", a.node}, {"scenario", a.scenario}, {"mode", a.mode}, {"reason", a.reason}};
  if (a.gpu >= 0) action["gpu"] = a.gpu;
  if (!a.job.empty()) action["job"] = a.job;
  if (!a.by.empty()) action["by"] = a.by;
  Json body = {{"seq", seq_ + 1}, {"t_s", t_s}, {"action", std::move(action)}, {"prev", head_}};
  head_ = Hash(head_, body);
  ++seq_;
  body["hash"] = head_;
  return body.dump();
}

StatusOr<VerifyReport> VerifyAuditLog(std::string_view text, const Fleet& fleet, const DataCatalog* catalog,
                                      const std::vector<JobSpec>* jobs,
                                      const std::vector<TenantSpec>* tenants) {
  std::map<std::string, DomainId> regions;
  for (uint32_t r = 0; r < fleet.region_count(); ++r)
    regions.emplace(RegionName(fleet, DomainId(r)), DomainId(r));
  std::map<std::string, const JobSpec*> job_by_name;
  if (jobs)
    for (const JobSpec& j : *jobs) job_by_name[j.name] = &j;
  VerifyReport rep;
  rep.head = std::string(64, '0');
  size_t line_no = 0, pos = 0;
  while (pos < text.size()) {
    const size_t nl = std::min(text.find('\n', pos), text.size());
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.empty()) continue;
    const std::string where =
        "line " + std::to_string(line_no) + " (entry " + std::to_string(rep.entries + 1) + ")";
    Json e = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (e.is_discarded() || !e.is_object())
      return DataLoss(where + ": not a JSON object: the log is damaged");
    try {
      // An integer, checked before it is read: converting a JSON float such as 1e92 to an integer is
      // undefined behaviour (found by the audit fuzzer).
      if (!e.at("seq").is_number_integer())
        return DataLoss(where + ": seq " + e.at("seq").dump() + " is not an integer");
      if (e.at("seq").get<int64_t>() != rep.entries + 1) {
        return DataLoss(where + ": seq " + e.at("seq").dump() + " where " + std::to_string(rep.entries + 1) +
                        " was expected: an entry was removed, inserted or reordered");
      }
      if (e.at("prev").get<std::string>() != rep.head) {
        return DataLoss(where + ": prev does not match the previous entry's hash: the chain is broken");
      }
      const std::string hash = e.at("hash").get<std::string>();
      Json body = e;
      body.erase("hash");
      if (Hash(rep.head, body) != hash)
        return DataLoss(where + ": hash mismatch: the entry was altered after it was written");
      if (e.contains("action")) {  // an operational action: its node must exist
        const std::string node = e.at("action").at("node").get<std::string>();
        NodeIndex n;
        if (!fleet.FindNode(node, &n))
          return FailedPrecondition(where + ": an action on node " + node +
                                    ", which the fleet does not have");
        rep.head = hash;
        ++rep.entries;
        continue;
      }
      // The placement against the fleet and the logged rules.
      const std::string job = e.at("job").get<std::string>();
      JobResidency logged;
      for (const Json& r : e.at("rules")) {
        RuleCitation c;
        c.data = r.at("data").get<std::string>();
        if (!ParseDataClass(r.at("class").get<std::string>(), &c.cls))
          return InvalidArgument(where + ": unknown class " + r.at("class").dump());
        for (const Json& j : r.at("jurisdictions")) c.places.jurisdictions.insert(j.get<std::string>());
        for (const Json& g : r.at("regions")) c.places.regions.insert(g.get<std::string>());
        for (const Json& i : r.at("inherited")) c.inherited.push_back(i.get<std::string>());
        logged.binding.push_back(std::move(c));
      }
      for (const Json& t : e.at("tasks")) {
        const std::string node = t.at("node").get<std::string>();
        NodeIndex n;
        if (!fleet.FindNode(node, &n))
          return FailedPrecondition(where + ": job " + job + " ran on node " + node +
                                    ", which the fleet does not have");
        const DomainId r = fleet.region_of(n);
        if (t.at("region").get<std::string>() != RegionName(fleet, r) ||
            t.at("jurisdiction").get<std::string>() != fleet.region(r).jurisdiction) {
          return FailedPrecondition(where + ": node " + node + " is in region " + RegionName(fleet, r) +
                                    " (" + fleet.region(r).jurisdiction + "), not " + t.at("region").dump() +
                                    " as logged");
        }
        for (const RuleCitation& c : logged.binding) {
          if (!AllowedRegions(fleet, c.cls, c.places)[r.value]) {
            return FailedPrecondition(
                where + ": residency violation: job " + job + " ran on node " + node + " in region " +
                RegionName(fleet, r) + " (" + fleet.region(r).jurisdiction +
                (fleet.region(r).edge ? ", edge site" : "") + "), but " + c.data + " is " +
                std::string(DataClassName(c.cls)) + " and may be processed only in " + c.places.ToString());
          }
        }
      }
      if (catalog != nullptr && jobs != nullptr && tenants != nullptr) {
        auto it = job_by_name.find(job);
        if (it == job_by_name.end())
          return FailedPrecondition(where + ": job " + job + " is not in the workload");
        const TenantSpec* ts = nullptr;
        for (const TenantSpec& t : *tenants)
          if (t.name == it->second->tenant) ts = &t;
        if (ts == nullptr) return FailedPrecondition(where + ": tenant of job " + job + " unknown");
        auto truth = catalog->ForJob(*it->second, *ts);
        if (!truth.ok()) return truth.status();
        if (RulesJson(*truth) != e.at("rules")) {
          return FailedPrecondition(where + ": the rules logged for job " + job +
                                    " are not the catalog's: logged " + e.at("rules").dump() + ", catalog " +
                                    RulesJson(*truth).dump());
        }
      }
    } catch (const Json::exception& ex) {
      return DataLoss(where + ": missing or malformed field: " + ex.what());
    }
    rep.head = e.at("hash").get<std::string>();
    ++rep.entries;
  }
  return rep;
}

}  // namespace awan::audit
