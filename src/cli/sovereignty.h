// The sovereignty commands: `awan generate workload` (a multi-region workload for a fleet file),
// `awan audit verify` (re-check an audit log against a fleet's rules) and `awan explain` (why pending jobs
// wait, with counterfactuals computed on cloned scheduler state).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace awan::cli {

struct GenerateWorkloadArgs {
  std::string fleet, out;
  int days = 7;
  double load = 0.9;
  uint64_t seed = 1;
  double time_limits = 0;
};
void AddGenerateWorkload(CLI::App& gen, GenerateWorkloadArgs& a);
int RunGenerateWorkload(const GenerateWorkloadArgs& a);

struct AuditVerifyArgs {
  std::string fleet, log, workload;
};
void AddAuditVerify(CLI::App& audit, AuditVerifyArgs& a);
int RunAuditVerify(const AuditVerifyArgs& a);

struct ExplainArgs {
  std::string job;  // empty: every pending job
  std::string fleet, workload;
  std::string policy = "awan";
  int64_t at_s = -1;  // -1: the instant with the most jobs waiting
  std::string output = "table";
  std::string server, token, ca;  // without --fleet: ask the server (AWAN_URL) about JOB
};
void AddExplain(CLI::App& app, ExplainArgs& a);
int RunExplain(const ExplainArgs& a);

}  // namespace awan::cli
