#include "sim/report_util.h"

#include <cstdlib>
#include <fstream>

namespace awan::sim {

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream f(path);
  f << text;
  f.close();
  if (!f) return IoError("cannot write " + path);
  return Status::Ok();
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
