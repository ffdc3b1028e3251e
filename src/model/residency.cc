#include "model/residency.h"

namespace awan {

std::string_view DataClassName(DataClass c) {
  static constexpr std::string_view kNames[] = {"public", "internal", "confidential", "restricted"};
  return kNames[static_cast<int>(c)];
}

bool ParseDataClass(std::string_view name, DataClass* out) {
  for (int c = 0; c <= static_cast<int>(DataClass::kRestricted); ++c) {
    if (DataClassName(static_cast<DataClass>(c)) == name) {
      *out = static_cast<DataClass>(c);
      return true;
    }
  }
  return false;
}

std::string PlaceList::ToString() const {
  std::string s;
  for (const std::string& j : jurisdictions) s += (s.empty() ? "" : ", ") + j;
  for (const std::string& r : regions) s += (s.empty() ? "" : ", ") + std::string("region ") + r;
  return s.empty() ? "nowhere" : s;
}

}  // namespace awan
