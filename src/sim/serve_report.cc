#include "sim/serve_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "sim/report_util.h"

namespace awan::sim {
namespace {

std::string Label(const ServeSummary& s) { return AutoscalerLabel(s) + " / " + s.router; }

// "x F(x)" lines of an empirical CDF, about 500 points.
std::string Cdf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  const size_t step = std::max<size_t>(1, v.size() / 500);
  for (size_t k = 0; k < v.size(); k += step)
    out += fmt::format("{:.3f} {:.5f}\n", v[k], static_cast<double>(k + 1) / static_cast<double>(v.size()));
  if (!v.empty()) out += fmt::format("{:.3f} 1\n", v.back());
  return out + "\n\n";
}

// Rows by group name, one column per run.
std::string Groups(const std::vector<ServeSimResult>& results, bool by_location) {
  std::map<std::string, std::vector<double>> rows;
  for (size_t p = 0; p < results.size(); ++p) {
    for (const GroupOutcome& g : by_location ? results[p].per_location : results[p].per_tenant) {
      auto& v = rows[g.name];
      v.resize(results.size(), 0);
      v[p] = g.slo_attainment_pct;
    }
  }
  std::string out;
  for (auto& [name, v] : rows) {
    v.resize(results.size(), 0);
    out += name;
    for (double x : v) out += fmt::format(" {:.3f}", x);
    out += "\n";
  }
  return out;
}

}  // namespace

