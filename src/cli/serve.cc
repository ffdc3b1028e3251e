#include "cli/serve.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <pthread.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "audit/audit_log.h"
#include "cli/cli_util.h"
#include "cli/job_row.h"
#include "cli/queue.h"
#include "common/clock.h"
#include "config/catalog_file.h"
#include "config/fleet_file.h"
#include "config/job_manifest.h"
#include "diagnosis/catalog.h"
#include "model/job.h"
#include "policies/builtin.h"
#include "server/auth.h"
#include "server/control_loop.h"
#include "server/control_plane.h"
#include "server/diagnoses.h"
#include "server/etcd_store.h"
#include "server/http_api.h"
#include "server/http_server.h"
#include "server/local_executor.h"
#include "server/metrics.h"
#include "server/services.h"
#include "server/slurm_executor.h"
#include "server/store.h"
#include "trace/csv.h"

namespace awan::cli {
namespace {

// The system's clock, shared by the control plane, its executor, limits and authenticator (stateless).
Clock& Wall() {
  static SystemClock clock;
  return clock;
}

}  // namespace

void AddServe(CLI::App& app, ServeArgs& a) {
  CLI::App* c =
      app.add_subcommand("serve", "Run the control plane: REST API, durable store, scheduler, executor");
  c->add_option("--store", a.store,
                "state store URL: sqlite:PATH, or etcd:URL[,URL...] (leader election among replicas)")
      ->capture_default_str();
  c->add_option("--listen", a.listen, "address:port to listen on (port 0: any free port, printed)")
      ->capture_default_str();
  c->add_option("--fleet", a.fleet, "fleet file (YAML)")->required();
  c->add_option("--state-dir", a.state_dir, "where task logs go")->capture_default_str();
  c->add_option("--tick-ms", a.tick_ms, "scheduling period in ms")
      ->capture_default_str()
      ->check(CLI::Range(10, 60000));
  c->add_option("--http-threads", a.http_threads,
                "threads running API reads (connections are served by an event loop)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  c->add_option("--http-write-threads", a.http_write_threads,
                "threads running API writes (submit, cancel), which wait for a durable commit")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  c->add_option("--max-connections", a.max_connections, "open connections at most (more are refused at once)")
      ->capture_default_str()
      ->check(CLI::Range(16, 1000000));
  c->add_option("--request-timeout-ms", a.request_timeout_ms,
                "deadline from a request's first byte to its last (a slow client is cut off)")
      ->capture_default_str()
      ->check(CLI::Range(100, 600000));
  c->add_option("--executor", a.executor,
                "where tasks run: local (processes here) or slurm (sbatch to SLURM_CONF's cluster)")
      ->capture_default_str()
      ->check(CLI::IsMember({"local", "slurm"}));
  c->add_option("--tls-cert", a.tls_cert, "serve HTTPS with this certificate (PEM); needs --tls-key");
  c->add_option("--tls-key", a.tls_key, "the certificate's private key (PEM)");
  c->add_option(
       "--heartbeat-timeout", a.heartbeat_timeout_s,
       "seconds of silence after which a node that sent heartbeats is marked down and its work requeued")
      ->capture_default_str()
      ->check(CLI::Range(1, 86400));
  c->add_option("--remediation", a.remediation,
                "automatic actions of the diagnosis: off, dry-run (audited only) or on (done and audited)")
      ->capture_default_str()
      ->check(CLI::IsMember({"off", "dry-run", "on"}));
  c->add_option("--remediation-max-risk", a.remediation_max_risk,
                "the riskiest automatic action taken: low, medium or high")
      ->capture_default_str()
      ->check(CLI::IsMember({"low", "medium", "high"}));
  c->add_option("--report-waits-after-s", a.report_waits_after_s,
                "a job waiting this long tells the diagnosis why (awan diagnose JOB)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  c->add_option("--cold-start-timeout-s", a.cold_start_timeout_s,
                "a service replica not ready this long is reported to the diagnosis (it keeps starting)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{86400}));
  c->add_option("--slurm-nodes", a.slurm_nodes,
                "awan node = Slurm node pairs, comma-separated (default: the same names)");
  c->add_option(
       "--task-uid-base", a.task_uid_base,
       "local tasks of a tenant without a uid in the fleet file run as this + a hash of its name (mod 50000)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1000}, int64_t{4000000000}));
  c->add_flag("--allow-root-tasks", a.allow_root_tasks,
              "let local tasks run as root (never needed; refused by default)");
  c->add_flag("--unsandboxed-tasks", a.unsandboxed_tasks,
              "run local tasks without namespaces, as this server's user when it is not root (development "
              "only: tasks "
              "can then read the store)");
  c->add_option(
       "--gpu-device-nodes", a.gpu_device_nodes,
       "device node of GPU index {} (only the assigned ones are opened to a task by the devices cgroup)")
      ->capture_default_str();
  c->add_option("--task-pids-max", a.task_pids_max, "most processes and threads one local task may have")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{16}, int64_t{4194304}));
  c->add_option("--max-log-mib", a.max_log_mib,
                "MiB of output each run of a task keeps; past it the oldest is dropped in place (0: no cap)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 30));
  c->add_option("--max-waiting-per-tenant", a.max_waiting_per_tenant,
                "waiting jobs a tenant may have (0: no limit; past it 429)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{100000000}));
  c->add_option("--submits-per-s", a.submits_per_s,
                "submits a second per tenant, in bursts of twice that (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  c->add_option(
       "--heavy-reads-per-s", a.heavy_reads_per_s,
       "explains, logs, lists and audit reads a second per tenant, in bursts of twice that (0: no limit)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1e6));
  c->add_option("--placement", a.placement, "placement profile")->capture_default_str();
  c->add_option("--ordering", a.ordering, "queue ordering")->capture_default_str();
  c->add_option("--backfill", a.backfill, "backfill reservations: selective, easy, conservative or none")
      ->capture_default_str()
      ->check(CLI::IsMember(policies::BuiltinRegistry().BackfillNames()));
  c->add_option(
       "--min-run-s", a.min_run_s,
       "no run is preempted (to reclaim a guarantee, for a higher priority or a preemptive ordering) "
       "before it ran this many seconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{30} * 86400));
  c->add_option(
       "--checkpoint-s", a.checkpoint_s,
       "how often the scheduler assumes a run saves a checkpoint: none is preempted before its first, "
       "and the work since the last is counted as lost (0: a stopped run keeps its work)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{30} * 86400));
  c->add_option("--preemption", a.preemption, "preemption for a preemptive ordering: cost-aware or plain")
      ->capture_default_str()
      ->check(CLI::IsMember(policies::BuiltinRegistry().PreemptionNames()));
}

namespace {

// Holds an exclusive lock on `path` (created 0600) for the life of the process: a second server on the same
// store or state directory finds it taken and exits at once. The descriptor is close-on-exec: tasks never
// hold it.
Status LockExclusive(const std::string& path, const std::string& what) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return IoError("cannot open " + path + ": " + std::strerror(errno));
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return FailedPrecondition("another awan serve already uses " + what + " (" + path +
                              " is locked); stop it first");
  }
  return Status::Ok();  // fd deliberately kept open until exit
}

// The SQLite file's identity, to notice when it is deleted or replaced under the running server.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool ok = false;
};
FileId IdOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return {};
  return {st.st_dev, st.st_ino, true};
}

}  // namespace

void AddInit(CLI::App& app, std::string& store) {
  CLI::App* c =
      app.add_subcommand("init", "Create an empty state store (serve and token need one that init made)");
  c->add_option("--store", store, "state store URL: sqlite:PATH or etcd:URL[,URL...]")->required();
}

int RunInit(const std::string& url) {
  auto store = server::OpenStore(url, server::StoreOpenMode::kCreate);
  if (!store.ok()) return Fail(store.status());
  fmt::print("awan init: created store {}\n", url);
  return 0;
}

int RunServe(const ServeArgs& a) {
  umask(077);  // everything the server creates (logs, locks, the store) is its own
  // Signals are taken by one thread with sigwait (below): block them before any thread starts, so that every
  // thread inherits the mask. A write to a closed socket is an error, not a SIGPIPE.
  BlockStopSignals();
  auto fleet = config::ReadFleetFile(a.fleet);
  if (!fleet.ok()) return Fail(fleet.status());
  // One writer: a second server on the same store or state directory exits here, before it touches either.
  const bool sqlite = a.store.rfind("sqlite:", 0) == 0;
  if (sqlite) {
    if (Status s = LockExclusive(a.store.substr(7) + ".lock", "the store " + a.store); !s.ok())
      return Fail(s);
  }
  std::error_code mk;
  std::filesystem::create_directories(a.state_dir, mk);
  if (Status s = LockExclusive(a.state_dir + "/.lock", "the state directory " + a.state_dir); !s.ok())
    return Fail(s);
  auto store = server::OpenStore(a.store);
  if (!store.ok()) return Fail(store.status());
  const FileId store_id = sqlite ? IdOf(a.store.substr(7)) : FileId{};
  const size_t colon = a.listen.rfind(':');
  if (colon == std::string::npos)
    return Fail(InvalidArgument("--listen: expected HOST:PORT, got '" + a.listen + "'"));
  const std::string host = a.listen.substr(0, colon);
  int port = 0;
  try {
    port = std::stoi(a.listen.substr(colon + 1));
  } catch (...) {
    return Fail(InvalidArgument("--listen: bad port in '" + a.listen + "'"));
  }
  std::unique_ptr<server::Executor> exec;
  if (a.executor == "slurm") {
    std::map<std::string, std::string> nodes;
    for (const std::string& pair : SplitList(a.slurm_nodes)) {
      const size_t eq = pair.find('=');
      if (eq == std::string::npos)
        return Fail(InvalidArgument("--slurm-nodes: expected AWAN_NODE=SLURM_NODE, got '" + pair + "'"));
      nodes[pair.substr(0, eq)] = pair.substr(eq + 1);
    }
    exec = std::make_unique<server::SlurmExecutor>(a.state_dir + "/logs", nodes, Wall());
  } else {
    server::LocalExecutorOptions lo;
    lo.state_dir = a.state_dir;
    lo.sandbox = !a.unsandboxed_tasks;
    lo.allow_root = a.allow_root_tasks;
    lo.gpu_device_pattern = a.gpu_device_nodes;
    lo.pids_max = a.task_pids_max;
    lo.max_log_bytes = a.max_log_mib << 20;
    auto local = std::make_unique<server::LocalExecutor>(lo, Wall());
    if (Status s = local->Init(); !s.ok()) return Fail(s);
    exec = std::move(local);  // Recover adopts what a previous server left running, and stops the rest
  }
  server::ControlPlaneOptions co;
  co.placement = a.placement;
  co.ordering = a.ordering;
  co.backfill = a.backfill;
  co.preemption = a.preemption;
  co.min_run_s = a.min_run_s;
  co.checkpoint_s = a.checkpoint_s;
  co.heartbeat_timeout_ms = a.heartbeat_timeout_s * 1000;
  co.remediation = a.remediation == "on"    ? server::Remediation::kOn
                   : a.remediation == "off" ? server::Remediation::kOff
                                            : server::Remediation::kDryRun;
  co.remediation_max_risk = *diagnosis::ParseRisk(a.remediation_max_risk);  // checked by the option
  co.report_waits_after_ms = a.report_waits_after_s * 1000;
  co.task_uid_base = a.task_uid_base;
  co.max_waiting_per_tenant = a.max_waiting_per_tenant;
  co.submits_per_s = a.submits_per_s;
  co.heavy_reads_per_s = a.heavy_reads_per_s;
  auto cp = server::ControlPlane::Create(std::move(*fleet), std::move(*store), std::move(exec), Wall(), co);
  if (!cp.ok()) return Fail(cp.status());
  server::ControlPlane& plane = **cp;
  if (a.tls_cert.empty() != a.tls_key.empty())
    return Fail(InvalidArgument("--tls-cert and --tls-key go together"));
  server::HttpServerOptions ho;
  ho.host = host;
  ho.port = port;
  ho.tls_cert = a.tls_cert;
  ho.tls_key = a.tls_key;
  ho.worker_threads = a.http_threads;
  ho.write_worker_threads = a.http_write_threads;
  ho.max_connections = static_cast<size_t>(a.max_connections);
  ho.request_timeout_ms = a.request_timeout_ms;
  server::HttpServer http(ho);
  server::Metrics metrics;
  SystemClock clock;
  // Diagnosis: the catalog built into the binary, fed by failed tasks, lost heartbeats, agents and alerts.
  auto catalog = config::LoadEmbeddedCatalog();
  if (!catalog.ok()) return Fail(catalog.status());
  server::DiagnosisHub diagnoses(std::move(*catalog), plane.fleet(), clock);
  server::ServiceManagerOptions so;
  so.cold_start_timeout_ms = a.cold_start_timeout_s * 1000;
  server::ServiceManager services(plane, clock, so);
  metrics.AddSection([&services](const server::Principal& who) { return services.RenderMetrics(who); });
  plane.SetDiagnosisHub(&diagnoses);
  services.SetDiagnosisHub(&diagnoses);
  metrics.AddSection([&diagnoses](const server::Principal& who) {
    if (who.role != server::Role::kAdmin) return std::string();
    std::string out =
        "# HELP awan_diagnoses_total Causes diagnosed, per catalog scenario (each place counted once).\n"
        "# TYPE awan_diagnoses_total counter\n";
    for (const auto& [id, n] : diagnoses.Counts())
      out += fmt::format("awan_diagnoses_total{{scenario=\"{}\"}} {}\n", id, n);
    return out;
  });
  server::Authenticator auth(plane.store(), Wall());
  server::RegisterRoutes(http, plane, auth, metrics, &services, &diagnoses);
  http.OnRequestDone([&metrics](const server::HttpRequest&, const server::HttpResponse&, double seconds) {
    metrics.ObserveApi(seconds);
  });
  // No SO_REUSEPORT: a port in use (another server) is an error here, not a shared listener.
  if (Status s = http.Bind(); !s.ok()) return Fail(s);
  port = http.port();
  // With etcd, replicas elect one leader on a lease: only it recovers the state, schedules and answers /v1;
  // the others answer 503 until they lead. With SQLite this process is the only one.
  std::unique_ptr<server::LeaderElection> election;
  if (a.store.rfind("etcd:", 0) == 0) {
    auto eps = server::EtcdEndpoints(a.store);
    if (!eps.ok()) return Fail(eps.status());
    election =
        std::make_unique<server::LeaderElection>(*eps, fmt::format("{}:{} pid {}", host, port, getpid()));
  } else if (Status s = plane.Recover(); !s.ok()) {
    return Fail(s);
  } else if (Status s2 = services.Recover(); !s2.ok()) {
    return Fail(s2);
  }
  fmt::print("awan serve: listening on {}://{}:{} (store {}, fleet {}, {} GPUs){}\n",
             a.tls_cert.empty() ? "http" : "https", host, port, a.store, a.fleet,
             plane.fleet().fleet.total_gpus(), election ? ", standby until elected" : "");
  std::fflush(stdout);
  // SIGTERM and SIGINT are blocked in every thread (since the start of RunServe); this one waits for them.
  server::ControlLoopOptions lo;
  lo.on_recovered = [&services] { return services.Recover(); };
  lo.after_tick = [&services] { services.Tick(); };
  lo.tick_ms = a.tick_ms;
  lo.log = [](const std::string& m) {
    fmt::print("awan serve: {}\n", m);
    std::fflush(stdout);
  };
  if (store_id.ok) {  // the store deleted or replaced under us: stop rather than run on a ghost
    lo.check_store = [&a, store_id]() -> Status {
      const FileId now = IdOf(a.store.substr(7));
      if (now.ok && now.dev == store_id.dev && now.ino == store_id.ino) return Status::Ok();
      return FailedPrecondition("the store " + a.store +
                                " was deleted or replaced while serving; stopping (nothing more is accepted; "
                                "restore it and restart)");
    };
  }
  server::ControlLoop loop(plane, metrics, election.get(), clock, std::move(lo));
  // SIGTERM and SIGINT are blocked in every thread (since the start of RunServe); this one waits for them.
  OnStopSignal([&http, &loop, &services] {
    loop.Stop();
    services.Stop();
    http.Stop();
  });
  std::thread ticks([&loop, &a] {
    if (Status s = loop.Run(); !s.ok()) {  // going on could run a job twice or lose one: stop now
      fmt::print(stderr, "awan serve: {} (store {}); exiting\n", s.message(), a.store);
      std::fflush(stderr);
      std::_Exit(3);
    }
  });
  http.Run();
  loop.Stop();
  ticks.join();
  fmt::print("awan serve: stopped\n");
  return 0;
}

void AddToken(CLI::App& app, TokenArgs& a) {
  CLI::App* tok = app.add_subcommand("token", "API tokens");
  tok->require_subcommand(1);
  CLI::App* c = tok->add_subcommand(
      "create", "Create an API token offline (printed once, as the last line; stored hashed)");
  c->add_option("--store", a.store, "state store URL: sqlite:PATH")->required();
  c->add_option("--tenant", a.tenant, "the tenant it acts for (none for an admin)");
  c->add_option("--node", a.node, "for --role node: the node whose agent uses it");
  c->add_option("--user", a.user, "a person inside the tenant: jobs it submits say so (awan queue -u)");
  c->add_option("--role", a.role, "admin, tenant-admin, member, viewer, or node (a node agent's)")
      ->capture_default_str()
      ->check(CLI::IsMember({"admin", "tenant-admin", "member", "viewer", "node"}));
  CLI::App* r =
      tok->add_subcommand("revoke", "Revoke a token: every request with it answers 401 from then on");
  r->add_option("--store", a.store, "state store URL: sqlite:PATH")->required();
  r->add_option("token", a.revoke, "the token, or its id (from token list; a unique prefix of 8+ digits)")
      ->required();
  CLI::App* l =
      tok->add_subcommand("list", "List the tokens: id, tenant, role, created, revoked (never the tokens)");
  l->add_option("--store", a.store, "state store URL: sqlite:PATH")->required();
  l->add_option("-o,--output", a.output, "table, json or yaml")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "yaml"}));
  l->callback([&a] { a.list = true; });
}

