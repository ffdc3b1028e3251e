// Data residency: where data may be processed. Datasets, models and checkpoints carry a classification and,
// for the two strictest classes, the jurisdictions (country codes) or regions where they may be processed.
// The binding rule, by class:
//   public        anywhere
//   internal      anywhere (access-controlled, not location-bound)
//   confidential  only in its listed jurisdictions or regions
//   restricted    only in its listed jurisdictions or regions, and never at an edge site
// A confidential or restricted item must list where it may go (an empty list would mean nowhere). An output
// or checkpoint inherits the strictest class of the inputs of the jobs that write it, and the intersection of
// their places (model/residency.h is data; core/residency.h resolves it against a fleet).
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace awan {

enum class DataClass : uint8_t { kPublic = 0, kInternal = 1, kConfidential = 2, kRestricted = 3 };
std::string_view DataClassName(DataClass c);  // "public", "internal", "confidential", "restricted"
bool ParseDataClass(std::string_view name, DataClass* out);
// True if data of this class is bound to its listed places.
inline bool IsLocationBound(DataClass c) { return c >= DataClass::kConfidential; }

// The places named by a rule: regions by name, and every region of a jurisdiction.
struct PlaceList {
  std::set<std::string> jurisdictions;
  std::set<std::string> regions;
  bool empty() const { return jurisdictions.empty() && regions.empty(); }
  std::string ToString() const;  // "MY, region sg-1"
};

// One dataset, model or checkpoint, as declared (a workload file's `datasets`, or a tenant's default).
struct DataSpec {
  std::string name;
  DataClass cls = DataClass::kInternal;
  PlaceList places;
  std::string home_region;  // where it is stored ("" = unknown): latency to data is measured from here
};

// A region of the fleet: who governs it and what kind of site it is.
struct RegionInfo {
  std::string name;
  std::string jurisdiction;  // ISO 3166 country code, e.g. "MY"; "" = none declared (matches no jurisdiction)
  bool edge = false;         // an edge site: restricted data never goes there
};

}  // namespace awan
