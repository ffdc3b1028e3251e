// Helpers shared by the simulators' reports: writing files, HTML escaping, and running gnuplot as a child
// process (its absence is a clear error, not a crash).
#pragma once

#include <cstdint>
#include <limits>
#include <string>

#include "common/status.h"

namespace awan::sim {

Status WriteText(const std::string& path, const std::string& text);
std::string HtmlEscape(const std::string& s);
// The start of a report page: its style, an <h1> heading and the (escaped) description under it.
std::string HtmlPageStart(const std::string& heading, const std::string& description);
// The part of a long trace the time charts show: [from_s, to_s) in trace seconds.
struct TimeWindow {
  int64_t from_s = 0;
  int64_t to_s = std::numeric_limits<int64_t>::max();
  bool whole() const { return from_s == 0 && to_s == std::numeric_limits<int64_t>::max(); }
  bool contains(int64_t t_s) const { return t_s >= from_s && t_s < to_s; }
  // "set xrange [a:b]" in `unit_s` units (86400: days); "[a:*]" when it has no end.
  std::string GnuplotRange(double unit_s) const;
};
// "FROM..TO" with durations as time limits take them (36h, 2d, 5400, 1-12:00:00); either side may be left
// out ("2d..", "..36h"). InvalidArgument for anything else, or an empty window.
StatusOr<TimeWindow> ParseTimeWindow(const std::string& text);

// The start of every report's gnuplot script: PNG terminal, grid, and legends below the plot, never over the
// data; titles as plain text (a policy "oracle@0.9" or a tenant "my_lab" is not gnuplot markup).
std::string GnuplotPreamble(const std::string& dir, int height_px);
// Category labels under a bar chart, turned to fit, with room kept below them for the legend.
std::string GnuplotRotatedTicks();
// Runs `gnuplot script_path`, its messages going to script_path.log.
Status RunGnuplot(const std::string& script_path);

}  // namespace awan::sim