namespace {

int ListTokens(server::StateStore& store, const std::string& output) {
  auto tokens = store.ListTokens();
  if (!tokens.ok()) return Fail(tokens.status());
  std::sort(tokens->begin(), tokens->end(),
            [](const auto& x, const auto& y) { return x.created_ms < y.created_ms; });
  if (output != "table") {
    nlohmann::json items = nlohmann::json::array();
    for (const server::TokenRecord& t : *tokens)
      items.push_back({{"id", server::TokenId(t)},
                       {"tenant", t.tenant},
                       {"user", t.user},
                       {"role", t.role},
                       {"created_ms", t.created_ms},
                       {"revoked", t.revoked}});
    return PrintObject(items, output);
  }
  fmt::print("{:<13} {:<20} {:<12} {:<13} {:<20} {}\n", "ID", "TENANT", "USER", "ROLE", "CREATED (UTC)",
             "REVOKED");
  for (const server::TokenRecord& t : *tokens) {
    const time_t at = static_cast<time_t>(t.created_ms / 1000);
    struct tm tm {};
    gmtime_r(&at, &tm);
    char created[32];
    strftime(created, sizeof created, "%Y-%m-%d %H:%M:%S", &tm);
    fmt::print("{:<13} {:<20} {:<12} {:<13} {:<20} {}\n", server::TokenId(t),
               t.tenant.empty() ? "(fleet)" : t.tenant, t.user.empty() ? "-" : t.user, t.role, created,
               t.revoked ? "yes" : "no");
  }
  return 0;
}

// A CLI11 check from one of the manifest's parsers: its message when it refuses the text, so a flag and the
// same field in a manifest are refused alike.
template <typename Parse>
std::function<std::string(const std::string&)> ParsedBy(Parse parse) {
  return [parse](const std::string& v) {
    auto r = parse(v);
    return r.ok() ? std::string() : r.status().message();
  };
}

}  // namespace

