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
