#include "model/hardware.h"

namespace awan {
namespace {

// NVIDIA datasheets: H100 SXM, H200 SXM, A100 SXM 80 GB, L40S, L4, T4, V100 SXM2 32 GB.
constexpr AcceleratorHardware kHardware[] = {
    {"H100", 80, 3.35, 989}, {"H200", 141, 4.8, 989}, {"A100", 80, 2.04, 312}, {"L40S", 48, 0.864, 362},
    {"L4", 24, 0.3, 121},    {"T4", 16, 0.32, 65},    {"V100", 32, 0.9, 125},
};

}  // namespace

std::optional<AcceleratorHardware> FindHardware(std::string_view name) {
  for (const AcceleratorHardware& h : kHardware)
    if (h.name == name) return h;
  return std::nullopt;
}

}  // namespace awan
