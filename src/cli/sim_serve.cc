#include "cli/sim_serve.h"

#include <fmt/format.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "cli/cli_util.h"
#include "cli/progress.h"
#include "cli/sim_jobs.h"
#include "config/fleet_file.h"
#include "config/service_file.h"
#include "config/workload_file.h"
#include "policies/builtin.h"
#include "sim/request_gen.h"
#include "sim/serve_report.h"
#include "sim/serve_sim.h"
#include "trace/philly_reader.h"
#include "trace/request_trace.h"

namespace awan::cli {
namespace {

// --prefetch, or --no-warm (the same as --prefetch none).
sim::ServePrefetch Prefetch(const SimServeArgs& a) {
  if (a.no_warm || a.prefetch == "none") return sim::ServePrefetch::kNone;
  return a.prefetch == "forecast" ? sim::ServePrefetch::kForecast : sim::ServePrefetch::kAll;
}

nlohmann::json SummaryJson(const sim::ServeSummary& s, double oracle_gpu_hours, bool reference) {
  return {{"autoscaler", s.autoscaler},
          {"oracle_headroom", s.oracle_headroom},
          {"reference", reference},
          {"router", s.router},
          {"requests", s.requests},
          {"dropped", s.dropped},
          {"slo_attainment_pct", s.slo_attainment_pct},
          {"ramp_requests", s.ramp_requests},
          {"ramp_slo_attainment_pct", s.ramp_slo_attainment_pct},
          {"gpu_hours", s.gpu_hours},
          {"oracle_gpu_hours_ratio", oracle_gpu_hours > 0 ? s.gpu_hours / oracle_gpu_hours : 0.0},
          {"p50_ttft_ms", s.p50_ttft_ms},
          {"p99_ttft_ms", s.p99_ttft_ms},
          {"p99_tpot_ms", s.p99_tpot_ms},
          {"cold_starts", s.cold_starts},
          {"p99_cold_start_s", s.p99_cold_start_s},
          {"avg_cold_start_s", s.avg_cold_start_s},
          {"prefetches", s.prefetches},
          {"prefetched_bytes", s.prefetched_bytes},
          {"oscillations", s.oscillations},
          {"routed_outside_allowed", s.routed_outside_allowed},
          {"replicas_placed_outside", s.replicas_placed_outside},
          {"batch_avg_jct_s", s.batch_avg_jct_s},
          {"batch_jobs", s.batch_jobs},
          {"batch_finished", s.batch_finished},
          {"batch_p99_jct_s", s.batch_p99_jct_s},
          {"batch_preemptions", s.batch_preemptions},
          {"batch_max_preemptions_per_job", s.batch_max_preemptions_per_job}};
}

// SERVICE=PATH[,SERVICE=PATH...], each trace read by its extension.
StatusOr<std::vector<sim::ServiceLoad>> ReadLoads(const std::string& spec,
                                                  const config::ServicesFile& services) {
  std::vector<sim::ServiceLoad> loads;
  for (const std::string& item : SplitList(spec)) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
      return InvalidArgument("--requests: expected SERVICE=PATH, got '" + item + "'");
    sim::ServiceLoad l;
    l.service = item.substr(0, eq);
    bool known = false;
    for (const ServiceSpec& s : services.services) known = known || s.name == l.service;
    if (!known)
      return InvalidArgument("--requests: no service named '" + l.service + "' in the services file");
    for (const sim::ServiceLoad& other : loads)
      if (other.service == l.service)
        return InvalidArgument("--requests: service " + l.service + " named twice");
    AWAN_ASSIGN_OR_RETURN(l.requests, trace::ReadRequests(item.substr(eq + 1)));
    loads.push_back(std::move(l));
  }
  if (loads.empty()) return InvalidArgument("--requests names no trace");
  return loads;
}

Status WriteJson(const std::string& path, const nlohmann::json& j) {
  std::ofstream f(path);
  f << j.dump(1) << "\n";
  f.close();
  if (!f) return IoError("cannot write " + path);
  return Status::Ok();
}

}  // namespace

