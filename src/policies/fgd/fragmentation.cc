#include "policies/fgd/fragmentation.h"

#include <algorithm>

#include "policies/fit/fit_filters.h"

namespace awan::policies {

FragNodeView FragNodeView::Of(const NodeState& n) {
  FragNodeView v;
  v.cpu_left = n.cpu_left.value;
  v.mem_left = n.mem_left.value;
  v.gpu_count = n.gpu_count;
  v.model = n.model;
  v.gpu_left = n.gpu_left;
  return v;
}

FragmentationModel::FragmentationModel(std::vector<TypicalPod> typical) : typical_(std::move(typical)) {
  for (const TypicalPod& t : typical_) {
    if (t.gpu_milli > 0 &&
        std::find(thresholds_.begin(), thresholds_.end(), t.gpu_milli) == thresholds_.end()) {
      thresholds_.push_back(t.gpu_milli);
    }
  }
  for (const TypicalPod& t : typical_) {
    slot_.push_back(t.gpu_milli > 0
                        ? static_cast<int>(std::find(thresholds_.begin(), thresholds_.end(), t.gpu_milli) -
                                           thresholds_.begin())
                        : -1);
  }
}

double FragmentationModel::Frag(const FragNodeView& n) const {
  // Per distinct threshold: how many devices have at least that much left, and the milli on the others.
  int fit_count[64];
  int64_t below_sum[64];
  int64_t idle = 0;
  for (int d = 0; d < n.gpu_count; ++d) idle += n.gpu_left[d];
  const size_t nt = std::min<size_t>(thresholds_.size(), 64);
  for (size_t k = 0; k < nt; ++k) {
    int c = 0;
    int64_t s = 0;
    for (int d = 0; d < n.gpu_count; ++d) {
      if (n.gpu_left[d] >= thresholds_[k]) {
        ++c;
      } else {
        s += n.gpu_left[d];
      }
    }
    fit_count[k] = c;
    below_sum[k] = s;
  }
  // Buckets in the reference's order: Q1, Q2, Q3, Q4, XL, XR, NoAccess. Q3 (usable) is not summed.
  double q1 = 0, q2 = 0, q4 = 0, xl = 0, xr = 0, no_access = 0;
  const double idle_f = static_cast<double>(idle);
  for (size_t m = 0; m < typical_.size(); ++m) {
    const TypicalPod& t = typical_[m];
    const double p = t.probability;
    const bool cpu_fits = n.cpu_left >= t.cpu_milli;
    if (t.gpu_milli == 0) {
      (cpu_fits ? xl : xr) += p * idle_f;
    } else if (!ModelAccessible(t.allowed_models, n.model)) {
      no_access += p * idle_f;
    } else if (slot_[m] < 64 && fit_count[slot_[m]] >= t.gpu_count) {
      if (cpu_fits) {
        q2 += p * static_cast<double>(below_sum[slot_[m]]);
      } else {
        q4 += p * idle_f;
      }
    } else {
      (cpu_fits ? q2 : q1) += p * idle_f;
    }
  }
  return q1 + q2 + q4 + xl + xr + no_access;
}

}  // namespace awan::policies
