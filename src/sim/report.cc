#include "sim/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "sim/report_util.h"

namespace awan::sim {
namespace {

std::vector<std::string> Distinct(const ExperimentResult& r, bool workloads) {
  std::vector<std::string> out;
  for (const CellSummary& c : r.cells) {
    const std::string& v = workloads ? c.workload : c.policy;
    if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
  }
  return out;
}

struct PubStat {
  bool has = false;
  Stat s;
};

PubStat Published(const PublishedCurves* pub, const CellSummary& c, int pct) {
  PubStat p;
  if (!pub || !pub->Has(c.workload, c.policy)) return p;
  p.has = true;
  p.s = Summarize(pub->Unallocated(c.workload, c.policy, pct));
  return p;
}

nlohmann::json CurveJson(const std::vector<std::optional<double>>& c) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& v : c) {
    if (v) {
      a.push_back(std::round(*v * 10000) / 10000);
    } else {
      a.push_back(nullptr);
    }
  }
  return a;
}

}  // namespace

std::string FormatTable(const ExperimentResult& r, const PublishedCurves* pub) {
  std::string out;
  const bool any_pub = pub != nullptr;
  size_t pw = 12;  // the policy column fits the longest name ("bound:clustering")
  for (const CellSummary& c : r.cells) pw = std::max(pw, c.policy.size());
  out += fmt::format("{:<14} {:<{}} {:>5}  {:>22}  {:>22}", "workload", "policy", pw, "seeds",
                     "unalloc% @100 mean[min,max]", "unalloc% @130 mean[min,max]");
  if (any_pub) out += fmt::format("  {:>9} {:>7} {:>6}", "published", "diff", "2SE");
  out += "\n";
  for (const CellSummary& c : r.cells) {
    out += fmt::format("{:<14} {:<{}} {:>5}  {:>7.2f} [{:>5.2f},{:>5.2f}]      ", c.workload, c.policy, pw,
                       c.unalloc_100.n, c.unalloc_100.mean, c.unalloc_100.min, c.unalloc_100.max);
    // "bound:P" is computed at 100 % only.
    out += c.unalloc_130.n > 0 ? fmt::format("{:>7.2f} [{:>5.2f},{:>5.2f}]     ", c.unalloc_130.mean,
                                             c.unalloc_130.min, c.unalloc_130.max)
                               : fmt::format("{:>7} {:<13}     ", "-", "");
    if (any_pub) {
      const PubStat p = Published(pub, c, 100);
      if (p.has && p.s.n > 0) {
        const double se =
            std::sqrt(c.unalloc_100.stddev * c.unalloc_100.stddev / std::max(1, c.unalloc_100.n) +
                      p.s.stddev * p.s.stddev / p.s.n);
        out += fmt::format("  {:>9.2f} {:>+7.2f} {:>6.2f}", p.s.mean, c.unalloc_100.mean - p.s.mean, 2 * se);
      } else {
        out += fmt::format("  {:>9} {:>7} {:>6}", "-", "-", "-");
      }
    }
    out += "\n";
  }
  return out;
}

// {"190": 1006, "1000": 2}: devices by milli left; {} for a bound.
static nlohmann::json IdleDevicesJson(const std::map<int32_t, int64_t>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [left, devices] : m) j[std::to_string(left)] = devices;
  return j;
}

std::string ToJson(const ExperimentResult& r, const PublishedCurves* pub, double tune_ratio) {
  nlohmann::json j;
  j["meta"] = {{"protocol", "openb (FGD, USENIX ATC'23)"},
               {"tune_ratio", tune_ratio},
               {"wall_seconds", r.wall_seconds},
               {"runs", r.runs.size()},
               {"widest_gpus", r.widest_gpus}};
  nlohmann::json runs = nlohmann::json::array();
  for (const RunSummary& s : r.runs) {
    nlohmann::json reasons = nlohmann::json::object();
    for (int k = 1; k < kFitReasonCount; ++k) {
      if (s.failures_by_reason[k])
        reasons[std::string(FitReasonName(static_cast<FitReason>(k)))] = s.failures_by_reason[k];
    }
    nlohmann::json u = nlohmann::json::object();
    u["100"] = s.unalloc_100 ? nlohmann::json(*s.unalloc_100) : nlohmann::json(nullptr);
    u["130"] = s.unalloc_130 ? nlohmann::json(*s.unalloc_130) : nlohmann::json(nullptr);
    runs.push_back({{"workload", s.workload},
                    {"policy", s.policy},
                    {"seed", s.seed},
                    {"pods", s.pods},
                    {"placed", s.placed},
                    {"failed", s.failed},
                    {"failures_by_reason", reasons},
                    {"failed_gpu_milli_by_shape_at_100", s.failed_gpu_by_shape_100},
                    {"idle_devices_at_100", IdleDevicesJson(s.idle_devices_at_100)},
                    {"unallocated_gpu_pct", u},
                    {"alloc_curve", CurveJson(s.alloc_curve)},
                    {"frag_curve", CurveJson(s.frag_curve)},
                    {"free_widest_curve", CurveJson(s.free_widest_curve)}});
  }
  j["runs"] = runs;
  nlohmann::json summary = nlohmann::json::array();
  for (const CellSummary& c : r.cells) {
    nlohmann::json e = {{"workload", c.workload},
                        {"policy", c.policy},
                        {"seeds", c.unalloc_100.n},
                        {"unallocated_gpu_pct_100_mean", c.unalloc_100.mean},
                        {"unallocated_gpu_pct_100_min", c.unalloc_100.min},
                        {"unallocated_gpu_pct_100_max", c.unalloc_100.max},
                        {"unallocated_gpu_pct_100_stddev", c.unalloc_100.stddev},
                        {"mean_alloc_curve", CurveJson(c.mean_alloc_curve)},
                        {"mean_free_widest_curve", CurveJson(c.mean_free_widest_curve)}};
    if (c.unalloc_130.n > 0) {
      e["unallocated_gpu_pct_130_mean"] = c.unalloc_130.mean;
      e["unallocated_gpu_pct_130_min"] = c.unalloc_130.min;
      e["unallocated_gpu_pct_130_max"] = c.unalloc_130.max;
    }
    const PubStat p = Published(pub, c, 100);
    if (p.has) e["published_unallocated_gpu_pct_100_mean"] = p.s.mean;
    summary.push_back(std::move(e));
  }
  j["summary"] = summary;
  return j.dump(1);
}

