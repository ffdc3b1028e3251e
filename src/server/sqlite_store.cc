// The embedded store: SQLite in WAL mode with synchronous=FULL (every commit is fsynced), through SQLiteCpp.
#include <SQLiteCpp/SQLiteCpp.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <stdexcept>
#include <vector>

#include "server/etcd_store.h"
#include "server/group_commit.h"
#include "server/store.h"

namespace awan::server {
namespace {

class SqliteStore final : public StateStore {
 public:
  SqliteStore(const std::string& path, bool create)
      : db_(path, SQLite::OPEN_READWRITE | (create ? SQLite::OPEN_CREATE : 0) | SQLite::OPEN_FULLMUTEX) {
    // Only this user reads the store (tasks run as other uids); SQLite gives the journal files the same mode.
    chmod(path.c_str(), 0600);
    if (!create && !db_.tableExists("jobs")) throw std::runtime_error("not an awan store (no jobs table)");
    db_.exec("PRAGMA journal_mode=WAL");
    db_.exec("PRAGMA synchronous=FULL");
    db_.exec("PRAGMA busy_timeout=5000");
    // 64 MiB of page cache (the default is 2 MiB): the id and tenant indexes of a store with 100,000s of jobs
    // stay in memory, so submits do not slow down as the store grows.
    db_.exec("PRAGMA cache_size=-65536");
    db_.exec(
        "CREATE TABLE IF NOT EXISTS jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, "
        "tenant TEXT, "
        "name TEXT, manifest TEXT, state TEXT, created_ms INTEGER, updated_ms INTEGER, message TEXT, "
        "exit_code INTEGER, "
        "placement TEXT)");
    // Stores made before jobs counted their runs, or kept their accounting, get the columns (every job then
    // counts from 0).
    std::set<std::string> columns;
    for (SQLite::Statement c(db_, "PRAGMA table_info(jobs)"); c.executeStep();)
      columns.insert(c.getColumn(1).getString());
    for (const char* added :
         {"runs INTEGER", "started_ms INTEGER", "ended_ms INTEGER", "run_started_ms INTEGER",
          "gpu_ms INTEGER", "cost_usd REAL", "held INTEGER", "user TEXT", "events TEXT"}) {
      const std::string name(added, std::strchr(added, ' '));
      if (!columns.count(name)) {
        db_.exec("ALTER TABLE jobs ADD COLUMN " + std::string(added) + " NOT NULL DEFAULT " +
                 (name == "user" || name == "events" ? "''" : "0"));
      }
    }
    db_.exec("CREATE INDEX IF NOT EXISTS jobs_tenant ON jobs(tenant, seq)");
    db_.exec("CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY, line TEXT NOT NULL)");
    db_.exec(
        "CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, tenant TEXT, role TEXT, revoked INTEGER, "
        "created_ms INTEGER)");
    bool tokens_have_user = false;
    for (SQLite::Statement c(db_, "PRAGMA table_info(tokens)"); c.executeStep();)
      tokens_have_user = tokens_have_user || c.getColumn(1).getString() == "user";
    if (!tokens_have_user) db_.exec("ALTER TABLE tokens ADD COLUMN user TEXT NOT NULL DEFAULT ''");
    db_.exec(
        "CREATE TABLE IF NOT EXISTS objects (kind TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, "
        "PRIMARY KEY (kind, name))");
  }

  // Concurrent creations are group-committed: one transaction and one fsync for a batch.
  StatusOr<StoredJob> CreateJob(StoredJob j) override {
    std::vector<StoredJob> one;
    one.push_back(std::move(j));
    AWAN_ASSIGN_OR_RETURN(one, CreateJobs(std::move(one)));
    return std::move(one[0]);
  }

