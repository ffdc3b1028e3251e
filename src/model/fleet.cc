#include "model/fleet.h"

namespace awan {

StatusOr<NodeIndex> Fleet::AddNode(NodeSpec spec) {
  if (spec.name.empty()) return InvalidArgument("node with an empty name");
  if (spec.gpu_count < 0 || spec.gpu_count > kMaxGpusPerNode) {
    return InvalidArgument("node " + spec.name + ": GPU count " + std::to_string(spec.gpu_count) +
                           " outside 0.." + std::to_string(kMaxGpusPerNode));
  }
  if (spec.cpu.value < 0 || spec.memory.value < 0 || spec.max_pods < 0) {
    return InvalidArgument("node " + spec.name + ": negative capacity");
  }
  if (by_name_.count(spec.name)) return AlreadyExists("duplicate node name " + spec.name);
  NodeIndex idx(static_cast<uint32_t>(nodes_.size()));
  by_name_.emplace(spec.name, idx);
  total_gpus_ += spec.gpu_count;
  nodes_.push_back(std::move(spec));
  return idx;
}

bool Fleet::FindNode(std::string_view name, NodeIndex* out) const {
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) return false;
  *out = it->second;
  return true;
}

}  // namespace awan