void AddSimServe(CLI::App& sim, SimServeArgs& a) {
  const PluginRegistry& reg = policies::BuiltinRegistry();
  CLI::App* c = sim.add_subcommand(
      "serve",
      "Inference services on a fleet: request traces, autoscalers, routers, cold starts, batch beside");
  c->add_option("--fleet", a.fleet, "fleet file (YAML, docs/formats/fleet.md)")->required();
  c->add_option("--services", a.services, "services file (YAML, docs/formats/services.md)")->required();
  c->add_option("--requests", a.requests,
                "SERVICE=PATH[,SERVICE=PATH...]: request traces, Azure LLM 2023 CSV (.csv) or Mooncake JSON "
                "lines (.jsonl); `awan generate requests` writes the latter")
      ->required();
  c->add_option("--rate", a.rate, "compress time by this factor (arrival times divided by it)")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e4));
  c->add_option(
       "--scale", a.scale,
       "replay each trace this many times over, copy k shifted by k/scale s (load x scale, same shape)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  c->add_option("--autoscaler", a.autoscalers,
                "comma-separated autoscalers (awan policies lists them); the oracle always runs, as the "
                "reference for GPU-hours")
      ->capture_default_str();
  c->add_option(
       "--oracle-headroom", a.oracle_headrooms,
       "the oracle runs at each of these headrooms (it provisions for its future load / headroom); the "
       "cheapest run that meets every service's SLO attainment target is the reference for GPU-hours")
      ->capture_default_str();
  c->add_option("--router", a.routers, "comma-separated routers (awan, nearest, least-work, prefix)")
      ->capture_default_str();
  CLI::Option* wl = c->add_option("--workload", a.workload,
                                  "batch jobs on the same fleet: a workload file (docs/formats/workload.md)");
  CLI::Option* jobs = c->add_option("--jobs", a.jobs, "batch jobs on the same fleet: a Philly job table CSV");
  wl->excludes(jobs);
  jobs->excludes(wl);
  c->add_option("--policy", a.policy, "the batch queue ordering (fifo, sjf, srtf, tiresias, awan, awan-km)")
      ->capture_default_str();
  c->add_option("--placement", a.placement, "the placement profile for jobs and replicas")
      ->capture_default_str()
      ->check(CLI::IsMember(reg.ProfileNames()));
  CLI::Option* prefetch =
      c->add_option("--prefetch", a.prefetch,
                    "images and weights ahead of replicas: all (to every node a service may use, before the "
                    "run), forecast (onto the nodes the scaler's forecast needs, each pull taking its time), "
                    "none (and no weights from peer replicas)")
          ->capture_default_str()
          ->check(CLI::IsMember({"all", "forecast", "none"}));
  c->add_flag("--no-warm", a.no_warm, "the same as --prefetch none")->excludes(prefetch);
  c->add_option(
       "--warmup-s", a.warmup_s,
       "seconds of the trace replayed first, not measured, so the autoscalers meet it warm (0: start "
       "cold, as a service just created)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{86400}));
  c->add_flag("--start-ready", a.start_ready,
              "the replicas placed at t = 0 are ready at once (a service deployed before the trace, as in "
              "awan serve when a replay waits for its first ready replica)");
  c->add_flag("--ignore-residency", a.ignore_residency,
              "the baseline that places replicas and routes requests anywhere (what it sends outside a "
              "service's places is counted)");
  c->add_flag(
      "--static-split", a.static_split,
      "reserve nodes for each service's peak; batch jobs get only the rest (the baseline for sharing)");
  c->add_option("--seed", a.seed, "random seed (users of requests without one)")->capture_default_str();
  c->add_option("--json", a.json_out, "write the results as JSON");
  c->add_option("--jobs-csv", a.jobs_csv,
                "with batch jobs: write every batch job's outcome as CSV (as sim jobs --jobs-csv); several "
                "runs: FILE.<autoscaler>.<router>");
  AddReportWindowOption(
      *c, a.report_window,
      c->add_option("--report", a.report_dir, "write an HTML report with charts (needs gnuplot)"), "hours");
  c->add_option("--threads", a.threads, "worker threads (default: all cores; results do not depend on it)");
  c->add_flag("--quiet", a.quiet, "no progress bar");
}

