#include "model/accelerator.h"

#include <stdexcept>

namespace awan {

AcceleratorSet AcceleratorSet::Of(std::initializer_list<AcceleratorId> ids) {
  AcceleratorSet s;
  for (auto id : ids) s.Add(id);
  return s;
}

AcceleratorRegistry::AcceleratorRegistry() : names_{""} {}

AcceleratorId AcceleratorRegistry::Intern(std::string_view name) {
  if (name.empty()) return kNoAccelerator;
  auto it = ids_.find(std::string(name));
  if (it != ids_.end()) return it->second;
  if (names_.size() > kMaxModels) {
    // An invariant of the loaders: they check the count and report a Status before this can happen.
    throw std::length_error("more than 63 accelerator models");
  }
  AcceleratorId id(static_cast<uint8_t>(names_.size()));
  names_.emplace_back(name);
  ids_.emplace(std::string(name), id);
  return id;
}

AcceleratorId AcceleratorRegistry::Find(std::string_view name) const {
  auto it = ids_.find(std::string(name));
  return it == ids_.end() ? kNoAccelerator : it->second;
}

}  // namespace awan
