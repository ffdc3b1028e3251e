// Profile: one configured scheduling policy: the filters, the weighted scorers and the device selector the
// framework runs. Owns its plugins. Built by the PluginRegistry from a ProfileConfig.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/plugin.h"

namespace awan {

struct WeightedScorer {
  std::unique_ptr<ScorePlugin> plugin;
  int64_t weight = 1;
};

struct Profile {
  std::string name;
  std::vector<std::unique_ptr<FilterPlugin>> filters;
  std::vector<WeightedScorer> scorers;
  std::unique_ptr<DeviceSelector> device_selector;
};

}  // namespace awan
