// Signal: one observed fact for the diagnosis engine: a line of text with its time, kind and source (node,
// GPU, job, rank, replica, service, tenant, dataset). Everything awan learns about failures arrives as these:
// task logs and exits, kernel lines, GPU health, heartbeats, Slurm node states, alerts, the scheduler's and
// the serving layer's own facts. Plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "diagnosis/catalog.h"

namespace awan::diagnosis {

struct Signal {
  int64_t at_ms = 0;
  SignalKind kind = SignalKind::kLog;
  std::string text;
  // The source; empty or -1 when it does not apply.
  std::string node, job, dataset, service, replica, tenant;
  int gpu = -1, rank = -1;
};

// Where each node sits: its leaf switch and power feed (for causes wider than a node).
struct DiagTopology {
  struct Place {
    std::string switch_name, feed;
  };
  std::vector<std::pair<std::string, Place>> nodes;  // node name → place, in fleet order
};

}  // namespace awan::diagnosis
