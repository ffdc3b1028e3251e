// Helpers shared by the simulators' reports: writing files, HTML escaping, and running gnuplot as a child
// process (its absence is a clear error, not a crash).
#pragma once

#include <string>

#include "common/status.h"

namespace awan::sim {

Status WriteText(const std::string& path, const std::string& text);
std::string HtmlEscape(const std::string& s);
// The start of a report page: its style, an <h1> heading and the (escaped) description under it.
std::string HtmlPageStart(const std::string& heading, const std::string& description);
// Runs `gnuplot script_path`, its messages going to script_path.log.
Status RunGnuplot(const std::string& script_path);

}  // namespace awan::sim
