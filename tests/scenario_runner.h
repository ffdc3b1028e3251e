// Scenario files: scheduling behaviour written as data. One directive per line ('#' starts a comment):
//
//   policy bestfit                                   the built-in policy to run (default bestfit)
//   node n1 cpu=32000 mem=65536 gpus=2 model=V100    a node (cpu in milli, mem in MiB)
//   rank n1=0 n2=1                                   tie-break ranks (default: declaration order)
//   pod p1 cpu=4000 mem=1024 gpus=1 milli=500 models=V100|T4
//                                                    submit and schedule now; committed if placed
//   release p1                                       the pod leaves
//   down n1 / up n1                                  node unavailable / available again
//   expect p1 on n1 [devices=0,1]                    where a pod was placed
//   expect p2 unschedulable [reason=InsufficientGpu] the pod fit nowhere (dominant reason)
//   expect node n1 gpu_left=1000,700 [cpu_left=..]   a node's remaining resources
//
// FGD estimates its target workload from all pods declared in the file, as it does from a pod list.
#pragma once

#include <string>

#include "common/status.h"

namespace awan::testing {

// Runs a scenario file; returns the first failed expectation or malformed line as an error naming the line.
Status RunScenarioFile(const std::string& path);
Status RunScenarioText(const std::string& text, const std::string& source);

}  // namespace awan::testing
