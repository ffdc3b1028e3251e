// The awan binary end to end: what a user types, what they get back.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

struct Result {
  int code;
  std::string out;
};

Result Awan(const std::string& args) {
  const std::string cmd = std::string(AWAN_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  const int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string TempDir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("awan-test-" + name + "-" + std::to_string(getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d.string();
}

TEST(Cli, GenerateThenSimulateWithJsonAndReport) {
  const std::string dir = TempDir("sim");
  Result g = Awan("generate example --out " + dir + " --nodes 60 --seed 3");
  ASSERT_EQ(g.code, 0) << g.out;
  Result r = Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir +
                  "/pods.csv --policy fgd,bestfit,k8s --seeds 1-2 --json " + dir + "/out.json --report " +
                  dir + "/report --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("fgd"), std::string::npos);
  std::ifstream f(dir + "/out.json");
  nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_EQ(j["runs"].size(), 10u);  // 3 policies x 2 seeds, and both bounds (added with --report) x 2 seeds
  const auto& run = j["runs"][0];
  for (const char* k : {"workload", "policy", "seed", "unallocated_gpu_pct", "alloc_curve"})
    EXPECT_TRUE(run.contains(k)) << k;
  EXPECT_TRUE(run["unallocated_gpu_pct"].contains("100"));
  EXPECT_TRUE(run["unallocated_gpu_pct"].contains("130"));
  EXPECT_EQ(run["alloc_curve"].size(), 131u);
  // Whole servers of the widest kind left: counted for replays, never for a bound (no replay).
  EXPECT_GT(j["meta"]["widest_gpus"].get<int>(), 0);
  ASSERT_EQ(run["free_widest_curve"].size(), 131u);
  EXPECT_GE(run["free_widest_curve"][0].get<double>(), run["free_widest_curve"][130].get<double>());
  for (const auto& rr : j["runs"]) {
    if (rr["policy"] == "bound") {
      EXPECT_TRUE(rr["free_widest_curve"][100].is_null());
    }
  }
  ASSERT_EQ(j["summary"].size(), 5u);
  EXPECT_EQ(j["summary"][3]["policy"], "bound");
  EXPECT_EQ(j["summary"][4]["policy"], "bound-online");
  // The bounds are upper bounds on allocation: never more unallocated than a policy leaves; the online rule
  // only tightens.
  for (int b : {3, 4}) {
    for (int k = 0; k < 3; ++k) {
      EXPECT_LE(j["summary"][b]["unallocated_gpu_pct_100_mean"].get<double>(),
                j["summary"][k]["unallocated_gpu_pct_100_mean"].get<double>() + 0.01);
    }
  }
  EXPECT_LE(j["summary"][3]["unallocated_gpu_pct_100_mean"].get<double>(),
            j["summary"][4]["unallocated_gpu_pct_100_mean"].get<double>() + 1e-9);
  for (const char* k :
       {"workload", "policy", "unallocated_gpu_pct_100_mean", "unallocated_gpu_pct_130_mean"}) {
    EXPECT_TRUE(j["summary"][0].contains(k)) << k;
  }
  EXPECT_TRUE(std::filesystem::exists(dir + "/report/index.html"));
  EXPECT_GT(std::filesystem::file_size(dir + "/report/00-pods-alloc.png"), 1000u);
  EXPECT_GT(std::filesystem::file_size(dir + "/report/00-pods-free.png"), 1000u);
  Result nb = Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir +
                   "/pods.csv --policy fgd --seeds 1 --json " + dir + "/nb.json --report " + dir +
                   "/nb --no-bound --quiet");
  ASSERT_EQ(nb.code, 0) << nb.out;
  std::ifstream fnb(dir + "/nb.json");
  EXPECT_EQ(nlohmann::json::parse(fnb)["runs"].size(), 1u);
  // Bounds only: no replay, so no fragmentation or free-server chart, and still a report (gnuplot failed on
  // an empty plot before).
  Result bo = Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir +
                   "/pods.csv --policy bound --seeds 1 " + "--report " + dir + "/bo --quiet");
  ASSERT_EQ(bo.code, 0) << bo.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/bo/index.html"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/bo/00-pods-free.png"));
  // The bounds' curves are drawn from their envelope: never above y = x (nothing allocates more than
  // arrived), never below a point where the bound was computed.
  std::ifstream dat(dir + "/bo/00-pods.dat");
  int envelope_rows = 0, computed = 0;
  for (std::string line; std::getline(dat, line);) {
    if (line.empty() || line[0] == '#') continue;
    double x = 0, y = 0, frag = 0, free_servers = 0, known = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lf %lf %lf %lf %lf", &x, &y, &frag, &free_servers, &known), 5)
        << line;
    EXPECT_LE(y, x + 1e-9) << line;
    ++envelope_rows;
    computed += known > 0;
  }
  EXPECT_GT(envelope_rows, 100);  // one row per percent, both bounds
  EXPECT_GT(computed, 4);
  std::filesystem::remove_all(dir);
}

