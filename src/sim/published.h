// The FGD paper's published per-seed curves (analysis_allo_discrete.csv of its simulator), for comparing
// awan's re-implementations against them. Workload and policy names are mapped to awan's:
// "openb_pod_list_default" -> "default", "06-FGD" -> "fgd" (Random, DotProd, GpuClustering, GpuPacking,
// BestFit, FGD -> random, dotprod, clustering, packing, bestfit, fgd).
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "sim/alloc_curve.h"

namespace awan::sim {

class PublishedCurves {
 public:
  static StatusOr<PublishedCurves> Load(const std::string& path);
  static StatusOr<PublishedCurves> Parse(std::string_view text, std::string_view source);

  // Unallocated GPU % (100 - allocation) at `arrived_pct` for every published seed of a cell; empty if the
  // cell is not published.
  std::vector<double> Unallocated(const std::string& workload, const std::string& policy,
                                  int arrived_pct) const;
  bool Has(const std::string& workload, const std::string& policy) const;

 private:
  // (workload, policy) -> per-seed curves
  std::map<std::pair<std::string, std::string>, std::vector<Curve>> curves_;
};

// "01-Random" -> "random" ... ; "" if unknown.
std::string AwanPolicyName(const std::string& published);

}  // namespace awan::sim
