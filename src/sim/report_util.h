// Helpers shared by the simulators' reports: writing files, HTML escaping, and running gnuplot as a child
// process (its absence is a clear error, not a crash).
#pragma once

#include <string>

#include "common/status.h"

namespace awan::sim {

Status WriteText(const std::string& path, const std::string& text);
std::string HtmlEscape(const std::string& s);
// Runs `gnuplot script_path`, its messages going to script_path.log.
Status RunGnuplot(const std::string& script_path);

}  // namespace awan::sim