TEST(Cli, SimReportChartsStartAtZeroShowCapacityAndAWindowOfTheTrace) {
  const std::string dir = TempDir("report-window");
  const std::string in = std::string(" --fleet ") + AWAN_SOURCE_DIR +
                         "/examples/fleets/asean.yaml --workload " + AWAN_SOURCE_DIR +
                         "/examples/workloads/asean-week.yaml --policy fifo,awan --quiet";
  // The window is checked as the command line is parsed: usage errors, nothing simulated.
  for (const char* bad : {" --report-window 1d..2d", " --report R --report-window 3d..1d",
                          " --report R --report-window tomorrow", " --report R --report-window 1d"}) {
    Result r = Awan("sim jobs" + in + bad);
    EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    EXPECT_NE(r.out.find("--report"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("finished"), std::string::npos) << r.out;
  }
  Result r = Awan("sim jobs" + in + " --report " + dir + "/r --report-window 1d..3d");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream tl(dir + "/r/timeline.dat");
  int rows = 0;
  for (std::string line; std::getline(tl, line);) {
    if (line.empty() || line[0] == '#') continue;
    double day = 0;
    long pending = 0, in_use = 0, capacity = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%lf %ld %ld %ld", &day, &pending, &in_use, &capacity), 4) << line;
    EXPECT_GE(day, 1.0) << line;
    EXPECT_LT(day, 3.0) << line;
    EXPECT_EQ(capacity, 312) << line;  // the ASEAN fleet's GPUs
    EXPECT_LE(in_use, capacity) << line;
    ++rows;
  }
  EXPECT_GT(rows, 20);
  std::ifstream gpf(dir + "/r/jobs.gp");
  const std::string gp((std::istreambuf_iterator<char>(gpf)), std::istreambuf_iterator<char>());
  EXPECT_NE(gp.find("set xrange [1:3]"), std::string::npos) << gp;
  EXPECT_NE(gp.find("title 'capacity (GPUs in service)'"), std::string::npos) << gp;
  EXPECT_NE(gp.find("set key below"), std::string::npos) << gp;
  EXPECT_NE(gp.find("set ylabel 'job-hours waited'"), std::string::npos) << gp;
  // Every bar chart (tenants, costs, waits) starts at 0.
  for (const char* chart : {"'tenants.png'", "'costs.png'", "'waits.png'"}) {
    const size_t at = gp.find(chart);
    ASSERT_NE(at, std::string::npos) << chart;
    const size_t range = gp.rfind("set yrange", at + std::string_view(gp).substr(at).find("plot "));
    ASSERT_NE(range, std::string::npos) << chart;
    EXPECT_EQ(gp.compare(range, 17, "set yrange [0:*]\n"), 0) << chart << ": " << gp.substr(range, 30);
  }
  EXPECT_GT(std::filesystem::file_size(dir + "/r/gpus.png"), 1000u);
  // From 0; and a window after the last sample says so (no chart of nothing).
  EXPECT_EQ(Awan("sim jobs" + in + " --report " + dir + "/r0 --report-window 0..12h").code, 0);
  Result past = Awan("sim jobs" + in + " --report " + dir + "/r1 --report-window 300d..");
  EXPECT_EQ(past.code, 1);
  EXPECT_NE(past.out.find("--report-window: no sample falls in it"), std::string::npos) << past.out;
  std::filesystem::remove_all(dir);
}

TEST(Cli, SimJobsTableJsonReportExplainAndErrors) {
  const std::string dir = TempDir("jobs");
  std::ofstream(dir + "/fleet.yaml")
      << "node_types: {g: {accelerator: P100, gpus: 8, cpu: 64, memory_gib: 512}}\n"
         "regions: [{name: r, zones: [{name: z, layout: {type: g, nodes: 4, "
         "nodes_per_supernode: 2, supernodes_per_block: 2}}]}]\n"
         "default_tenant: {guaranteed_gpus: 16, cohort: c}\n";
  std::ofstream(dir + "/jobs.csv") << "timestamp,duration,num_gpus,gpu_time,cluster\n"
                                      "2017-10-01 00:00:00,3600,8,28800,vc1\n"
                                      "2017-10-01 00:10:00,600,16,9600,vc2\n"
                                      "2017-10-01 00:20:00,60,1,60,vc1\n"
                                      "2017-10-01 01:00:00,7200,4,28800,vc2\n";
  Result r = Awan("sim jobs --fleet " + dir + "/fleet.yaml --jobs " + dir +
                  "/jobs.csv --policy fifo,srtf,awan --quiet "
                  "--target-load 1.5 --json " +
                  dir + "/out.json --report " + dir + "/report --explain philly-3");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("srtf (oracle)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("philly-3: tenant vc2, 2 task(s) x 8 GPU"), std::string::npos) << r.out;
  std::ifstream f(dir + "/out.json");
  nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_EQ(j["summary"].size(), 3u);
  for (const char* k :
       {"policy", "avg_jct_s", "p50_jct_s", "p99_jct_s", "avg_queue_s", "makespan_s", "gpu_util_pct",
        "preemptions", "gang_locality", "jain_fairness", "tenants", "waited_job_s_by_reason"}) {
    EXPECT_TRUE(j["summary"][0].contains(k)) << k;
  }
  EXPECT_EQ(j["summary"][0]["finished"], 4);
  EXPECT_GT(std::filesystem::file_size(dir + "/report/jct_cdf.png"), 1000u);
  EXPECT_TRUE(std::filesystem::exists(dir + "/report/index.html"));
  // Bad input: a clear error naming the file, non-zero exit.
  std::ofstream(dir + "/bad.yaml") << "node_types: {g: {gpus: 8, cpu: 64, memory_gib: 512}}\nregions: []\n";
  Result bad = Awan("sim jobs --fleet " + dir + "/bad.yaml --jobs " + dir + "/jobs.csv --quiet");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.out.find("bad.yaml:1:"), std::string::npos) << bad.out;
  Result unknown =
      Awan("sim jobs --fleet " + dir + "/fleet.yaml --jobs " + dir + "/jobs.csv --policy lottery --quiet");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("unknown policy 'lottery'"), std::string::npos) << unknown.out;
  // Arguments checked before the simulation runs: no table is printed.
  Result no_job =
      Awan("sim jobs --fleet " + dir + "/fleet.yaml --jobs " + dir + "/jobs.csv --explain nosuch");
  EXPECT_EQ(no_job.code, 2);
  EXPECT_NE(no_job.out.find("--explain: no job named 'nosuch'"), std::string::npos) << no_job.out;
  EXPECT_EQ(no_job.out.find("finished"), std::string::npos) << no_job.out;
  Result unwritable = Awan("sim jobs --fleet " + dir + "/fleet.yaml --jobs " + dir +
                           "/jobs.csv --quiet --report /proc/awan-no/report");
  EXPECT_EQ(unwritable.code, 1);
  EXPECT_NE(unwritable.out.find("cannot create /proc/awan-no/report"), std::string::npos) << unwritable.out;
  std::filesystem::remove_all(dir);
}

