// The built-in plugins and policies, registered in one table.
//
// | policy     | scorers (weight)                          | devices | origin                          |
// |------------|-------------------------------------------|---------|---------------------------------|
// | random     | RandomScore (1000)                        | random  | FGD paper, "Random"             |
// | dotprod    | DotProductScore (1000)                    | best    | FGD paper, "DotProd"            |
// | clustering | GpuClusteringScore (1000)                 | best    | FGD paper, "GpuClustering"      |
// | packing    | GpuPackingScore (1000)                    | best    | FGD paper, "GpuPacking"         |
// | bestfit    | BestFitScore (1000)                       | best    | FGD paper, "BestFit"            |
// | fgd        | FgdScore (1000)                           | fgd     | FGD paper, "FGD"                |
// | k8s        | LeastAllocated (1), BalancedAllocation (1)| best    | Kubernetes default scoring      |
// Every policy filters with NodeResourcesFit and GpuFit.
#pragma once

#include "core/registry.h"

namespace awan::policies {

void RegisterBuiltins(PluginRegistry& registry);
// A registry with the built-ins, built once; read-only.
const PluginRegistry& BuiltinRegistry();

}  // namespace awan::policies
