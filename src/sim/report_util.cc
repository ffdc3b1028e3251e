#include "sim/report_util.h"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>

#include "config/job_manifest.h"

namespace awan::sim {

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) return IoError("cannot write " + path);
  return Status::Ok();
}

std::string TimeWindow::GnuplotRange(double unit_s) const {
  const std::string to = to_s == std::numeric_limits<int64_t>::max()
                             ? "*"
                             : fmt::format("{:.6g}", static_cast<double>(to_s) / unit_s);
  return fmt::format("set xrange [{:.6g}:{}]\n", static_cast<double>(from_s) / unit_s, to);
}

StatusOr<TimeWindow> ParseTimeWindow(const std::string& text) {
  const size_t dots = text.find("..");
  if (dots == std::string::npos || text.find("..", dots + 1) != std::string::npos) {
    return InvalidArgument("expected FROM..TO with durations such as 2d..4d, 36h.., ..12h or 0..5400, got '" +
                           text + "'");
  }
  TimeWindow w;
  auto side = [&](const std::string& part, int64_t* out) {
    if (part.empty()) return true;
    if (part.size() <= 12 && part.find_first_not_of("0123456789") == std::string::npos) {
      *out = std::stoll(part);  // plain seconds, 0 included
      return true;
    }
    const StatusOr<int64_t> v = config::ParseTimeLimit(part);
    if (!v.ok()) return false;
    *out = *v;
    return true;
  };
  const std::string from = text.substr(0, dots), to = text.substr(dots + 2);
  if (!side(from, &w.from_s) || !side(to, &w.to_s)) {
    return InvalidArgument("'" + text +
                           "': each side is a duration: seconds, 30m, 2h, 1d, HH:MM:SS or D-HH:MM:SS");
  }
  if (w.to_s <= w.from_s)
    return InvalidArgument("the window '" + text + "' is empty: its end is not after its start");
  return w;
}

std::string GnuplotPreamble(const std::string& dir, int height_px) {
  return fmt::format(
      "cd '{}'\nset terminal pngcairo size 900,{} font 'sans,10'\nset termoption noenhanced\nset grid\n"
      "set key below horizontal\n",
      dir, height_px);
}

std::string GnuplotRotatedTicks() { return "set xtics rotate by -30\nset xlabel ' ' offset 0,-2\n"; }

std::string HtmlPageStart(const std::string& heading, const std::string& description) {
  return "<!doctype html><html><head><meta charset='utf-8'><title>" + HtmlEscape(heading) +
         " report</title><style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
         "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "th{background:#eee}td:first-child{text-align:left}</style></head><body><h1>" +
         HtmlEscape(heading) + "</h1><p>" + HtmlEscape(description) + "</p>";
}

std::string HtmlEscape(const std::string& s) {
  std::string o;
  for (char ch : s) {
    if (ch == '<')
      o += "&lt;";
    else if (ch == '>')
      o += "&gt;";
    else if (ch == '&')
      o += "&amp;";
    else
      o += ch;
  }
  return o;
}

Status RunGnuplot(const std::string& script_path) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    return FailedPrecondition(
        "gnuplot is not installed (Debian package gnuplot-nox; run scripts/install-deps.sh)");
  }
  const std::string cmd = "gnuplot '" + script_path + "' 2>'" + script_path + ".log'";
  if (std::system(cmd.c_str()) != 0) {
    return Internal("gnuplot failed on " + script_path + " (see " + script_path + ".log)");
  }
  return Status::Ok();
}

}  // namespace awan::sim
