// Accelerator hardware figures by model name, from the vendors' datasheets (the table in the inference
// reference, ../shared/reference/INFERENCE.md §4): memory, HBM bandwidth and dense BF16/FP16 tensor
// throughput. The replica performance model and the services file's checks (do a model's weights fit a
// replica?) read them; a fleet may name accelerators this table does not know.
#pragma once

#include <optional>
#include <string_view>

namespace awan {

struct AcceleratorHardware {
  std::string_view name;
  double memory_gb = 0;          // HBM, GB (10^9 bytes)
  double hbm_tb_s = 0;           // TB/s
  double bf16_dense_tflops = 0;  // TFLOP/s, dense (no sparsity)
};

// The figures for an accelerator model name as fleets spell it ("H100", "H200", "A100", "L40S", "L4", "T4",
// "V100"); nullopt if unknown.
std::optional<AcceleratorHardware> FindHardware(std::string_view name);

}  // namespace awan
