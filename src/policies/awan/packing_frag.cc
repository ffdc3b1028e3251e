#include "policies/awan/packing_frag.h"

#include <algorithm>

#include "policies/fit/fit_filters.h"

namespace awan::policies {

PackingFragModel::PackingFragModel(std::vector<TypicalPod> typical) : typical_(std::move(typical)) {}

double PackingFragModel::Frag(const FragNodeView& n) const {
  int64_t idle = 0;
  int free_devices = 0;
  for (int d = 0; d < n.gpu_count; ++d) {
    idle += n.gpu_left[d];
    free_devices += n.gpu_left[d] >= 1000;
  }
  if (idle == 0) return 0.0;
  double frag = 0.0;
  for (const TypicalPod& t : typical_) {
    int64_t usable = 0;
    if (t.gpu_milli > 0 && t.gpu_count > 0 && ModelAccessible(t.allowed_models, n.model)) {
      int64_t fits = t.cpu_milli > 0 ? n.cpu_left / t.cpu_milli : INT64_MAX;
      if (t.mem_mib > 0) fits = std::min(fits, std::max<int64_t>(0, n.mem_left) / t.mem_mib);
      if (t.gpu_milli < 1000 && t.gpu_count == 1) {
        int64_t slices = 0;
        for (int d = 0; d < n.gpu_count; ++d) slices += n.gpu_left[d] / t.gpu_milli;
        fits = std::min(fits, slices);
      } else {
        fits = std::min<int64_t>(fits, free_devices / t.gpu_count);
      }
      usable = std::min<int64_t>(idle, fits * t.gpu_count * t.gpu_milli);
    }
    frag += t.probability * static_cast<double>(idle - usable);
  }
  return frag;
}

}  // namespace awan::policies
