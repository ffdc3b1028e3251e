// The fleet the fuzz targets check against: the shipped ASEAN example, loaded once.
#pragma once

#include <cstdlib>
#include <memory>

#include "config/fleet_file.h"

inline const awan::Fleet& FuzzFleet() {
  static const std::unique_ptr<awan::config::FleetFile> fleet = [] {
    auto f = awan::config::ReadFleetFile(AWAN_SOURCE_DIR "/examples/fleets/asean.yaml");
    if (!f.ok()) std::abort();
    return std::move(*f);
  }();
  return fleet->fleet;
}
