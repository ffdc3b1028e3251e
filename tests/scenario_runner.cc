#include "scenario_runner.h"

#include <map>
#include <sstream>

#include "core/framework.h"
#include "policies/builtin.h"
#include "test_util.h"
#include "trace/csv.h"

namespace awan::testing {
namespace {

struct Line {
  int number;
  std::vector<std::string> words;
};

std::map<std::string, std::string> KeyValues(const Line& l, size_t from) {
  std::map<std::string, std::string> kv;
  for (size_t i = from; i < l.words.size(); ++i) {
    const size_t eq = l.words[i].find('=');
    if (eq != std::string::npos) kv[l.words[i].substr(0, eq)] = l.words[i].substr(eq + 1);
  }
  return kv;
}

int64_t Num(const std::map<std::string, std::string>& kv, const std::string& k, int64_t def) {
  auto it = kv.find(k);
  return it == kv.end() ? def : std::stoll(it->second);
}

struct Placed {
  PodSpec pod;
  Decision decision;
  bool live = false;
};

}  // namespace

Status RunScenarioText(const std::string& text, const std::string& source) {
  std::vector<Line> lines;
  for (ScenarioLine& sl : ScenarioLines(text)) lines.push_back(Line{sl.number, std::move(sl.words)});
  auto err = [&](const Line& l, const std::string& m) {
    return FailedPrecondition(source + ":" + std::to_string(l.number) + ": " + m);
  };

  Fleet fleet;
  std::string policy = "bestfit";
  std::vector<PodSpec> all_pods;
  std::map<std::string, size_t> pod_index;
  std::vector<uint32_t> ranks;
  auto make_pod = [&](const Line& l) {
    auto kv = KeyValues(l, 2);
    PodSpec p;
    p.name = l.words[1];
    p.cpu = CpuMilli(Num(kv, "cpu", 1000));
    p.memory = MemMiB(Num(kv, "mem", 1024));
    p.gpu_count = static_cast<int>(Num(kv, "gpus", 0));
    p.gpu_milli = GpuMilli(p.gpu_count > 0 ? Num(kv, "milli", 1000) : 0);
    if (kv.count("models")) {
      p.model_constraint = kv["models"];
      std::istringstream ms(kv["models"]);
      for (std::string m; std::getline(ms, m, '|');) p.allowed_models.Add(fleet.models().Intern(m));
    }
    return p;
  };
  // Pass 1: fleet, policy, pods (for FGD's target workload).
  for (const Line& l : lines) {
    if (l.words[0] == "policy" && l.words.size() == 2) {
      policy = l.words[1];
    } else if (l.words[0] == "node" && l.words.size() >= 2) {
      auto kv = KeyValues(l, 2);
      NodeSpec n;
      n.name = l.words[1];
      n.cpu = CpuMilli(Num(kv, "cpu", 32000));
      n.memory = MemMiB(Num(kv, "mem", 65536));
      n.gpu_count = static_cast<int>(Num(kv, "gpus", 0));
      n.model = fleet.models().Intern(kv.count("model") ? kv["model"] : (n.gpu_count ? "V100" : ""));
      n.max_pods = static_cast<int>(Num(kv, "pods", 1001));
      n.topology = fleet.topology().Place("r", "z", "b", n.name);
      auto added = fleet.AddNode(n);
      if (!added.ok()) return err(l, added.status().message());
      ranks.push_back(static_cast<uint32_t>(ranks.size()));
    } else if (l.words[0] == "pod" && l.words.size() >= 2) {
      all_pods.push_back(make_pod(l));
    }
  }
  auto profile = policies::BuiltinRegistry().BuildProfile(policy, PluginContext{&fleet, &all_pods});
  if (!profile.ok()) return profile.status();
  Framework fw(std::move(*profile));
  ClusterSnapshot snap(fleet);
  Rng rng(42);
  std::map<std::string, Placed> pods;
  auto node_of = [&](const Line& l, const std::string& name, NodeIndex* out) -> Status {
    if (!fleet.FindNode(name, out)) return err(l, "unknown node '" + name + "'");
    return Status::Ok();
  };
  // Pass 2: events and expectations in order.
  for (const Line& l : lines) {
    const std::string& verb = l.words[0];
    if (verb == "policy" || verb == "node") continue;
    if (verb == "rank") {
      for (size_t i = 1; i < l.words.size(); ++i) {
        const size_t eq = l.words[i].find('=');
        NodeIndex n;
        AWAN_RETURN_IF_ERROR(node_of(l, l.words[i].substr(0, eq), &n));
        ranks[n.value] = static_cast<uint32_t>(std::stoul(l.words[i].substr(eq + 1)));
      }
    } else if (verb == "pod") {
      PodSpec p = make_pod(l);
      auto d = fw.Schedule(p, snap, CycleContext{&rng, ranks, nullptr, {}, false, {}, {}});
      if (!d.ok()) return err(l, d.status().ToString());
      if (d->placed) AWAN_RETURN_IF_ERROR(snap.Assign(p, d->placement));
      pods[p.name] = Placed{p, *d, d->placed};
    } else if (verb == "release" && l.words.size() == 2) {
      auto it = pods.find(l.words[1]);
      if (it == pods.end() || !it->second.live) return err(l, "no placed pod '" + l.words[1] + "'");
      AWAN_RETURN_IF_ERROR(snap.Release(it->second.pod, it->second.decision.placement));
      it->second.live = false;
    } else if ((verb == "down" || verb == "up") && l.words.size() == 2) {
      NodeIndex n;
      AWAN_RETURN_IF_ERROR(node_of(l, l.words[1], &n));
      snap.SetUnavailable(n, verb == "down");
    } else if (verb == "expect" && l.words.size() >= 3 && l.words[1] == "node") {
      NodeIndex n;
      AWAN_RETURN_IF_ERROR(node_of(l, l.words[2], &n));
      auto kv = KeyValues(l, 3);
      const NodeState& st = snap.node(n);
      if (kv.count("gpu_left")) {
        std::string have;
        for (int d = 0; d < st.gpu_count; ++d) have += (d ? "," : "") + std::to_string(st.gpu_left[d]);
        if (have != kv["gpu_left"])
          return err(l, "node " + l.words[2] + " gpu_left is " + have + ", expected " + kv["gpu_left"]);
      }
      if (kv.count("cpu_left") && st.cpu_left.value != std::stoll(kv["cpu_left"])) {
        return err(l, "node " + l.words[2] + " cpu_left is " + std::to_string(st.cpu_left.value));
      }
    } else if (verb == "expect" && l.words.size() >= 3) {
      auto it = pods.find(l.words[1]);
      if (it == pods.end()) return err(l, "no pod '" + l.words[1] + "' was submitted");
      const Decision& d = it->second.decision;
      if (l.words[2] == "on" && l.words.size() >= 4) {
        if (!d.placed)
          return err(l, l.words[1] + " is unschedulable (" + d.diagnosis.ToString() + "), expected on " +
                            l.words[3]);
        const std::string& got = fleet.node(d.placement.node).name;
        if (got != l.words[3]) return err(l, l.words[1] + " is on " + got + ", expected " + l.words[3]);
        auto kv = KeyValues(l, 4);
        if (kv.count("devices") && d.placement.devices.ToString() != kv["devices"]) {
          return err(l, l.words[1] + " has devices " + d.placement.devices.ToString() + ", expected " +
                            kv["devices"]);
        }
      } else if (l.words[2] == "unschedulable") {
        if (d.placed)
          return err(l, l.words[1] + " was placed on " + fleet.node(d.placement.node).name +
                            ", expected unschedulable");
        auto kv = KeyValues(l, 3);
        if (kv.count("reason")) {
          const std::string got(FitReasonName(d.diagnosis.Dominant()));
          if (got != kv["reason"])
            return err(l, l.words[1] + " failed for " + got + ", expected " + kv["reason"]);
        }
      } else {
        return err(l, "unknown expectation");
      }
    } else {
      return err(l, "unknown directive '" + verb + "'");
    }
  }
  return Status::Ok();
}

Status RunScenarioFile(const std::string& path) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return RunScenarioText(text, path);
}

}  // namespace awan::testing
