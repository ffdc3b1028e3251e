// MemoryStore: a StateStore in this process's memory ("memory:NAME"), for tests and dry runs. It keeps the
// StateStore contract (tests/contract/store_contract_test.cc runs on it as on SQLite and etcd) except
// durability: everything is gone when the process exits. Stores are named, so that a second OpenStore of
// the same name in the same process (a "restarted" control plane in a test) sees the same data.
#include <map>
#include <memory>
#include <mutex>

#include "server/store.h"

namespace awan::server {
namespace {

struct MemoryData {
  std::mutex mu;
  int64_t next_seq = 0;
  std::map<int64_t, StoredJob> jobs;  // by sequence number
  std::map<int64_t, std::string> audit;
  std::map<std::string, TokenRecord> tokens;
  std::map<std::string, std::map<std::string, std::string>> objects;  // kind -> name -> value
};

int64_t Seq(const std::string& id) {
  try {
    return id.size() > 2 && id.rfind("j-", 0) == 0 ? std::stoll(id.substr(2)) : -1;
  } catch (...) {
    return -1;
  }
}

class MemoryStore final : public StateStore {
 public:
  explicit MemoryStore(std::shared_ptr<MemoryData> d) : d_(std::move(d)) {}

  StatusOr<StoredJob> CreateJob(StoredJob job) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    const int64_t seq = ++d_->next_seq;
    job.id = JobIdOf(seq);
    d_->jobs[seq] = job;
    return job;
  }
  StatusOr<std::vector<StoredJob>> CreateJobs(std::vector<StoredJob> jobs) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    for (StoredJob& job : jobs) {
      const int64_t seq = ++d_->next_seq;
      job.id = JobIdOf(seq);
      d_->jobs[seq] = job;
    }
    return jobs;
  }
  Status UpdateJob(const StoredJob& job) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    return UpdateLocked(job);
  }
  Status UpdateJobs(const std::vector<StoredJob>& jobs) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    for (const StoredJob& j : jobs) {  // all or nothing: check first
      if (d_->jobs.count(Seq(j.id)) == 0) return NotFound("no job " + j.id);
    }
    for (const StoredJob& j : jobs) AWAN_RETURN_IF_ERROR(UpdateLocked(j));
    return Status::Ok();
  }
  StatusOr<std::optional<StoredJob>> GetJob(const std::string& id) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    auto it = d_->jobs.find(Seq(id));
    if (it == d_->jobs.end()) return std::optional<StoredJob>();
    return std::optional<StoredJob>(it->second);
  }
  StatusOr<std::vector<StoredJob>> ListJobs(const JobFilter& f) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    std::vector<StoredJob> out;
    const int64_t after = f.after_id.empty() ? 0 : Seq(f.after_id);
    for (auto it = d_->jobs.upper_bound(after);
         it != d_->jobs.end() && static_cast<int>(out.size()) < f.limit; ++it) {
      const StoredJob& j = it->second;
      if ((!f.tenant.empty() && j.tenant != f.tenant) || (f.state && j.state != *f.state)) continue;
      out.push_back(j);
    }
    return out;
  }
  Status AppendAudit(const std::vector<std::pair<int64_t, std::string>>& lines) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    for (const auto& [seq, line] :
         lines) {  // the same line again is a retry; another line is a second writer
      auto it = d_->audit.find(seq);
      if (it != d_->audit.end() && it->second != line) {
        return AlreadyExists("audit entry " + std::to_string(seq) +
                             " holds another line: another server writes to this store");
      }
    }
    for (const auto& [seq, line] : lines) d_->audit[seq] = line;
    return Status::Ok();
  }
  StatusOr<std::vector<std::string>> ReadAudit(int64_t after, int limit) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    std::vector<std::string> out;
    for (auto it = d_->audit.upper_bound(after);
         it != d_->audit.end() && static_cast<int>(out.size()) < limit; ++it)
      out.push_back(it->second);
    return out;
  }
  Status PutToken(const TokenRecord& token) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    d_->tokens[token.hash] = token;
    return Status::Ok();
  }
  StatusOr<std::optional<TokenRecord>> FindToken(const std::string& hash) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    auto it = d_->tokens.find(hash);
    if (it == d_->tokens.end()) return std::optional<TokenRecord>();
    return std::optional<TokenRecord>(it->second);
  }

  StatusOr<std::vector<TokenRecord>> ListTokens() override {
    std::lock_guard<std::mutex> lock(d_->mu);
    std::vector<TokenRecord> out;
    for (const auto& [hash, t] : d_->tokens) out.push_back(t);
    return out;
  }

  Status PutObject(const std::string& kind, const std::string& name, const std::string& value) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    d_->objects[kind][name] = value;
    return Status::Ok();
  }
  Status DeleteObject(const std::string& kind, const std::string& name) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    d_->objects[kind].erase(name);
    return Status::Ok();
  }
  StatusOr<std::vector<std::pair<std::string, std::string>>> ListObjects(const std::string& kind) override {
    std::lock_guard<std::mutex> lock(d_->mu);
    const auto it = d_->objects.find(kind);
    if (it == d_->objects.end()) return std::vector<std::pair<std::string, std::string>>();
    return std::vector<std::pair<std::string, std::string>>(it->second.begin(), it->second.end());
  }

 private:
  Status UpdateLocked(const StoredJob& job) {
    auto it = d_->jobs.find(Seq(job.id));
    if (it == d_->jobs.end()) return NotFound("no job " + job.id);
    it->second = job;
    return Status::Ok();
  }
  std::shared_ptr<MemoryData> d_;
};

}  // namespace

StatusOr<std::unique_ptr<StateStore>> OpenMemoryStore(const std::string& name, bool create) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<MemoryData>>* stores =
      new std::map<std::string, std::shared_ptr<MemoryData>>();  // never destroyed: stores outlive main
  std::lock_guard<std::mutex> lock(mu);
  auto it = stores->find(name);
  if (create && it != stores->end()) {
    return FailedPrecondition("store memory:" + name + " already exists (awan init makes a new one only)");
  }
  if (!create && it == stores->end()) {
    return FailedPrecondition("no store memory:" + name +
                              " in this process: create it with `awan init --store memory:" + name + "`");
  }
  if (create) it = stores->emplace(name, std::make_shared<MemoryData>()).first;
  return std::unique_ptr<StateStore>(new MemoryStore(it->second));
}

}  // namespace awan::server
