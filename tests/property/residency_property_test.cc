// Property: no placement ever violates residency. RapidCheck generates random fleets (regions with
// jurisdictions, edge sites, node sizes, prices), rules (datasets of every class bound to random places,
// tenants with random data defaults and quotas), workloads (gangs, fractional GPUs, jobs that read the
// checkpoints earlier jobs write) and event sequences (node failures and recoveries, preemptive orderings,
// fair share, isolation), runs the real simulator, and checks every run the scheduler starts against an
// oracle written here, independently of core/residency.cc.
//
// The second property does the same for services (sim/serve_sim.h): random services reading random data,
// random request loads, every autoscaler and router; no replica ever starts, and no request is ever served,
// outside the regions the service's data allows.
//
// CTest runs it with RC_PARAMS="max_success=10000 seed=..." (tests/CMakeLists.txt): 10,000 cases, the same
// ones every run. Run the binary alone for a random seed.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "config/fleet_file.h"
#include "config/service_file.h"
#include "config/workload_file.h"
#include "policies/builtin.h"
#include "sim/jobs_sim.h"
#include "sim/serve_sim.h"

namespace awan::sim {
namespace {

const std::vector<std::string> kJurisdictions = {"AA", "BB", "CC"};
const std::vector<std::string> kClasses = {"public", "internal", "confidential", "restricted"};

struct OracleRegion {
  std::string name, jurisdiction;
  bool edge = false;
};

struct Rule {
  int cls = 0;  // index into kClasses
  std::set<std::string> jurisdictions, regions;
};

// The oracle: the set of region names a rule allows.
std::set<std::string> Allowed(const Rule& r, const std::vector<OracleRegion>& regions) {
  std::set<std::string> out;
  for (const OracleRegion& g : regions) {
    const bool bound = r.cls >= 2;
    const bool listed = r.regions.count(g.name) || r.jurisdictions.count(g.jurisdiction);
    if (!bound || (listed && !(r.cls == 3 && g.edge))) out.insert(g.name);
  }
  return out;
}

// A random place list over the generated regions: some jurisdictions and/or some region names, never empty.
Rule RandomRule(const std::vector<OracleRegion>& regions, int cls) {
  Rule r;
  r.cls = cls;
  if (cls < 2 && *rc::gen::inRange(0, 2) == 0) return r;
  while (r.jurisdictions.empty() && r.regions.empty()) {
    for (const std::string& j : kJurisdictions)
      if (*rc::gen::inRange(0, 3) == 0) r.jurisdictions.insert(j);
    for (const OracleRegion& g : regions)
      if (*rc::gen::inRange(0, 4) == 0) r.regions.insert(g.name);
  }
  return r;
}

std::string Places(const Rule& r) {
  std::string s;
  if (!r.jurisdictions.empty()) s += fmt::format(", jurisdictions: [{}]", fmt::join(r.jurisdictions, ", "));
  if (!r.regions.empty()) s += fmt::format(", regions: [{}]", fmt::join(r.regions, ", "));
  return s;
}

// One to three tenants t0.. of cohort c with random data defaults, appended to `fleet` (under "tenants:");
// their rules.
std::vector<Rule> RandomTenants(const std::vector<OracleRegion>& regions, int max_guarantee,
                                std::string& fleet) {
  std::vector<Rule> rules;
  const int n = *rc::gen::inRange(1, 4);
  for (int t = 0; t < n; ++t) {
    rules.push_back(RandomRule(regions, *rc::gen::inRange(0, 4)));
    fleet +=
        fmt::format("  - {{name: t{}, guaranteed_gpus: {}, cohort: c, data: {{classification: {}{}}}}}\n", t,
                    *rc::gen::inRange(0, max_guarantee), kClasses[static_cast<size_t>(rules.back().cls)],
                    Places(rules.back()));
  }
  return rules;
}

RC_GTEST_PROP(ResidencyProperty, NoPlacementEverViolatesResidency, ()) {
  // Fleet.
  const int n_regions = *rc::gen::inRange(1, 5);
  std::vector<OracleRegion> regions;
  std::string fleet = "node_types:\n";
  for (int g : {1, 2, 4, 8})
    fleet += fmt::format("  g{0}: {{accelerator: H100, gpus: {0}, cpu: 64, memory_gib: 512}}\n", g);
  fleet += "regions:\n";
  for (int r = 0; r < n_regions; ++r) {
    OracleRegion g{fmt::format("r{}", r), kJurisdictions[static_cast<size_t>(*rc::gen::inRange(0, 3))],
                   *rc::gen::inRange(0, 4) == 0};
    regions.push_back(g);
    fleet += fmt::format(
        "  - name: {}\n    jurisdiction: {}\n    edge: {}\n    prices: {{H100: {}}}\n    zones:\n", g.name,
        g.jurisdiction, g.edge ? "true" : "false", *rc::gen::inRange(1, 6));
    const int zones = *rc::gen::inRange(1, 3);
    for (int z = 0; z < zones; ++z) {
      fleet +=
          fmt::format("      - {{name: z{}{}, layout: {{type: g{}, nodes: {}, nodes_per_supernode: 2}}}}\n",
                      r, z, std::vector<int>{1, 2, 4, 8}[static_cast<size_t>(*rc::gen::inRange(0, 4))],
                      *rc::gen::inRange(1, 4));
    }
  }
  // Tenants with data defaults.
  fleet += "tenants:\n";
  const std::vector<Rule> tenant_rule = RandomTenants(regions, 24, fleet);
  const int n_tenants = static_cast<int>(tenant_rule.size());
  auto file = config::ParseFleetFile(fleet, "gen-fleet.yaml");
  if (!file.ok()) RC_FAIL(file.status().ToString() + "\n" + fleet);
  // Datasets and jobs.
  std::map<std::string, Rule> rule;  // the oracle's view of every item
  std::string wl = "datasets:\n";
  const int n_data = *rc::gen::inRange(0, 5);
  std::vector<std::string> items;
  for (int d = 0; d < n_data; ++d) {
    const std::string name = fmt::format("d{}", d);
    rule[name] = RandomRule(regions, *rc::gen::inRange(0, 4));
    wl += fmt::format("  - {{name: {}, classification: {}{}}}\n", name,
                      kClasses[static_cast<size_t>(rule[name].cls)], Places(rule[name]));
    items.push_back(name);
  }
  struct OracleJob {
    std::string name;
    int tenant;
    std::vector<std::string> reads, writes;
  };
  std::vector<OracleJob> ojobs;
  wl += "jobs:\n";
  const int n_jobs = *rc::gen::inRange(1, 13);
  for (int i = 0; i < n_jobs; ++i) {
    OracleJob j{fmt::format("j{}", i), *rc::gen::inRange(0, n_tenants), {}, {}};
    for (const std::string& it : items)
      if (*rc::gen::inRange(0, 3) == 0) j.reads.push_back(it);
    if (*rc::gen::inRange(0, 2) == 0) {
      j.writes.push_back(fmt::format("ck{}", i));
      items.push_back(j.writes.back());
    }
    const std::vector<std::string> gpus = {"0.5", "1", "2", "4", "8"};
    wl += fmt::format(
        "  - {{name: {}, tenant: t{}, submit_s: {}, duration_s: {}, tasks: {}, gpus: {}, reads: [{}], "
        "writes: [{}]}}\n",
        j.name, j.tenant, *rc::gen::inRange(0, 3000), *rc::gen::inRange(1, 4000), *rc::gen::inRange(1, 4),
        gpus[static_cast<size_t>(*rc::gen::inRange(0, 5))], fmt::join(j.reads, ", "),
        fmt::join(j.writes, ", "));
    ojobs.push_back(std::move(j));
  }
  auto w = config::ParseWorkloadFile(wl, "gen-workload.yaml", (*file)->fleet);
  if (!w.ok()) RC_FAIL(w.status().ToString() + "\n" + wl);
  std::map<std::string, TenantSpec> tenants;
  for (const TenantSpec& t : (*file)->tenants) tenants[t.name] = t;
  auto catalog = DataCatalog::Build((*file)->fleet, w->datasets, w->jobs, tenants);
  if (!catalog.ok()) RC_FAIL(catalog.status().ToString());

  // The oracle: items the jobs name without a declaration take the defaults of the tenants whose jobs write
  // them (else of those whose jobs read them), strictest class and intersected places; outputs inherit the
  // strictest class and the intersection of places of their writers' inputs, to a fixed point.
  std::map<std::string, std::set<std::string>> allowed;
  std::map<std::string, int> cls;
  std::map<std::string, std::set<int>> writers, readers;
  for (const OracleJob& j : ojobs) {
    for (const std::string& it : j.writes) writers[it].insert(j.tenant);
    for (const std::string& it : j.reads) readers[it].insert(j.tenant);
  }
  std::set<std::string> declared;
  for (const auto& [name, r] : rule)
    declared.insert(name), allowed[name] = Allowed(r, regions), cls[name] = r.cls;
  for (const auto* side : {&writers, &readers}) {
    for (const auto& [it, owners] : *side) {
      if (declared.count(it) || allowed.count(it)) continue;
      std::set<std::string> ok;
      for (const OracleRegion& g : regions) ok.insert(g.name);
      int c = 0;
      for (int t : owners) {
        const std::set<std::string> a = Allowed(tenant_rule[static_cast<size_t>(t)], regions);
        std::set<std::string> both;
        std::set_intersection(ok.begin(), ok.end(), a.begin(), a.end(), std::inserter(both, both.begin()));
        ok = both;
        c = std::max(c, tenant_rule[static_cast<size_t>(t)].cls);
      }
      allowed[it] = ok;
      cls[it] = c;
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (const OracleJob& j : ojobs) {
      for (const std::string& out : j.writes) {
        for (const std::string& in : j.reads) {
          std::set<std::string> both;
          std::set_intersection(allowed[out].begin(), allowed[out].end(), allowed[in].begin(),
                                allowed[in].end(), std::inserter(both, both.begin()));
          if (both != allowed[out] || cls[in] > cls[out]) changed = true;
          allowed[out] = both;
          cls[out] = std::max(cls[out], cls[in]);
        }
      }
    }
  }
  std::map<std::string, std::set<std::string>> job_allowed;
  for (const OracleJob& j : ojobs) {
    std::set<std::string> ok;
    for (const OracleRegion& g : regions) ok.insert(g.name);
    if (j.reads.empty() && j.writes.empty())
      ok = Allowed(tenant_rule[static_cast<size_t>(j.tenant)], regions);
    for (const auto* list : {&j.reads, &j.writes}) {
      for (const std::string& it : *list) {
        std::set<std::string> both;
        std::set_intersection(ok.begin(), ok.end(), allowed[it].begin(), allowed[it].end(),
                              std::inserter(both, both.begin()));
        ok = both;
      }
    }
    job_allowed[j.name] = ok;
  }

  // Events and policy.
  JobsSimOptions o;
  o.policy = std::vector<std::string>{"fifo", "awan", "srtf",
                                      "tiresias"}[static_cast<size_t>(*rc::gen::inRange(0, 4))];
  o.scheduler.fair_share = *rc::gen::inRange(0, 2) == 1;
  o.scheduler.policies.admission = *rc::gen::inRange(0, 4) == 0 ? "isolated" : "cohort";
  o.scheduler.min_run_s = *rc::gen::inRange(0, 300);
  o.scheduler.checkpoint_s = *rc::gen::inRange(0, 600);
  o.scheduler.preempt_interval_s = *rc::gen::inRange(1, 300);
  o.scheduler.region_latency_weight = *rc::gen::inRange(0, 3) * 0.05;
  o.catalog = &*catalog;
  const uint32_t nodes = static_cast<uint32_t>((*file)->fleet.size());
  const int n_events = *rc::gen::inRange(0, 6);
  for (int e = 0; e < n_events; ++e) {
    o.node_events.push_back({*rc::gen::inRange(0, 6000),
                             static_cast<uint32_t>(*rc::gen::inRange(0, static_cast<int>(nodes))),
                             *rc::gen::inRange(0, 2) == 0});
  }
  int64_t runs = 0;
  std::string violation;
  o.on_start = [&](const RunStarted& run, const JobSpec& job, const JobResidency&) {
    ++runs;
    for (const Placement& p : run.tasks) {
      const Fleet& fleet = (*file)->fleet;
      const std::string region = fleet.topology().DomainName(TopologyLevel::kRegion, fleet.region_of(p.node));
      if (!job_allowed[job.name].count(region) && violation.empty()) {
        violation = fmt::format("job {} ran in {}; allowed: {}", job.name, region,
                                fmt::join(job_allowed[job.name], ","));
      }
    }
    return Status::Ok();
  };
  auto r = RunJobsSim(**file, w->jobs, o);
  if (!r.ok()) RC_FAIL(r.status().ToString() + "\nfleet:\n" + fleet + "\nworkload:\n" + wl);
  RC_CLASSIFY(runs > 0, "some job ran");
  RC_CLASSIFY(r->summary.preemptions + r->summary.failure_requeues > 0, "preempted or requeued");
  if (!violation.empty()) RC_FAIL(violation + "\nfleet:\n" + fleet + "\nworkload:\n" + wl);
  RC_ASSERT(r->summary.residency_violations == 0);
}

RC_GTEST_PROP(ResidencyProperty, NoReplicaOrRequestEverLeavesItsPlaces, ()) {
  const int n_regions = *rc::gen::inRange(1, 5);
  std::vector<OracleRegion> regions;
  std::string fleet = "node_types:\n  g8: {accelerator: H100, gpus: 8, cpu: 64, memory_gib: 512}\nregions:\n";
  std::string latency;
  for (int r = 0; r < n_regions; ++r) {
    OracleRegion g{fmt::format("r{}", r), kJurisdictions[static_cast<size_t>(*rc::gen::inRange(0, 3))],
                   *rc::gen::inRange(0, 4) == 0};
    regions.push_back(g);
    fleet += fmt::format(
        "  - name: {}\n    jurisdiction: {}\n    edge: {}\n    zones:\n      - {{name: z{}, layout: {{type: "
        "g8, "
        "nodes: {}}}}}\n",
        g.name, g.jurisdiction, g.edge ? "true" : "false", r, *rc::gen::inRange(1, 3));
    latency += fmt::format("{}{}: {}", r ? ", " : "", g.name, *rc::gen::inRange(1, 40));
  }
  fleet += "user_locations:\n  - {name: city, latency_ms: {" + latency + "}}\ntenants:\n";
  const std::vector<Rule> tenant_rule = RandomTenants(regions, 16, fleet);
  const int n_tenants = static_cast<int>(tenant_rule.size());
  auto file = config::ParseFleetFile(fleet, "gen-fleet.yaml");
  if (!file.ok()) RC_FAIL(file.status().ToString() + "\n" + fleet);
  std::vector<DataSpec> datasets;
  std::map<std::string, Rule> rule;
  const int n_data = *rc::gen::inRange(0, 4);
  for (int d = 0; d < n_data; ++d) {
    const std::string name = fmt::format("d{}", d);
    rule[name] = RandomRule(regions, *rc::gen::inRange(0, 4));
    DataSpec spec;
    spec.name = name;
    spec.cls = static_cast<DataClass>(rule[name].cls);
    spec.places.jurisdictions = rule[name].jurisdictions;
    spec.places.regions = rule[name].regions;
    datasets.push_back(spec);
  }
  // Services, their loads, and what the oracle allows each.
  std::string svc =
      "models:\n  - {name: m8, parameters_b: 8, weights_gib: 15, kv_kib_per_token: 128, layers: 32}\n"
      "services:\n";
  std::vector<std::set<std::string>> svc_allowed;
  std::vector<ServiceLoad> loads;
  const int n_services = *rc::gen::inRange(1, 4);
  for (int s = 0; s < n_services; ++s) {
    const int t = *rc::gen::inRange(0, n_tenants);
    std::vector<std::string> reads;
    for (const auto& [name, r] : rule)
      if (*rc::gen::inRange(0, 2) == 0) reads.push_back(name);
    std::set<std::string> ok;
    if (reads.empty()) {
      ok = Allowed(tenant_rule[static_cast<size_t>(t)], regions);
    } else {
      for (const OracleRegion& g : regions) ok.insert(g.name);
      for (const std::string& d : reads) {
        const std::set<std::string> a = Allowed(rule[d], regions);
        std::set<std::string> both;
        std::set_intersection(ok.begin(), ok.end(), a.begin(), a.end(), std::inserter(both, both.begin()));
        ok = both;
      }
    }
    svc_allowed.push_back(ok);
    svc += fmt::format(
        "  - {{name: s{}, tenant: t{}, model: m8, shapes: [{{accelerator: H100, gpus: {}}}], replicas: "
        "{{min: {}, "
        "max: {}}}, slo: {{ttft_ms: 2000, tpot_ms: 100}}, priority: {}, users: [city], reads: [{}]}}\n",
        s, t, *rc::gen::inRange(0, 2) == 0 ? "0.5" : "1", *rc::gen::inRange(0, 2), *rc::gen::inRange(1, 5),
        *rc::gen::inRange(0, 3) * 5, fmt::join(reads, ", "));
    ServiceLoad l;
    l.service = fmt::format("s{}", s);
    const int n = *rc::gen::inRange(1, 200);
    for (int i = 0; i < n; ++i) {
      InferenceRequest r;
      r.at_ms = *rc::gen::inRange(0, 120000);
      r.prompt_tokens = *rc::gen::inRange(1, 3000);
      r.output_tokens = *rc::gen::inRange(1, 300);
      l.requests.push_back(r);
    }
    std::sort(l.requests.begin(), l.requests.end(),
              [](const InferenceRequest& a, const InferenceRequest& b) { return a.at_ms < b.at_ms; });
    loads.push_back(std::move(l));
  }
  auto services = config::ParseServicesFile(svc, "gen-services.yaml", (*file)->fleet);
  if (!services.ok()) RC_FAIL(services.status().ToString() + "\n" + svc);
  auto catalog = ServingCatalog(**file, datasets, {}, *services);
  if (!catalog.ok()) RC_FAIL(catalog.status().ToString());
  ServeSimOptions o;
  const PluginRegistry& registry = policies::BuiltinRegistry();
  const std::vector<std::string> scalers = registry.AutoscalerNames(), routers = registry.RouterNames();
  o.autoscaler = scalers[static_cast<size_t>(*rc::gen::inRange(0, static_cast<int>(scalers.size())))];
  o.router = routers[static_cast<size_t>(*rc::gen::inRange(0, static_cast<int>(routers.size())))];
  o.warmup_ms = 0;
  o.drain_ms = 60000;
  o.jobs.catalog = &*catalog;
  auto r = RunServeSim(**file, *services, loads, {}, o);
  if (!r.ok()) RC_FAIL(r.status().ToString() + "\nfleet:\n" + fleet + "\nservices:\n" + svc);
  for (size_t s = 0; s < r->per_service.size(); ++s) {
    const ServiceOutcome& out = r->per_service[s];
    const size_t k = static_cast<size_t>(std::stoi(out.name.substr(1)));
    for (const auto* list : {&out.replica_regions, &out.served_regions})
      for (const std::string& g : *list)
        if (!svc_allowed[k].count(g))
          RC_FAIL(fmt::format("{} ran or served in {}; allowed: {}\nfleet:\n{}\nservices:\n{}", out.name, g,
                              fmt::join(svc_allowed[k], ","), fleet, svc));
    RC_CLASSIFY(!out.served_regions.empty(), "served");
  }
  RC_ASSERT(r->summary.routed_outside_allowed == 0);
  RC_ASSERT(r->summary.replicas_placed_outside == 0);
}

}  // namespace
}  // namespace awan::sim
