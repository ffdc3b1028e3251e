#include "cli/bench.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/cli_util.h"
#include "common/rng.h"
#include "common/steady_tick_source.h"
#include "config/fleet_file.h"
#include "core/router.h"
#include "policies/builtin.h"
#include "sim/generator.h"
#include "sim/jobs_sim.h"
#include "sim/openb_protocol.h"
#include "trace/openb_reader.h"

namespace awan::cli {
namespace {

double Percentile(std::vector<int64_t> v, double q) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return static_cast<double>(v[k]);
}

}  // namespace

void AddBench(CLI::App& bench, BenchArgs& a) {
  CLI::App* c = bench.add_subcommand("placement", "Placement decisions/s and decision latency per policy");
  c->add_option("--nodes", a.nodes, "openb node list CSV");
  c->add_option("--pods", a.pods, "openb pod list CSV");
  c->add_option("--generate-nodes", a.generate_nodes,
                "instead of files: a generated fleet of N nodes (with a generated pod mix)");
  c->add_option("--mix", a.mix, "generated fleet mix: hgx (8 GPUs per node) or mixed")
      ->capture_default_str()
      ->check(CLI::IsMember({"mixed", "hgx"}));
  c->add_option("--policy", a.policies, "comma-separated policies")->capture_default_str();
  c->add_option("--seed", a.seed, "protocol seed")->capture_default_str();
  c->add_option("--repeat", a.repeat, "runs per policy; the median run is reported")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  c->add_option("--max-pods", a.max_pods, "measure only the first N decisions of each run");
  c->add_option("--json", a.json_out, "also write the results as JSON");
}

int RunBench(const BenchArgs& a) {
  Fleet fleet;
  std::vector<PodSpec> pods;
  std::string source;
  if (a.generate_nodes > 0) {
    sim::GeneratorSpec g;
    g.nodes = a.generate_nodes;
    g.mix = a.mix == "hgx" ? sim::FleetMix::kHgx : sim::FleetMix::kMixed;
    g.seed = a.seed;
    if (Status s = trace::ParseOpenbNodes(sim::GenerateNodesCsv(g), "generated nodes", fleet); !s.ok())
      return Fail(s);
    auto p = trace::ParseOpenbPods(sim::GeneratePodsCsv(g), "generated pods", fleet.models());
    if (!p.ok()) return Fail(p.status());
    pods = std::move(*p);
    source = fmt::format("generated {} mix, {} nodes", a.mix, a.generate_nodes);
  } else {
    if (a.nodes.empty() || a.pods.empty())
      return Fail(InvalidArgument("give --nodes and --pods, or --generate-nodes N"));
    if (Status s = trace::ReadOpenbNodes(a.nodes, fleet); !s.ok()) return Fail(s);
    auto p = trace::ReadOpenbPods(a.pods, fleet.models());
    if (!p.ok()) return Fail(p.status());
    pods = std::move(*p);
    source = a.pods;
  }
  pods = sim::SortedByName(std::move(pods));
  fmt::print("bench placement: {} ({} nodes, {} GPUs), seed {}, {} repeat(s), one thread\n", source,
             fleet.size(), fleet.total_gpus(), a.seed, a.repeat);
  fmt::print("{:<12} {:>9} {:>13} {:>10} {:>10} {:>10} {:>9}\n", "policy", "decisions", "decisions/s",
             "p50 us", "p99 us", "max us", "cache hit");
  nlohmann::json out = nlohmann::json::array();
  std::string list = a.policies;
  size_t start = 0;
  while (start <= list.size()) {
    size_t c = list.find(',', start);
    if (c == std::string::npos) c = list.size();
    const std::string policy = list.substr(start, c - start);
    start = c + 1;
    if (policy.empty()) continue;
    struct Rep {
      double rate;
      std::vector<int64_t> ns;
      FrameworkStats stats;
    };
    std::vector<Rep> reps;
    for (int r = 0; r < a.repeat; ++r) {
      SteadyTickSource ticks;
      std::vector<int64_t> ns;
      sim::OpenbRunOptions opt;
      opt.record_frag = false;
      opt.ticks = &ticks;
      opt.decision_ns = &ns;
      opt.max_pods = a.max_pods;
      auto run = sim::RunOpenb(fleet, pods, "bench", policy, a.seed, policies::BuiltinRegistry(), opt);
      if (!run.ok()) return Fail(run.status());
      int64_t total = 0;
      for (int64_t v : ns) total += v;
      reps.push_back(Rep{total > 0 ? 1e9 * static_cast<double>(ns.size()) / static_cast<double>(total) : 0,
                         std::move(ns), run->stats});
    }
    std::sort(reps.begin(), reps.end(), [](const Rep& x, const Rep& y) { return x.rate < y.rate; });
    const Rep& med = reps[reps.size() / 2];
    const double p50 = Percentile(med.ns, 0.50) / 1000, p99 = Percentile(med.ns, 0.99) / 1000;
    const double mx = med.ns.empty() ? 0 : *std::max_element(med.ns.begin(), med.ns.end()) / 1000.0;
    const int64_t lookups = med.stats.score_cache_hits + med.stats.score_cache_misses;
    const std::string hit =
        lookups ? fmt::format("{:.1f}%", 100.0 * med.stats.score_cache_hits / lookups) : "-";
    fmt::print("{:<12} {:>9} {:>13.0f} {:>10.1f} {:>10.1f} {:>10.1f} {:>9}\n", policy, med.ns.size(),
               med.rate, p50, p99, mx, hit);
    std::vector<double> rates;
    for (const Rep& r : reps) rates.push_back(r.rate);
    out.push_back({{"policy", policy},
                   {"decisions", med.ns.size()},
                   {"decisions_per_s_median", med.rate},
                   {"decisions_per_s_all", rates},
                   {"p50_us", p50},
                   {"p99_us", p99},
                   {"max_us", mx},
                   {"nodes", fleet.size()},
                   {"gpus", fleet.total_gpus()},
                   {"source", source}});
  }
  if (!a.json_out.empty()) {
    std::ofstream f(a.json_out);
    f << out.dump(1) << "\n";
    if (!f) return Fail(IoError("cannot write " + a.json_out));
  }
  return 0;
}

