// Accelerator models (V100M16, A100, H100...) interned to small ids, and sets of allowed models as a
// 64-bit mask. Thread-compatible: a registry is filled while a fleet is loaded, then read-only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/strong_types.h"

namespace awan {

struct AcceleratorIdTag {};
using AcceleratorId = StrongId<AcceleratorIdTag, uint8_t>;
// A node without accelerators, or with an unknown model.
inline constexpr AcceleratorId kNoAccelerator{0};

// The set of accelerator models a workload may run on. Empty means "any model".
class AcceleratorSet {
 public:
  AcceleratorSet() = default;
  static AcceleratorSet Of(std::initializer_list<AcceleratorId> ids);

  bool any_model() const { return mask_ == 0; }
  // True if a node of model `m` satisfies the set. A node with no model satisfies only "any model"
  // when the workload asks for no GPU; for GPU workloads see core filters.
  bool Allows(AcceleratorId m) const { return mask_ == 0 || (m.value != 0 && (mask_ >> m.value) & 1); }
  void Add(AcceleratorId m) { mask_ |= uint64_t{1} << m.value; }
  uint64_t mask() const { return mask_; }
  bool operator==(const AcceleratorSet&) const = default;

 private:
  uint64_t mask_ = 0;
};

class AcceleratorRegistry {
 public:
  AcceleratorRegistry();
  // Returns the id of `name`, adding it if new. Ids start at 1; at most 63 models.
  // Returns kNoAccelerator for an empty name.
  AcceleratorId Intern(std::string_view name);
  // kNoAccelerator if unknown.
  AcceleratorId Find(std::string_view name) const;
  const std::string& Name(AcceleratorId id) const { return names_[id.value]; }
  size_t size() const { return names_.size() - 1; }
  static constexpr size_t kMaxModels = 63;

 private:
  std::vector<std::string> names_;  // index 0 = "" (no accelerator)
  std::unordered_map<std::string, AcceleratorId> ids_;
};

}  // namespace awan