int RunToken(const TokenArgs& a) {
  auto store = server::OpenStore(a.store);
  if (!store.ok()) return Fail(store.status());
  if (a.list) return ListTokens(**store, a.output);
  if (!a.revoke.empty()) {
    if (Status s = server::RevokeToken(**store, a.revoke); !s.ok()) return Fail(s);
    fmt::print("revoked\n");
    return 0;
  }
  server::Role role;
  server::ParseRole(a.role, &role);
  if ((role == server::Role::kNode) != !a.node.empty())
    return Fail(InvalidArgument("--node goes with --role node, and a node token needs --node"));
  if (role == server::Role::kNode && !a.tenant.empty())
    return Fail(InvalidArgument("a node token acts for a node, not a tenant: drop --tenant"));
  std::random_device rd;
  auto token = server::CreateToken(
      **store, role == server::Role::kNode ? a.node : a.tenant, role,
      [&] { return (uint64_t{rd()} << 32) ^ rd(); }, Wall().NowMs(), a.user);
  if (!token.ok()) return Fail(token.status());
  fmt::print(stderr, "token for {} ({}), id {}; it is shown once:\n",
             !a.node.empty()    ? "node " + a.node
             : a.tenant.empty() ? "the whole fleet"
                                : "tenant " + a.tenant,
             a.role, audit::Sha256Hex(*token).substr(0, 12));
  fmt::print("{}\n", *token);
  return 0;
}

