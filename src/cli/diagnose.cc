#include "cli/diagnose.h"

#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_util.h"
#include "cli/serve.h"
#include "config/catalog_file.h"
#include "config/fleet_file.h"
#include "config/job_manifest.h"
#include "diagnosis/engine.h"
#include "diagnosis/faults.h"
#include "sim/fault_injector.h"

namespace awan::cli {
namespace {

using diagnosis::Catalog;
using diagnosis::Diagnosis;
using diagnosis::Signal;
using Json = nlohmann::json;

constexpr size_t kMaxLineBytes = 64 * 1024;

StatusOr<Catalog> LoadCatalog(const DiagnoseArgs& a) {
  return a.catalog_dir.empty() ? config::LoadEmbeddedCatalog() : config::LoadCatalogDir(a.catalog_dir);
}

Json SignalJson(const Signal& s) {
  Json j = {{"at_ms", s.at_ms}, {"kind", diagnosis::Name(s.kind)}, {"text", s.text}};
  const std::pair<const char*, const std::string*> fields[] = {
      {"node", &s.node},       {"job", &s.job},         {"dataset", &s.dataset},
      {"service", &s.service}, {"replica", &s.replica}, {"tenant", &s.tenant}};
  for (const auto& [k, v] : fields)
    if (!v->empty()) j[k] = *v;
  if (s.gpu >= 0) j["gpu"] = s.gpu;
  if (s.rank >= 0) j["rank"] = s.rank;
  return j;
}

StatusOr<Signal> SignalFromJson(const Json& j, const std::string& where) {
  Signal s;
  if (!j.contains("kind") || !j["kind"].is_string() || !j.contains("text") || !j["text"].is_string())
    return InvalidArgument(where + ": a signal needs \"kind\" and \"text\" strings");
  const auto kind = diagnosis::ParseSignalKind(j["kind"].get<std::string>());
  if (!kind) return InvalidArgument(where + ": unknown kind '" + j["kind"].get<std::string>() + "'");
  s.kind = *kind;
  s.text = j["text"].get<std::string>();
  if (j.contains("at_ms") && j["at_ms"].is_number_integer()) s.at_ms = j["at_ms"].get<int64_t>();
  const std::pair<const char*, std::string*> fields[] = {{"node", &s.node},       {"job", &s.job},
                                                         {"dataset", &s.dataset}, {"service", &s.service},
                                                         {"replica", &s.replica}, {"tenant", &s.tenant}};
  for (const auto& [k, v] : fields)
    if (j.contains(k) && j[k].is_string()) *v = j[k].get<std::string>();
  if (j.contains("gpu") && j["gpu"].is_number_integer()) s.gpu = j["gpu"].get<int>();
  if (j.contains("rank") && j["rank"].is_number_integer()) s.rank = j["rank"].get<int>();
  return s;
}

Json DiagnosisJson(const Catalog& c, const diagnosis::Engine& e, const Diagnosis& d) {
  const diagnosis::Scenario& s = c.at(static_cast<size_t>(d.scenario));
  Json ev = Json::array();
  for (uint32_t id : d.evidence) ev.push_back(SignalJson(e.signal(id)));
  Json explained = Json::array();
  for (const auto& [sym, entity] : d.explained)
    explained.push_back({{"scenario", c.at(static_cast<size_t>(sym)).id}, {"entity", entity}});
  Json j = {{"scenario", s.id},
            {"title", s.title},
            {"layer", s.layer},
            {"severity", diagnosis::Name(s.severity)},
            {"scope", diagnosis::Name(d.scope)},
            {"entity", d.entity},
            {"score", d.score},
            {"confidence", d.confidence},
            {"first_ms", d.first_ms},
            {"last_ms", d.last_ms},
            {"root_cause", s.root_cause},
            {"evidence_summary", s.evidence},
            {"action", s.action},
            {"auto_action", diagnosis::Name(s.auto_action)},
            {"auto_risk", diagnosis::Name(s.auto_risk)},
            {"members", d.members},
            {"jobs", d.jobs},
            {"explained", explained},
            {"evidence", ev}};
  if (d.gpu >= 0) j["gpu"] = d.gpu;
  return j;
}

int RunCatalog(const DiagnoseArgs& a) {
  auto c = LoadCatalog(a);
  if (!c.ok()) return Fail(c.status());
  if (a.output == "json") {
    Json out = Json::array();
    for (const auto& s : c->scenarios())
      out.push_back({{"id", s.id},
                     {"layer", s.layer},
                     {"scope", diagnosis::Name(s.scope)},
                     {"severity", diagnosis::Name(s.severity)},
                     {"class", s.symptom_class},
                     {"title", s.title},
                     {"auto_action", diagnosis::Name(s.auto_action)},
                     {"source", s.source}});
    fmt::print("{}\n", out.dump(2));
    return 0;
  }
  fmt::print("{:<34} {:<14} {:<13} {:<9} {:<19} {}\n", "ID", "LAYER", "SCOPE", "SEVERITY", "AUTO", "TITLE");
  for (const auto& s : c->scenarios())
    fmt::print("{:<34} {:<14} {:<13} {:<9} {:<19} {}\n", s.id, s.layer, diagnosis::Name(s.scope),
               diagnosis::Name(s.severity), diagnosis::Name(s.auto_action), s.title);
  fmt::print("{} scenarios\n", c->size());
  return 0;
}

int RunEval(const DiagnoseArgs& a) {
  auto c = LoadCatalog(a);
  if (!c.ok()) return Fail(c.status());
  diagnosis::EvalOptions o;
  o.seed = a.seed, o.cases = a.cases;
  o.faults.min_faults = a.min_faults, o.faults.max_faults = a.max_faults, o.faults.missing = a.missing;
  const diagnosis::EvalResult r = diagnosis::Evaluate(*c, o);
  if (a.output == "json") {
    Json misses = Json::array();
    for (const auto& m : r.misses)
      misses.push_back({{"scenario", m.scenario}, {"place", m.place}, {"got", m.got}});
    Json j = {{"seed", a.seed},
              {"scenarios", r.scenarios},
              {"cases", r.cases},
              {"faults", r.faults},
              {"healthy_cases", r.healthy_cases},
              {"signals", r.signals},
              {"top1_pct", r.top1_pct()},
              {"top3_pct", r.top3_pct()},
              {"false_alarm_pct", r.false_alarm_pct()},
              {"misses", misses}};
    fmt::print("{}\n", j.dump(2));
    return 0;
  }
  fmt::print(
      "diagnosis evaluation, seed {}: {} scenarios, {} fault cases ({} faults, {}-{} at once, {:.0f} % of "
      "optional "
      "signals missing), {} healthy cases, {} signals\n",
      a.seed, r.scenarios, r.cases, r.faults, a.min_faults, a.max_faults, a.missing * 100, r.healthy_cases,
      r.signals);
  fmt::print("top-1 {:.2f} %   top-3 {:.2f} %   false alarms on healthy runs {:.2f} %\n", r.top1_pct(),
             r.top3_pct(), r.false_alarm_pct());
  for (size_t i = 0; i < r.misses.size() && i < 10; ++i)
    fmt::print("  missed: {} at {} (best there: {})\n", r.misses[i].scenario, r.misses[i].place,
               r.misses[i].got.empty() ? "nothing" : r.misses[i].got);
  return 0;
}

int RunSignals(const DiagnoseArgs& a) {
  auto c = LoadCatalog(a);
  if (!c.ok()) return Fail(c.status());
  std::ifstream in(a.signals_file);
  if (!in.is_open()) return Fail(IoError(a.signals_file + ": cannot open"));
  diagnosis::DiagTopology topo;
  std::vector<Signal> signals;
  std::string line;
  int64_t last = 0;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string where = fmt::format("{}:{}", a.signals_file, n);
    if (line.size() > kMaxLineBytes) return Fail(InvalidArgument(where + ": line longer than 64 KiB"));
    if (line.empty()) continue;
    const Json j = Json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Fail(InvalidArgument(where + ": not a JSON object"));
    if (j.contains("topology")) {
      const Json& t = j["topology"];
      topo.nodes.push_back({t.value("node", ""), {t.value("switch", ""), t.value("feed", "")}});
      continue;
    }
    auto s = SignalFromJson(j, where);
    if (!s.ok()) return Fail(s.status());
    last = std::max(last, s->at_ms);
    signals.push_back(std::move(*s));
  }
  diagnosis::Engine e(*c, std::move(topo));
  for (Signal& s : signals) e.Add(std::move(s));
  const std::vector<Diagnosis> found = e.Diagnose(a.at_ms >= 0 ? a.at_ms : last);
  if (a.output == "json") {
    Json out = Json::array();
    for (const Diagnosis& d : found) out.push_back(DiagnosisJson(*c, e, d));
    fmt::print("{}\n", Json{{"signals", e.size()}, {"diagnoses", out}}.dump(2));
    return 0;
  }
  if (found.empty()) fmt::print("no problem found in {} signals\n", e.size());
  for (const Diagnosis& d : found) {
    const diagnosis::Scenario& s = c->at(static_cast<size_t>(d.scenario));
    fmt::print("{} {} at {} {}{} (confidence {:.0f} %)\n  {}\n  cause:  {}\n  action: {}\n",
               s.severity == diagnosis::Severity::kCritical ? "CRITICAL" : "WARNING ", s.id,
               diagnosis::Name(d.scope), d.entity, d.gpu >= 0 ? fmt::format(" GPU {}", d.gpu) : "",
               d.confidence * 100, s.title, s.root_cause, s.action);
    if (s.auto_action != diagnosis::AutoAction::kNone)
      fmt::print("  auto:   {} (risk {})\n", diagnosis::Name(s.auto_action), diagnosis::Name(s.auto_risk));
    for (size_t i = 0; i < d.evidence.size() && i < 3; ++i)
      fmt::print("  seen:   {}\n", e.signal(d.evidence[i]).text);
    if (!d.explained.empty())
      fmt::print("  explains {} symptom(s) on: {}\n", d.explained.size(), fmt::join(d.jobs, ", "));
  }
  return 0;
}

// The case for a live server: a Job that fails as the fault does, kernel lines for the agent, alerts,
// signals.
int WriteLive(const Catalog& c, const diagnosis::FaultCase& fc, const DiagnoseArgs& a) {
  if (a.live_node.empty())
    return Fail(InvalidArgument("--live needs --node: the node the kernel lines are from"));
  const diagnosis::LiveFault live = diagnosis::ToLive(fc, a.live_node);
  std::error_code ec;
  std::filesystem::create_directories(a.live_dir, ec);
  if (ec) return Fail(IoError(a.live_dir + ": " + ec.message()));
  Json signals = Json::array();
  for (const Signal& s : live.node_signals)
    signals.push_back({{"kind", diagnosis::Name(s.kind)}, {"text", s.text}, {"node", a.live_node}});
  std::string kernel;
  for (const std::string& l : live.kernel_lines) kernel += l + "\n";
  const std::pair<const char*, std::string> files[] = {{"job.yaml", live.manifest},
                                                       {"kernel.log", kernel},
                                                       {"alerts.json", live.alerts},
                                                       {"signals.json", signals.dump(1)}};
  for (const auto& [name, text] : files) {
    std::ofstream f(a.live_dir + "/" + name);
    f << text;
    if (!f) return Fail(IoError(a.live_dir + "/" + name + ": cannot write"));
  }
  for (const auto& f : fc.faults)
    fmt::print(stderr, "injected {}\n", c.at(static_cast<size_t>(f.scenario)).id);
  fmt::print(
      "{0}/job.yaml      awan submit it (its task prints the fault's log lines and ends as the failure "
      "does)\n"
      "{0}/kernel.log    {1} kernel lines: append them to the agent's --kernel-log on {2}\n"
      "{0}/alerts.json   {3}\n"
      "{0}/signals.json  {4} node facts (GPU health, Slurm, ...): POST them to /v1/signals with an admin "
      "token\n",
      a.live_dir, live.kernel_lines.size(), a.live_node,
      live.alerts.empty() ? "no alerts" : "POST it to /v1/alerts (Alertmanager's webhook body)",
      signals.size());
  return 0;
}

// Node faults for the simulator: the catalog's node-wide hardware scenarios on random nodes of the fleet.
int RunGenerateSimFaults(const DiagnoseArgs& a, const diagnosis::Catalog& c) {
  auto fleet = config::ReadFleetFile(a.for_sim_fleet);
  if (!fleet.ok()) return Fail(fleet.status());
  const std::vector<sim::SimFault> faults =
      sim::GenerateSimFaults((*fleet)->fleet, c, a.count, a.horizon_s, a.seed);
  std::ofstream file;
  if (!a.out_file.empty()) {
    file.open(a.out_file);
    if (!file.is_open()) return Fail(IoError(a.out_file + ": cannot write"));
  }
  std::ostream& out = a.out_file.empty() ? std::cout : file;
  for (const sim::SimFault& f : faults) {
    Json j = {{"at_s", f.at_s},
              {"node", (*fleet)->fleet.node(NodeIndex(f.node)).name},
              {"scenario", c.at(static_cast<size_t>(f.scenario)).id}};
    if (f.gpu >= 0) j["gpu"] = f.gpu;
    out << j.dump() << "\n";
  }
  return 0;
}

int RunGenerateFaults(const DiagnoseArgs& a) {
  auto c = LoadCatalog(a);
  if (!c.ok()) return Fail(c.status());
  if (!a.for_sim_fleet.empty()) return RunGenerateSimFaults(a, *c);
  if (a.count > 5)
    return Fail(InvalidArgument("--count: at most 5 faults in one case (more with --for-sim)"));
  std::vector<int> picks;
  for (const std::string& id : SplitList(a.scenarios)) {
    const int i = c->IndexOf(id);
    if (i < 0) return Fail(NotFound("no scenario '" + id + "' (awan diagnose catalog lists them)"));
    picks.push_back(i);
  }
  Rng rng(a.seed);
  if (picks.empty()) {
    std::vector<int> faultable;
    for (size_t i = 0; i < c->size(); ++i)
      if (c->at(i).severity != diagnosis::Severity::kBenign) faultable.push_back(static_cast<int>(i));
    for (int k = 0; k < a.count; ++k) picks.push_back(faultable[rng.Uniform(faultable.size())]);
  }
  const diagnosis::FaultWorld world = diagnosis::MakeFaultWorld(a.seed);
  diagnosis::FaultOptions o;
  o.noise = a.noise, o.missing = a.missing;
  const diagnosis::FaultCase fc = diagnosis::GenerateCase(*c, world, picks, o, rng);
  if (!a.live_dir.empty()) return WriteLive(*c, fc, a);
  std::ofstream file;
  if (!a.out_file.empty()) {
    file.open(a.out_file);
    if (!file.is_open()) return Fail(IoError(a.out_file + ": cannot write"));
  }
  std::ostream& out = a.out_file.empty() ? std::cout : file;
  for (const auto& [node, place] : world.Topology().nodes)
    out << Json{{"topology", {{"node", node}, {"switch", place.switch_name}, {"feed", place.feed}}}}.dump()
        << "\n";
  for (const Signal& s : fc.signals) out << SignalJson(s).dump() << "\n";
  out.flush();
  if (!out) return Fail(IoError("writing the signals failed"));
  for (const auto& f : fc.faults)
    fmt::print(stderr, "injected {} at {}\n", c->at(static_cast<size_t>(f.scenario)).id, f.place());
  return 0;
}

// Signals through the engine on one thread: generated cases (faults and noise) replayed end to end, their
// times shifted so the stream moves forward, with a diagnosis every 10,000 signals as the server would run
// it.
int RunBenchDiagnose(const DiagnoseArgs& a) {
  auto c = LoadCatalog(a);
  if (!c.ok()) return Fail(c.status());
  const diagnosis::FaultWorld world = diagnosis::MakeFaultWorld(a.seed);
  Rng rng(a.seed);
  std::vector<int> faultable;
  for (size_t i = 0; i < c->size(); ++i)
    if (c->at(i).severity != diagnosis::Severity::kBenign) faultable.push_back(static_cast<int>(i));
  std::vector<Signal> stream;
  int64_t shift = 0;
  while (static_cast<int64_t>(stream.size()) < std::min<int64_t>(a.bench_signals, 200000)) {
    const diagnosis::FaultCase fc = diagnosis::GenerateCase(
        *c, world, {faultable[rng.Uniform(faultable.size())]}, diagnosis::FaultOptions{}, rng);
    for (Signal s : fc.signals) {
      s.at_ms += shift;
      stream.push_back(std::move(s));
    }
    shift += fc.end_ms;
  }
  diagnosis::EngineOptions eo;
  eo.max_signals = 100000;
  diagnosis::Engine e(*c, world.Topology(), eo);
  size_t diagnoses = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < a.bench_signals; ++i) {
    Signal s = stream[static_cast<size_t>(i) % stream.size()];
    s.at_ms += (i / static_cast<int64_t>(stream.size())) * shift;
    const int64_t at = s.at_ms;
    e.Add(std::move(s));
    if (i % 10000 == 9999) diagnoses += e.Diagnose(at).size();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  fmt::print(
      "{} signals through the engine in {:.3f} s on one thread: {:.0f} signals/s ({} matched a scenario; {} "
      "diagnoses from {} Diagnose calls over a {}-minute window)\n",
      a.bench_signals, secs, static_cast<double>(a.bench_signals) / secs, e.matched(), diagnoses,
      a.bench_signals / 10000, eo.window_ms / 60000);
  return 0;
}

}  // namespace