// `awan sim serve` end to end: generated load for two of the example services, the JSON the issue names, the
// report, prefetch driven by the forecast, and usage errors.
TEST(Cli, SimServeJsonReportPrefetchAndErrors) {
  const std::string dir = TempDir("sim-serve");
  const std::string src = AWAN_SOURCE_DIR;
  const std::string fleet = src + "/examples/fleets/asean.yaml",
                    services = src + "/examples/services/asean.yaml";
  Result g = Awan("generate requests --fleet " + fleet + " --services " + services + " --out " + dir +
                  "/load --hours 0.25 --peak-rps 2 --seed 1");
  ASSERT_EQ(g.code, 0) << g.out;
  const std::string requests = " --requests asean-assistant=" + dir +
                               "/load/asean-assistant.jsonl,malay-assistant=" + dir +
                               "/load/malay-assistant.jsonl";
  const std::string base = "sim serve --fleet " + fleet + " --services " + services + requests;
  Result r = Awan(base + " --autoscaler awan,kpa --oracle-headroom 1 --prefetch forecast --json " + dir +
                  "/out.json --report " + dir + "/report --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("prefetched"), std::string::npos) << r.out;
  std::ifstream f(dir + "/out.json");
  nlohmann::json j = nlohmann::json::parse(f);
  EXPECT_EQ(j["meta"]["prefetch"], "forecast");
  ASSERT_EQ(j["summary"].size(), 3u);  // awan, kpa, the oracle at headroom 1
  for (const auto& s : j["summary"]) {
    for (const char* k :
         {"autoscaler", "slo_attainment_pct", "gpu_hours", "oracle_gpu_hours_ratio", "p50_ttft_ms",
          "p99_ttft_ms", "p99_tpot_ms", "cold_starts", "p99_cold_start_s", "oscillations",
          "routed_outside_allowed", "batch_avg_jct_s", "prefetches", "prefetched_bytes"})
      EXPECT_TRUE(s.contains(k)) << k;
    EXPECT_GT(s["prefetches"].get<int64_t>(), 0) << s.dump();  // nothing is warm before the run
    EXPECT_EQ(s["routed_outside_allowed"], 0);
  }
  EXPECT_EQ(j["per_service"].size(), 6u);  // two services x three runs
  EXPECT_FALSE(j["per_location"].empty());
  EXPECT_TRUE(std::filesystem::exists(dir + "/report/index.html"));

  Result bad = Awan(base + " --prefetch sometimes");
  EXPECT_NE(bad.code, 0);
  EXPECT_NE(bad.out.find("--prefetch"), std::string::npos) << bad.out;
  Result both = Awan(base + " --prefetch all --no-warm");
  EXPECT_NE(both.code, 0);
  EXPECT_NE(both.out.find("excludes"), std::string::npos) << both.out;
  Result unknown = Awan("sim serve --fleet " + fleet + " --services " + services +
                        " --requests nobody=" + dir + "/load/asean-assistant.jsonl");
  EXPECT_NE(unknown.code, 0);
  EXPECT_NE(unknown.out.find("nobody"), std::string::npos) << unknown.out;
}

TEST(Cli, MalformedTraceIsAClearErrorWithLineAndColumn) {
  const std::string dir = TempDir("bad");
  std::ofstream(dir + "/nodes.csv") << "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\n";
  std::ofstream(dir + "/pods.csv")
      << "name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,12000,16384,1,1000\np1,6000,lots,1,460\n";
  Result r = Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir + "/pods.csv --seeds 1 --quiet");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("pods.csv:3:9: column 'memory_mib': expected an integer"), std::string::npos) << r.out;
  Result missing = Awan("sim openb --nodes " + dir + "/nope.csv --pods " + dir + "/pods.csv --quiet");
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.out.find("cannot open"), std::string::npos) << missing.out;
  std::filesystem::remove_all(dir);
}