int RunSimServe(const SimServeArgs& a) {
  if (!a.jobs_csv.empty() && a.jobs.empty() && a.workload.empty())
    return Fail(
        InvalidArgument("--jobs-csv writes the batch jobs' outcomes: give them with --workload or --jobs"));
  if (Status s = PrepareOutputs(a.json_out, a.report_dir); !s.ok()) return Fail(s);
  auto fleet = config::ReadFleetFile(a.fleet);
  if (!fleet.ok()) return Fail(fleet.status());
  auto services = config::ReadServicesFile(a.services, (*fleet)->fleet);
  if (!services.ok()) return Fail(services.status());
  auto loads = ReadLoads(a.requests, *services);
  if (!loads.ok()) return Fail(loads.status());
  std::vector<JobSpec> jobs;
  std::vector<DataSpec> datasets;
  if (!a.jobs.empty()) {
    auto j = trace::ReadPhillyJobs(a.jobs);
    if (!j.ok()) return Fail(j.status());
    jobs = std::move(*j);
  } else if (!a.workload.empty()) {
    auto w = config::ReadWorkloadFile(a.workload, (*fleet)->fleet);
    if (!w.ok()) return Fail(w.status());
    jobs = std::move(w->jobs);
    datasets = std::move(w->datasets);
  }
  auto catalog = sim::ServingCatalog(**fleet, datasets, jobs, *services);
  if (!catalog.ok()) return Fail(catalog.status());
  const PluginRegistry& reg = policies::BuiltinRegistry();
  std::vector<std::string> scalers = SplitList(a.autoscalers), routers = SplitList(a.routers);
  if (std::find(scalers.begin(), scalers.end(), "oracle") == scalers.end()) scalers.push_back("oracle");
  for (const std::string& s : scalers)
    if (!reg.BuildAutoscaler(s).ok()) return Fail(reg.BuildAutoscaler(s).status());
  for (const std::string& r : routers)
    if (!reg.BuildRouter(r).ok()) return Fail(reg.BuildRouter(r).status());
  if (routers.empty()) return Fail(InvalidArgument("--router names no router"));
  int64_t requests = 0;
  for (const sim::ServiceLoad& l : *loads) requests += static_cast<int64_t>(l.requests.size()) * a.scale;
  fmt::print(stderr,
             "awan sim serve: {} services, {} requests (rate x{}, scale x{}), {} batch jobs, {} nodes\n",
             services->services.size(), requests, a.rate, a.scale, jobs.size(), (*fleet)->fleet.size());

  std::vector<double> headrooms;
  for (const std::string& h : SplitList(a.oracle_headrooms)) {
    char* end = nullptr;
    const double v = std::strtod(h.c_str(), &end);
    if (end == h.c_str() || *end != '\0' || !(v > 0.05 && v <= 4))
      return Fail(InvalidArgument("--oracle-headroom: '" + h + "' is not a number in (0.05, 4]"));
    headrooms.push_back(v);
  }
  if (headrooms.empty()) return Fail(InvalidArgument("--oracle-headroom names no headroom"));
  double target = 0;  // the strictest attainment target of the services with requests
  for (const ServiceSpec& s : services->services)
    for (const sim::ServiceLoad& l : *loads)
      if (l.service == s.name) target = std::max(target, s.slo.attainment_pct);
  struct Run {
    std::string scaler, router;
    double headroom = 1;
  };
  std::vector<Run> runs;
  for (const std::string& r : routers)
    for (const std::string& s : scalers) {
      if (s != "oracle") {
        runs.push_back({s, r, 1});
        continue;
      }
      for (double h : headrooms) runs.push_back({s, r, h});
    }
  std::vector<StatusOr<sim::ServeSimResult>> results(runs.size(), Internal("not run"));
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  std::vector<std::atomic<int64_t>> progress(runs.size());
  const int threads =
      std::max(1, std::min<int>(a.threads > 0 ? a.threads : std::max(1u, std::thread::hardware_concurrency()),
                                static_cast<int>(runs.size())));
  std::atomic<int> workers_done{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < runs.size();) {
        sim::ServeSimOptions o;
        o.autoscaler = runs[k].scaler;
        o.router = runs[k].router;
        o.oracle_headroom = runs[k].headroom;
        o.rate = a.rate;
        o.scale = a.scale;
        o.prefetch = Prefetch(a);
        o.warmup_ms = a.warmup_s * 1000;
        o.start_ready = a.start_ready;
        o.ignore_residency = a.ignore_residency;
        o.static_split = a.static_split;
        o.seed = a.seed;
        o.jobs.policy = a.policy;
        o.jobs.placement = a.placement;
        o.jobs.catalog = &*catalog;
        results[k] = sim::RunServeSim(**fleet, *services, *loads, jobs, o, &progress[k]);
        done.fetch_add(1);
      }
      workers_done.fetch_add(1);
    });
  }
  ProgressBar bar("sim serve", !a.quiet);
  const int64_t total = requests * static_cast<int64_t>(runs.size());
  while (workers_done.load() < threads) {
    int64_t sum = 0;
    for (auto& p : progress) sum += p.load();
    bar.Update(sum, total, fmt::format("{}/{} runs", done.load(), runs.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& t : pool) t.join();
  bar.Finish(fmt::format("{} runs", runs.size()));
  for (auto& r : results)
    if (!r.ok()) return Fail(r.status());
  for (const std::string& w : results.front()->warnings) fmt::print(stderr, "awan: warning: {}\n", w);

  nlohmann::json summary = nlohmann::json::array(), batch_runs = nlohmann::json::array(),
                 per_service = nlohmann::json::array(), per_location = nlohmann::json::array(),
                 per_tenant = nlohmann::json::array();
  const bool batch = !jobs.empty();
  for (const std::string& router : routers) {
    // The reference: the cheapest oracle run that meets the target, else the one that comes closest.
    size_t ref = runs.size();
    for (size_t k = 0; k < runs.size(); ++k) {
      if (runs[k].router != router || runs[k].scaler != "oracle") continue;
      const sim::ServeSummary& s = results[k]->summary;
      if (ref == runs.size()) {
        ref = k;
        continue;
      }
      const sim::ServeSummary& r = results[ref]->summary;
      const bool meets = s.slo_attainment_pct >= target, ref_meets = r.slo_attainment_pct >= target;
      if (meets != ref_meets ? meets
          : meets            ? s.gpu_hours < r.gpu_hours
                             : s.slo_attainment_pct > r.slo_attainment_pct)
        ref = k;
    }
    const double oracle = ref < runs.size() ? results[ref]->summary.gpu_hours : 0;
    fmt::print(
        "\nrouter {} (x oracle: against {}, the cheapest oracle run at >= {:g} % attainment, or the "
        "closest):\n"
        "{:<12} {:>8} {:>8} {:>9} {:>8} {:>9} {:>9} {:>9} {:>6} {:>8} {:>10} {:>5} {:>8}{}\n",
        router, ref < runs.size() ? sim::AutoscalerLabel(results[ref]->summary) : "none", target,
        "autoscaler", "attain %", "ramps %", "GPU-h", "x oracle", "p50 TTFT", "p99 TTFT", "p99 TPOT", "colds",
        "p99 cold", "prefetched", "osc", "outside", batch ? fmt::format(" {:>13}", "batch avg JCT") : "");
    for (size_t k = 0; k < runs.size(); ++k) {
      if (runs[k].router != router) continue;
      const sim::ServeSimResult& r = *results[k];
      const sim::ServeSummary& s = r.summary;
      fmt::print(
          "{:<12} {:>8.2f} {:>8.2f} {:>9.1f} {:>8.2f} {:>7.0f}ms {:>7.0f}ms {:>7.0f}ms {:>6} {:>7.1f}s "
          "{:>7.2f}TiB "
          "{:>5} {:>8}{}\n",
          sim::AutoscalerLabel(s) + (k == ref ? "*" : ""), s.slo_attainment_pct, s.ramp_slo_attainment_pct,
          s.gpu_hours, oracle > 0 ? s.gpu_hours / oracle : 0.0, s.p50_ttft_ms, s.p99_ttft_ms, s.p99_tpot_ms,
          s.cold_starts, s.p99_cold_start_s, static_cast<double>(s.prefetched_bytes) / (int64_t{1} << 40),
          s.oscillations, s.routed_outside_allowed,
          batch ? fmt::format(" {:>12.0f}s", s.batch_avg_jct_s) : "");
      summary.push_back(SummaryJson(s, oracle, k == ref));
      if (batch) {
        nlohmann::json b = JobsSummaryJson(r.batch_run.summary);
        b["autoscaler"] = s.autoscaler, b["oracle_headroom"] = s.oracle_headroom, b["router"] = s.router;
        b["preemptions"] = s.batch_preemptions;  // the batch jobs' own, as in the summary
        if (a.static_split) {                    // the nodes the split kept for the services
          std::vector<std::string> names;
          for (uint32_t n : r.reserved_nodes) names.push_back((*fleet)->fleet.node(NodeIndex(n)).name);
          b["split_reserved_nodes"] = names;
        }
        batch_runs.push_back(std::move(b));
      }
      for (const sim::ServiceOutcome& o : r.per_service) {
        nlohmann::json by_region = nlohmann::json::object();
        for (const auto& [region, hours] : o.gpu_hours_by_region) by_region[region] = hours;
        per_service.push_back({{"autoscaler", s.autoscaler},
                               {"router", s.router},
                               {"service", o.name},
                               {"tenant", o.tenant},
                               {"requests", o.requests},
                               {"dropped", o.dropped},
                               {"slo_attainment_pct", o.slo_attainment_pct},
                               {"gpu_hours", o.gpu_hours},
                               {"gpu_hours_by_region", std::move(by_region)},
                               {"p99_ttft_ms", o.p99_ttft_ms},
                               {"p99_tpot_ms", o.p99_tpot_ms},
                               {"peak_replicas", o.peak_replicas},
                               {"replicas_replaced", o.replicas_replaced},
                               {"cold_starts", o.cold_starts},
                               {"capacity_rps", o.capacity_rps},
                               {"capacity_concurrency", o.capacity_concurrency},
                               {"long_prompt_tokens", o.long_prompt_tokens},
                               {"long_prompts_in_time", o.long_prompts_in_time}});
      }
      for (const sim::GroupOutcome& g : r.per_location)
        per_location.push_back({{"autoscaler", s.autoscaler},
                                {"router", s.router},
                                {"location", g.name},
                                {"requests", g.requests},
                                {"slo_attainment_pct", g.slo_attainment_pct},
                                {"p99_ttft_ms", g.p99_ttft_ms}});
      for (const sim::GroupOutcome& g : r.per_tenant)
        per_tenant.push_back({{"autoscaler", s.autoscaler},
                              {"router", s.router},
                              {"tenant", g.name},
                              {"requests", g.requests},
                              {"slo_attainment_pct", g.slo_attainment_pct},
                              {"p99_ttft_ms", g.p99_ttft_ms}});
    }
  }
  if (batch && !a.jobs_csv.empty()) {
    for (size_t k = 0; k < runs.size(); ++k) {
      const std::string path = runs.size() == 1
                                   ? a.jobs_csv
                                   : fmt::format("{}.{}.{}", a.jobs_csv,
                                                 sim::AutoscalerLabel(results[k]->summary), runs[k].router);
      if (Status s = WriteJobsCsv(path, jobs, results[k]->batch_run); !s.ok()) return Fail(s);
    }
  }
  if (!a.report_dir.empty()) {
    std::vector<sim::ServeSimResult> all;
    for (auto& r : results) all.push_back(*r);
    std::vector<std::string> names;
    for (const ServiceSpec& s : services->services) names.push_back(s.name);
    const std::string title =
        fmt::format("{} requests for {} services on {}, rate x{}, scale x{}{}", requests, loads->size(),
                    a.fleet, a.rate, a.scale, batch ? fmt::format(", {} batch jobs", jobs.size()) : "");
    const sim::TimeWindow window =
        a.report_window.empty() ? sim::TimeWindow{} : *sim::ParseTimeWindow(a.report_window);
    if (Status s = sim::WriteServeReport(a.report_dir, all, names, title, window); !s.ok()) return Fail(s);
    fmt::print(stderr, "wrote {}/index.html\n", a.report_dir);
  }
  nlohmann::json timeline = nlohmann::json::array();
  for (size_t k = 0; k < runs.size(); ++k) {
    nlohmann::json points = nlohmann::json::array();
    for (const sim::ServeTimelinePoint& p : results[k]->timeline)
      points.push_back({{"t_s", p.t_s},
                        {"arrival_rps", p.arrival_rps},
                        {"replicas", p.replicas},
                        {"ready", p.ready},
                        {"batch_running_gpus", p.batch_running_gpus},
                        {"arrived", p.arrived},
                        {"met", p.met}});
    timeline.push_back({{"autoscaler", runs[k].scaler}, {"router", runs[k].router}, {"points", points}});
  }
  if (!a.json_out.empty()) {
    nlohmann::json j = {{"meta",
                         {{"fleet", a.fleet},
                          {"services", a.services},
                          {"requests", a.requests},
                          {"rate", a.rate},
                          {"scale", a.scale},
                          {"warm", Prefetch(a) != sim::ServePrefetch::kNone},
                          {"prefetch", sim::ServePrefetchName(Prefetch(a))},
                          {"warmup_s", a.warmup_s},
                          {"start_ready", a.start_ready},
                          {"ignore_residency", a.ignore_residency},
                          {"static_split", a.static_split},
                          {"batch", a.workload.empty() ? a.jobs : a.workload},
                          {"seed", a.seed}}},
                        {"summary", summary},
                        {"per_service", per_service},
                        {"per_location", per_location},
                        {"per_tenant", per_tenant},
                        {"batch", batch_runs},
                        {"timeline", timeline}};
    if (Status s = WriteJson(a.json_out, j); !s.ok()) return Fail(s);
    fmt::print(stderr, "wrote {}\n", a.json_out);
  }
  return 0;
}

void AddGenerateRequests(CLI::App& gen, GenerateRequestsArgs& a) {
  CLI::App* c = gen.add_subcommand(
      "requests",
      "Diurnal multi-tenant request load for the services of a services file (Mooncake JSON lines)");
  c->add_option("--fleet", a.fleet, "fleet file (to check the services file against)")->required();
  c->add_option("--services", a.services, "services file")->required();
  c->add_option("--out", a.out_dir, "directory: one SERVICE.jsonl per service")->required();
  c->add_option("--only", a.only, "comma-separated services (default: all)");
  c->add_option("--hours", a.hours, "length of the load")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 24.0 * 31));
  c->add_option("--peak-rps", a.peak_rps, "requests/s per service at the daily peak")
      ->capture_default_str()
      ->check(CLI::Range(0.001, 1e5));
  c->add_option("--trough", a.trough, "the night's rate as a share of the peak")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  c->add_option("--seed", a.seed, "random seed")->capture_default_str();
}