void AddClient(CLI::App& app, ClientArgs& a) {
  struct Cmd {
    const char* name;
    const char* help;
    const char* arg;  // nullptr: none
  };
  for (const Cmd& c : std::initializer_list<Cmd>{
           {"submit", "Submit a job or service manifest (examples/jobs/, examples/services/; - for stdin)",
            "FILE"},
           {"services", "List inference services (yours, or every tenant's for an admin)", nullptr},
           {"delete", "Delete a service (service/NAME: its replicas stop) or cancel a job (job/ID)", "ID"},
           {"queue", "List jobs (yours, or every tenant's for an admin)", nullptr},
           {"acct",
            "Accounting like sacct: each job's start, end, elapsed time, GPU-hours, cost and exit code; "
            "--summary: per tenant and region",
            nullptr},
           {"queues", "Each tenant's waiting and running jobs", nullptr},
           {"describe", "Show one job (ID) or service (service/NAME)", "ID"},
           {"cancel",
            "Cancel jobs: one or more ids, or every waiting or running job that matches --state, --name, -u, "
            "--tenant (scancel)",
            "ID"},
           {"hold", "Hold waiting jobs back: they stay pending, not scheduled (one or more ids)", "ID"},
           {"release", "Release held jobs (one or more ids)", "ID"},
           {"update",
            "Change waiting or running jobs (one or more ids): --priority N, their priority within the "
            "tenant "
            "(scontrol update)",
            "ID"},
           {"requeue", "Stop a running job and queue it again (it restarts from its last checkpoint)", "ID"},
           {"logs", "Print a task's output", "ID"},
           {"nodes",
            "List the fleet's nodes; `nodes describe NODE`; `nodes cordon|drain|uncordon NODE`; `nodes "
            "gpu-unhealthy|gpu-healthy NODE GPU` (admins)",
            nullptr},
           {"tenants", "List tenants, quotas and load", nullptr}}) {
    CLI::App* s = app.add_subcommand(c.name, c.help);
    if (std::string(c.name) == "cancel") {
      s->add_option("id", a.ids, "job ids (or filters instead)");
      s->add_option("--state", a.state, "every job in this state: Pending or Running (any case)")
          ->transform(CLI::IsMember({"Pending", "Running"}, CLI::ignore_case));
      s->add_option("--name", a.name, "every job whose name contains this");
      s->add_option("-u,--user", a.user, "every job this user of the tenant submitted");
      s->add_option("--tenant", a.tenant, "every job of this tenant (admins)");
      s->parse_complete_callback([&a] {
        const bool filtered = !a.state.empty() || !a.name.empty() || !a.user.empty() || !a.tenant.empty();
        if (a.ids.empty() == !filtered)
          throw CLI::ValidationError(
              "cancel", a.ids.empty() ? "give job ids, or filters (--state, --name, -u, --tenant)"
                                      : "give job ids or filters, not both");
      });
    } else if (std::string(c.name) == "hold" || std::string(c.name) == "release" ||
               std::string(c.name) == "update") {
      s->add_option("id", a.ids, "job ids")->required();
    } else if (c.arg) {
      s->add_option(c.arg == std::string("FILE") ? "file" : "id", a.arg, c.arg)->required();
    }
    s->add_option("-o,--output", a.output, "table, json or yaml")
        ->capture_default_str()
        ->check(CLI::IsMember({"table", "json", "yaml"}));
    s->add_option("--server", a.server, "server URL (default $AWAN_URL)");
    s->add_option("--token", a.token, "API token (default $AWAN_TOKEN)");
    s->add_option("--ca", a.ca, "CA certificate to trust for an https server (default $AWAN_CA)");
    if (std::string(c.name) == "submit") {
      s->add_flag("--dry-run", a.dry_run, "check it and say where it would start now, without submitting");
      s->add_flag("--hold", a.hold, "submit it held: it waits until awan release (sbatch --hold)");
      s->add_option(
           "--priority", a.priority,
           "its priority within the tenant (higher first; replaces spec.priority; sbatch --priority)")
          ->check(CLI::Range(-kMaxJobPriority, kMaxJobPriority));
      s->add_option("--time,-t", a.time,
                    "its time limit, like sbatch --time: 90, 30m, 2h, 1d, HH:MM:SS or D-HH:MM:SS (replaces "
                    "spec.time_limit; killed there; awan's orderings read it as an upper bound on its run)")
          ->check(ParsedBy([](const std::string& v) { return config::ParseTimeLimit(v); }));
      s->add_option("--dependency", a.dependency,
                    "start only after these jobs: afterok:ID[:ID...] (succeeded), afterany:ID (ended), "
                    "comma-separated")
          ->check(ParsedBy([](const std::string& v) { return config::ParseDependencies(v); }));
      s->add_option(
           "--array", a.array,
           "a job array in one request, like sbatch --array: 0-999, 1,3,5-7 or 0-15:4 (each job gets "
           "$AWAN_ARRAY_INDEX)")
          ->check(ParsedBy([](const std::string& v) { return config::ParseArraySpec(v); }));
      s->parse_complete_callback([&a] {
        if ((!a.array.empty() || a.hold || !a.dependency.empty() || a.priority || !a.time.empty()) &&
            a.dry_run)
          throw CLI::ValidationError("--dry-run",
                                     "does not go with --array, --hold, --dependency, --priority or --time");
      });
    }
    if (std::string(c.name) == "update") {
      s->add_option("--priority", a.priority, "the jobs' priority within their tenant: higher goes first")
          ->check(CLI::Range(-kMaxJobPriority, kMaxJobPriority))
          ->required();
    }
    if (std::string(c.name) == "acct") {
      s->add_flag("--summary", a.summary, "GPU-hours and cost per tenant and region instead of per job");
      s->add_option("--since", a.since_s, "only jobs that ran in the last SECONDS")
          ->check(CLI::Range(int64_t{1}, int64_t{1} << 40));
    }
    if (std::string(c.name) == "queue" || std::string(c.name) == "acct") {
      s->add_option("--state", a.state, "only jobs in this state (any case)")
          ->transform(CLI::IsMember({"Pending", "Running", "Succeeded", "Failed", "Cancelled", "TimedOut"},
                                    CLI::ignore_case));
      s->add_option("--tenant", a.tenant, "only this tenant's jobs (admins)");
      s->add_option("--name", a.name, "only jobs whose name contains this");
      s->add_option("-u,--user", a.user, "only jobs this user of the tenant submitted");
      s->add_option("--limit", a.limit, "at most this many jobs (0: every one)")
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
      s->add_option("--sort", a.sort, "submitted, name, state or tenant")
          ->capture_default_str()
          ->check(CLI::IsMember({"submitted", "name", "state", "tenant"}));
      if (std::string(c.name) == "queue")
        s->add_option("--watch", a.watch_s, "reprint every SECONDS until interrupted")
            ->check(CLI::Range(1, 3600));
    }
    if (std::string(c.name) == "nodes") {
      s->add_option("action", a.node_action, "describe, cordon, drain, uncordon, gpu-unhealthy, gpu-healthy")
          ->check(CLI::IsMember({"describe", "cordon", "drain", "uncordon", "gpu-unhealthy", "gpu-healthy"}));
      s->add_option("node", a.arg, "the node");
      s->add_option("gpu", a.gpu, "the GPU's index on the node (gpu-unhealthy, gpu-healthy)")
          ->check(CLI::Range(0, 63));
      s->add_option("--reason", a.reason, "why (kept with the node's hold and in the audit log)");
      s->parse_complete_callback([&a] {
        if (!a.node_action.empty() && a.arg.empty())
          throw CLI::ValidationError("nodes " + a.node_action, "needs a NODE");
        if (a.node_action.rfind("gpu-", 0) == 0 && a.gpu < 0)
          throw CLI::ValidationError("nodes " + a.node_action, "needs NODE and GPU");
      });
    }
    if (std::string(c.name) == "logs") {
      s->add_option("--task", a.task, "task index")->capture_default_str();
      s->add_option("--run", a.run, "the k-th run of a task that ran more than once (default: the last)");
      s->add_flag("-f,--follow", a.follow, "keep printing the output as it grows, until the job ends");
      s->add_option("--tail", a.tail, "start with only the last BYTES of the output")
          ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
    }
    s->callback([&a, name = std::string(c.name)] { a.command = name; });
  }
}

