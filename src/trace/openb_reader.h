// Readers for the Alibaba GPU cluster trace 2023 ("openb") node and pod lists, as used by the FGD paper.
//   nodes: sn, cpu_milli, memory_mib, gpu, model
//   pods:  name, cpu_milli, memory_mib, num_gpu, gpu_milli [, gpu_spec] (other columns are ignored)
// Conversion follows the paper's converter: a pod with num_gpu == 0 has no GPU request and no model
// constraint; gpu_milli above 1000 is clamped to 1000; gpu_spec "A|B" (empty parts dropped) is the set of
// allowed models. Any malformed value is an error naming file, line, column and what was expected;
// nothing is skipped silently.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan::trace {

// Adds the nodes of an openb node list to `fleet`, each in its own supernode of a flat topology.
Status ParseOpenbNodes(std::string_view text, std::string_view source, Fleet& fleet);
Status ReadOpenbNodes(const std::string& path, Fleet& fleet);

// Parses an openb pod list. Model names are interned into `models` (normally the fleet's registry).
StatusOr<std::vector<PodSpec>> ParseOpenbPods(std::string_view text, std::string_view source,
                                              AcceleratorRegistry& models);
StatusOr<std::vector<PodSpec>> ReadOpenbPods(const std::string& path, AcceleratorRegistry& models);

// "openb_pod_list_default.csv" -> "default"; any other file name -> its stem.
std::string OpenbWorkloadName(const std::string& path);

}  // namespace awan::trace
