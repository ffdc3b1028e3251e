// `awan sim serve`: services of a services file (docs/formats/services.md) serving request traces on a fleet,
// one run per autoscaler and router, optionally beside batch jobs on the same fleet (sim/serve_sim.h); and
// `awan generate requests`: awan's own diurnal multi-tenant load (sim/request_gen.h).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace awan::cli {

struct SimServeArgs {
  std::string fleet, services, requests;  // requests: SERVICE=PATH[,SERVICE=PATH...]
  double rate = 1;
  int scale = 1;
  std::string autoscalers = "hpa,kpa,rayserve,aibrix,oracle,awan";
  std::string routers = "awan";
  std::string oracle_headrooms = "1,0.9,0.8,0.7";
  std::string workload, jobs;  // batch work on the same fleet (a workload file, or a Philly job table)
  std::string policy = "awan", placement = "bestfit";
  std::string prefetch = "all";  // all, forecast, none (sim::ServePrefetch); --no-warm is none
  bool no_warm = false, start_ready = false, ignore_residency = false, static_split = false;
  int64_t warmup_s =
      300;  // of the trace replayed first, unmeasured (0: the services start cold, as a new one)
  uint64_t seed = 1;
  std::string json_out, report_dir;
  std::string jobs_csv;       // the batch jobs' outcomes, one file per run
  std::string report_window;  // FROM..TO: the part of the trace the time charts show
  int threads = 0;
  bool quiet = false;
};
void AddSimServe(CLI::App& sim, SimServeArgs& args);
int RunSimServe(const SimServeArgs& args);

struct GenerateRequestsArgs {
  std::string fleet, services, out_dir, only;
  double hours = 24, peak_rps = 10, trough = 0.15;
  uint64_t seed = 1;
};
void AddGenerateRequests(CLI::App& gen, GenerateRequestsArgs& args);
int RunGenerateRequests(const GenerateRequestsArgs& args);

}  // namespace awan::cli
