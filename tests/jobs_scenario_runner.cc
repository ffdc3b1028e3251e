#include "jobs_scenario_runner.h"

#include <map>
#include <sstream>

#include "config/fleet_file.h"
#include "sim/jobs_sim.h"
#include "test_util.h"
#include "trace/csv.h"

namespace awan::testing {
namespace {

struct Line {
  int number;
  std::vector<std::string> words;
  std::map<std::string, std::string> kv;  // key=value words after the first two
};

StatusOr<TopologyLevel> Level(const std::string& s) {
  if (s == "supernode") return TopologyLevel::kSupernode;
  if (s == "block") return TopologyLevel::kBlock;
  if (s == "zone") return TopologyLevel::kZone;
  return InvalidArgument("unknown level '" + s + "' (supernode, block, zone)");
}

}  // namespace

Status RunJobScenarioText(const std::string& text, const std::string& source) {
  std::vector<Line> lines;
  for (ScenarioLine& sl : ScenarioLines(text)) {
    Line l{sl.number, std::move(sl.words), {}};
    for (size_t i = 1; i < l.words.size(); ++i) {
      const size_t eq = l.words[i].find('=');
      if (eq != std::string::npos) l.kv[l.words[i].substr(0, eq)] = l.words[i].substr(eq + 1);
    }
    lines.push_back(std::move(l));
  }
  auto err = [&](const Line& l, const std::string& m) {
    return FailedPrecondition(source + ":" + std::to_string(l.number) + ": " + m);
  };
  auto num = [](const Line& l, const std::string& k, int64_t def) {
    auto it = l.kv.find(k);
    return it == l.kv.end() ? def : std::stoll(it->second);
  };

  // 1. The fleet file, written from `fleet` and `tenant` lines.
  std::string yaml, tenants;
  for (const Line& l : lines) {
    if (l.words[0] == "fleet") {
      yaml = "node_types: {g: {accelerator: GPU, gpus: " + std::to_string(num(l, "gpus", 8)) +
             ", cpu: " + std::to_string(num(l, "cpu", 1000)) +
             ", memory_gib: 10000}}\nregions: [{name: r, zones: [{name: z, layout: {type: g, nodes: " +
             std::to_string(num(l, "nodes", 1)) +
             ", nodes_per_supernode: " + std::to_string(num(l, "per_supernode", 1)) +
             ", supernodes_per_block: " + std::to_string(num(l, "per_block", 1)) + "}}]}]\n";
    } else if (l.words[0] == "tenant") {
      if (l.words.size() < 2) return err(l, "tenant needs a name");
      tenants += "  - {name: " + l.words[1] + ", guaranteed_gpus: " + std::to_string(num(l, "guaranteed", 0));
      if (l.kv.count("cohort")) tenants += ", cohort: " + l.kv.at("cohort");
      if (l.kv.count("borrow")) tenants += ", borrowing_limit_gpus: " + l.kv.at("borrow");
      if (l.kv.count("lend")) tenants += ", lending_limit_gpus: " + l.kv.at("lend");
      if (l.kv.count("weight")) tenants += ", weight: " + l.kv.at("weight");
      if (l.kv.count("priority")) tenants += ", priority: " + l.kv.at("priority");
      tenants += "}\n";
    }
  }
  if (yaml.empty()) return FailedPrecondition(source + ": no 'fleet' line");
  if (!tenants.empty()) yaml += "tenants:\n" + tenants;
  AWAN_ASSIGN_OR_RETURN(auto fleet, config::ParseFleetFile(yaml, source + " (fleet)"));

  // 2. Options, jobs and node events.
  sim::JobsSimOptions o;
  o.scheduler.min_run_s = 0;
  o.scheduler.checkpoint_s = 0;
  o.scheduler.restart_s = 0;
  o.scheduler.preempt_interval_s = 0;
  std::vector<JobSpec> jobs;
  std::map<std::string, size_t> index;
  for (const Line& l : lines) {
    const std::string& w = l.words[0];
    if (w == "fleet" || w == "tenant" || w == "expect") continue;
    if (w == "option") {
      for (const auto& [k, v] : l.kv) {
        if (k == "policy")
          o.policy = v;
        else if (k == "isolated")
          o.scheduler.policies.admission = v == "1" ? "isolated" : "cohort";
        else if (k == "blind")
          o.scheduler.topology_aware = v != "1";
        else if (k == "min_run")
          o.scheduler.min_run_s = std::stoll(v);
        else if (k == "checkpoint")
          o.scheduler.checkpoint_s = std::stoll(v);
        else if (k == "restart")
          o.scheduler.restart_s = std::stoll(v);
        else if (k == "preempt_interval")
          o.scheduler.preempt_interval_s = std::stoll(v);
        else if (k == "backfill")
          o.scheduler.policies.backfill = v;  // an unknown name fails when the scheduler is built
        else if (k == "max_preemptions")
          o.scheduler.max_preemptions = std::stoi(v);
        else if (k == "cost_aware")
          o.scheduler.policies.preemption = v == "1" ? "cost-aware" : "plain";
        else if (k == "aging")
          o.scheduler.aging = std::stod(v);
        else if (k == "cycle_period")
          o.cycle_period_s = std::stoll(v);
        else if (k == "fair_share")
          o.scheduler.fair_share = v == "1";
        else
          return err(l, "unknown option '" + k + "'");
      }
    } else if (w == "job") {
      if (l.words.size() < 2) return err(l, "job needs a name");
      JobSpec j;
      j.name = l.words[1];
      j.tenant = l.kv.count("tenant") ? l.kv.at("tenant") : "";
      j.submit_s = num(l, "at", 0);
      j.priority = static_cast<int>(num(l, "priority", 0));
      j.duration_s = num(l, "duration", 1);
      j.tasks = static_cast<int>(num(l, "tasks", 1));
      j.task.name = j.name;
      j.task.gpu_count = static_cast<int>(num(l, "gpus", 1));
      j.task.gpu_milli = kWholeGpu;
      j.task.cpu = CpuMilli(num(l, "cpu", 0) * 1000);
      if (l.kv.count("within")) {
        auto lv = Level(l.kv.at("within"));
        if (!lv.ok()) return err(l, lv.status().message());
        j.widest = *lv;
      }
      index[j.name] = jobs.size();
      jobs.push_back(std::move(j));
    } else if (w == "down" || w == "up") {
      if (l.words.size() < 2) return err(l, w + " needs a node name");
      NodeIndex n;
      if (!fleet->fleet.FindNode(l.words[1], &n)) return err(l, "unknown node '" + l.words[1] + "'");
      o.node_events.push_back(sim::NodeEvent{num(l, "at", 0), n.value, w == "down"});
    } else {
      return err(l, "unknown directive '" + w + "'");
    }
  }
  AWAN_ASSIGN_OR_RETURN(sim::JobsSimResult r, sim::RunJobsSim(*fleet, jobs, o));

  // 3. Expectations.
  for (const Line& l : lines) {
    if (l.words[0] != "expect") continue;
    if (l.words.size() < 3) return err(l, "expect NAME never | expect NAME key=value...");
    auto it = index.find(l.words[1]);
    if (it == index.end()) return err(l, "unknown job '" + l.words[1] + "'");
    const sim::JobOutcome& j = r.jobs[it->second];
    if (l.words[2] == "never") {
      if (j.start_s >= 0)
        return err(l, l.words[1] + " started at " + std::to_string(j.start_s) + ", expected never");
      continue;
    }
    for (const auto& [k, v] : l.kv) {
      int64_t got = 0;
      if (k == "start")
        got = j.start_s;
      else if (k == "end")
        got = j.end_s;
      else if (k == "preemptions")
        got = j.preemptions;
      else if (k == "requeues")
        got = j.failure_requeues;
      else if (k.rfind("waited_", 0) == 0) {
        int reason = -1;
        for (int w = 0; w < sim::kWaitReasons; ++w)
          if (k.substr(7) == sim::WaitReasonName(static_cast<sim::WaitReason>(w))) reason = w;
        if (reason < 0) return err(l, "unknown wait reason in '" + k + "'");
        got = j.waited_s[static_cast<size_t>(reason)];
      } else if (k == "level") {
        auto lv = Level(v);
        if (!lv.ok()) return err(l, lv.status().message());
        if (j.level != static_cast<int>(*lv)) {
          return err(l, l.words[1] + " level " + std::to_string(j.level) + ", expected " + v);
        }
        continue;
      } else {
        return err(l, "unknown expectation '" + k + "'");
      }
      if (got != std::stoll(v))
        return err(l, l.words[1] + " " + k + "=" + std::to_string(got) + ", expected " + v);
    }
  }
  return Status::Ok();
}

Status RunJobScenarioFile(const std::string& path) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return RunJobScenarioText(text, path);
}

}  // namespace awan::testing