  StatusOr<std::vector<StoredJob>> CreateJobs(std::vector<StoredJob> jobs) override {
    std::vector<StoredJob*> ptrs;
    for (StoredJob& j : jobs) ptrs.push_back(&j);
    AWAN_RETURN_IF_ERROR(group_.SubmitAll(ptrs, [this](const std::vector<StoredJob*>& batch) {
      return Guard([&]() -> StatusOr<bool> {
               SQLite::Transaction tx(db_);
               int64_t seq = 0;
               {  // finalized before the commit: a stepped statement left open keeps a read snapshot, and the
                  // automatic checkpoint at commit can then never reset the WAL (it grew to 227 MB after 62k
                  // jobs)
                 SQLite::Statement next(db_, "SELECT COALESCE(MAX(seq), 0) FROM jobs");
                 next.executeStep();
                 seq = next.getColumn(0).getInt64();
               }
               SQLite::Statement ins(
                   db_,
                   "INSERT INTO jobs (id, tenant, name, manifest, state, created_ms, updated_ms, "
                   "message, exit_code, placement, runs, started_ms, ended_ms, run_started_ms, gpu_ms, "
                   "cost_usd, held, user, events) "
                   "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
               for (StoredJob* job : batch) {
                 job->id = Id(++seq);
                 Bind(ins, *job);
                 ins.exec();
                 ins.reset();
               }
               tx.commit();
               return true;
             })
          .status();
    }));
    return jobs;
  }

  Status UpdateJobs(const std::vector<StoredJob>& jobs) override {
    if (jobs.empty()) return Status::Ok();
    return Guard([&]() -> StatusOr<bool> {
             SQLite::Transaction tx(db_);
             SQLite::Statement up(
                 db_,
                 "UPDATE jobs SET id=?, tenant=?, name=?, manifest=?, state=?, created_ms=?, updated_ms=?, "
                 "message=?, exit_code=?, placement=?, runs=?, started_ms=?, ended_ms=?, run_started_ms=?, "
                 "gpu_ms=?, cost_usd=?, held=?, user=?, events=? WHERE id=?");
             for (const StoredJob& j : jobs) {
               Bind(up, j);
               up.bind(20, j.id);
               if (up.exec() == 0) return NotFound("no job " + j.id);
               up.reset();
             }
             tx.commit();
             return true;
           })
        .status();
  }

  Status UpdateJob(const StoredJob& j) override {
    return Guard([&]() -> StatusOr<bool> {
             SQLite::Statement up(
                 db_,
                 "UPDATE jobs SET id=?, tenant=?, name=?, manifest=?, state=?, created_ms=?, updated_ms=?, "
                 "message=?, exit_code=?, placement=?, runs=?, started_ms=?, ended_ms=?, run_started_ms=?, "
                 "gpu_ms=?, cost_usd=?, held=?, user=?, events=? WHERE id=?");
             Bind(up, j);
             up.bind(20, j.id);
             if (up.exec() == 0) return NotFound("no job " + j.id);
             return true;
           })
        .status();
  }

  StatusOr<std::optional<StoredJob>> GetJob(const std::string& id) override {
    return Guard([&]() -> StatusOr<std::optional<StoredJob>> {
      SQLite::Statement q(db_, std::string(kSelect) + " WHERE id=?");
      q.bind(1, id);
      if (!q.executeStep()) return std::optional<StoredJob>();
      return std::optional<StoredJob>(Row(q));
    });
  }

  StatusOr<std::vector<StoredJob>> ListJobs(const JobFilter& f) override {
    return Guard([&]() -> StatusOr<std::vector<StoredJob>> {
      std::string sql = std::string(kSelect) + " WHERE seq > ?";
      if (!f.tenant.empty()) sql += " AND tenant = ?";
      if (f.state) sql += " AND state = ?";
      sql += " ORDER BY seq LIMIT ?";
      SQLite::Statement q(db_, sql);
      int k = 1;
      q.bind(k++, f.after_id.empty() ? int64_t{0} : Seq(f.after_id));
      if (!f.tenant.empty()) q.bind(k++, f.tenant);
      if (f.state) q.bind(k++, std::string(JobStateName(*f.state)));
      q.bind(k++, f.limit);
      std::vector<StoredJob> out;
      while (q.executeStep()) out.push_back(Row(q));
      return out;
    });
  }

  Status AppendAudit(const std::vector<std::pair<int64_t, std::string>>& lines) override {
    if (lines.empty()) return Status::Ok();
    return Guard([&]() -> StatusOr<bool> {
             SQLite::Transaction tx(db_);
             SQLite::Statement ins(db_, "INSERT INTO audit (seq, line) VALUES (?, ?)");
             for (const auto& [seq, line] : lines) {
               ins.bind(1, static_cast<int64_t>(seq));
               ins.bind(2, line);
               try {
                 ins.exec();
               } catch (const SQLite::Exception& e) {
                 if (e.getErrorCode() != SQLITE_CONSTRAINT) throw;
                 // Taken: by this very line (a retry) is fine; by another is another server writing here.
                 SQLite::Statement had(db_, "SELECT line FROM audit WHERE seq=?");
                 had.bind(1, static_cast<int64_t>(seq));
                 if (!had.executeStep() || had.getColumn(0).getString() != line) {
                   return Status(StatusCode::kAlreadyExists,  // the transaction rolls back: nothing written
                                 "audit sequence conflict: entry " + std::to_string(seq) +
                                     " is already in the store (another server writes to it)");
                 }
               }
               ins.tryReset();  // not reset(): that throws again the error of a step that failed
             }
             tx.commit();
             return true;
           })
        .status();
  }

  StatusOr<std::vector<std::string>> ReadAudit(int64_t after, int limit) override {
    return Guard([&]() -> StatusOr<std::vector<std::string>> {
      SQLite::Statement q(db_, "SELECT line FROM audit WHERE seq > ? ORDER BY seq LIMIT ?");
      q.bind(1, static_cast<int64_t>(after));
      q.bind(2, limit);
      std::vector<std::string> out;
      while (q.executeStep()) out.push_back(q.getColumn(0).getString());
      return out;
    });
  }

  Status PutToken(const TokenRecord& t) override {
    return Guard([&]() -> StatusOr<bool> {
             SQLite::Statement q(
                 db_,
                 "INSERT OR REPLACE INTO tokens (hash, tenant, role, revoked, created_ms, user) "
                 "VALUES (?,?,?,?,?,?)");
             q.bind(1, t.hash);
             q.bind(2, t.tenant);
             q.bind(3, t.role);
             q.bind(4, t.revoked ? 1 : 0);
             q.bind(5, static_cast<int64_t>(t.created_ms));
             q.bind(6, t.user);
             q.exec();
             return true;
           })
        .status();
  }

  StatusOr<std::optional<TokenRecord>> FindToken(const std::string& hash) override {
    return Guard([&]() -> StatusOr<std::optional<TokenRecord>> {
      SQLite::Statement q(db_,
                          "SELECT hash, tenant, role, revoked, created_ms, user FROM tokens WHERE hash=?");
      q.bind(1, hash);
      if (!q.executeStep()) return std::optional<TokenRecord>();
      TokenRecord t{q.getColumn(0).getString(),   q.getColumn(1).getString(), q.getColumn(2).getString(),
                    q.getColumn(3).getInt() != 0, q.getColumn(4).getInt64(),  q.getColumn(5).getString()};
      return std::optional<TokenRecord>(t);
    });
  }

  StatusOr<std::vector<TokenRecord>> ListTokens() override {
    return Guard([&]() -> StatusOr<std::vector<TokenRecord>> {
      std::vector<TokenRecord> out;
      for (SQLite::Statement q(
               db_, "SELECT hash, tenant, role, revoked, created_ms, user FROM tokens ORDER BY hash");
           q.executeStep();) {
        out.push_back(TokenRecord{q.getColumn(0).getString(), q.getColumn(1).getString(),
                                  q.getColumn(2).getString(), q.getColumn(3).getInt() != 0,
                                  q.getColumn(4).getInt64(), q.getColumn(5).getString()});
      }
      return out;
    });
  }

  Status PutObject(const std::string& kind, const std::string& name, const std::string& value) override {
    return Guard([&]() -> StatusOr<bool> {
             SQLite::Statement q(db_, "INSERT OR REPLACE INTO objects (kind, name, value) VALUES (?,?,?)");
             q.bind(1, kind);
             q.bind(2, name);
             q.bind(3, value);
             q.exec();
             return true;
           })
        .status();
  }

  Status DeleteObject(const std::string& kind, const std::string& name) override {
    return Guard([&]() -> StatusOr<bool> {
             SQLite::Statement q(db_, "DELETE FROM objects WHERE kind=? AND name=?");
             q.bind(1, kind);
             q.bind(2, name);
             q.exec();
             return true;
           })
        .status();
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListObjects(const std::string& kind) override {
    return Guard([&]() -> StatusOr<std::vector<std::pair<std::string, std::string>>> {
      SQLite::Statement q(db_, "SELECT name, value FROM objects WHERE kind=? ORDER BY name");
      q.bind(1, kind);
      std::vector<std::pair<std::string, std::string>> out;
      while (q.executeStep()) out.emplace_back(q.getColumn(0).getString(), q.getColumn(1).getString());
      return out;
    });
  }

 private:
  static constexpr const char* kSelect =
      "SELECT id, tenant, name, manifest, state, created_ms, updated_ms, message, exit_code, placement, "
      "runs, "
      "started_ms, ended_ms, run_started_ms, gpu_ms, cost_usd, held, user, events FROM jobs";

  static std::string Id(int64_t seq) { return JobIdOf(seq); }
  static int64_t Seq(const std::string& id) {
    try {
      return id.size() > 2 ? std::stoll(id.substr(2)) : 0;
    } catch (...) {
      return 0;
    }
  }
  static void Bind(SQLite::Statement& q, const StoredJob& j) {
    q.bind(1, j.id);
    q.bind(2, j.tenant);
    q.bind(3, j.name);
    q.bind(4, j.manifest);
    q.bind(5, std::string(JobStateName(j.state)));
    q.bind(6, static_cast<int64_t>(j.created_ms));
    q.bind(7, static_cast<int64_t>(j.updated_ms));
    q.bind(8, j.message);
    q.bind(9, j.exit_code);
    q.bind(10, j.placement);
    q.bind(11, j.runs);
    q.bind(12, static_cast<int64_t>(j.started_ms));
    q.bind(13, static_cast<int64_t>(j.ended_ms));
    q.bind(14, static_cast<int64_t>(j.run_started_ms));
    q.bind(15, static_cast<int64_t>(j.gpu_ms));
    q.bind(16, j.cost_usd);
    q.bind(17, j.held ? 1 : 0);
    q.bind(18, j.user);
    q.bind(19, j.events);
  }
  static StoredJob Row(SQLite::Statement& q) {
    StoredJob j;
    j.id = q.getColumn(0).getString();
    j.tenant = q.getColumn(1).getString();
    j.name = q.getColumn(2).getString();
    j.manifest = q.getColumn(3).getString();
    j.state = ParseJobState(q.getColumn(4).getString()).value_or(JobState::kFailed);
    j.created_ms = q.getColumn(5).getInt64();
    j.updated_ms = q.getColumn(6).getInt64();
    j.message = q.getColumn(7).getString();
    j.exit_code = q.getColumn(8).getInt();
    j.placement = q.getColumn(9).getString();
    j.runs = q.getColumn(10).getInt();
    j.started_ms = q.getColumn(11).getInt64();
    j.ended_ms = q.getColumn(12).getInt64();
    j.run_started_ms = q.getColumn(13).getInt64();
    j.gpu_ms = q.getColumn(14).getInt64();
    j.cost_usd = q.getColumn(15).getDouble();
    j.held = q.getColumn(16).getInt() != 0;
    j.user = q.getColumn(17).getString();
    j.events = q.getColumn(18).getString();
    return j;
  }
  // Runs f under the store's lock, turning SQLite exceptions into a Status.
  template <typename F>
  auto Guard(F f) -> decltype(f()) {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return f();
    } catch (const std::exception& e) {
      return IoError(std::string("sqlite: ") + e.what());
    }
  }

  std::mutex mu_;  // the database
  SQLite::Database db_;
  GroupCommit group_;
};

}  // namespace

StatusOr<std::unique_ptr<StateStore>> OpenStore(const std::string& url, StoreOpenMode mode) {
  if (url.rfind("sqlite:", 0) == 0) {
    const std::string path = url.substr(7);
    if (path.empty()) return InvalidArgument("store URL '" + url + "': sqlite:PATH needs a path");
    struct stat st {};
    const bool exists = stat(path.c_str(), &st) == 0;
    if (mode == StoreOpenMode::kCreate && exists) {
      return FailedPrecondition("store " + path + " already exists (awan init makes a new one only)");
    }
    if (mode == StoreOpenMode::kExisting && !exists) {
      return FailedPrecondition("no store at " + path + ": create it with `awan init --store " + url + "`");
    }
    try {
      return std::unique_ptr<StateStore>(new SqliteStore(path, mode == StoreOpenMode::kCreate));
    } catch (const std::exception& e) {
      return IoError("cannot open " + path + ": " + e.what());
    }
  }
  if (url.rfind("etcd:", 0) == 0) {
    AWAN_ASSIGN_OR_RETURN(std::vector<std::string> endpoints, EtcdEndpoints(url));
    return OpenEtcdStore(endpoints, mode == StoreOpenMode::kCreate);
  }
  if (url.rfind("memory:", 0) == 0) return OpenMemoryStore(url.substr(7), mode == StoreOpenMode::kCreate);
  return InvalidArgument("store URL '" + url + "': expected sqlite:PATH, etcd:URL[,URL...] or memory:NAME");
}

}  // namespace awan::server