namespace {

void ToYaml(YAML::Emitter& e, const nlohmann::json& j) {
  if (j.is_object()) {
    e << YAML::BeginMap;
    for (auto& [k, v] : j.items()) {
      e << YAML::Key << k << YAML::Value;
      ToYaml(e, v);
    }
    e << YAML::EndMap;
  } else if (j.is_array()) {
    e << YAML::BeginSeq;
    for (const auto& v : j) ToYaml(e, v);
    e << YAML::EndSeq;
  } else if (j.is_string()) {
    e << j.get<std::string>();
  } else {
    e << j.dump();
  }
}

}  // namespace

int PrintObject(const nlohmann::json& j, const std::string& output) {
  if (output == "yaml") {
    YAML::Emitter e;
    ToYaml(e, j);
    fmt::print("{}\n", e.c_str());
  } else {
    fmt::print("{}\n", j.dump(1));
  }
  return 0;
}

// Services: `services`, `describe service/NAME`, `submit` and `delete` of one. False: not a service answer.
bool PrintService(const ClientArgs& a, const nlohmann::json& j) {
  auto row = [](const nlohmann::json& s) {
    const nlohmann::json& r = s["replicas"];
    const std::string att = s["slo_attainment_pct"].is_number()
                                ? fmt::format("{:.2f}%", s["slo_attainment_pct"].get<double>())
                                : "-";
    fmt::print("{:<20} {:<16} {:<16} {:>5}/{:<5} {:>8} {:>4}-{:<4} {:>9} {:>10}\n", s.value("name", ""),
               s.value("tenant", ""), s.value("model", ""), r.value("ready", 0),
               r.value("ready", 0) + r.value("starting", 0), r.value("draining", 0), r.value("min", 0),
               r.value("max", 0), s.value("requests", int64_t{0}), att);
  };
  auto header = [] {
    fmt::print("{:<20} {:<16} {:<16} {:>11} {:>8} {:>9} {:>9} {:>10}\n", "NAME", "TENANT", "MODEL",
               "READY/ALL", "DRAINING", "MIN-MAX", "REQUESTS", "ATTAINMENT");
  };
  if (a.command == "services") {
    header();
    for (const auto& s : j["items"]) row(s);
    return true;
  }
  if (a.command == "delete" && j.contains("deleted")) {
    fmt::print("service/{} deleted ({} replica(s) stopped)\n", j.value("name", ""),
               j["replicas_cancelled"].size());
    return true;
  }
  const bool service = j.contains("autoscaler") && j.contains("replicas");
  if (!service) return false;
  if (a.command == "submit") {
    fmt::print("service/{} created (tenant {}, autoscaler {}, router {})\n", j.value("name", ""),
               j.value("tenant", ""), j.value("autoscaler", ""), j.value("router", ""));
    return true;
  }
  header();
  row(j);
  fmt::print(
      "  SLO: first token {} ms, then {} ms per token; one replica sustains {:.2f} requests/s of the mix\n",
      j["slo"].value("ttft_ms", 0), j["slo"].value("tpot_ms", 0),
      j.contains("capacity") ? j["capacity"].value("rps_per_replica", 0.0) : 0.0);
  if (j.contains("image")) {
    const auto& im = j["image"];
    fmt::print("  image {}: {} start(s) on a node that held it, {} pulled it first; pre-pull {}\n",
               im.value("name", ""), im.value("starts_on_warm_node", 0), im.value("starts_that_pulled", 0),
               im.value("prepull", false) ? "on" : "off");
  }
  fmt::print("  {:<12} {:<10} {:<20} {:<8} {:>6} {:>9} {:>14} {:<6}\n", "REPLICA", "STATE", "NODE", "DEVICES",
             "PORT", "IN FLIGHT", "COLD START MS", "IMAGE");
  for (const auto& r : j["replica_list"]) {
    const int64_t cold = r.value("cold_start_ms", int64_t{-1});
    fmt::print("  {:<12} {:<10} {:<20} {:<8} {:>6} {:>9} {:>14} {:<6}\n", r.value("job", ""),
               r.value("state", ""), r.value("node", ""), r.value("devices", ""), r.value("port", 0),
               r.value("in_flight", 0), cold < 0 ? "-" : std::to_string(cold),
               r.value("image", "") == "" ? "-" : r.value("image", ""));
  }
  fmt::print("  recent scaling decisions (service time):\n");
  for (const auto& d : j["decisions"]) {
    fmt::print("    t={:.1f}s {} -> {}: {}\n", d.value("at_ms", int64_t{0}) / 1000.0, d.value("from", 0),
               d.value("to", 0), d.value("why", ""));
  }
  return true;
}