void AddBenchCycle(CLI::App& bench, BenchCycleArgs& a) {
  CLI::App* c =
      bench.add_subcommand("cycle", "Scheduling-cycle latency of the jobs simulator with a standing queue");
  c->add_option("--nodes", a.nodes, "8-GPU nodes in the generated fleet")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  c->add_option("--pending", a.pending, "jobs kept waiting")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  c->add_option("--policy", a.policy, "ordering policy")->capture_default_str();
  c->add_option("--finishes", a.finishes, "cycles to time (one job finishes before each)")
      ->capture_default_str();
}

int RunBenchCycle(const BenchCycleArgs& a) {
  const std::string yaml = fmt::format(
      "node_types: {{g: {{accelerator: H100, gpus: 8, cpu: 192, memory_gib: 2048}}}}\n"
      "regions: [{{name: r, zones: [{{name: z, layout: {{type: g, nodes: {}, nodes_per_supernode: 4, "
      "supernodes_per_block: 8}}}}]}}]\ndefault_tenant: {{guaranteed_gpus: {}, cohort: c}}\n",
      a.nodes, int64_t{8} * a.nodes);
  auto fleet = config::ParseFleetFile(yaml, "generated");
  if (!fleet.ok()) return Fail(fleet.status());
  // Every node gets one 8-GPU job: `finishes` of them end one second apart, the rest run for ever; the
  // `pending` jobs queue behind them (they need 8 GPUs too), so each finish frees one node for one of them
  // and every timed cycle runs with the whole queue waiting.
  std::vector<JobSpec> jobs;
  auto job = [&](int64_t submit, int64_t duration, int gpus) {
    JobSpec j;
    j.name = "j" + std::to_string(jobs.size());
    j.tenant = "t" + std::to_string(jobs.size() % 16);
    j.submit_s = submit;
    j.duration_s = duration;
    j.task.gpu_count = gpus;
    j.task.gpu_milli = kWholeGpu;
    jobs.push_back(j);
  };
  for (int n = 0; n < a.nodes; ++n) job(0, n < a.finishes ? 1000 + n : 100000000, 8);
  for (int p = 0; p < a.pending + a.finishes; ++p) job(1, 100000000, 8);
  sim::JobsSimOptions o;
  o.policy = a.policy;
  o.cycle_period_s = 0;
  SteadyTickSource ticks;
  std::vector<int64_t> ns;
  o.ticks = &ticks;
  o.cycle_ns = &ns;
  std::vector<std::array<int64_t, kCycleStages>> stages;
  o.cycle_stage_ns = &stages;
  std::vector<int64_t> at;
  o.cycle_at_s = &at;
  fmt::print(stderr,
             "bench cycle: {} nodes ({} GPUs), {} jobs waiting, {} timed cycles, policy {}, one thread\n",
             a.nodes, 8 * a.nodes, a.pending + a.finishes, a.finishes, a.policy);
  auto r = sim::RunJobsSim(**fleet, jobs, o);
  if (!r.ok()) return Fail(r.status());
  // The fill: the cycles at t = 0 that start the standing jobs (several, each cut short at the
  // scheduler's start budget), reported apart from the timed cycles that follow.
  size_t fill = 0;
  while (fill < ns.size() && at[fill] == 0) ++fill;
  if (fill == ns.size()) return Fail(Internal("no cycle had waiting jobs after the fill"));
  const std::vector<int64_t> filled(ns.begin(), ns.begin() + static_cast<std::ptrdiff_t>(fill));
  const std::vector<int64_t> timed(ns.begin() + static_cast<std::ptrdiff_t>(fill), ns.end());
  int64_t fill_ns = 0;
  for (int64_t x : filled) fill_ns += x;
  fmt::print("fill: {} jobs started in {} cycles, {:.1f} ms in all, slowest cycle {:.1f} ms\n", a.nodes, fill,
             fill_ns / 1e6, *std::max_element(filled.begin(), filled.end()) / 1e6);
  fmt::print("cycles  p50 us  p99 us  max us\n{:>6}  {:>6.1f}  {:>6.1f}  {:>6.1f}\n", timed.size(),
             Percentile(timed, 0.5) / 1e3, Percentile(timed, 0.99) / 1e3,
             *std::max_element(timed.begin(), timed.end()) / 1e3);
  // Where the time went, by stage: the fill, the slowest later cycle, and all later ones.
  const size_t slowest =
      fill + static_cast<size_t>(std::max_element(timed.begin(), timed.end()) - timed.begin());
  std::array<int64_t, kCycleStages> first{}, later{};
  for (size_t c = 0; c < stages.size(); ++c)
    for (size_t k = 0; k < later.size(); ++k) (c < fill ? first : later)[k] += stages[c][k];
  fmt::print(
      "slowest later cycle: #{} of {} (t = {} s)\nstage         fill ms  slowest-later ms  all-later ms\n",
      slowest - fill + 1, timed.size(), at[slowest]);
  for (int k = 0; k < kCycleStages; ++k) {
    const size_t u = static_cast<size_t>(k);
    fmt::print("{:<12}  {:>7.1f}  {:>16.1f}  {:>12.1f}\n", CycleStageName(static_cast<CycleStage>(k)),
               first[u] / 1e6, stages[slowest][u] / 1e6, later[u] / 1e6);
  }
  return 0;
}

