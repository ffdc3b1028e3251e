#include "cli/sim_jobs.h"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "audit/audit_log.h"
#include "cli/cli_util.h"
#include "cli/progress.h"
#include "common/steady_tick_source.h"
#include "config/catalog_file.h"
#include "config/fleet_file.h"
#include "config/workload_file.h"
#include "core/residency.h"
#include "policies/builtin.h"
#include "policies/ordering/orderings.h"
#include "sim/jobs_report.h"
#include "sim/jobs_sim.h"
#include "trace/philly_reader.h"

namespace awan::cli {

nlohmann::json JobsSummaryJson(const sim::JobsSummary& s) {
  nlohmann::json waited = nlohmann::json::object();
  for (int k = 0; k < sim::kWaitReasons; ++k) {
    waited[sim::WaitReasonName(static_cast<sim::WaitReason>(k))] = s.waited_s[static_cast<size_t>(k)];
  }
  nlohmann::json stages = nlohmann::json::object();  // wall time: measured, never part of a decision
  for (int k = 0; k < kCycleStages; ++k) {
    stages[CycleStageName(static_cast<CycleStage>(k))] =
        static_cast<double>(s.cycle_stats.stage_ns[static_cast<size_t>(k)]) / 1e9;
  }
  nlohmann::json tenants = nlohmann::json::array();
  for (const auto& t : s.tenants) {
    tenants.push_back(
        {{"tenant", t.tenant}, {"jobs", t.jobs}, {"avg_jct_s", t.avg_jct_s}, {"cost_usd", t.cost_usd}});
  }
  return {{"policy", s.policy},
          {"oracle", s.oracle},
          {"isolated", s.isolated},
          {"offered_load", s.offered_load},
          {"jobs", s.jobs},
          {"finished", s.finished},
          {"avg_jct_s", s.avg_jct_s},
          {"p50_jct_s", s.p50_jct_s},
          {"p99_jct_s", s.p99_jct_s},
          {"p99_slowdown", s.p99_slowdown},
          {"max_preemptions_per_job", s.max_preemptions_per_job},
          {"bound_gangs", s.bound_gangs},
          {"bound_gang_p99_wait_s", s.bound_gang_p99_wait_s},
          {"avg_queue_s", s.avg_queue_s},
          {"avg_slowdown", s.avg_slowdown},
          {"makespan_s", s.makespan_s},
          {"gpu_util_pct", s.gpu_util_pct},
          {"preemptions", s.preemptions},
          {"failure_requeues", s.failure_requeues},
          {"gang_locality", {{"supernode", s.gang_locality_supernode}, {"block", s.gang_locality_block}}},
          {"gangs", s.gangs},
          {"gang_avg_jct_s", s.gang_avg_jct_s},
          {"jain_fairness", s.jain_fairness},
          {"cost_usd", s.cost_usd},
          {"residency_violations", s.residency_violations},
          {"waited_job_s_by_reason", waited},
          {"tenants", tenants},
          {"cycle_stage_seconds", stages}};
}

Status WriteJobsCsv(const std::string& path, const std::vector<JobSpec>& jobs, const sim::JobsSimResult& r) {
  std::ofstream f(path);
  f << "name,tenant,submit_s,start_s,end_s,duration_s,gpus,tasks,preemptions,failure_requeues,gpu_s,cost_"
       "usd\n";
  for (size_t i = 0; i < r.jobs.size() && i < jobs.size(); ++i) {
    const sim::JobOutcome& o = r.jobs[i];
    f << fmt::format("{},{},{},{},{},{},{},{},{},{},{},{:.4f}\n", jobs[i].name,
                     r.tenant_names[static_cast<size_t>(o.tenant)], o.submit_s, o.start_s, o.end_s,
                     o.duration_s, o.gpus, o.tasks, o.preemptions, o.failure_requeues, o.gpu_s, o.cost_usd);
  }
  f.close();
  if (!f) return IoError("cannot write " + path);
  return Status::Ok();
}

void AddSimJobs(CLI::App& sim, SimJobsArgs& a) {
  CLI::App* c = sim.add_subcommand("jobs", "Jobs over time (submit, wait, run, finish) on a fleet file");
  c->add_option("--fleet", a.fleet, "fleet file (YAML, docs/formats/fleet.md)")->required();
  CLI::Option* jobs =
      c->add_option("--jobs", a.jobs, "Philly job table CSV (timestamp,duration,num_gpus,gpu_time,cluster)");
  CLI::Option* wl = c->add_option(
      "--workload", a.workload,
      "workload file (YAML, docs/formats/workload.md): datasets with residency rules, and jobs");
  jobs->excludes(wl);
  wl->excludes(jobs);
  c->add_option(
       "--policy", a.policies,
       "comma-separated: fifo, sjf (oracle), srtf (oracle), tiresias, awan, awan-km (awan keyed by a "
       "Kaplan-Meier estimate that counts the runs still going), and cheapest-unaware (the baseline that "
       "ignores residency and places by price)")
      ->capture_default_str();
  c->add_flag("--ignore-residency", a.ignore_residency,
              "what-if: let every policy place as if no data were bound, to measure the price of sovereignty "
              "(violations are still counted and reported)");
  c->add_option(
       "--price-weight", a.price_weight,
       "region objective: weight of the price per GPU-hour (USD) when choosing among allowed regions")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  c->add_option("--latency-weight", a.latency_weight,
                "region objective: weight per ms of latency to the job's data and users (0 = price only)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  c->add_option(
      "--audit", a.audit_out,
      "write the audit log of every placement (JSON lines, hash-chained); several policies: FILE.<policy>");
  c->add_flag("--isolated", a.isolated,
              "each tenant alone on its guaranteed quota, no borrowing (Helios protocol)");
  c->add_flag(
      "--topology-blind", a.topology_blind,
      "place gangs ignoring supernodes and blocks (best-fit task by task), to measure what topology buys");
  c->add_flag("--fair-share", a.fair_share,
              "jobs that borrow idle quota go by fair share: the tenant with the least decayed GPU usage per "
              "weight first");
  c->add_option(
       "--backfill", a.backfill,
       "how jobs may jump ahead of one that cannot start: selective (a reservation for the first such job "
       "per set of allowed regions that waited as long as it is expected to run), easy (for the first such "
       "job per set of allowed regions), conservative (for each, up to 16), none")
      ->capture_default_str()
      ->check(CLI::IsMember(policies::BuiltinRegistry().BackfillNames()));
  c->add_option("--max-preemptions", a.max_preemptions,
                "a job stopped this many times by the scheduler is not stopped again (0 = no bound)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1000000));
  c->add_option(
       "--aging", a.aging,
       "each second a job waits lowers its ordering key by this much (key units: seconds for awan and srtf; "
       "0 = no aging)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  c->add_option(
       "--region-objective", a.region_objective,
       "which allowed region a job tries first: price-latency (the weights below), cheapest or nearest")
      ->capture_default_str()
      ->check(CLI::IsMember(policies::BuiltinRegistry().RegionObjectiveNames()));
  c->add_option(
       "--fair-share-policy", a.fair_share_policy,
       "with --fair-share, how a tenant's share is counted: drf-decayed (over time, with a half-life) or "
       "drf (now only)")
      ->capture_default_str()
      ->check(CLI::IsMember(policies::BuiltinRegistry().FairShareNames()));
  c->add_option(
       "--preemption", a.preemption,
       "when a preemptive ordering may stop a running job for a waiting one: cost-aware (never a gang "
       "nor a larger job; only once the waiting job waited as long as it is expected to run; only if "
       "it pays for the stop) or plain (whenever the ordering puts it after the waiting job)")
      ->capture_default_str()
      ->check(CLI::IsMember(policies::BuiltinRegistry().PreemptionNames()));
  c->add_option("--relocate", a.relocate,
                "on: a job its regions cannot hold yet may stop a running job that may also run elsewhere, "
                "where there is room, once it waited longer than the stop costs that job")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  c->add_option("--bound-regions-last", a.bound_regions_last,
                "on: a job allowed in several regions tries last those where jobs allowed in fewer of them "
                "wait")
      ->capture_default_str()
      ->check(CLI::IsMember({"on", "off"}));
  c->add_flag(
      "--legacy-starvation", a.legacy,
      "backfill, preemption and aging as awan ran them before scheduler v2 (no reservations, no bound on "
      "preemptions, no cost-aware preemption, no aging), to compare with earlier results");
  c->add_option(
       "--target-load", a.target_load,
       "rescale submit times (not durations) so that the offered load is X (GPU-time / (GPUs x span))")
      ->check(CLI::Range(0.001, 100.0));
  c->add_option("--json", a.json_out, "write the summary as JSON to this file");
  c->add_option("--jobs-csv", a.jobs_csv,
                "write every job's outcome as CSV (name, tenant, submit, start, end, duration, GPUs, tasks, "
                "preemptions, ...); several policies: FILE.<policy>");
  AddReportWindowOption(
      *c, a.report_window,
      c->add_option("--report", a.report_dir, "write an HTML report with gnuplot charts into this folder"),
      "days");
  c->add_option("--explain", a.explain,
                "a job name (philly-<line>): when it ran, and why it waited, per policy");
  c->add_option("--threads", a.threads, "worker threads (default: all cores; results do not depend on it)");
  c->add_flag("--quiet", a.quiet, "no progress bar");
  c->add_option("--faults", a.faults,
                "nodes that break (JSON lines of `awan generate faults --for-sim`): runs there fail, the "
                "diagnosis sees their lines")
      ->check(CLI::ExistingFile);
  c->add_option("--remediation", a.remediation,
                "with --faults: on = the diagnosis's actions drain a broken node at once; off = an operator "
                "does, --fault-detect-s after the fault")
      ->capture_default_str()
      ->check(CLI::IsMember({"off", "on"}));
  c->add_option("--fault-fail-after-s", a.fault_fail_after_s,
                "a run on a broken node fails this long after it began")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  c->add_option("--fault-detect-s", a.fault_detect_s,
                "without remediation, an operator drains a broken node this long after its fault")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  c->add_option("--fault-repair-s", a.fault_repair_s,
                "a drained broken node is back this long after the drain")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
}

namespace {

// The faults file: {"at_s", "node" (a fleet node), "scenario" (a catalog id), "gpu" (optional)} per line.
Status ReadSimFaults(const std::string& path, const Fleet& fleet, const diagnosis::Catalog& catalog,
                     std::vector<sim::SimFault>* out) {
  std::ifstream f(path);
  if (!f) return IoError("cannot read " + path);
  std::map<std::string, int> ids;
  for (size_t i = 0; i < catalog.size(); ++i) ids[catalog.at(i).id] = static_cast<int>(i);
  int line_no = 0;
  for (std::string line; std::getline(f, line);) {
    ++line_no;
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || !j.contains("at_s") || !j["at_s"].is_number_integer() || !j.contains("node") ||
        !j["node"].is_string() || !j.contains("scenario") || !j["scenario"].is_string())
      return InvalidArgument(where +
                             ": expected {\"at_s\": int, \"node\": str, \"scenario\": str, \"gpu\": int}");
    sim::SimFault sf;
    sf.at_s = j["at_s"].get<int64_t>();
    NodeIndex n;
    if (sf.at_s < 0) return InvalidArgument(where + ": at_s must be >= 0");
    if (!fleet.FindNode(j["node"].get<std::string>(), &n))
      return InvalidArgument(where + ": no node " + j["node"].get<std::string>() + " in the fleet");
    sf.node = n.value;
    const auto it = ids.find(j["scenario"].get<std::string>());
    if (it == ids.end()) return InvalidArgument(where + ": no scenario " + j["scenario"].get<std::string>());
    sf.scenario = it->second;
    sf.gpu = j.value("gpu", -1);
    if (sf.gpu >= fleet.node(n).gpu_count)
      return InvalidArgument(where + ": the node has no GPU " + std::to_string(sf.gpu));
    out->push_back(sf);
  }
  return Status::Ok();
}

nlohmann::json FaultsJson(const sim::FaultInjectionStats& f) {
  std::vector<int64_t> d = f.detect_s;
  std::sort(d.begin(), d.end());
  return {{"faults", f.faults},
          {"runs_failed", f.runs_failed},
          {"drained_by_diagnosis", f.drained_by_diagnosis},
          {"drained_by_operator", f.drained_by_operator},
          {"diagnosed_top1", f.diagnosed_top1},
          {"false_drains", f.false_drains},
          {"undiagnosed", f.undiagnosed},
          {"median_detect_s", d.empty() ? 0 : d[d.size() / 2]}};
}

}  // namespace

void AddReportWindowOption(CLI::App& c, std::string& window, CLI::Option* report, const char* unit) {
  c.add_option(
       "--report-window", window,
       fmt::format("with --report: the time charts show only FROM..TO of the trace (durations: 2d..4d, "
                   "36h.., ..12h; their axis is in {})",
                   unit))
      ->needs(report)
      ->check(CLI::Validator(
          [](std::string& text) {
            const StatusOr<sim::TimeWindow> w = sim::ParseTimeWindow(text);
            return w.ok() ? std::string() : std::string(w.status().message());
          },
          "FROM..TO", "time window"));
}

int RunSimJobs(const SimJobsArgs& a) {
  auto fleet = config::ReadFleetFile(a.fleet);
  if (!fleet.ok()) return Fail(fleet.status());
  if (a.jobs.empty() == a.workload.empty())
    return Fail(InvalidArgument("give exactly one of --jobs or --workload"));
  StatusOr<std::vector<JobSpec>> jobs = std::vector<JobSpec>{};
  std::optional<DataCatalog> catalog;
  if (!a.jobs.empty()) {
    jobs = trace::ReadPhillyJobs(a.jobs);
    if (!jobs.ok()) return Fail(jobs.status());
  } else {
    auto wl = sim::LoadWorkload(**fleet, a.workload);
    if (!wl.ok()) return Fail(wl.status());
    catalog = std::move(wl->catalog);
    jobs = std::move(wl->file.jobs);
  }
  const std::string source = a.jobs.empty() ? a.workload : a.jobs;
  const std::vector<std::string> policies = SplitList(a.policies);
  if (policies.empty()) return Usage(InvalidArgument("--policy names no policy"));
  for (const std::string& p : policies) {
    if (p != "cheapest-unaware" && !policies::MakeQueueOrder(p).ok())
      return Usage(InvalidArgument("unknown policy '" + p +
                                   "' (known: fifo, sjf, srtf, tiresias, awan, awan-km, cheapest-unaware)"));
  }
  size_t explain_idx = jobs->size();  // --explain's job
  for (size_t i = 0; i < jobs->size() && !a.explain.empty(); ++i)
    if ((*jobs)[i].name == a.explain) explain_idx = i;
  if (!a.explain.empty() && explain_idx == jobs->size())
    return Usage(NotFound("--explain: no job named '" + a.explain + "' in " + source));
  if (Status s = PrepareOutputs(a.json_out, a.report_dir); !s.ok()) return Fail(s);
  const double native = sim::OfferedLoad(*jobs, (*fleet)->fleet.total_gpus());
  fmt::print(stderr, "awan sim jobs: {} jobs, {} nodes ({} GPUs), native offered load {:.3f}{}\n",
             jobs->size(), (*fleet)->fleet.size(), (*fleet)->fleet.total_gpus(), native,
             a.target_load > 0 ? fmt::format(", rescaled to {:.3f}", a.target_load) : std::string());

  // Faults: the catalog built into the binary names their scenarios and reads their lines.
  std::optional<diagnosis::Catalog> diag_catalog;
  sim::FaultInjectionOptions fo;
  if (!a.faults.empty()) {
    auto c = config::LoadEmbeddedCatalog();
    if (!c.ok()) return Fail(c.status());
    diag_catalog = std::move(*c);
    if (Status s = ReadSimFaults(a.faults, (*fleet)->fleet, *diag_catalog, &fo.faults); !s.ok())
      return Fail(s);
    fo.catalog = &*diag_catalog;
    fo.remediate = a.remediation == "on";
    fo.fail_after_s = a.fault_fail_after_s, fo.manual_detect_s = a.fault_detect_s,
    fo.repair_s = a.fault_repair_s;
    fmt::print(stderr, "awan sim jobs: {} fault(s) from {}, remediation {}\n", fo.faults.size(), a.faults,
               a.remediation);
  }
  std::vector<StatusOr<sim::JobsSimResult>> results(policies.size(), Internal("not run"));
  std::vector<SteadyTickSource> ticks(policies.size());
  std::vector<std::string> audit_text(policies.size());
  std::vector<std::string> audit_head(policies.size());
  std::atomic<size_t> next{0};
  std::atomic<int64_t> done{0};
  const int threads =
      std::max(1, std::min<int>(a.threads > 0 ? a.threads : std::max(1u, std::thread::hardware_concurrency()),
                                static_cast<int>(policies.size())));
  std::atomic<int> workers_done{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t k; (k = next.fetch_add(1)) < policies.size();) {
        sim::JobsSimOptions o;
        o.policy = policies[k];
        if (a.isolated) o.scheduler.policies.admission = "isolated";
        o.scheduler.topology_aware = !a.topology_blind;
        o.scheduler.fair_share = a.fair_share;
        o.scheduler.policies.backfill = a.backfill;  // checked by the option
        o.scheduler.max_preemptions = a.max_preemptions;
        o.scheduler.aging = a.aging;
        o.scheduler.policies.preemption = a.preemption;
        o.scheduler.relocate = a.relocate == "on";
        o.scheduler.bound_regions_last = a.bound_regions_last == "on";
        if (a.legacy) o.scheduler = LegacyStarvationOptions(o.scheduler);
        o.ticks = &ticks[k];
        o.target_load = a.target_load;
        o.catalog = catalog ? &*catalog : nullptr;
        o.ignore_residency = a.ignore_residency;
        o.faults = fo.catalog != nullptr ? &fo : nullptr;
        o.scheduler.region_price_weight = a.price_weight;
        o.scheduler.policies.region = a.region_objective;
        o.scheduler.policies.fair_share = a.fair_share_policy;
        o.scheduler.region_latency_weight = a.latency_weight;
        audit::AuditChain chain;
        if (!a.audit_out.empty()) {
          o.on_start = [&, k](const RunStarted& run, const JobSpec& job, const JobResidency& rules) {
            audit_text[k] +=
                chain.Append((*fleet)->fleet, run.at_s, job, run.run_id, run.tasks, rules) + "\n";
            return Status::Ok();
          };
        }
        results[k] = sim::RunJobsSim(**fleet, *jobs, o, &done);
        audit_head[k] = chain.head();
      }
      workers_done.fetch_add(1);
    });
  }
  ProgressBar bar("sim jobs", !a.quiet);
  const int64_t total = static_cast<int64_t>(jobs->size() * policies.size());
  while (workers_done.load() < threads) {
    bar.Update(done.load(), total, fmt::format("{} policies", policies.size()));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  for (auto& t : pool) t.join();
  bar.Finish(fmt::format("{} policies", policies.size()));

  nlohmann::json summary = nlohmann::json::array();
  const bool sovereign = catalog.has_value();
  fmt::print("{:<16} {:>9} {:>12} {:>10} {:>12} {:>12} {:>9} {:>7} {:>12} {:>6}{}\n", "policy", "finished",
             "avg JCT s", "p50 s", "p99 s", "avg queue s", "slowdown", "util %", "gang sn/blk", "jain",
             sovereign ? fmt::format(" {:>12} {:>10}", "cost USD", "violations") : "");
  for (size_t k = 0; k < policies.size(); ++k) {
    if (!results[k].ok()) return Fail(results[k].status());
    const sim::JobsSummary& s = results[k]->summary;
    fmt::print(
        "{:<16} {:>9} {:>12.0f} {:>10.0f} {:>12.0f} {:>12.0f} {:>9.2f} {:>7.1f} {:>5.2f}/{:<6.2f} "
        "{:>6.3f}{}\n",
        s.policy + (s.oracle ? " (oracle)" : ""), s.finished, s.avg_jct_s, s.p50_jct_s, s.p99_jct_s,
        s.avg_queue_s, s.avg_slowdown, s.gpu_util_pct, s.gang_locality_supernode, s.gang_locality_block,
        s.jain_fairness,
        sovereign ? fmt::format(" {:>12.0f} {:>10}", s.cost_usd, s.residency_violations) : "");
    if (s.finished < s.jobs) {
      fmt::print(stderr,
                 "awan: warning: {}: {} of {} jobs never started (no quota or domain can ever hold them)\n",
                 s.policy, s.jobs - s.finished, s.jobs);
    }
    summary.push_back(JobsSummaryJson(s));
    if (results[k]->faults) {
      const nlohmann::json fj = FaultsJson(*results[k]->faults);
      summary.back()["faults"] = fj;
      fmt::print(
          "  {:<14} faults {}, runs failed on broken nodes {}, drained by the diagnosis {} / by an operator "
          "{}, diagnosed top-1 {}, median detection {} s, false drains {}\n",
          "", fj["faults"].get<int64_t>(), fj["runs_failed"].get<int64_t>(),
          fj["drained_by_diagnosis"].get<int64_t>(), fj["drained_by_operator"].get<int64_t>(),
          fj["diagnosed_top1"].get<int64_t>(), fj["median_detect_s"].get<int64_t>(),
          fj["false_drains"].get<int64_t>());
    }
  }
  if (!a.explain.empty()) {
    const size_t idx = explain_idx;
    const JobSpec& js = (*jobs)[idx];
    fmt::print("\n{}: tenant {}, {} task(s) x {} GPU, {} s of work\n", js.name, js.tenant, js.tasks,
               js.task.gpu_count, js.duration_s);
    for (size_t k = 0; k < policies.size(); ++k) {
      const sim::JobOutcome& o = results[k]->jobs[idx];
      if (o.start_s < 0) {
        fmt::print("  {:<10} submitted at {} s, never started\n", policies[k], o.submit_s);
      } else {
        fmt::print(
            "  {:<10} submitted {} s, started {} s, finished {} s (JCT {} s); preempted {}x, node failures "
            "{}x\n",
            policies[k], o.submit_s, o.start_s, o.end_s, o.end_s - o.submit_s, o.preemptions,
            o.failure_requeues);
      }
      std::string why;
      for (int r = 0; r < sim::kWaitReasons; ++r) {
        const int64_t w = o.waited_s[static_cast<size_t>(r)];
        if (w > 0)
          why += fmt::format("{}{}: {} s", why.empty() ? "" : ", ",
                             sim::WaitReasonName(static_cast<sim::WaitReason>(r)), w);
      }
      fmt::print("  {:<10} waited: {}\n", "", why.empty() ? "never" : why);
    }
  }
  if (!a.audit_out.empty()) {
    for (size_t k = 0; k < policies.size(); ++k) {
      std::string path = a.audit_out;
      if (policies.size() > 1) path += "." + policies[k];
      std::ofstream f(path);
      f << audit_text[k];
      f.close();
      if (!f) return Fail(IoError("cannot write " + path));
      fmt::print(stderr, "wrote {} ({} entries, head {})\n", path,
                 std::count(audit_text[k].begin(), audit_text[k].end(), '\n'), audit_head[k].substr(0, 16));
    }
  }
  if (!a.jobs_csv.empty()) {
    for (size_t k = 0; k < policies.size(); ++k) {
      std::string path = a.jobs_csv;
      if (policies.size() > 1) path += "." + policies[k];
      if (Status s = WriteJobsCsv(path, *jobs, *results[k]); !s.ok()) return Fail(s);
    }
  }
  if (!a.report_dir.empty()) {
    std::vector<sim::JobsSimResult> all;
    for (auto& r : results) all.push_back(*r);
    const std::string title =
        fmt::format("{} jobs from {} on {} ({} GPUs); offered load {:.3f}{}{}", jobs->size(), source, a.fleet,
                    (*fleet)->fleet.total_gpus(), a.target_load > 0 ? a.target_load : native,
                    a.isolated ? ", isolated tenants" : "", a.topology_blind ? ", topology-blind" : "") +
        (a.fair_share ? ", fair share" : "");
    const sim::TimeWindow window =
        a.report_window.empty() ? sim::TimeWindow{} : *sim::ParseTimeWindow(a.report_window);
    if (Status s = sim::WriteJobsReport(a.report_dir, all, title, window); !s.ok()) return Fail(s);
    fmt::print(stderr, "wrote {}/index.html\n", a.report_dir);
  }
  if (!a.json_out.empty()) {
    nlohmann::json j = {{"meta",
                         {{"fleet", a.fleet},
                          {"jobs", source},
                          {"native_offered_load", native},
                          {"target_load", a.target_load},
                          {"isolated", a.isolated},
                          {"topology_aware", !a.topology_blind},
                          {"fair_share", a.fair_share},
                          {"backfill", a.legacy ? std::string("none") : a.backfill},
                          {"max_preemptions", a.max_preemptions},
                          {"aging", a.aging},
                          {"preemption", a.preemption},
                          {"relocate", !a.legacy && a.relocate == "on"},
                          {"bound_regions_last", !a.legacy && a.bound_regions_last == "on"},
                          {"legacy_starvation", a.legacy},
                          {"ignore_residency", a.ignore_residency},
                          {"price_weight", a.price_weight},
                          {"region_objective", a.region_objective},
                          {"fair_share_policy", a.fair_share_policy},
                          {"latency_weight", a.latency_weight},
                          {"faults", a.faults},
                          {"remediation", a.remediation}}},
                        {"summary", summary}};
    std::ofstream f(a.json_out);
    f << j.dump(1) << "\n";
    f.close();
    if (!f) return Fail(IoError("cannot write " + a.json_out));
    fmt::print(stderr, "wrote {}\n", a.json_out);
  }
  return 0;
}

}  // namespace awan::cli
