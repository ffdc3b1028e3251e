// `awan serve` (the control plane daemon), `awan token create`, and the client commands that talk to it:
// submit, queue, describe, cancel, logs, nodes, tenants (AWAN_URL and AWAN_TOKEN, or --server and --token).
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/cycle_policy.h"

namespace awan::cli {

struct ServeArgs {
  std::string store = "sqlite:awan.db";
  std::string listen = "127.0.0.1:8080";
  std::string fleet;
  std::string state_dir = "awan-state";
  int tick_ms = 200;
  int http_threads = 2;
  int http_write_threads = 64;
  int max_connections = 1024;
  int request_timeout_ms = 10000;
  std::string placement = "bestfit", ordering = "fifo";
  std::string backfill = CyclePolicyNames{}.backfill;  // stage policies (core/cycle_policy.h)
  std::string preemption = "cost-aware";
  int64_t min_run_s = 600;  // no run is preempted before it ran this long (nor before its first checkpoint)
  int64_t checkpoint_s =
      1800;  // how often the scheduler assumes runs save a checkpoint (0: work is never lost)
  std::string executor = "local";
  int64_t heartbeat_timeout_s = 15;
  std::string remediation = "dry-run", remediation_max_risk = "low";
  int64_t report_waits_after_s = 60;
  int64_t cold_start_timeout_s = 600;  // a service replica not ready this long: a fact for the diagnosis
  std::string tls_cert, tls_key;       // both: serve HTTPS
  std::string slurm_nodes;             // awan-node=slurm-node,...
  // Task isolation on the local executor (docs/security.md).
  int64_t task_uid_base = 100000;
  bool allow_root_tasks = false;
  bool unsandboxed_tasks = false;
  std::string gpu_device_nodes = "/dev/nvidia{}";
  int64_t task_pids_max = 4096;
  int64_t max_log_mib = 64;  // per task run; the oldest output is dropped past it (0: no cap)
  // Per-tenant limits (0: none).
  int64_t max_waiting_per_tenant = 10000;
  double submits_per_s = 200;
  double heavy_reads_per_s = 20;
};
void AddServe(CLI::App& app, ServeArgs& a);
int RunServe(const ServeArgs& a);

struct TokenArgs {
  std::string store, tenant, role = "member", node, user;
  std::string revoke;  // a token (or a token id) to revoke
  bool list = false;   // token list
  std::string output = "table";
};
void AddToken(CLI::App& app, TokenArgs& a);
// `awan init --store URL`: creates an empty store (serve and token refuse a store that init did not make).
void AddInit(CLI::App& app, std::string& store);
int RunInit(const std::string& store);
int RunToken(const TokenArgs& a);

struct ClientArgs {
  std::string command;           // submit, queue, acct, describe, cancel, logs, nodes, tenants
  std::string arg;               // FILE or ID
  std::vector<std::string> ids;  // cancel: the jobs
  std::string output = "table";
  std::string server, token;
  std::string ca;  // CA certificate for an https server (default $AWAN_CA, else the system's)
  std::string state, tenant;
  int task = 0;
  int run = 0;              // logs: the k-th run (0 = the last)
  bool follow = false;      // logs -f
  int64_t tail = -1;        // logs --tail BYTES: only the last bytes
  int64_t since_s = 0;      // diagnose --since: only causes seen in the last seconds
  std::string node_action;  // nodes ACTION NODE [GPU]: describe, cordon, drain, uncordon, gpu-unhealthy, ...
  int gpu = -1;
  std::string reason;  // nodes cordon|drain|...: why (kept with the hold and in the audit log)
  // queue: at most `limit` jobs (0 = every one), those whose name contains `name`, sorted by `sort`
  // (submitted, name, state, tenant), reprinted every `watch_s` seconds (0 = once).
  int64_t limit = 0;
  std::string name, sort = "submitted";
  std::string user;  // queue, acct -u: only this user's jobs
  int watch_s = 0;
  bool dry_run = false;             // submit --dry-run
  bool summary = false;             // acct --summary: per tenant and region
  std::string array;                // submit --array: a job array (sbatch --array syntax)
  bool hold = false;                // submit --hold
  std::string dependency;           // submit --dependency afterok:ID,...
  std::optional<int64_t> priority;  // submit --priority, update --priority: within the tenant
  std::string time;                 // submit --time 2h (sbatch --time)
  // submit: one document of a multi-document file (set by RunClient itself, which submits each in turn).
  std::optional<std::string> document;
};
void AddClient(CLI::App& app, ClientArgs& a);
// Prints `j` as JSON (indented) or YAML (`output` "yaml"); 0.
int PrintObject(const nlohmann::json& j, const std::string& output);
int RunClient(const ClientArgs& a);

}  // namespace awan::cli
