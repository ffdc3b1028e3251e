#include "core/placement.h"

namespace awan {

std::string DeviceList::ToString() const {
  std::string s;
  for (int i = 0; i < count; ++i) {
    if (i) s += ',';
    s += std::to_string(index[i]);
  }
  return s;
}

}  // namespace awan