int RunGenerateRequests(const GenerateRequestsArgs& a) {
  auto fleet = config::ReadFleetFile(a.fleet);
  if (!fleet.ok()) return Fail(fleet.status());
  auto services = config::ReadServicesFile(a.services, (*fleet)->fleet);
  if (!services.ok()) return Fail(services.status());
  const std::vector<std::string> only = SplitList(a.only);
  for (const std::string& o : only) {
    bool known = false;
    for (const ServiceSpec& s : services->services) known = known || s.name == o;
    if (!known) return Fail(InvalidArgument("--only: no service named '" + o + "'"));
  }
  std::error_code ec;
  std::filesystem::create_directories(a.out_dir, ec);
  if (ec) return Fail(IoError("cannot create " + a.out_dir + ": " + ec.message()));
  sim::RequestGenOptions o;
  o.hours = a.hours;
  o.peak_rps = a.peak_rps;
  o.trough = a.trough;
  o.seed = a.seed;
  for (size_t i = 0; i < services->services.size(); ++i) {
    const ServiceSpec& s = services->services[i];
    if (!only.empty() && std::find(only.begin(), only.end(), s.name) == only.end()) continue;
    const std::vector<InferenceRequest> reqs = sim::GenerateRequests(s, i, o);
    const std::string path = a.out_dir + "/" + s.name + ".jsonl";
    std::ofstream f(path);
    f << trace::FormatMooncakeJsonl(reqs);
    f.close();
    if (!f) return Fail(IoError("cannot write " + path));
    fmt::print("{}: {} requests over {} h -> {}\n", s.name, reqs.size(), a.hours, path);
  }
  return 0;
}

}  // namespace awan::cli
