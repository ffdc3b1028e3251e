#include "sim/jobs_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "sim/report_util.h"

namespace awan::sim {
namespace {

std::string Label(const JobsSummary& s) { return s.policy + (s.oracle ? " (oracle)" : ""); }

}  // namespace

Status WriteJobsReport(const std::string& dir, const std::vector<JobsSimResult>& results,
                       const std::string& title, const TimeWindow& window) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  const std::string abs = std::filesystem::absolute(dir).string();
  // Data: one gnuplot index per policy in each file.
  std::string cdf, timeline;
  bool sampled = false;  // some sample of some run falls in the window
  int64_t last_s = 0;
  for (const JobsSimResult& r : results) {
    std::vector<double> jct;
    for (const JobOutcome& j : r.jobs)
      if (j.end_s >= 0) jct.push_back(static_cast<double>(std::max<int64_t>(1, j.end_s - j.submit_s)));
    std::sort(jct.begin(), jct.end());
    cdf += "# " + Label(r.summary) + "\n";
    const size_t step = std::max<size_t>(1, jct.size() / 500);  // about 500 points per curve
    for (size_t k = 0; k < jct.size(); k += step)
      cdf += fmt::format("{} {:.5f}\n", jct[k], double(k + 1) / jct.size());
    if (!jct.empty()) cdf += fmt::format("{} 1\n", jct.back());
    cdf += "\n\n";
    timeline += "# " + Label(r.summary) + "\n";
    bool any = false;
    for (const TimelineSample& t : r.timeline) {
      if (!window.contains(t.t_s)) continue;
      timeline +=
          fmt::format("{:.3f} {} {} {}\n", t.t_s / 86400.0, t.pending, t.gpus_in_use, t.gpus_capacity);
      any = true;
    }
    if (!any) timeline += "NaN NaN NaN NaN\n";  // an empty block would shift the later runs' indexes
    sampled = sampled || any;
    if (!r.timeline.empty()) last_s = std::max(last_s, r.timeline.back().t_s);
    timeline += "\n\n";
  }
  // Per tenant: one row per tenant, one column per policy.
  std::map<std::string, std::vector<double>> per_tenant, per_tenant_cost;
  for (size_t p = 0; p < results.size(); ++p) {
    for (const TenantSummary& t : results[p].summary.tenants) {
      auto& v = per_tenant[t.tenant];
      v.resize(results.size(), 0);
      v[p] = t.avg_jct_s / 3600.0;
      auto& c = per_tenant_cost[t.tenant];
      c.resize(results.size(), 0);
      c[p] = t.cost_usd;
    }
  }
  auto table = [&](std::map<std::string, std::vector<double>>& m) {
    std::string out;
    for (auto& [name, v] : m) {
      v.resize(results.size(), 0);
      out += name;
      for (double x : v) out += fmt::format(" {:.3f}", x);
      out += "\n";
    }
    return out;
  };
  const std::string tenants = table(per_tenant), costs = table(per_tenant_cost);
  bool any_cost = false;
  for (const JobsSimResult& r : results) any_cost = any_cost || r.summary.cost_usd > 0;
  std::string waits;
  for (const JobsSimResult& r : results) {
    waits += "\"" + Label(r.summary) + "\"";
    for (double w : r.summary.waited_s) waits += fmt::format(" {:.1f}", w / 3600.0);
    waits += "\n";
  }
  if (!sampled) {
    return InvalidArgument(fmt::format(
        "--report-window: no sample falls in it (the runs' samples end at day {:.2f})", last_s / 86400.0));
  }
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/jct_cdf.dat", cdf));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/timeline.dat", timeline));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/tenants.dat", tenants));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/costs.dat", costs));
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/waits.dat", waits));

  std::string gp = GnuplotPreamble(abs, 520);
  auto plot_each = [&](const std::string& file, const std::string& using_, const std::string& style) {
    std::string s = "plot ";
    for (size_t p = 0; p < results.size(); ++p) {
      s += fmt::format("{}'{}' index {} using {} with {} title '{}'", p ? ", " : "", file, p, using_, style,
                       Label(results[p].summary));
    }
    return s + "\n";
  };
  gp +=
      "set output 'jct_cdf.png'\nset title 'Job completion time (CDF)'\nset logscale x\nset xlabel 'JCT "
      "(s)'\n"
      "set ylabel 'fraction of jobs'\nset yrange [0:1]\n" +
      plot_each("jct_cdf.dat", "1:2", "lines lw 2");
  // The time charts: counts start at 0, over the window asked for.
  const std::string in_window =
      window.whole()
          ? ""
          : fmt::format(
                " (days {:.2f} to {})", window.from_s / 86400.0,
                window.to_s == TimeWindow{}.to_s ? "the end" : fmt::format("{:.2f}", window.to_s / 86400.0));
  gp += "unset logscale x\nset yrange [0:*]\nset xlabel 'time (days)'\n" + window.GnuplotRange(86400);
  gp += "set output 'queue.png'\nset title 'Jobs waiting" + in_window + "'\nset ylabel 'jobs'\n" +
        plot_each("timeline.dat", "1:2", "lines lw 1.5");
  gp += "set output 'gpus.png'\nset title 'GPUs in use" + in_window + "'\nset ylabel 'GPUs'\n" +
        plot_each("timeline.dat", "1:3", "lines lw 1.5");
  if (!results.empty()) {
    gp.pop_back();  // the fleet's capacity (the first run's; every run has the same fleet), as a dashed line
    gp +=
        ", 'timeline.dat' index 0 using 1:4 with lines dt 2 lw 1.5 lc rgb 'black' title 'capacity (GPUs in "
        "service)'\n";
  }
  gp += "set xrange [*:*]\n";
  gp +=
      "set output 'tenants.png'\nset title 'Average JCT per tenant'\nset ylabel 'hours'\nset style data "
      "histograms\nset style histogram clustered\nset style fill solid 0.8\nset yrange [0:*]\n" +
      GnuplotRotatedTicks() + "plot ";
  for (size_t p = 0; p < results.size(); ++p) {
    gp += fmt::format("{}'tenants.dat' using {}:xtic(1) title '{}'", p ? ", " : "", p + 2,
                      Label(results[p].summary));
  }
  if (any_cost) {
    gp +=
        "\nset output 'costs.png'\nset title 'Cost per tenant (USD: GPU-hours x regional price)'\nset ylabel "
        "'USD'\nplot ";
    for (size_t p = 0; p < results.size(); ++p) {
      gp += fmt::format("{}'costs.dat' using {}:xtic(1) title '{}'", p ? ", " : "", p + 2,
                        Label(results[p].summary));
    }
  }
  gp +=
      "\nset output 'waits.png'\nset title 'Why jobs waited'\nset ylabel 'job-hours waited'\nset style "
      "histogram rowstacked\nset xtics norotate\nset xlabel ''\nplot ";
  for (int k = 0; k < kWaitReasons; ++k) {
    gp += fmt::format("{}'waits.dat' using {}{} title '{}'", k ? ", " : "", k + 2, k == 0 ? ":xtic(1)" : "",
                      WaitReasonName(static_cast<WaitReason>(k)));
  }
  gp += "\n";
  AWAN_RETURN_IF_ERROR(WriteText(abs + "/jobs.gp", gp));
  AWAN_RETURN_IF_ERROR(RunGnuplot(abs + "/jobs.gp"));

  std::string html = HtmlPageStart("awan sim jobs", title) +
                     "<table><tr><th>policy</th><th>finished</th><th>avg JCT s</th>"
                     "<th>p50 s</th><th>p99 s</th><th>avg queue s</th><th>slowdown</th><th>util %</th>"
                     "<th>preemptions</th><th>gangs in one supernode</th><th>Jain</th><th>cost USD</th>"
                     "<th>residency violations</th></tr>";
  for (const JobsSimResult& r : results) {
    const JobsSummary& s = r.summary;
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{:.0f}</td><td>{:.0f}</td><td>{:.0f}</td><td>{:.0f}</td>"
        "<td>{:.2f}</td><td>{:.1f}</td><td>{}</td><td>{:.2f}</td><td>{:.3f}</td><td>{:.0f}</td><td>{}</td></"
        "tr>",
        HtmlEscape(Label(s)), s.finished, s.avg_jct_s, s.p50_jct_s, s.p99_jct_s, s.avg_queue_s,
        s.avg_slowdown, s.gpu_util_pct, s.preemptions, s.gang_locality_supernode, s.jain_fairness, s.cost_usd,
        s.residency_violations);
  }
  html += "</table>";
  for (const char* png : {"jct_cdf", "queue", "gpus", "tenants", "costs", "waits"}) {
    if (std::string(png) == "costs" && !any_cost) continue;
    html += fmt::format("<p><img src='{}.png'></p>", png);
  }
  html += "</body></html>\n";
  return WriteText(abs + "/index.html", html);
}

}  // namespace awan::sim