void AddDiagnose(CLI::App& diagnose, CLI::App& generate, CLI::App& bench, DiagnoseArgs& a) {
  auto common = [&a](CLI::App* c) {
    c->add_option("--catalog", a.catalog_dir, "a directory of catalog files (default: the catalog built in)");
    c->add_option("-o,--output", a.output, "table or json")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "json"}));
  };
  // awan diagnose [JOB|NODE]: the running server's diagnoses (the fleet's current problems, or one job's or
  // node's); the subcommands below work offline.
  diagnose.add_option("target", a.target,
                      "a job id or node name (default: every current problem you may see)");
  diagnose.add_option("-o,--output", a.output, "table, json or yaml")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  diagnose.add_option("--server", a.server, "server URL (default $AWAN_URL)");
  diagnose.add_option("--token", a.token, "API token (default $AWAN_TOKEN)");
  diagnose.add_option("--ca", a.ca, "CA certificate to trust for an https server (default $AWAN_CA)");
  diagnose.add_option("--since", a.since, "only causes seen in this last while (90s, 30m, 2h, 1d)");
  CLI::App* cat = diagnose.add_subcommand("catalog", "List the exception scenarios awan diagnoses");
  common(cat);
  CLI::App* ev = diagnose.add_subcommand(
      "eval",
      "Score the engine on generated faults (noise, distractors, several faults at once, missing signals)");
  common(ev);
  ev->add_option("--seed", a.seed, "random seed of the generated cases")->capture_default_str();
  ev->add_option("--cases", a.cases, "fault cases (plus one healthy case per four)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  ev->add_option("--min-faults", a.min_faults, "faults per case, at least")
      ->capture_default_str()
      ->check(CLI::Range(1, 5));
  ev->add_option("--max-faults", a.max_faults, "faults per case, at most")
      ->capture_default_str()
      ->check(CLI::Range(1, 5));
  ev->add_option("--missing", a.missing, "chance that an optional signal is missing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  CLI::App* sig = diagnose.add_subcommand(
      "signals", "Diagnose a file of signals (JSON lines, as awan generate faults writes)");
  common(sig);
  sig->add_option("file", a.signals_file, "the signals")->required()->check(CLI::ExistingFile);
  sig->add_option("--at-ms", a.at_ms, "diagnose as of this time (default: the last signal's)");
  CLI::App* gf = generate.add_subcommand("faults", "Signals of injected faults, with noise (JSON lines)");
  gf->add_option("--catalog", a.catalog_dir, "a directory of catalog files (default: the catalog built in)");
  gf->add_option("--scenario", a.scenarios, "comma-separated scenario ids (default: --count random ones)");
  gf->add_option("--count", a.count, "random faults when no --scenario (1-5; with --for-sim up to 100000)")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  gf->add_option("--for-sim", a.for_sim_fleet,
                 "instead: node faults for `awan sim jobs --faults` on this fleet (JSON lines: at_s, node, "
                 "scenario, gpu): --count of them in [0, --horizon-s)")
      ->check(CLI::ExistingFile);
  gf->add_option("--horizon-s", a.horizon_s, "with --for-sim: faults happen before this simulated time")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
  gf->add_option("--seed", a.seed, "random seed")->capture_default_str();
  gf->add_option("--missing", a.missing, "chance that an optional signal is missing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  gf->add_flag("!--no-noise", a.noise, "the faults' own signals only");
  gf->add_option("--out", a.out_file, "write here (default: standard output)");
  gf->add_option(
      "--live", a.live_dir,
      "instead: files for a live server in this folder (a Job that fails as the fault does, kernel lines "
      "for the agent, alerts, node signals); needs --node");
  gf->add_option("--node", a.live_node, "with --live: the node the kernel lines and node facts are from");
  CLI::App* bd =
      bench.add_subcommand("diagnose", "Signals per second through the diagnosis engine (one thread)");
  bd->add_option("--signals", a.bench_signals, "signals to send")
      ->capture_default_str()
      ->check(CLI::Range(1000, 100000000));
  bd->add_option("--seed", a.seed, "random seed of the generated signals")->capture_default_str();
}

int RunDiagnose(CLI::App& diagnose, CLI::App& generate, CLI::App& bench, const DiagnoseArgs& a) {
  if (a.min_faults > a.max_faults) {
    fmt::print(stderr, "awan: error: --min-faults ({}) is above --max-faults ({})\n", a.min_faults,
               a.max_faults);
    return 2;
  }
  if (diagnose.got_subcommand("catalog")) return RunCatalog(a);
  if (diagnose.got_subcommand("eval")) return RunEval(a);
  if (diagnose.got_subcommand("signals")) return RunSignals(a);
  if (generate.got_subcommand("faults")) return RunGenerateFaults(a);
  if (bench.got_subcommand("diagnose")) return RunBenchDiagnose(a);
  if (diagnose.parsed()) {
    ClientArgs c;
    if (!a.since.empty()) {
      const StatusOr<int64_t> since = config::ParseTimeLimit(a.since);
      if (!since.ok() || *since <= 0) {
        fmt::print(stderr, "awan: error: --since: expected a duration such as 90s, 30m, 2h or 1d, got '{}'\n",
                   a.since);
        return 2;
      }
      c.since_s = *since;
    }
    c.command = "diagnose", c.arg = a.target, c.output = a.output, c.server = a.server, c.token = a.token;
    c.ca = a.ca;
    return RunClient(c);
  }
  return -1;
}

}  // namespace awan::cli