TEST(Cli, UsageErrorsAndUnknownPolicies) {
  EXPECT_EQ(Awan("").code, 2);
  Result unknown = Awan("nope");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("awan: unknown command 'nope' (commands: "), std::string::npos) << unknown.out;
  Result unknown_sim = Awan("sim nope");
  EXPECT_EQ(unknown_sim.code, 2);
  EXPECT_NE(unknown_sim.out.find("awan sim: unknown command 'nope' (commands: openb, jobs, serve"),
            std::string::npos)
      << unknown_sim.out;
  EXPECT_EQ(Awan("sim openb --pods x.csv").code, 2);  // --nodes missing
  const std::string dir = TempDir("pol");
  ASSERT_EQ(Awan("generate example --out " + dir + " --nodes 10").code, 0);
  Result r =
      Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir + "/pods.csv --policy magic --quiet");
  EXPECT_EQ(r.code, 2);  // a usage error, found before any work
  EXPECT_NE(r.out.find("unknown policy 'magic'"), std::string::npos) << r.out;
  Result seeds =
      Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir + "/pods.csv --seeds 9-1 --quiet");
  EXPECT_EQ(seeds.code, 2);
  // Output paths: their folders are made up front, or the OS's reason is said before any work.
  Result nested = Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir +
                       "/pods.csv --policy random --seeds 1 --quiet --json " + dir + "/a/b/out.json");
  EXPECT_EQ(nested.code, 0) << nested.out;
  EXPECT_TRUE(std::filesystem::exists(dir + "/a/b/out.json"));
  Result unwritable = Awan("sim openb --nodes " + dir + "/nodes.csv --pods " + dir +
                           "/pods.csv --policy random --seeds 1 --quiet --json /proc/awan-no/out.json");
  EXPECT_EQ(unwritable.code, 1);
  EXPECT_NE(unwritable.out.find("cannot create the folder of /proc/awan-no/out.json"), std::string::npos)
      << unwritable.out;
  EXPECT_EQ(unwritable.out.find("random"), unwritable.out.rfind("random")) << "no results printed";
  Result list = Awan("policies");
  EXPECT_EQ(list.code, 0);
  EXPECT_NE(list.out.find("fgd"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Cli, BenchPlacementReportsRatesAndLatencies) {
  Result r = Awan("bench placement --generate-nodes 50 --policy bestfit,fgd --repeat 1 --max-pods 300");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("decisions/s"), std::string::npos);
  EXPECT_NE(r.out.find("fgd"), std::string::npos);
}

}  // namespace

