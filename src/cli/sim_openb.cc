#include "cli/sim_openb.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "cli/cli_util.h"
#include "cli/progress.h"
#include "policies/builtin.h"
#include "sim/experiment.h"
#include "sim/generator.h"
#include "sim/report.h"
#include "trace/openb_reader.h"

namespace awan::cli {
void AddSimOpenb(CLI::App& sim, SimOpenbArgs& a) {
  CLI::App* c = sim.add_subcommand(
      "openb", "Replay an openb pod list (Alibaba GPU trace 2023) with the FGD paper's protocol");
  c->add_option("--nodes", a.nodes, "node list CSV (sn,cpu_milli,memory_mib,gpu,model)")->required();
  c->add_option("--pods", a.pods, "pod list CSV(s); repeat or separate with commas for several workloads")
      ->required()
      ->delimiter(',');
  c->add_option(
       "--policy", a.policies,
       "comma-separated policies (see `awan policies`); `bound` is the LP bound, `bound-online` "
       "the LP bound under the online rule (every pod that fits is placed), `bound:P` the LP bound given "
       "the pods policy P placed by arrived 100 %")
      ->capture_default_str();
  c->add_option("--seeds", a.seeds, "seeds: FIRST-LAST or a comma list")->capture_default_str();
  c->add_option("--tune", a.tune, "workload tuned to this multiple of GPU capacity")->capture_default_str();
  c->add_option("--json", a.json_out, "write runs and summary as JSON to this file");
  c->add_option("--report", a.report_dir, "write an HTML report with gnuplot charts into this folder");
  c->add_option("--published", a.published,
                "the paper's analysis_allo_discrete.csv: show published means and differences");
  c->add_option("--threads", a.threads, "worker threads (default: all cores)");
  c->add_flag(
      "--bound", a.bound,
      "also compute the LP upper bounds on allocation per seed (policies `bound` and `bound-online`; on by "
      "default with --report)");
  c->add_flag("--no-bound", a.no_bound, "never compute the bounds, even with --report");
  c->add_flag("--quiet", a.quiet, "no progress bar");
}

int RunSimOpenb(const SimOpenbArgs& a) {
  Fleet fleet;
  if (Status s = trace::ReadOpenbNodes(a.nodes, fleet); !s.ok()) return Fail(s);
  sim::ExperimentSpec spec;
  spec.fleet = &fleet;
  spec.tune_ratio = a.tune;
  if (a.tune <= 0 || a.tune > 10) return Fail(InvalidArgument("--tune must be in (0, 10]"));
  for (const std::string& path : a.pods) {
    auto pods = trace::ReadOpenbPods(path, fleet.models());
    if (!pods.ok()) return Fail(pods.status());
    spec.workloads.push_back(
        sim::Workload{trace::OpenbWorkloadName(path), sim::SortedByName(std::move(*pods))});
  }
  spec.policies = SplitList(a.policies);
  if (spec.policies.empty()) return Usage(InvalidArgument("--policy names no policy"));
  if (Status s = sim::CheckPolicyNames(spec.policies, policies::BuiltinRegistry()); !s.ok()) return Usage(s);
  if (Status s = PrepareOutputs(a.json_out, a.report_dir); !s.ok()) return Fail(s);
  if (a.no_bound) {
    std::erase(spec.policies, std::string(sim::kBoundPolicy));
    std::erase(spec.policies, std::string(sim::kOnlineBoundPolicy));
    if (spec.policies.empty()) return Fail(InvalidArgument("--no-bound leaves no policy to run"));
  } else if (a.bound || !a.report_dir.empty()) {
    for (const char* b : {sim::kBoundPolicy, sim::kOnlineBoundPolicy}) {
      if (std::find(spec.policies.begin(), spec.policies.end(), b) == spec.policies.end())
        spec.policies.push_back(b);
    }
  }
  auto seeds = sim::ParseSeeds(a.seeds);
  if (!seeds.ok()) return Usage(seeds.status());
  spec.seeds = *seeds;
  spec.threads = a.threads > 0 ? a.threads : std::max(1u, std::thread::hardware_concurrency());

  std::optional<sim::PublishedCurves> published;
  if (!a.published.empty()) {
    auto p = sim::PublishedCurves::Load(a.published);
    if (!p.ok()) return Fail(p.status());
    published = std::move(*p);
  }
  fmt::print(stderr,
             "awan sim openb: {} nodes ({} GPUs), {} workload(s) x {} policies x {} seeds = {} runs on {} "
             "thread(s)\n",
             fleet.size(), fleet.total_gpus(), spec.workloads.size(), spec.policies.size(), spec.seeds.size(),
             spec.workloads.size() * spec.policies.size() * spec.seeds.size(), spec.threads);
  ProgressBar bar("sim openb", !a.quiet);
  auto result = sim::RunExperiment(spec, policies::BuiltinRegistry(), [&](const sim::Progress& p) {
    bar.Update(p.work_done, p.work_total, fmt::format("{}/{} runs", p.runs_done, p.runs_total));
  });
  if (!result.ok()) return Fail(result.status());
  bar.Finish(fmt::format("{} runs", result->runs.size()));

  const sim::PublishedCurves* pub = published ? &*published : nullptr;
  fmt::print("{}", sim::FormatTable(*result, pub));
  if (!a.json_out.empty()) {
    if (Status s = sim::WriteJson(a.json_out, *result, pub, a.tune); !s.ok()) return Fail(s);
    fmt::print(stderr, "wrote {}\n", a.json_out);
  }
  if (!a.report_dir.empty()) {
    if (Status s = sim::WriteHtmlReport(a.report_dir, *result, pub); !s.ok()) return Fail(s);
    fmt::print(stderr, "wrote {}/index.html\n", a.report_dir);
  }
  return 0;
}

void AddGenerate(CLI::App& app, GenerateArgs& a) {
  CLI::App* c =
      app.add_subcommand("example", "Write awan's built-in example fleet and pod mix (openb format)");
  c->add_option("--out", a.out_dir, "output folder (nodes.csv, pods.csv)")->capture_default_str();
  c->add_option("--nodes", a.nodes, "number of nodes")->capture_default_str()->check(CLI::Range(1, 1000000));
  c->add_option("--mix", a.mix, "fleet mix: mixed or hgx (all 8-GPU nodes)")
      ->capture_default_str()
      ->check(CLI::IsMember({"mixed", "hgx"}));
  c->add_option("--demand", a.demand, "pods' GPU request as a multiple of GPU capacity")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 10.0));
  c->add_option("--seed", a.seed, "generator seed")->capture_default_str();
}

int RunGenerate(const GenerateArgs& a) {
  sim::GeneratorSpec spec;
  spec.nodes = a.nodes;
  spec.mix = a.mix == "hgx" ? sim::FleetMix::kHgx : sim::FleetMix::kMixed;
  spec.gpu_demand_ratio = a.demand;
  spec.seed = a.seed;
  if (Status s = sim::WriteExample(spec, a.out_dir); !s.ok()) return Fail(s);
  fmt::print(
      "wrote {0}/nodes.csv and {0}/pods.csv ({1} nodes, {2} mix, demand {3:.2f}x GPU capacity, seed {4})\n",
      a.out_dir, a.nodes, a.mix, a.demand, a.seed);
  return 0;
}

}  // namespace awan::cli
