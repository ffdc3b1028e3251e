// Job scenarios (`tests/scenarios/jobs/*.jscn`, docs/formats/scenarios.md): a fleet, tenants, jobs, node
// events and expectations about when and where jobs ran, checked against `sim::RunJobsSim`.
#pragma once

#include <string>

#include "common/status.h"

namespace awan::testing {

Status RunJobScenarioText(const std::string& text, const std::string& source);
Status RunJobScenarioFile(const std::string& path);

}  // namespace awan::testing
