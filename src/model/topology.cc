#include "model/topology.h"

namespace awan {

std::string_view TopologyLevelName(TopologyLevel level) {
  switch (level) {
    case TopologyLevel::kRegion:
      return "region";
    case TopologyLevel::kZone:
      return "zone";
    case TopologyLevel::kBlock:
      return "block";
    case TopologyLevel::kSupernode:
      return "supernode";
  }
  return "?";
}

DomainId Topology::FindOrAdd(int level, DomainId parent, std::string_view name) {
  auto& doms = levels_[level];
  // Linear scan from the back: loaders add nodes grouped by domain, so hits are near the end.
  for (size_t i = doms.size(); i > 0; --i) {
    const Domain& d = doms[i - 1];
    if (d.parent == parent && d.name == name) return DomainId(static_cast<uint32_t>(i - 1));
  }
  doms.push_back(Domain{std::string(name), parent});
  return DomainId(static_cast<uint32_t>(doms.size() - 1));
}

TopologyPath Topology::Place(std::string_view region, std::string_view zone, std::string_view block,
                             std::string_view supernode) {
  TopologyPath p;
  p.domain[0] = FindOrAdd(0, DomainId(0), region);
  p.domain[1] = FindOrAdd(1, p.domain[0], zone);
  p.domain[2] = FindOrAdd(2, p.domain[1], block);
  p.domain[3] = FindOrAdd(3, p.domain[2], supernode);
  return p;
}

const std::string& Topology::DomainName(TopologyLevel l, DomainId d) const {
  return levels_[static_cast<int>(l)][d.value].name;
}

DomainId Topology::Parent(TopologyLevel l, DomainId d) const {
  return levels_[static_cast<int>(l)][d.value].parent;
}

int Topology::CommonLevel(const TopologyPath& a, const TopologyPath& b) {
  int common = -1;
  for (int l = 0; l < kTopologyLevels; ++l) {
    if (a.domain[l] != b.domain[l]) break;
    common = l;
  }
  return common;
}

}  // namespace awan