// `nodes`: a table; one node (describe, or the answer to a change): its state, hold, GPUs and jobs.
void PrintNodes(const ClientArgs& a, const nlohmann::json& j) {
  auto unhealthy = [](const nlohmann::json& n) {
    return n["unhealthy_gpus"].empty()
               ? std::string("-")
               : fmt::format("{}", fmt::join(n["unhealthy_gpus"].get<std::vector<int>>(), ","));
  };
  if (j.contains("items")) {
    fmt::print("{:<28} {:<8} {:>5} {:>9} {:<9} {:<10} {:<16} {}\n", "NODE", "GPU", "GPUS", "FREE", "STATE",
               "UNHEALTHY", "REGION", "REASON");
    for (const auto& n : j["items"]) {
      fmt::print("{:<28} {:<8} {:>5} {:>9.2f} {:<9} {:<10} {:<16} {}\n", n.value("name", ""),
                 n.value("accelerator", ""), n.value("gpus", 0), n.value("gpus_free", 0.0),
                 n.value("state", ""), unhealthy(n), n.value("region", ""),
                 n.contains("hold") ? n["hold"].value("reason", "") : "");
    }
    return;
  }
  if (a.node_action != "describe" && !a.node_action.empty())
    fmt::print("node/{} {}\n", j.value("name", ""),
               a.node_action == "uncordon" ? "uncordoned" : a.node_action + "ed");
  fmt::print("Name:        {}\nRegion/zone: {}/{}\nAccelerator: {} x {}\nState:       {}\n",
             j.value("name", ""), j.value("region", ""), j.value("zone", ""), j.value("gpus", 0),
             j.value("accelerator", ""), j.value("state", ""));
  if (j.contains("hold"))
    fmt::print("Hold:        by {} at t={} s: {}\n", j["hold"].value("by", ""),
               j["hold"].value("since_s", int64_t{0}), j["hold"].value("reason", ""));
  fmt::print("GPUs:\n");
  for (const auto& d : j["devices"])
    fmt::print("  {:>2}  free {:.2f}{}\n", d.value("index", 0), d.value("free", 0.0),
               d.value("healthy", true) ? "" : "  OUT OF SERVICE");
  fmt::print("Jobs:        {}\n",
             j["jobs"].empty()
                 ? std::string("none")
                 : fmt::format("{}", fmt::join(j["jobs"].get<std::vector<std::string>>(), ", ")));
}

// Standard input, at most `max` bytes (more is an error, not a cut).
StatusOr<std::string> ReadStdin(size_t max) {
  std::string out;
  char buf[65536];
  for (size_t n; (n = fread(buf, 1, sizeof buf, stdin)) > 0;) {
    out.append(buf, n);
    if (out.size() > max) return InvalidArgument(fmt::format("standard input: more than {} bytes", max));
  }
  if (out.empty()) return InvalidArgument("standard input: no manifest");
  return out;
}

// `awan submit` of a file with several documents ('---'): each is checked as YAML with a kind first (nothing
// is sent if one is not), then sent in turn; every failure names its document, and the exit code is 1 if any
// failed (the ones before it stay submitted).
int SubmitEach(const ClientArgs& a, const std::vector<std::string>& docs) {
  for (size_t i = 0; i < docs.size(); ++i) {
    const std::string kind = config::ManifestKind(docs[i]);
    if (kind != "Job" && kind != "Service") {
      return Fail(
          InvalidArgument(fmt::format("{}: document {} of {} is not a Job or Service manifest (kind: "
                                      "Job or Service); nothing was submitted",
                                      a.arg == "-" ? "stdin" : a.arg, i + 1, docs.size())));
    }
  }
  int rc = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    ClientArgs one = a;
    one.document = docs[i];
    if (a.output == "table") fmt::print("document {} of {}: ", i + 1, docs.size());
    std::fflush(stdout);
    if (RunClient(one) != 0) {
      fmt::print(stderr, "awan: document {} of {} was not submitted\n", i + 1, docs.size());
      rc = 1;
    }
  }
  return rc;
}

