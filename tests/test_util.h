// Small builders shared by tests: fleets and pods written in one line each.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/rng.h"
#include "core/snapshot.h"
#include "model/fleet.h"
#include "model/workload.h"

namespace awan::testing {

// Adds a node "name" with cpu (milli), mem (MiB), gpus of `model` in its own supernode.
NodeIndex AddNode(Fleet& fleet, const std::string& name, int64_t cpu, int64_t mem, int gpus,
                  const std::string& model = "V100");
// A pod asking for `gpus` devices of `milli` each (0 gpus = CPU-only); `models` like "A|B" or "".
PodSpec Pod(const std::string& name, int64_t cpu, int64_t mem, int gpus, int64_t milli, Fleet& fleet,
            const std::string& models = "");
// `base` with 1 to `max_edits` random single-character inserts, deletes or replacements drawn from
// `alphabet`: the always-on cousin of a fuzzer for parsers.
std::string Mutate(const std::string& base, Rng& rng, std::string_view alphabet, int max_edits);
// One non-empty line of a scenario file: its 1-based number and its words, '#' comments removed.
struct ScenarioLine {
  int number = 0;
  std::vector<std::string> words;
};
std::vector<ScenarioLine> ScenarioLines(const std::string& text);

// Sets the node's devices to exactly these milli-left values by assigning filler pods.
void UseDevices(ClusterSnapshot& snap, NodeIndex node, const std::vector<int32_t>& left);

}  // namespace awan::testing