Status WriteServeReport(const std::string& dir, const std::vector<ServeSimResult>& results,
                        const std::vector<std::string>& service_names, const std::string& title,
                        const TimeWindow& window) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  const std::string abs = std::filesystem::absolute(dir).string();
  std::string ttft, cold, timeline;
  for (const ServeSimResult& r : results) {
    ttft += "# " + Label(r.summary) + "\n" + Cdf(r.ttft_ms);
    cold += "# " + Label(r.summary) + "\n" + Cdf(r.cold_start_s);
    timeline += "# " + Label(r.summary) + "\n";
    if (std::none_of(r.timeline.begin(), r.timeline.end(),
                     [&](const ServeTimelinePoint& p) { return window.contains(p.t_s); }))
      timeline += "NaN NaN NaN NaN NaN\n";  // an empty block would shift the later runs' indexes
    for (const ServeTimelinePoint& p : r.timeline) {
      if (!window.contains(p.t_s)) continue;
      double rps = 0;
      int replicas = 0, ready = 0;
      for (double x : p.arrival_rps) rps += x;
      for (int x : p.replicas) replicas += x;
      for (int x : p.ready) ready += x;
      timeline += fmt::format("{:.4f} {:.3f} {} {} {}\n", static_cast<double>(p.t_s) / 3600, rps, replicas,
                              ready, p.batch_running_gpus);
    }
    timeline += "\n\n";
  }
  const bool in_window = std::any_of(results.begin(), results.end(), [&](const ServeSimResult& r) {
    return std::any_of(r.timeline.begin(), r.timeline.end(),
                       [&](const ServeTimelinePoint& p) { return window.contains(p.t_s); });
  });
  if (!in_window) return InvalidArgument("--report-window: no sample of the runs falls in it");
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/ttft_cdf.dat", ttft));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/cold_cdf.dat", cold));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/timeline.dat", timeline));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/tenants.dat", Groups(results, false)));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/locations.dat", Groups(results, true)));
  std::string gp = GnuplotPreamble(abs, 520);
  auto plot_each = [&](const std::string& file, const std::string& using_, const std::string& style) {
    std::string s = "plot ";
    for (size_t p = 0; p < results.size(); ++p)
      s += fmt::format("{}'{}' index {} using {} with {} title '{}'", p ? ", " : "", file, p, using_, style,
                       Label(results[p].summary));
    return s + "\n";
  };
  gp +=
      "set output 'ttft_cdf.png'\nset title 'Time to first token (CDF)'\nset logscale x\nset xlabel 'TTFT "
      "(ms)'\n"
      "set ylabel 'fraction of requests'\nset yrange [0:1]\n" +
      plot_each("ttft_cdf.dat", "1:2", "lines lw 2");
  gp += "set output 'cold_cdf.png'\nset title 'Replica cold starts (CDF)'\nset xlabel 'cold start (s)'\n" +
        plot_each("cold_cdf.dat", "1:2", "steps lw 2");
  gp += "unset logscale x\nset yrange [0:*]\nset xlabel 'time (h)'\n" + window.GnuplotRange(3600);
  gp +=
      "set output 'load.png'\nset title 'Requests arriving (all services)'\nset ylabel 'requests/s'\n"
      "plot 'timeline.dat' index 0 using 1:2 with lines lw 1.5 title 'arrivals'\n";
  gp +=
      "set output 'replicas.png'\nset title 'Replicas (pending, starting and ready)'\nset ylabel "
      "'replicas'\n" +
      plot_each("timeline.dat", "1:3", "steps lw 1.5");
  gp += "set output 'batch.png'\nset title 'GPUs running batch jobs'\nset ylabel 'GPUs'\n" +
        plot_each("timeline.dat", "1:5", "steps lw 1.5") + "set xrange [*:*]\n";
  for (const char* what : {"tenants", "locations"}) {
    gp += fmt::format(
        "set output '{0}.png'\nset title 'SLO attainment per {1}'\nset ylabel '%'\nset yrange "
        "[0:100.5]\nset style data histograms\nset style histogram clustered\nset style fill solid 0.8\n{2}"
        "plot ",
        what, std::string(what) == "tenants" ? "tenant" : "user location", GnuplotRotatedTicks());
    for (size_t p = 0; p < results.size(); ++p)
      gp += fmt::format("{}'{}.dat' using {}:xtic(1) title '{}'", p ? ", " : "", what, p + 2,
                        Label(results[p].summary));
    gp += "\nunset xtics\nset xtics\nset yrange [*:*]\n";
  }
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/serve.gp", gp));
  AWAN_RETURN_IF_ERROR(RunGnuplot(abs + "/serve.gp"));
  std::string html =
      HtmlPageStart("awan sim serve", title) +
      "<p>services: " + HtmlEscape(fmt::format("{}", fmt::join(service_names, ", "))) +
      "</p><table><tr><th>autoscaler / router</th><th>requests</th><th>SLO attainment "
      "%</th><th>during ramps %</th><th>GPU-hours</th>"
      "<th>p50 TTFT ms</th><th>p99 TTFT ms</th><th>p99 TPOT ms</th><th>cold starts</th><th>p99 cold start "
      "s</th>"
      "<th>oscillations</th><th>routed outside</th><th>batch avg JCT s</th></tr>";
  for (const ServeSimResult& r : results) {
    const ServeSummary& s = r.summary;
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td><td>{:.1f}</td>"
        "<td>{:.0f}</td><td>{:.0f}</td><td>{:.0f}</td>"
        "<td>{}</td><td>{:.1f}</td><td>{}</td><td>{}</td><td>{:.0f}</td></tr>",
        HtmlEscape(Label(s)), s.requests, s.slo_attainment_pct, s.ramp_slo_attainment_pct, s.gpu_hours,
        s.p50_ttft_ms, s.p99_ttft_ms, s.p99_tpot_ms, s.cold_starts, s.p99_cold_start_s, s.oscillations,
        s.routed_outside_allowed, s.batch_avg_jct_s);
  }
  html += "</table>";
  for (const char* png : {"load", "replicas", "ttft_cdf", "cold_cdf", "tenants", "locations", "batch"})
    html += fmt::format("<p><img src='{}.png' alt='{}'></p>", png, png);
  html += "</body></html>\n";
  return WriteText(abs + "/index.html", html);
}

}  // namespace awan::sim
