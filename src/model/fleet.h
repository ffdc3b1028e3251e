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
#include "model/residency.h"
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

  // Regions, by the region DomainId of the topology (a region without information has no name here, no
  // jurisdiction and is not an edge site; its name is the topology's DomainName).
  void SetRegion(DomainId region, RegionInfo info);
  const RegionInfo& region(DomainId region) const;
  size_t region_count() const { return topology_.DomainCount(TopologyLevel::kRegion); }
  DomainId region_of(NodeIndex i) const { return nodes_[i.value].topology.at(TopologyLevel::kRegion); }
  // Round-trip network latency between two regions and from a named user location to a region, in ms
  // (0 when not declared; a region to itself is 0).
  void SetLatency(DomainId a, DomainId b, double ms);
  double latency_ms(DomainId a, DomainId b) const;
  void SetUserLatency(const std::string& location, DomainId region, double ms);
  bool HasUserLocation(const std::string& location) const { return user_latency_.count(location) > 0; }
  std::vector<std::string> user_locations() const;  // sorted
  double user_latency_ms(const std::string& location, DomainId region) const;

 private:
  std::vector<NodeSpec> nodes_;
  std::unordered_map<std::string, NodeIndex> by_name_;
  AcceleratorRegistry models_;
  Topology topology_;
  int64_t total_gpus_ = 0;
  std::vector<RegionInfo> regions_;
  std::vector<std::vector<double>> latency_;
  std::unordered_map<std::string, std::vector<double>> user_latency_;
};

}  // namespace awan
