#include "cli/commands.h"

#include <fmt/format.h>

#include "cli/agent.h"
#include "cli/bench.h"
#include "cli/bench_gateway.h"
#include "cli/diagnose.h"
#include "cli/replica.h"
#include "cli/serve.h"
#include "cli/sim_jobs.h"
#include "cli/sim_openb.h"
#include "cli/sim_serve.h"
#include "cli/sovereignty.h"
#include "policies/builtin.h"
#include "policies/ordering/orderings.h"

namespace awan::cli {

int Main(int argc, char** argv) {
  CLI::App app{"awan: scheduler and control plane for sovereign AI clouds", "awan"};
  app.set_version_flag("--version", "awan 0.1.0");
  app.require_subcommand(1);

  CLI::App* sim = app.add_subcommand("sim", "Trace-driven simulation on awan's scheduling core");
  sim->require_subcommand(1);
  SimOpenbArgs sim_openb;
  AddSimOpenb(*sim, sim_openb);
  SimJobsArgs sim_jobs;
  AddSimJobs(*sim, sim_jobs);
  SimServeArgs sim_serve;
  AddSimServe(*sim, sim_serve);

  CLI::App* gen = app.add_subcommand("generate", "Generate example fleets and workloads");
  gen->require_subcommand(1);
  GenerateArgs gen_args;
  AddGenerate(*gen, gen_args);
  GenerateWorkloadArgs gen_workload;
  AddGenerateWorkload(*gen, gen_workload);
  GenerateRequestsArgs gen_requests;
  AddGenerateRequests(*gen, gen_requests);

  CLI::App* audit = app.add_subcommand("audit", "Audit logs of placement decisions");
  audit->require_subcommand(1);
  AuditVerifyArgs audit_verify;
  AddAuditVerify(*audit, audit_verify);
  ExplainArgs explain;
  AddExplain(app, explain);
  ServeArgs serve;
  AddServe(app, serve);
  ReplicaArgs replica;
  AddReplica(app, replica);
  AgentArgs agent;
  AddAgent(app, agent);
  TokenArgs token;
  AddToken(app, token);
  std::string init_store;
  AddInit(app, init_store);
  ClientArgs client;
  AddClient(app, client);

  CLI::App* bench = app.add_subcommand("bench", "Benchmarks (use a Release build)");
  bench->require_subcommand(1);
  BenchArgs bench_args;
  AddBench(*bench, bench_args);
  BenchCycleArgs bench_cycle;
  AddBenchCycle(*bench, bench_cycle);
  BenchStoreArgs bench_store;
  AddBenchStore(*bench, bench_store);
  BenchRouterArgs bench_router;
  AddBenchRouter(*bench, bench_router);
  BenchGatewayArgs bench_gateway;
  AddBenchGateway(*bench, bench_gateway);

  CLI::App* diagnose = app.add_subcommand(
      "diagnose",
      "What broke, why, and what to do: the running server's diagnoses (catalog, eval, signals: offline)");
  diagnose->require_subcommand(0, 1);
  DiagnoseArgs diagnose_args;
  AddDiagnose(*diagnose, *gen, *bench, diagnose_args);

  CLI::App* pol = app.add_subcommand(
      "policies", "List the placement policies and their plugins, and the job cycle's stage policies");

  // A word where a command is expected that names none: say so (CLI11 would only say one is required).
  CLI::App* at = &app;
  std::string path = "awan";
  for (int i = 1; i < argc && argv[i][0] != '-'; ++i) {
    const std::vector<CLI::App*> subs = at->get_subcommands([](CLI::App*) { return true; });
    if (subs.empty()) break;  // a command's own arguments from here on
    const bool positional =
        !at->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty();
    CLI::App* next = nullptr;
    std::string known;
    for (CLI::App* s : subs) {
      if (s->get_name() == argv[i]) next = s;
      known += (known.empty() ? "" : ", ") + s->get_name();
    }
    if (next == nullptr && positional) break;  // an argument (awan diagnose j-00000042)
    if (next == nullptr) {
      fmt::print(stderr, "{}: unknown command '{}' (commands: {}; {} --help)\n", path, argv[i], known, path);
      return 2;
    }
    at = next;
    path += " " + next->get_name();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (sim->got_subcommand("openb")) return RunSimOpenb(sim_openb);
  if (sim->got_subcommand("jobs")) return RunSimJobs(sim_jobs);
  if (sim->got_subcommand("serve")) return RunSimServe(sim_serve);
  if (gen->got_subcommand("example")) return RunGenerate(gen_args);
  if (gen->got_subcommand("workload")) return RunGenerateWorkload(gen_workload);
  if (gen->got_subcommand("requests")) return RunGenerateRequests(gen_requests);
  if (const int rc = RunDiagnose(*diagnose, *gen, *bench, diagnose_args); rc >= 0) return rc;
  if (audit->got_subcommand("verify")) return RunAuditVerify(audit_verify);
  if (app.got_subcommand("explain")) return RunExplain(explain);
  if (app.got_subcommand("serve")) return RunServe(serve);
  if (app.got_subcommand("replica")) return RunReplica(replica);
  if (app.got_subcommand("agent")) return RunAgent(agent);
  if (app.got_subcommand("token")) return RunToken(token);
  if (app.got_subcommand("init")) return RunInit(init_store);
  if (!client.command.empty()) return RunClient(client);
  if (bench->got_subcommand("placement")) return RunBench(bench_args);
  if (bench->got_subcommand("cycle")) return RunBenchCycle(bench_cycle);
  if (bench->got_subcommand("store")) return RunBenchStore(bench_store);
  if (bench->got_subcommand("router")) return RunBenchRouter(bench_router);
  if (bench->got_subcommand("gateway")) return RunBenchGateway(bench_gateway);
  if (pol->parsed()) {
    const PluginRegistry& r = policies::BuiltinRegistry();
    for (const std::string& name : r.ProfileNames()) {
      const ProfileConfig* c = r.FindProfile(name);
      std::string scorers;
      for (const auto& [s, w] : c->scorers)
        scorers += (scorers.empty() ? "" : " + ") + s + "x" + std::to_string(w);
      fmt::print("{:<12} {:<48} devices={:<7} {}\n", name, scorers, c->device_selector, c->description);
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
      return s;
    };
    fmt::print(
        "\njob cycle stages (awan sim jobs / awan serve):\n  ordering     {}\n  admission    {}\n"
        "  backfill     {}\n  preemption   {}\n  fair share   {}\n  region       {}\n\nservices:\n"
        "  autoscaler   {}\n  router       {}\n",
        join(policies::QueueOrderNames()), join(r.AdmissionNames()), join(r.BackfillNames()),
        join(r.PreemptionNames()), join(r.FairShareNames()), join(r.RegionObjectiveNames()),
        join(r.AutoscalerNames()), join(r.RouterNames()));
    return 0;
  }
  return 2;
}

}  // namespace awan::cli
