// Micro benchmarks of the core's hot paths (Release only): one placement decision per policy on a
// generated fleet, and FGD's fragmentation measure. Whole-run figures come from `awan bench placement`.
#include <benchmark/benchmark.h>

#include "policies/builtin.h"
#include "policies/fgd/fragmentation.h"
#include "sim/generator.h"
#include "sim/openb_protocol.h"
#include "trace/openb_reader.h"

namespace awan {
namespace {

struct Setup {
  Fleet fleet;
  std::vector<PodSpec> pods;
  explicit Setup(int nodes) {
    sim::GeneratorSpec g;
    g.nodes = nodes;
    g.seed = 7;
    (void)trace::ParseOpenbNodes(sim::GenerateNodesCsv(g), "gen", fleet);
    pods = sim::SortedByName(*trace::ParseOpenbPods(sim::GeneratePodsCsv(g), "gen", fleet.models()));
  }
};

// Fills the cluster to about 60 % with the policy itself, then times decisions (not committed).
void BM_Decision(benchmark::State& state, const std::string& policy) {
  Setup s(static_cast<int>(state.range(0)));
  auto profile = policies::BuiltinRegistry().BuildProfile(policy, PluginContext{&s.fleet, &s.pods});
  Framework fw(std::move(*profile));
  ClusterSnapshot snap(s.fleet);
  Rng rng(1);
  size_t i = 0;
  for (; i < s.pods.size() && snap.gpu_allocated_milli() < snap.gpu_capacity_milli() * 6 / 10; ++i) {
    auto d = fw.Schedule(s.pods[i], snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
    if (d.ok() && d->placed) (void)snap.Assign(s.pods[i], d->placement);
  }
  size_t k = i;
  for (auto _ : state) {
    auto d = fw.Schedule(s.pods[k], snap, CycleContext{&rng, {}, nullptr, {}, false, {}, {}});
    benchmark::DoNotOptimize(d);
    if (++k == s.pods.size()) k = i;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK_CAPTURE(BM_Decision, bestfit, std::string("bestfit"))
    ->Arg(1213)
    ->Arg(12500)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Decision, fgd, std::string("fgd"))->Arg(1213)->Arg(12500)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Decision, k8s, std::string("k8s"))->Arg(1213)->Unit(benchmark::kMicrosecond);

void BM_Frag(benchmark::State& state) {
  Setup s(100);
  policies::FragmentationModel m(policies::EstimateTypicalPods(s.pods));
  ClusterSnapshot snap(s.fleet);
  policies::FragNodeView v = policies::FragNodeView::Of(snap.node(NodeIndex(0)));
  for (auto _ : state) {
    v.gpu_left[0] = static_cast<int32_t>(state.iterations() % 1000);
    benchmark::DoNotOptimize(m.Frag(v));
  }
}
BENCHMARK(BM_Frag);

}  // namespace
}  // namespace awan

BENCHMARK_MAIN();