Status WriteJson(const std::string& path, const ExperimentResult& r, const PublishedCurves* pub,
                 double tune_ratio) {
  return WriteText(path, ToJson(r, pub, tune_ratio) + "\n");
}

namespace {

// The gnuplot plot list of one data column for every replayed policy (a bound has no per-pod curves), ending
// the plot command.
// A replay's rows: arrived %, allocated %, fragmented %, whole widest servers left, 1.
std::string CurveRows(const CellSummary& c) {
  std::string out;
  for (int k = 0; k < kCurvePoints; ++k) {
    if (!c.mean_alloc_curve[k]) continue;
    out += fmt::format("{} {:.4f} {:.4f} {:.4f} 1\n", k, *c.mean_alloc_curve[k],
                       c.mean_frag_curve[k] ? *c.mean_frag_curve[k] : 0.0,
                       c.mean_free_widest_curve[k] ? *c.mean_free_widest_curve[k] : 0.0);
  }
  return out;
}

// A bound is known only at some arrived levels. Allocation never falls as pods arrive (none leaves) and never
// exceeds what arrived, so at any level x up to the next known point (x2, b2) it is at most min(b2, x): the
// upper envelope, one row per percent, never above y = x. The last column is 1 where the bound was computed.
std::string BoundEnvelope(const CellSummary& c) {
  std::string out;
  for (int k = 0; k < kCurvePoints; ++k) {
    int next = k;
    while (next < kCurvePoints && !c.mean_alloc_curve[next]) ++next;
    if (next == kCurvePoints) break;
    const double y = std::min(*c.mean_alloc_curve[next], static_cast<double>(k));
    out += fmt::format("{} {:.4f} 0 0 {}\n", k, y, next == k ? 1 : 0);
  }
  return out;
}

std::string ReplayLines(const std::string& base, const std::vector<std::string>& policies, int column) {
  std::string out;
  bool first = true;
  for (size_t p = 0; p < policies.size(); ++p) {
    if (IsBoundPolicy(policies[p])) continue;
    out += fmt::format("{}'{}.dat' index {} using 1:{} with lines lw 2 title '{}'", first ? "" : ", ", base,
                       p, column, policies[p]);
    first = false;
  }
  return out + "\n";
}

}  // namespace

