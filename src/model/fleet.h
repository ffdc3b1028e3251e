// Fleet: the static model of a cluster: its nodes, their topology and the accelerator models in use.
// Immutable once built (Add* only while loading). Owned by whoever loaded it; snapshots borrow it.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "model/accelerator.h"
#include "model/node_spec.h"
#include "model/topology.h"

namespace awan {

class Fleet {
 public:
  // Adds a node. Fails on a duplicate name, a GPU count outside 0..kMaxGpusPerNode or negative capacity.
  StatusOr<NodeIndex> AddNode(NodeSpec spec);

  size_t size() const { return nodes_.size(); }
  const NodeSpec& node(NodeIndex i) const { return nodes_[i.value]; }
  const std::vector<NodeSpec>& nodes() const { return nodes_; }
  // Returns false if no node has that name.
  bool FindNode(std::string_view name, NodeIndex* out) const;

  AcceleratorRegistry& models() { return models_; }
  const AcceleratorRegistry& models() const { return models_; }
  Topology& topology() { return topology_; }
  const Topology& topology() const { return topology_; }

  int64_t total_gpus() const { return total_gpus_; }

 private:
  std::vector<NodeSpec> nodes_;
  std::unordered_map<std::string, NodeIndex> by_name_;
  AcceleratorRegistry models_;
  Topology topology_;
  int64_t total_gpus_ = 0;
};

}  // namespace awan
