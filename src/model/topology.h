// The topology tree above nodes: region -> zone -> block -> supernode -> node. Every node hangs under
// exactly one supernode; a flat fleet (like the openb trace) has one region/zone/block and one supernode
// per node. Domains are numbered densely per level so that per-domain counters can live in vectors.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/strong_types.h"

namespace awan {

enum class TopologyLevel : uint8_t { kRegion = 0, kZone = 1, kBlock = 2, kSupernode = 3 };
inline constexpr int kTopologyLevels = 4;
std::string_view TopologyLevelName(TopologyLevel level);

struct DomainIdTag {};
using DomainId = StrongId<DomainIdTag, uint32_t>;

// Where one node sits: its domain at each level (index = TopologyLevel).
struct TopologyPath {
  std::array<DomainId, kTopologyLevels> domain{};
  DomainId at(TopologyLevel l) const { return domain[static_cast<int>(l)]; }
  bool operator==(const TopologyPath&) const = default;
};

class Topology {
 public:
  // Returns the path for the given domain names, creating domains as needed. A supernode name is unique
  // within its block, a block within its zone, a zone within its region.
  TopologyPath Place(std::string_view region, std::string_view zone, std::string_view block,
                     std::string_view supernode);

  size_t DomainCount(TopologyLevel l) const { return levels_[static_cast<int>(l)].size(); }
  const std::string& DomainName(TopologyLevel l, DomainId d) const;
  // The parent of domain `d` at level `l` (REQUIRES: l != kRegion).
  DomainId Parent(TopologyLevel l, DomainId d) const;
  // The deepest level at which two paths share a domain, or -1 if they are in different regions.
  static int CommonLevel(const TopologyPath& a, const TopologyPath& b);

 private:
  struct Domain {
    std::string name;  // local name
    DomainId parent;
  };
  DomainId FindOrAdd(int level, DomainId parent, std::string_view name);
  std::array<std::vector<Domain>, kTopologyLevels> levels_;
};

}  // namespace awan
