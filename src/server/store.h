// StateStore: the control plane's durable state behind one interface: jobs (the accepted manifest and what
// happened to it) and API tokens (hashed). A write returns only once it is durable, so the API answers 201
// only for a job that survives a crash. Concurrent CreateJob calls are group-committed: one transaction and
// one fsync for every job that arrived while the previous commit was being written. Backends: `sqlite:PATH`
// (WAL, synchronous=FULL; the embedded default) and `etcd:URL,...` (etcd_store.h). Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/job_state.h"

namespace awan::server {

// Job states: Pending (accepted, waiting), Running, Succeeded, Failed, Cancelled.
struct StoredJob {
  std::string id;  // assigned by the store on create: "j-" + a sequence number
  std::string tenant, name;
  std::string manifest;  // the manifest as accepted, JSON
  JobState state = JobState::kPending;
  int64_t created_ms = 0, updated_ms = 0;
  std::string message;  // why it is in its state (the wait reason, an error)
  int exit_code = -1;
  std::string placement;  // JSON: where its tasks run (empty while pending)
  int runs = 0;           // how many times its tasks were started (restarts = runs - 1)
  // Accounting (sacct): the first start, the end, and the GPU time and cost of its ended runs (GPU-ms: GPUs x
  // ms, fractional GPUs pro rata; cost: the nodes' prices per GPU-hour). run_started_ms: the current run's
  // start while it runs (0 otherwise), so a run that spans a restart of the server is counted whole.
  int64_t started_ms = 0, ended_ms = 0, run_started_ms = 0, gpu_ms = 0;
  double cost_usd = 0;
  bool held = false;  // a pending job held back (submit --hold, awan hold): not scheduled until released
  std::string user;   // who in its tenant submitted it (the token's user; "" for a token without one)
  // Its history, JSON: [{"t_ms": T, "event": "..."}...], oldest first, the latest kMaxJobEvents (the
  // control plane's AddEvent); "" before its first.
  std::string events;
};
inline constexpr size_t kMaxJobEvents = 64;

struct JobFilter {
  std::string tenant;             // "" = every tenant (admins only)
  std::optional<JobState> state;  // nullopt = every state
  std::string after_id;           // paging: ids after this one (ids sort by creation)
  int limit = 100;
};

struct TokenRecord {
  std::string hash;    // SHA-256 of the token, hex; the token itself is never stored
  std::string tenant;  // "" for a fleet admin
  std::string role;    // admin, tenant-admin, member, viewer
  bool revoked = false;
  int64_t created_ms = 0;
  std::string user;  // a person inside the tenant ("" = the tenant as a whole)
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // Assigns the id and stores the job; durable when it returns OK.
  virtual StatusOr<StoredJob> CreateJob(StoredJob job) = 0;
  // Stores several jobs with consecutive ids, in as few durable writes as the backend allows (a job array);
  // all durable when it returns OK. On an error some may be stored (those of commits that succeeded).
  virtual StatusOr<std::vector<StoredJob>> CreateJobs(std::vector<StoredJob> jobs) = 0;
  // Replaces the job with this id (NotFound if there is none).
  virtual Status UpdateJob(const StoredJob& job) = 0;
  // Replaces several jobs in one durable write.
  virtual Status UpdateJobs(const std::vector<StoredJob>& jobs) = 0;
  virtual StatusOr<std::optional<StoredJob>> GetJob(const std::string& id) = 0;
  virtual StatusOr<std::vector<StoredJob>> ListJobs(const JobFilter& filter) = 0;
  // The audit log (audit/audit_log.h): lines appended in order, each with its seq; durable on return.
  // AlreadyExists, writing nothing, when an entry with one of these seqs is there already (another server
  // writes to this store: the caller must stop).
  virtual Status AppendAudit(const std::vector<std::pair<int64_t, std::string>>& lines) = 0;
  // Lines with seq > after, at most limit, in order.
  virtual StatusOr<std::vector<std::string>> ReadAudit(int64_t after, int limit) = 0;
  virtual Status PutToken(const TokenRecord& token) = 0;
  virtual StatusOr<std::optional<TokenRecord>> FindToken(const std::string& hash) = 0;
  // Every token record (revoked ones too), in hash order.
  virtual StatusOr<std::vector<TokenRecord>> ListTokens() = 0;

  // Named objects other than jobs (services): a JSON document per (kind, name), replaced whole; durable on
  // return. Deleting one that is not there is OK. A kind's objects list in name order.
  virtual Status PutObject(const std::string& kind, const std::string& name, const std::string& value) = 0;
  virtual Status DeleteObject(const std::string& kind, const std::string& name) = 0;
  virtual StatusOr<std::vector<std::pair<std::string, std::string>>> ListObjects(const std::string& kind) = 0;
};

// kCreate (`awan init`) makes a new store and fails on one that exists; kExisting (everything else: serve,
// token) opens only a store that `awan init` made, so a typo in a path or a store deleted under the operator
// is an error, never a silent fresh start with no jobs and no tokens.
enum class StoreOpenMode { kExisting, kCreate };

// Opens a store by URL: "sqlite:PATH" (the database file and its journal are made readable by this user
// only), "etcd:URL[,URL...]", or "memory:NAME" (this process's memory, for tests and dry runs: nothing is
// durable). FailedPrecondition, saying how to create it, for a store that does not exist.
StatusOr<std::unique_ptr<StateStore>> OpenStore(const std::string& url,
                                                StoreOpenMode mode = StoreOpenMode::kExisting);

// A job's id from its store sequence number: "j-" and at least 8 digits, so ids sort by creation.
inline std::string JobIdOf(int64_t seq) {
  std::string s = std::to_string(seq);
  return "j-" + std::string(s.size() < 8 ? 8 - s.size() : 0, '0') + s;
}

// The in-memory store behind "memory:NAME" (server/memory_store.cc).
StatusOr<std::unique_ptr<StateStore>> OpenMemoryStore(const std::string& name, bool create);

}  // namespace awan::server