// The shipped ASEAN example end to end: awan obeys residency and the baseline does not; the audit verifier
// passes awan's log and names the entry of a violating or tampered one; the generator is deterministic; and
// explain answers for every waiting job with at least one counterfactual.
TEST(Cli, SovereigntyExampleAuditAndExplain) {
  const std::string dir = TempDir("sovereign");
  const std::string fleet = std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml";
  const std::string workload = std::string(AWAN_SOURCE_DIR) + "/examples/workloads/asean-week.yaml";
  // The shipped workload is what the generator makes (seed 1).
  Result g =
      Awan("generate workload --fleet " + fleet + " --days 7 --load 0.6 --seed 1 --out " + dir + "/w.yaml");
  ASSERT_EQ(g.code, 0) << g.out;
  auto body = [](const std::string& path) {
    std::ifstream f(path);
    std::string s((std::istreambuf_iterator<char>(f)), {});
    return s.substr(s.find("\nname:"));  // past the header comment, which names the output path
  };
  EXPECT_EQ(body(dir + "/w.yaml"), body(workload));
  // With time limits the jobs are the same; each asks for a round value of at least its run time and at
  // most 4 x it (or the next round value above that).
  Result lim = Awan("generate workload --fleet " + fleet +
                    " --days 7 --load 0.6 --seed 1 --time-limits 4 --out " + dir + "/wl.yaml");
  ASSERT_EQ(lim.code, 0) << lim.out;
  {
    const std::string limited = body(dir + "/wl.yaml");
    const std::regex field(", time_limit_s: ([0-9]+)");
    EXPECT_EQ(std::regex_replace(limited, field, ""), body(workload));
    const std::regex row("duration_s: ([0-9]+),.*time_limit_s: ([0-9]+)");
    const std::set<int64_t> round = {900,   1800,  3600,   7200,   14400,  28800,
                                     43200, 86400, 172800, 259200, 604800, 1209600};
    int rows = 0, above_twice = 0;
    std::istringstream in(limited);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, row)) continue;
      ++rows;
      const int64_t d = std::stoll(m[1]), l = std::stoll(m[2]);
      EXPECT_GE(l, d) << line;
      EXPECT_TRUE(round.contains(l) || l <= 4 * d) << line;
      above_twice += l > 2 * d;
    }
    EXPECT_EQ(rows, 2118);
    EXPECT_GT(above_twice, 0);  // the factor varies
  }
  EXPECT_NE(Awan("generate workload --fleet " + fleet + " --time-limits 0.5 --out " + dir + "/x.yaml").code,
            0);

  Result r = Awan("sim jobs --fleet " + fleet + " --workload " + workload +
                  " --policy awan,cheapest-unaware --quiet --json " + dir + "/s.json --audit " + dir +
                  "/audit.jsonl --report " + dir + "/report");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("violations"), std::string::npos) << r.out;
  std::ifstream f(dir + "/s.json");
  nlohmann::json j = nlohmann::json::parse(f);
  ASSERT_EQ(j["summary"].size(), 2u);
  EXPECT_EQ(j["summary"][0]["residency_violations"], 0);
  EXPECT_GT(j["summary"][1]["residency_violations"].get<int>(), 0);
  EXPECT_GT(j["summary"][0]["cost_usd"].get<double>(), 0);
  EXPECT_TRUE(j["summary"][0]["tenants"][0].contains("cost_usd"));
  EXPECT_GT(std::filesystem::file_size(dir + "/report/costs.png"), 1000u);
  {
    std::ifstream html(dir + "/report/index.html");
    std::string page((std::istreambuf_iterator<char>(html)), {});
    EXPECT_NE(page.find("residency violations"), std::string::npos);
    EXPECT_NE(page.find("costs.png"), std::string::npos);
  }

  Result ok =
      Awan("audit verify --fleet " + fleet + " --log " + dir + "/audit.jsonl.awan --workload " + workload);
  EXPECT_EQ(ok.code, 0) << ok.out;
  EXPECT_NE(ok.out.find("OK:"), std::string::npos) << ok.out;
  Result bad = Awan("audit verify --fleet " + fleet + " --log " + dir + "/audit.jsonl.cheapest-unaware");
  EXPECT_EQ(bad.code, 1) << bad.out;
  EXPECT_NE(bad.out.find("(entry 1): residency violation"), std::string::npos) << bad.out;
  {
    std::ifstream in(dir + "/audit.jsonl.awan");
    std::ofstream out(dir + "/tampered.jsonl");
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (n == 7) line.replace(line.find("\"t_s\":"), 6, "\"t_s\":1");
      out << line << "\n";
    }
  }
  Result tampered = Awan("audit verify --fleet " + fleet + " --log " + dir + "/tampered.jsonl");
  EXPECT_EQ(tampered.code, 1) << tampered.out;
  EXPECT_NE(tampered.out.find("line 7 (entry 7): hash mismatch"), std::string::npos) << tampered.out;

  Result ex = Awan("explain --fleet " + fleet + " --workload " + workload + " -o json");
  ASSERT_EQ(ex.code, 0) << ex.out;
  nlohmann::json e = nlohmann::json::parse(ex.out);
  ASSERT_FALSE(e["pending"].empty());
  for (const auto& p : e["pending"]) {
    EXPECT_FALSE(p["blocking"].empty()) << p.dump();
    EXPECT_FALSE(p["counterfactuals"].empty()) << p.dump();
  }
  Result unknown = Awan("explain nosuchjob --fleet " + fleet + " --workload " + workload + " --at 100");
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.out.find("no job named 'nosuchjob'"), std::string::npos) << unknown.out;
}