Status WriteHtmlReport(const std::string& dir, const ExperimentResult& r, const PublishedCurves* pub) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  const auto workloads = Distinct(r, true);
  const auto policies = Distinct(r, false);
  std::string html =
      "<!doctype html><html><head><meta charset='utf-8'><title>awan sim openb report</title>"
      "<style>body{font-family:sans-serif;margin:2em;max-width:1100px}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "th{background:#eee}td:first-child,td:nth-child(2){text-align:left}</style></head><body>";
  html +=
      "<h1>awan sim openb</h1><p>Protocol of the FGD paper (USENIX ATC'23): pods submitted one at a time "
      "with no departures, workload tuned to 130% of GPU capacity. " +
      std::to_string(r.runs.size()) + " runs in " + fmt::format("{:.1f}", r.wall_seconds) + " s.</p>";
  html +=
      "<h2>Unallocated GPU % (lower is better)</h2><table><tr><th>workload</th><th>policy</th><th>seeds</th>"
      "<th>@100% mean</th><th>min</th><th>max</th><th>@130% mean</th>";
  if (pub) html += "<th>published @100%</th><th>diff</th>";
  html += "</tr>";
  for (const CellSummary& c : r.cells) {
    html += fmt::format(
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td><td>{:.2f}</td><td>{}</td>",
        HtmlEscape(c.workload), HtmlEscape(c.policy), c.unalloc_100.n, c.unalloc_100.mean, c.unalloc_100.min,
        c.unalloc_100.max, c.unalloc_130.n > 0 ? fmt::format("{:.2f}", c.unalloc_130.mean) : "-");
    if (pub) {
      const PubStat p = Published(pub, c, 100);
      html += p.has ? fmt::format("<td>{:.2f}</td><td>{:+.2f}</td>", p.s.mean, c.unalloc_100.mean - p.s.mean)
                    : "<td>-</td><td>-</td>";
    }
    html += "</tr>";
  }
  html += "</table>";

  // Charts of the replays only (a bound has no per-pod curves): none when every policy is a bound.
  const bool replays =
      std::any_of(policies.begin(), policies.end(), [](const std::string& p) { return !IsBoundPolicy(p); });
  for (size_t w = 0; w < workloads.size(); ++w) {
    const std::string base = fmt::format("{:02d}-{}", w, workloads[w]);
    // Data: one block per policy (gnuplot "index"), columns arrived%, alloc%, frag%, whole GPU servers left.
    std::string dat;
    for (const auto& pol : policies) {
      for (const CellSummary& c : r.cells) {
        if (c.workload != workloads[w] || c.policy != pol) continue;
        dat += "# " + pol + "\n" +
               (pol == kBoundPolicy || pol == kOnlineBoundPolicy ? BoundEnvelope(c) : CurveRows(c));
        dat += "\n\n";
      }
    }
    const std::string dat_path = (std::filesystem::path(dir) / (base + ".dat")).string();
    AWAN_RETURN_IF_ERROR(WriteText(dat_path, dat));
    std::string gp = GnuplotPreamble(std::filesystem::absolute(dir).string(), 560) +
                     "set xlabel 'arrived GPU request (% of capacity)'\n";
    gp += "set output '" + base +
          "-alloc.png'\nset title 'GPU allocation ratio vs arrived workload: " + workloads[w] +
          "'\nset ylabel 'GPU allocated (% of capacity)'\nset xrange [0:130]\nset yrange [0:100]\n";
    gp += "plot ";
    for (size_t p = 0; p < policies.size(); ++p) {
      const bool bound = policies[p] == kBoundPolicy, online = policies[p] == kOnlineBoundPolicy;
      const char* sep = p ? ", " : "";
      if (const auto given = GivenBoundPolicy(policies[p])) {
        // Known at arrived 100 % only: a single marked point.
        gp += fmt::format(
            "{}'{}.dat' index {} using 1:2 with points pt 7 ps 1.5 title 'bound given {}''s admissions'", sep,
            base, p, *given);
        continue;
      }
      if (!bound && !online) {
        gp += fmt::format("{}'{}.dat' index {} using 1:2 with lines lw 2 title '{}'", sep, base, p,
                          policies[p]);
        continue;
      }
      // The envelope between the points where the bound is known (BoundEnvelope), with those points marked.
      const char* colour = online ? "'dark-red'" : "'black'";
      const char* title = online
                              ? "bound under the online rule (LP: no placement that places every pod it can "
                                "allocates more)"
                              : "bound (LP: no placement allocates more)";
      gp += fmt::format("{}'{}.dat' index {} using 1:2 with lines dt {} lw 2 lc rgb {} title '{}'", sep, base,
                        p, online ? 4 : 2, colour, title);
      gp += fmt::format(", '{}.dat' index {} using 1:($5 > 0 ? $2 : 1/0) with points pt 6 lc rgb {} notitle",
                        base, p, colour);
    }
    gp += "\nset output '" + base + "-zoom.png'\nset title 'Zoom on arrived 80-130%: " + workloads[w] +
          "'\nset xrange [80:130]\nset yrange [*:*]\nreplot\n";
    if (replays) {
      gp += "set output '" + base + "-frag.png'\nset title 'Fragmented GPU (FGD measure): " + workloads[w] +
            "'\nset ylabel 'fragmented GPU (% of capacity)'\nset xrange [0:130]\nset yrange [0:*]\nplot ";
      gp += ReplayLines(base, policies, 3);
      // Whole servers of the widest kind left: the widest pods fail once none is.
      gp += fmt::format(
          "set output '{}-free.png'\nset title 'Whole {}-GPU servers left (every device free): {}'\n"
          "set ylabel '{}-GPU servers with every device free'\nset xrange [0:130]\n"
          "set yrange [0:*]\nplot ",
          base, r.widest_gpus, workloads[w], r.widest_gpus);
      gp += ReplayLines(base, policies, 4);
    }
    const std::string gp_path = (std::filesystem::path(dir) / (base + ".gp")).string();
    AWAN_RETURN_IF_ERROR(WriteText(gp_path, gp));
    AWAN_RETURN_IF_ERROR(RunGnuplot(gp_path));
    html += "<h2>" + HtmlEscape(workloads[w]) + "</h2><p><img src='" + base + "-alloc.png'><br><img src='" +
            base + "-zoom.png'>";
    if (replays) html += "<br><img src='" + base + "-frag.png'><br><img src='" + base + "-free.png'>";
    html += "</p>";
  }
  html += "</body></html>\n";
  return WriteText((std::filesystem::path(dir) / "index.html").string(), html);
}

}  // namespace awan::sim