void AddBenchRouter(CLI::App& bench, BenchRouterArgs& a) {
  CLI::App* c = bench.add_subcommand("router", "Routing decisions per second of the serving routers");
  c->add_option("--replicas", a.replicas, "replicas of the service")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  c->add_option("--decisions", a.decisions, "decisions per run")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 30));
  c->add_option("--repeat", a.repeat, "runs (the median is reported)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  c->add_option("--router", a.routers, "comma-separated routers")->capture_default_str();
}

int RunBenchRouter(const BenchRouterArgs& a) {
  const PluginRegistry& reg = policies::BuiltinRegistry();
  Rng rng(7);
  // The replicas as a request sees them: a quarter outside its places, latencies and loads at random, a few
  // leading blocks cached.
  std::vector<ReplicaView> views(static_cast<size_t>(a.replicas));
  for (size_t i = 0; i < views.size(); ++i) {
    views[i].replica = static_cast<uint32_t>(i);
    views[i].allowed = rng.Uniform(4) != 0;
    views[i].latency_ms = static_cast<double>(1 + rng.Uniform(40));
    views[i].outstanding_tokens = static_cast<int64_t>(rng.Uniform(20000));
    views[i].cached_prefix_blocks = static_cast<int>(rng.Uniform(3));
  }
  RouteRequest req;
  req.prompt_tokens = 1536;
  static constexpr uint64_t kBlocks[] = {11, 12, 13};
  req.hash_ids = kBlocks;
  fmt::print("{:<12} {:>10} {:>16}\n", "router", "replicas", "decisions/s");
  for (const std::string& name : SplitList(a.routers)) {
    auto router = reg.BuildRouter(name);
    if (!router.ok()) return Fail(router.status());
    std::vector<double> rates;
    uint64_t sink = 0;
    for (int r = 0; r < a.repeat; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      for (int k = 0; k < a.decisions; ++k) {
        views[static_cast<size_t>(k) % views.size()].outstanding_tokens += 1;  // the load moves
        const std::optional<uint32_t> pick = RouteWith(**router, req, views);
        sink += pick.value_or(0);
      }
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rates.push_back(a.decisions / s);
    }
    std::sort(rates.begin(), rates.end());
    fmt::print("{:<12} {:>10} {:>16.0f}{}\n", name, a.replicas, rates[rates.size() / 2],
               sink == 42 ? " " : "");
  }
  return 0;
}

}  // namespace awan::cli