int RunClient(const ClientArgs& a) {
  // Flags first, then the environment, then the config file ($AWAN_CONFIG or ~/.config/awan/config.yaml:
  // url, token, ca).
  std::map<std::string, std::string> config;
  const char* home = std::getenv("HOME");
  const std::string config_path = std::getenv("AWAN_CONFIG") ? std::getenv("AWAN_CONFIG")
                                  : home                     ? std::string(home) + "/.config/awan/config.yaml"
                                                             : "";
  if (!config_path.empty() && std::ifstream(config_path).good()) {
    try {
      const YAML::Node n = YAML::LoadFile(config_path);
      if (!n.IsMap()) return Fail(InvalidArgument(config_path + ": expected a mapping (url, token, ca)"));
      for (const auto& kv : n) {
        const std::string k = kv.first.as<std::string>();
        if (k != "url" && k != "token" && k != "ca") {
          return Fail(InvalidArgument(config_path + ": unknown key '" + k + "' (allowed: url, token, ca)"));
        }
        config[k] = kv.second.as<std::string>();
      }
    } catch (const YAML::Exception& e) {
      return Fail(InvalidArgument(config_path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg));
    }
  }
  auto pick = [&](const std::string& flag, const char* env, const char* key) {
    if (!flag.empty()) return flag;
    if (const char* v = std::getenv(env)) return std::string(v);
    return config.count(key) ? config[key] : std::string();
  };
  std::string url = pick(a.server, "AWAN_URL", "url");
  const std::string token = pick(a.token, "AWAN_TOKEN", "token");
  if (url.empty()) {
    return Fail(InvalidArgument(
        "no server: pass --server, set AWAN_URL (e.g. http://127.0.0.1:8080), or put url: in " +
        (config_path.empty() ? std::string("the config file") : config_path)));
  }
  if (token.empty())
    return Fail(
        InvalidArgument("no token: pass --token, set AWAN_TOKEN, or put token: in the config file (see `awan "
                        "token create`)"));
  httplib::Client http(url);
  const std::string ca = pick(a.ca, "AWAN_CA", "ca");
  if (!ca.empty()) http.set_ca_cert_path(ca.c_str());
  http.enable_server_certificate_verification(true);
  http.set_connection_timeout(5);
  http.set_read_timeout(30);
  httplib::Headers h = {{"Authorization", "Bearer " + token}};
  // The manifest to submit: the file, or standard input for "-" (read once, bounded).
  StatusOr<std::string> manifest = std::string();
  if (a.command == "submit") {
    manifest = a.document     ? *a.document
               : a.arg == "-" ? ReadStdin(config::kMaxManifestBytes)
                              : trace::ReadFile(a.arg);
    if (!manifest.ok()) return Fail(manifest.status());
    if (!a.document) {
      const std::vector<std::string> docs = config::SplitYamlDocuments(*manifest);
      if (docs.size() > 1) return SubmitEach(a, docs);
    }
  }
  auto call = [&]() -> httplib::Result {
    if (a.command == "submit") {
      const bool service = config::ManifestKind(*manifest) == "Service";
      if (!service &&
          (!a.array.empty() || a.hold || !a.dependency.empty() || a.priority || !a.time.empty())) {
        std::string q;
        if (!a.array.empty()) q += "&array=" + httplib::detail::encode_query_param(a.array);
        if (a.hold) q += "&hold=true";
        if (a.priority) q += fmt::format("&priority={}", *a.priority);
        if (!a.time.empty()) q += "&time_limit=" + httplib::detail::encode_query_param(a.time);
        if (!a.dependency.empty()) q += "&dependency=" + httplib::detail::encode_query_param(a.dependency);
        return http.Post("/v1/jobs?" + q.substr(1), h, *manifest, "application/yaml");
      }
      return http.Post(service     ? "/v1/services"
                       : a.dry_run ? "/v1/jobs?dry_run=true"
                                   : "/v1/jobs",
                       h, *manifest, "application/yaml");
    }
    if (a.command == "describe" && a.arg.rfind("service/", 0) == 0)
      return http.Get("/v1/services/" + a.arg.substr(8), h);
    if (a.command == "delete") {
      if (a.arg.rfind("service/", 0) == 0) return http.Delete("/v1/services/" + a.arg.substr(8), h);
      const std::string id = a.arg.rfind("job/", 0) == 0 ? a.arg.substr(4) : a.arg;
      return http.Post("/v1/jobs/" + id + "/cancel", h, "", "text/plain");
    }
    if (a.command == "queue") {
      httplib::Params p;
      if (!a.state.empty()) p.emplace("state", a.state);
      if (!a.tenant.empty()) p.emplace("tenant", a.tenant);
      return http.Get("/v1/jobs", p, h);
    }
    if (a.command == "describe") return http.Get("/v1/jobs/" + a.arg, h);
    if (a.command == "requeue") return http.Post("/v1/jobs/" + a.arg + "/requeue", h, "", "text/plain");
    if (a.command == "explain") return http.Get("/v1/jobs/" + a.arg + "/explain", h);
    if (a.command == "diagnose") {
      httplib::Params p;
      if (!a.arg.empty()) p.emplace("target", a.arg);
      if (a.since_s > 0) p.emplace("since_s", std::to_string(a.since_s));
      return http.Get("/v1/diagnoses", p, h);
    }
    if (a.command == "nodes" && a.node_action == "describe") return http.Get("/v1/nodes/" + a.arg, h);
    if (a.command == "nodes" && !a.node_action.empty()) {
      const std::string body = nlohmann::json{{"reason", a.reason}}.dump();
      if (a.node_action.rfind("gpu-", 0) == 0) {
        return http.Post(fmt::format("/v1/nodes/{}/gpus/{}/{}", a.arg, a.gpu, a.node_action.substr(4)), h,
                         body, "application/json");
      }
      return http.Post("/v1/nodes/" + a.arg + "/" + a.node_action, h, body, "application/json");
    }
    return http.Get("/v1/" + a.command, h);  // nodes, tenants, queues
  };
  if (a.command == "submit" && a.dry_run && config::ManifestKind(*manifest) == "Service")
    return Fail(InvalidArgument("--dry-run is for jobs (a service's replicas are placed as it scales)"));
  if (a.command == "queue" && a.output != "yaml") return ListQueue(a, http, h);
  if (a.command == "acct") return ListAccounting(a, http, h);
  if (a.command == "cancel" || a.command == "hold" || a.command == "release" || a.command == "update") {
    // each id in turn (or, for cancel with filters, each waiting or running job that matches); every
    // failure said, the exit code 1 if any
    std::vector<std::string> ids = a.ids;
    if (a.command == "cancel" && ids.empty()) {
      std::vector<nlohmann::json> matched;
      int64_t more = 0;
      if (Status s = FetchJobs(a, http, h, &matched, &more); !s.ok()) return Fail(s);
      for (const nlohmann::json& j : matched) {
        const std::string state = j.value("state", "");
        if (state == "Pending" || state == "Running") ids.push_back(j.value("id", ""));
      }
      if (ids.empty()) fmt::print(stderr, "awan: no waiting or running job matched\n");
    }
    int rc = 0;
    for (const std::string& id : ids) {
      httplib::Result r =
          a.command == "update"
              ? http.Post("/v1/jobs/" + id + "/priority", h, nlohmann::json{{"priority", *a.priority}}.dump(),
                          "application/json")
              : http.Post("/v1/jobs/" + id + "/" + a.command, h, "", "text/plain");
      const nlohmann::json j = r ? nlohmann::json::parse(r->body, nullptr, false) : nlohmann::json();
      if (!r || r->status != 200 || !j.is_object()) {
        const std::string why = !r                                     ? httplib::to_string(r.error())
                                : j.is_object() && j.contains("error") ? j["error"].get<std::string>()
                                                                       : r->body;
        fmt::print(stderr, "awan: error: {}: {}\n", id, why);
        rc = 1;
        continue;
      }
      if (a.command == "cancel") {
        fmt::print("{} {}\n", id,
                   j.value("state", "") == "Cancelled" ? "cancelled" : "already " + j.value("state", ""));
      } else if (a.command == "update") {
        fmt::print("{} priority {}: {}\n", id, *a.priority, j.value("message", ""));
      } else {
        fmt::print("{} {}\n", id, j.value("message", ""));
      }
    }
    return rc;
  }
  if (a.command == "logs") {
    // Windows of the log by offset (the server returns at most 4 MiB a request); with -f, poll once a second
    // until the job has ended and everything is printed.
    int64_t offset = a.tail >= 0 ? -a.tail : 0;
    for (;;) {
      const std::string path =
          fmt::format("/v1/jobs/{}/logs?task={}&run={}&offset={}", a.arg, a.task, a.run, offset);
      httplib::Result r = http.Get(path, h);
      if (!r) return Fail(IoError("cannot reach " + url + ": " + httplib::to_string(r.error())));
      if (r->status == 429) {
        std::this_thread::sleep_for(std::chrono::seconds(1));
        continue;
      }
      if (r->status >= 400) {
        auto j = nlohmann::json::parse(r->body, nullptr, false);
        const std::string msg =
            !j.is_discarded() && j.contains("error") ? j["error"].get<std::string>() : r->body;
        return Fail(Status(StatusCode::kInvalidArgument, fmt::format("{} (HTTP {})", msg, r->status)));
      }
      int64_t start = offset, size = 0;
      try {
        start = std::stoll(r->get_header_value("X-Log-Offset"));
        size = std::stoll(r->get_header_value("X-Log-Size"));
      } catch (...) {
        fmt::print("{}", r->body);
        return 0;  // an older server: one answer is all there is
      }
      if (offset >= 0 && start > offset) {  // the log cap dropped what we asked for: say so
        fmt::print(stderr,
                   "awan logs: {} bytes of this log were dropped (the server keeps the newest part of each "
                   "run's output: serve --max-log-mib)\n",
                   start - offset);
      }
      fmt::print("{}", r->body);
      std::fflush(stdout);
      offset = start + static_cast<int64_t>(r->body.size());
      if (offset < size) continue;  // more than one window: read on at once
      if (!a.follow) return 0;
      httplib::Result j = http.Get("/v1/jobs/" + a.arg, h);
      if (j && j->status == 200) {
        const auto v = nlohmann::json::parse(j->body, nullptr, false);
        const std::string state = v.is_discarded() ? "" : v.value("state", "");
        if (state != "Pending" && state != "Running") {
          httplib::Result last = http.Get(
              fmt::format("/v1/jobs/{}/logs?task={}&run={}&offset={}", a.arg, a.task, a.run, offset), h);
          if (last && last->status == 200) fmt::print("{}", last->body);
          return 0;
        }
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
  httplib::Result res = call();
  if (!res) return Fail(IoError("cannot reach " + url + ": " + httplib::to_string(res.error())));
  if (res->status >= 400) {
    auto j = nlohmann::json::parse(res->body, nullptr, false);
    const std::string msg =
        !j.is_discarded() && j.contains("error") ? j["error"].get<std::string>() : res->body;
    return Fail(Status(StatusCode::kInvalidArgument, fmt::format("{} (HTTP {})", msg, res->status)));
  }
  nlohmann::json j = nlohmann::json::parse(res->body, nullptr, false);
  if (j.is_discarded()) return Fail(Internal("the server answered something that is not JSON"));
  if (a.output != "table") return PrintObject(j, a.output);
  if (a.command == "explain") {
    fmt::print("{} (tenant {}, {} GPU(s) in {} task(s)): waits for {}\n", j.value("job", ""),
               j.value("tenant", ""), j.value("gpus", 0), j.value("tasks", 1), j.value("reason", ""));
    for (const auto& b : j["blocking"]) fmt::print("  blocked by  {}\n", b.get<std::string>());
    for (const auto& c : j["counterfactuals"]) fmt::print("  {}\n", c["text"].get<std::string>());
    if (j["counterfactuals"].empty()) fmt::print("  (no single change found that lets it start)\n");
    return 0;
  }
  if (a.command == "diagnose") {
    if (j["items"].empty())
      fmt::print("no problem found{}\n", a.arg.empty() ? std::string() : " about " + a.arg);
    for (const auto& d : j["items"]) {
      // A tenant is not shown which node or switch: only that it is one its job ran on.
      const std::string where = d.contains("entity") ? d.value("scope", "") + " " + d.value("entity", "")
                                                     : "a " + d.value("scope", "") + " your job used";
      fmt::print("{:<8} {} at {} (confidence {:.0f} %)\n  {}\n  cause:  {}\n  action: {}\n",
                 d.value("severity", "") == "critical" ? "CRITICAL" : "WARNING", d.value("scenario", ""),
                 where, 100 * d.value("confidence", 0.0), d.value("title", ""), d.value("root_cause", ""),
                 d.value("action", ""));
      if (d.value("symptoms_explained", 0) > 0)
        fmt::print("  explains {} symptom(s) (timeouts, exits, ... that follow from it)\n",
                   d.value("symptoms_explained", 0));
      if (d.value("auto_action", "none") != "none")
        fmt::print("  auto:   {} (risk {})\n", d.value("auto_action", ""), d.value("auto_risk", ""));
      if (!d["jobs"].empty())
        fmt::print("  jobs:   {}\n", fmt::join(d["jobs"].get<std::vector<std::string>>(), ", "));
      if (d.contains("evidence"))
        for (size_t i = 0; i < d["evidence"].size() && i < 3; ++i)
          fmt::print("  seen:   {} {}\n", d["evidence"][i].value("node", ""),
                     d["evidence"][i].value("text", ""));
    }
    return 0;
  }
  if (PrintService(a, j)) return 0;
  if (a.command == "submit" && !a.array.empty()) {
    const auto& items = j["items"];
    if (!items.empty()) {
      fmt::print("submitted an array of {} jobs: {} ({}) … {} ({})\n", items.size(),
                 items.front().value("id", ""), items.front().value("name", ""), items.back().value("id", ""),
                 items.back().value("name", ""));
    }
    return 0;
  }
  if (a.command == "submit" && a.dry_run) {
    if (j.value("would_start", false)) {
      fmt::print("would start now (tenant {}):\n", j.value("tenant", ""));
      for (const auto& t : j["tasks"])
        fmt::print("  task on {} GPUs {} ({})\n", t.value("node", ""), t.value("devices", ""),
                   t.value("region", ""));
      if (j.value("waiting_ahead", 0) > 0)
        fmt::print("  ({} job(s) wait now and may take the room first)\n", j.value("waiting_ahead", 0));
    } else {
      fmt::print("would wait: {} ({} job(s) wait now); not submitted\n", j.value("reason", ""),
                 j.value("waiting_ahead", 0));
    }
    return 0;
  }
  auto row = [](const nlohmann::json& job) { PrintJobRow(job); };
  if (a.command == "queues") {
    fmt::print("{:<20} {:>8} {:>8}  {}\n", "TENANT", "WAITING", "RUNNING", "NEXT");
    for (const auto& q : j["items"]) {
      fmt::print("{:<20} {:>8} {:>8}  {}\n", q["tenant"].get<std::string>(), q["waiting"].size(),
                 q["running"].size(), q["waiting"].empty() ? "" : q["waiting"][0].get<std::string>());
    }
    return 0;
  }
  if (a.command == "nodes") {
    PrintNodes(a, j);
  } else if (a.command == "tenants") {
    fmt::print("{:<20} {:>11} {:<12} {:>8} {:>9}\n", "TENANT", "GUARANTEED", "COHORT", "WAITING", "GPUS");
    for (const auto& t : j["items"]) {
      fmt::print("{:<20} {:>11} {:<12} {:>8} {:>9.2f}\n", t["name"].get<std::string>(),
                 t["guaranteed_gpus"].get<int64_t>(), t["cohort"].get<std::string>(),
                 t["jobs_waiting"].get<int64_t>(), t["gpus_allocated"].get<double>());
    }
  } else {
    PrintJobHeader();
    if (j.contains("items")) {
      for (const auto& job : j["items"]) row(job);
    } else {
      row(j);
      if (a.command == "describe") {
        PrintJobDetail(j);
        // A failed job: what the diagnosis says about it (awan diagnose ID has the whole of it).
        if (j.value("state", "") == "Failed" || j.value("state", "") == "TimedOut") {
          httplib::Result d = http.Get("/v1/diagnoses", httplib::Params{{"target", a.arg}}, h);
          const nlohmann::json dj =
              d && d->status == 200 ? nlohmann::json::parse(d->body, nullptr, false) : nlohmann::json();
          if (dj.is_object() && dj.contains("items") && !dj["items"].empty()) {
            const auto& top = dj["items"][0];
            fmt::print("  diagnosis: {} ({}), confidence {:.0f} %\n    action: {}\n",
                       top.value("scenario", ""), top.value("title", ""), 100 * top.value("confidence", 0.0),
                       top.value("action", ""));
          }
        }
      }
      if (a.command == "describe" && j["placement"].is_array()) {
        for (const auto& p : j["placement"]) {
          fmt::print("  task on {} GPUs {} ({})\n", p.value("node", ""), p.value("devices", ""),
                     p.value("region", ""));
        }
      }
    }
  }
  return 0;
}

}  // namespace awan::cli
