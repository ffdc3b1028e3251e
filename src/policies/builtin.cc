#include "policies/builtin.h"

#include "policies/awan/awan_score.h"
#include "policies/awan/model_reservation.h"
#include "policies/awan/wide_reservation.h"
#include "policies/bestfit/best_fit_score.h"
#include "policies/clustering/gpu_clustering_score.h"
#include "policies/cycle/cycle_policies.h"
#include "policies/dotprod/dot_product_score.h"
#include "policies/fgd/fgd_score.h"
#include "policies/fit/device_selectors.h"
#include "policies/fit/fit_filters.h"
#include "policies/images/image_locality.h"
#include "policies/k8s/k8s_scores.h"
#include "policies/ordering/orderings.h"
#include "policies/packing/gpu_packing_score.h"
#include "policies/random/random_score.h"
#include "serving/autoscalers.h"
#include "serving/routers.h"

namespace awan::policies {
namespace {

template <typename T>
PluginRegistry::ScorerFactory Simple() {
  return [](const PluginContext&) -> StatusOr<std::unique_ptr<ScorePlugin>> { return std::make_unique<T>(); };
}

StatusOr<std::shared_ptr<const FragmentationModel>> FragModelFor(const PluginContext& ctx) {
  if (ctx.workload == nullptr || ctx.workload->empty()) {
    return FailedPrecondition("FGD needs the workload's pod list to estimate its target workload");
  }
  return std::make_shared<const FragmentationModel>(EstimateTypicalPods(*ctx.workload));
}

StatusOr<std::shared_ptr<const PackingFragModel>> PackingModelFor(const PluginContext& ctx) {
  if (ctx.workload == nullptr || ctx.workload->empty()) {
    return FailedPrecondition("awan's scorer needs the workload's pod list to estimate its target workload");
  }
  // The same target workload FGD estimates (95 % popularity cutoff). Every shape (no cutoff) was tried: a
  // little better on most workloads, much worse on cpu250 (docs/policies.md).
  return std::make_shared<const PackingFragModel>(EstimateTypicalPods(*ctx.workload));
}

ProfileConfig Single(std::string name, std::string description, std::string scorer, std::string devices) {
  return ProfileConfig{std::move(name),
                       std::move(description),
                       {"NodeResourcesFit", "GpuFit"},
                       {{std::move(scorer), 1000}},
                       std::move(devices)};
}

}  // namespace

void RegisterBuiltins(PluginRegistry& r) {
  RegisterOrderings(r);
  RegisterCyclePolicies(r);
  serving::RegisterAutoscalers(r);
  serving::RegisterRouters(r);
  r.AddFilter("NodeResourcesFit", [](const PluginContext&) -> StatusOr<std::unique_ptr<FilterPlugin>> {
    return std::make_unique<NodeResourcesFit>();
  });
  r.AddFilter("GpuFit", [](const PluginContext&) -> StatusOr<std::unique_ptr<FilterPlugin>> {
    return std::make_unique<GpuFit>();
  });
  r.AddSelector("best", [](const PluginContext&) -> StatusOr<std::unique_ptr<DeviceSelector>> {
    return std::make_unique<BestFitDevices>();
  });
  r.AddSelector("random", [](const PluginContext&) -> StatusOr<std::unique_ptr<DeviceSelector>> {
    return std::make_unique<RandomDevices>();
  });
  r.AddSelector("fgd", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<DeviceSelector>> {
    AWAN_ASSIGN_OR_RETURN(auto model, FragModelFor(ctx));
    return std::make_unique<FgdDevices>(std::move(model));
  });
  r.AddSelector("awan", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<DeviceSelector>> {
    AWAN_ASSIGN_OR_RETURN(auto model, PackingModelFor(ctx));
    return std::make_unique<AwanDevices>(std::move(model));
  });
  r.AddScorer("AwanScore", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<ScorePlugin>> {
    AWAN_ASSIGN_OR_RETURN(auto model, PackingModelFor(ctx));
    return std::make_unique<AwanScore>(std::move(model));
  });
  r.AddScorer("ModelReservation", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<ScorePlugin>> {
    if (ctx.fleet == nullptr || ctx.workload == nullptr) {
      return FailedPrecondition("ModelReservation needs the fleet and the workload's pod list");
    }
    return std::make_unique<ModelReservation>(*ctx.fleet, *ctx.workload);
  });
  r.AddScorer("WideReservation", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<ScorePlugin>> {
    if (ctx.workload == nullptr) return FailedPrecondition("WideReservation needs the workload's pod list");
    return std::make_unique<WideReservation>(*ctx.workload);
  });
  r.AddScorer("ImageLocality", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<ScorePlugin>> {
    return std::make_unique<ImageLocalityScore>(ctx.images);
  });
  r.AddScorer("RandomScore", Simple<RandomScore>());
  r.AddScorer("DotProductScore", Simple<DotProductScore>());
  r.AddScorer("GpuClusteringScore", Simple<GpuClusteringScore>());
  r.AddScorer("GpuPackingScore", Simple<GpuPackingScore>());
  r.AddScorer("BestFitScore", Simple<BestFitScore>());
  r.AddScorer("LeastAllocated", Simple<LeastAllocatedScore>());
  r.AddScorer("BalancedAllocation", Simple<BalancedAllocationScore>());
  r.AddScorer("FgdScore", [](const PluginContext& ctx) -> StatusOr<std::unique_ptr<ScorePlugin>> {
    AWAN_ASSIGN_OR_RETURN(auto model, FragModelFor(ctx));
    return std::make_unique<FgdScore>(std::move(model));
  });

  r.AddProfile(
      Single("random", "uniformly random feasible node (FGD paper: Random)", "RandomScore", "random"));
  r.AddProfile(Single("dotprod", "smallest dot product of free and requested CPU/GPU (FGD paper: DotProd)",
                      "DotProductScore", "best"));
  r.AddProfile(Single("clustering", "group GPU pods of the same width (FGD paper: GpuClustering)",
                      "GpuClusteringScore", "best"));
  r.AddProfile(Single("packing", "partly used GPUs first, then used nodes (FGD paper: GpuPacking)",
                      "GpuPackingScore", "best"));
  r.AddProfile(
      Single("bestfit", "least CPU+GPU left after placement (FGD paper: BestFit)", "BestFitScore", "best"));
  r.AddProfile(
      Single("fgd", "fragmentation gradient descent (Weng et al., USENIX ATC'23)", "FgdScore", "fgd"));
  // awan: four levels, lexicographic (each weight exceeds the whole range of the levels below it):
  //   1. ModelReservation: unconstrained pods keep off the models that constrained pods will need;
  //   2. WideReservation: narrow pods keep off the last hosts of the wide pods still to come;
  //   3. FgdScore: fragmentation gradient descent, as the paper scores it;
  //   4. AwanScore: among nodes FGD scores alike (its integer truncation makes many ties), packing-aware
  //      fragmentation decides, instead of the random rank.
  // The largest total, 100 * (kModelWeight + kWideWeight + kFgdWeight) + 2 * kCenter, is about 2.3e18 < 2^63.
  {
    constexpr int64_t kFgdWeight = 2 * AwanScore::kCenter + 1;
    constexpr int64_t kWideWeight = (kMaxNodeScore + 1) * kFgdWeight;
    constexpr int64_t kModelWeight = (kMaxNodeScore + 1) * kWideWeight;
    static_assert(kMaxNodeScore * (kModelWeight + kWideWeight + kFgdWeight) + 2 * AwanScore::kCenter > 0);
    r.AddProfile(
        ProfileConfig{"awan",
                      "awan's own: keep scarce models for pods pinned to them and hosts for the wide pods "
                      "to come, then FGD, ties broken by packing-aware fragmentation",
                      {"NodeResourcesFit", "GpuFit"},
                      {{"ModelReservation", kModelWeight},
                       {"WideReservation", kWideWeight},
                       {"FgdScore", kFgdWeight},
                       {"AwanScore", 1}},
                      "awan"});
  }
  r.AddProfile(ProfileConfig{"k8s",
                             "Kubernetes default scoring: LeastAllocated + BalancedAllocation (CPU, memory)",
                             {"NodeResourcesFit", "GpuFit"},
                             {{"LeastAllocated", 1}, {"BalancedAllocation", 1}},
                             "best"});
}

const PluginRegistry& BuiltinRegistry() {
  static const PluginRegistry* r = [] {
    auto* reg = new PluginRegistry();
    RegisterBuiltins(*reg);
    return reg;
  }();
  return *r;
}

}  // namespace awan::policies
