#include "server/etcd_store.h"

#include <httplib.h>

#include <charconv>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "server/group_commit.h"

namespace awan::server {

using Json = nlohmann::json;

std::string Base64Encode(const std::string& s) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < s.size(); i += 3) {
    const uint32_t v =
        (uint32_t(uint8_t(s[i])) << 16) | (uint32_t(uint8_t(s[i + 1])) << 8) | uint8_t(s[i + 2]);
    out += kAlphabet[v >> 18], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63],
        out += kAlphabet[v & 63];
  }
  if (i + 1 == s.size()) {
    const uint32_t v = uint32_t(uint8_t(s[i])) << 16;
    out += kAlphabet[v >> 18], out += kAlphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == s.size()) {
    const uint32_t v = (uint32_t(uint8_t(s[i])) << 16) | (uint32_t(uint8_t(s[i + 1])) << 8);
    out += kAlphabet[v >> 18], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63], out += '=';
  }
  return out;
}

std::string Base64Decode(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t buf = 0;
  int bits = 0;
  for (char c : s) {
    const int v = val(c);
    if (v < 0) continue;
    buf = (buf << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buf >> bits) & 0xff);
    }
  }
  return out;
}

struct EtcdClient::Impl {
  std::vector<std::string> endpoints;
  size_t current = 0;
  std::mutex mu;
  // Kept-alive connections per endpoint, idle ones only: a call takes one (or opens one) and gives it back
  // after a good answer, so steady traffic opens no new TCP connection. One that failed is closed.
  std::vector<std::vector<std::unique_ptr<httplib::Client>>> idle;
};

EtcdClient::EtcdClient(std::vector<std::string> endpoints)
    : impl_(new Impl{std::move(endpoints), 0, {}, {}}) {
  impl_->idle.resize(impl_->endpoints.size());
}
EtcdClient::~EtcdClient() = default;

StatusOr<std::string> EtcdClient::Call(const std::string& path, const std::string& body) {
  size_t start;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    start = impl_->current;
  }
  std::string last;
  // Each endpoint once, then once more around: an election in progress answers errors for a moment.
  for (size_t k = 0; k < 2 * impl_->endpoints.size(); ++k) {
    const size_t e = (start + k) % impl_->endpoints.size();
    std::unique_ptr<httplib::Client> c;
    {
      std::lock_guard<std::mutex> lock(impl_->mu);
      if (!impl_->idle[e].empty()) {
        c = std::move(impl_->idle[e].back());
        impl_->idle[e].pop_back();
      }
    }
    if (!c) {
      c = std::make_unique<httplib::Client>(impl_->endpoints[e]);
      c->set_keep_alive(true);
      c->set_tcp_nodelay(true);
      c->set_connection_timeout(1);
      c->set_read_timeout(5);
    }
    auto r = c->Post(path, body, "application/json");
    if (r && r->status == 200) {
      std::string out = std::move(r->body);
      std::lock_guard<std::mutex> lock(impl_->mu);
      impl_->current = e;
      if (impl_->idle[e].size() < 64) impl_->idle[e].push_back(std::move(c));
      return out;
    }
    last = impl_->endpoints[e] + path + ": " +
           (r ? "HTTP " + std::to_string(r->status) + " " + r->body : httplib::to_string(r.error()));
    if (r && r->status >= 400 && r->status < 500) {  // the request itself is refused (too large, malformed):
      std::lock_guard<std::mutex> lock(impl_->mu);   // another member would refuse it too
      if (impl_->idle[e].size() < 64) impl_->idle[e].push_back(std::move(c));
      return Status(StatusCode::kInvalidArgument, "etcd refused the request: " + last);
    }
    if (k + 1 == impl_->endpoints.size()) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  return Status(StatusCode::kUnavailable, "etcd: no endpoint answered: " + last);
}

namespace {

constexpr const char* kJobs = "/awan/jobs/";
constexpr const char* kJobsEnd = "/awan/jobs0";  // the prefix with its last byte + 1
constexpr const char* kTokens = "/awan/tokens/";
constexpr const char* kObjects = "/awan/objects/";  // + kind + "/" + name
constexpr const char* kSeq = "/awan/seq";

Json JobToJson(const StoredJob& j) {
  return {{"id", j.id},
          {"tenant", j.tenant},
          {"name", j.name},
          {"manifest", j.manifest},
          {"state", JobStateName(j.state)},
          {"created_ms", j.created_ms},
          {"updated_ms", j.updated_ms},
          {"message", j.message},
          {"exit_code", j.exit_code},
          {"placement", j.placement},
          {"runs", j.runs},
          {"started_ms", j.started_ms},
          {"ended_ms", j.ended_ms},
          {"run_started_ms", j.run_started_ms},
          {"gpu_ms", j.gpu_ms},
          {"cost_usd", j.cost_usd},
          {"held", j.held},
          {"user", j.user},
          {"events", j.events}};
}

StoredJob JobFromJson(const Json& j) {
  StoredJob s;
  s.id = j.at("id");
  s.tenant = j.at("tenant");
  s.name = j.at("name");
  s.manifest = j.at("manifest");
  s.state = ParseJobState(j.at("state").get<std::string>()).value_or(JobState::kFailed);
  s.created_ms = j.at("created_ms");
  s.updated_ms = j.at("updated_ms");
  s.message = j.at("message");
  s.exit_code = j.at("exit_code");
  s.placement = j.at("placement");
  s.runs = j.value("runs", 0);  // absent in stores written before jobs counted their runs
  // Absent in stores written before jobs kept their accounting.
  s.started_ms = j.value("started_ms", int64_t{0});
  s.ended_ms = j.value("ended_ms", int64_t{0});
  s.run_started_ms = j.value("run_started_ms", int64_t{0});
  s.gpu_ms = j.value("gpu_ms", int64_t{0});
  s.cost_usd = j.value("cost_usd", 0.0);
  s.held = j.value("held", false);
  s.user = j.value("user", "");
  s.events = j.value("events", "");
  return s;
}

// The decoded value of a key-value entry of a range reply; nullopt when it has none (damaged data).
std::optional<std::string> KvValue(const Json& kv) {
  if (!kv.is_object() || !kv.contains("value") || !kv["value"].is_string()) return std::nullopt;
  return Base64Decode(kv["value"].get<std::string>());
}

// A stored job from its key-value entry (the value is the job's JSON): damaged data is DataLoss, never an
// exception.
StatusOr<StoredJob> DecodeJob(const Json& kv) {
  const std::optional<std::string> value = KvValue(kv);
  if (!value) return DataLoss("etcd: a stored job without a value");
  const Json j = Json::parse(*value, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return DataLoss("etcd: a stored job that is not a JSON object");
  try {
    return JobFromJson(j);
  } catch (const Json::exception& e) {
    return DataLoss(std::string("etcd: a damaged stored job: ") + e.what());
  }
}

// Audit entries under /awan/audit/<seq, zero-padded to sort>.
std::string AuditKey(int64_t seq) {
  std::string s = std::to_string(seq);
  return "/awan/audit/" + std::string(s.size() < 16 ? 16 - s.size() : 0, '0') + s;
}

std::string JobId(int64_t seq) { return JobIdOf(seq); }

Json Put(const std::string& key, const std::string& value) {
  return {{"request_put", {{"key", Base64Encode(key)}, {"value", Base64Encode(value)}}}};
}

class EtcdStore final : public StateStore {
 public:
  explicit EtcdStore(std::vector<std::string> endpoints) : client_(std::move(endpoints)) {}

  StatusOr<StoredJob> CreateJob(StoredJob j) override {
    AWAN_RETURN_IF_ERROR(
        group_.Submit(&j, [this](const std::vector<StoredJob*>& batch) { return Commit(batch); }));
    return j;
  }

  StatusOr<std::vector<StoredJob>> CreateJobs(std::vector<StoredJob> jobs) override {
    std::vector<StoredJob*> ptrs;
    for (StoredJob& j : jobs) ptrs.push_back(&j);
    AWAN_RETURN_IF_ERROR(
        group_.SubmitAll(ptrs, [this](const std::vector<StoredJob*>& batch) { return Commit(batch); }));
    return jobs;
  }

  // One transaction that writes only if the job exists (no read first).
  Status UpdateJob(const StoredJob& j) override {
    const Json exists = {{"key", Base64Encode(kJobs + j.id)},
                         {"result", "GREATER"},
                         {"target", "CREATE"},
                         {"create_revision", "0"}};
    AWAN_ASSIGN_OR_RETURN(
        std::string res,
        client_.Call("/v3/kv/txn", Json{{"compare", Json::array({exists})},
                                        {"success", Json::array({Put(kJobs + j.id, JobToJson(j).dump())})}}
                                       .dump()));
    const Json t = Json::parse(res, nullptr, false);
    if (t.is_discarded()) return IoError("etcd: a reply that is not JSON");
    if (!t.value("succeeded", false)) return NotFound("no job " + j.id);
    return Status::Ok();
  }

  // Transactions of at most 100 puts (etcd allows 128 operations) and about kMaxTxnBytes.
  Status UpdateJobs(const std::vector<StoredJob>& jobs) override {
    Json ops = Json::array();
    size_t bytes = 0;
    for (const StoredJob& j : jobs) {
      std::string value = JobToJson(j).dump();
      if (!ops.empty() && (ops.size() == 100 || bytes + value.size() > kMaxTxnBytes)) {
        AWAN_RETURN_IF_ERROR(client_.Call("/v3/kv/txn", Json{{"success", ops}}.dump()).status());
        ops = Json::array();
        bytes = 0;
      }
      bytes += value.size();
      ops.push_back(Put(kJobs + j.id, std::move(value)));
    }
    if (!ops.empty())
      AWAN_RETURN_IF_ERROR(client_.Call("/v3/kv/txn", Json{{"success", ops}}.dump()).status());
    return Status::Ok();
  }

  StatusOr<std::optional<StoredJob>> GetJob(const std::string& id) override {
    AWAN_ASSIGN_OR_RETURN(std::string body,
                          client_.Call("/v3/kv/range", Json{{"key", Base64Encode(kJobs + id)}}.dump()));
    Json r = Json::parse(body, nullptr, false);
    if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
    if (!r.contains("kvs") || r["kvs"].empty()) return std::optional<StoredJob>();
    AWAN_ASSIGN_OR_RETURN(StoredJob job, DecodeJob(r["kvs"][0]));
    return std::optional<StoredJob>(std::move(job));
  }

  StatusOr<std::vector<StoredJob>> ListJobs(const JobFilter& f) override {
    std::vector<StoredJob> out;
    std::string from = kJobs + (f.after_id.empty() ? std::string() : f.after_id + std::string(1, '\0'));
    while (static_cast<int>(out.size()) < f.limit) {
      AWAN_ASSIGN_OR_RETURN(std::string body,
                            client_.Call("/v3/kv/range", Json{{"key", Base64Encode(from)},
                                                              {"range_end", Base64Encode(kJobsEnd)},
                                                              {"limit", 500}}
                                                             .dump()));
      Json r = Json::parse(body, nullptr, false);
      if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
      if (!r.contains("kvs") || r["kvs"].empty()) break;
      for (const Json& kv : r["kvs"]) {
        AWAN_ASSIGN_OR_RETURN(StoredJob j, DecodeJob(kv));
        if (!kv.contains("key") || !kv["key"].is_string()) return DataLoss("etcd: a job entry without a key");
        from = Base64Decode(kv["key"].get<std::string>()) + std::string(1, '\0');
        if ((!f.tenant.empty() && j.tenant != f.tenant) || (f.state && j.state != *f.state)) continue;
        out.push_back(std::move(j));
        if (static_cast<int>(out.size()) == f.limit) break;
      }
      if (!r.value("more", false)) break;
    }
    return out;
  }

  // Each entry only where none is: a transaction per 100 that compares every key's creation revision with 0.
  // When one is there already, it is either ours (a retry after an answer that got lost: skipped) or another
  // server's (AlreadyExists).
  Status AppendAudit(const std::vector<std::pair<int64_t, std::string>>& lines) override {
    for (size_t from = 0; from < lines.size(); from += 100) {
      std::vector<std::pair<int64_t, std::string>> chunk(
          lines.begin() + static_cast<std::ptrdiff_t>(from),
          lines.begin() + static_cast<std::ptrdiff_t>(std::min(lines.size(), from + 100)));
      for (int attempt = 0; !chunk.empty(); ++attempt) {
        if (attempt == 3) return Status(StatusCode::kUnavailable, "etcd: audit entries could not be written");
        Json compares = Json::array(), ops = Json::array();
        for (const auto& [seq, line] : chunk) {
          compares.push_back({{"key", Base64Encode(AuditKey(seq))},
                              {"result", "EQUAL"},
                              {"target", "CREATE"},
                              {"create_revision", "0"}});
          ops.push_back(Put(AuditKey(seq), line));
        }
        AWAN_ASSIGN_OR_RETURN(
            std::string res,
            client_.Call("/v3/kv/txn", Json{{"compare", compares}, {"success", ops}}.dump()));
        const Json t = Json::parse(res, nullptr, false);
        if (t.is_discarded()) return IoError("etcd: a reply that is not JSON");
        if (t.value("succeeded", false)) break;
        // Some are there: keep the ones that are not, after checking that those that are hold our lines.
        std::vector<std::pair<int64_t, std::string>> missing;
        for (const auto& [seq, line] : chunk) {
          AWAN_ASSIGN_OR_RETURN(
              std::string body,
              client_.Call("/v3/kv/range", Json{{"key", Base64Encode(AuditKey(seq))}}.dump()));
          const Json r = Json::parse(body, nullptr, false);
          if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
          if (!r.contains("kvs") || r["kvs"].empty()) {
            missing.emplace_back(seq, line);
          } else if (KvValue(r["kvs"][0]) != line) {
            return Status(StatusCode::kAlreadyExists,
                          "audit sequence conflict: entry " + std::to_string(seq) +
                              " is already in the store (another server writes to it)");
          }
        }
        chunk = std::move(missing);
      }
    }
    return Status::Ok();
  }

  StatusOr<std::vector<std::string>> ReadAudit(int64_t after, int limit) override {
    AWAN_ASSIGN_OR_RETURN(std::string body,
                          client_.Call("/v3/kv/range", Json{{"key", Base64Encode(AuditKey(after + 1))},
                                                            {"range_end", Base64Encode("/awan/audit0")},
                                                            {"limit", limit}}
                                                           .dump()));
    Json r = Json::parse(body, nullptr, false);
    if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
    std::vector<std::string> out;
    if (r.contains("kvs")) {
      for (const Json& kv : r["kvs"]) {
        std::optional<std::string> line = KvValue(kv);
        if (!line) return DataLoss("etcd: an audit entry without a value");
        out.push_back(std::move(*line));
      }
    }
    return out;
  }

  Status PutToken(const TokenRecord& t) override {
    const Json v = {{"hash", t.hash},       {"tenant", t.tenant},         {"role", t.role},
                    {"revoked", t.revoked}, {"created_ms", t.created_ms}, {"user", t.user}};
    return client_
        .Call("/v3/kv/put",
              Json{{"key", Base64Encode(kTokens + t.hash)}, {"value", Base64Encode(v.dump())}}.dump())
        .status();
  }

  StatusOr<std::optional<TokenRecord>> FindToken(const std::string& hash) override {
    AWAN_ASSIGN_OR_RETURN(std::string body,
                          client_.Call("/v3/kv/range", Json{{"key", Base64Encode(kTokens + hash)}}.dump()));
    Json r = Json::parse(body, nullptr, false);
    if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
    if (!r.contains("kvs") || r["kvs"].empty()) return std::optional<TokenRecord>();
    AWAN_ASSIGN_OR_RETURN(TokenRecord t, TokenOf(r["kvs"][0]));
    return std::optional<TokenRecord>(std::move(t));
  }

  StatusOr<std::vector<TokenRecord>> ListTokens() override {
    AWAN_ASSIGN_OR_RETURN(Json kvs, RangeOf(kTokens));
    std::vector<TokenRecord> out;
    for (const Json& kv : kvs) {
      AWAN_ASSIGN_OR_RETURN(TokenRecord t, TokenOf(kv));
      out.push_back(std::move(t));
    }
    return out;
  }

  // Every key-value entry under `prefix`, in key order (etcd answers byte order); an empty array for none.
  StatusOr<Json> RangeOf(const std::string& prefix) {
    std::string end = prefix;
    end.back() = static_cast<char>(end.back() + 1);  // the prefix with its last byte + 1
    AWAN_ASSIGN_OR_RETURN(
        std::string body,
        client_.Call("/v3/kv/range",
                     Json{{"key", Base64Encode(prefix)}, {"range_end", Base64Encode(end)}}.dump()));
    Json r = Json::parse(body, nullptr, false);
    if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
    if (!r.contains("kvs") || !r["kvs"].is_array()) return Json::array();
    return std::move(r["kvs"]);
  }

  static StatusOr<TokenRecord> TokenOf(const Json& kv) {
    const std::optional<std::string> value = KvValue(kv);
    const Json v = value ? Json::parse(*value, nullptr, false) : Json();
    if (!v.is_object()) return DataLoss("etcd: a damaged token record");
    try {
      return TokenRecord{v.at("hash"),    v.at("tenant"),     v.at("role"),
                         v.at("revoked"), v.at("created_ms"), v.value("user", "")};
    } catch (const Json::exception& e) {
      return DataLoss(std::string("etcd: a damaged token record: ") + e.what());
    }
  }

  Status PutObject(const std::string& kind, const std::string& name, const std::string& value) override {
    return client_
        .Call("/v3/kv/put", Json{{"key", Base64Encode(std::string(kObjects) + kind + "/" + name)},
                                 {"value", Base64Encode(value)}}
                                .dump())
        .status();
  }

  Status DeleteObject(const std::string& kind, const std::string& name) override {
    return client_
        .Call("/v3/kv/deleterange",
              Json{{"key", Base64Encode(std::string(kObjects) + kind + "/" + name)}}.dump())
        .status();
  }

  StatusOr<std::vector<std::pair<std::string, std::string>>> ListObjects(const std::string& kind) override {
    const std::string prefix = std::string(kObjects) + kind + "/";
    AWAN_ASSIGN_OR_RETURN(Json kvs, RangeOf(prefix));
    std::vector<std::pair<std::string, std::string>> out;
    for (const Json& kv : kvs) {
      std::optional<std::string> value = KvValue(kv);
      const std::string key =
          kv.contains("key") && kv["key"].is_string() ? Base64Decode(kv["key"].get<std::string>()) : "";
      if (!value || key.size() <= prefix.size()) return DataLoss("etcd: a damaged object");
      out.emplace_back(key.substr(prefix.size()), std::move(*value));
    }
    return out;  // etcd returns keys in byte order: names in order
  }

 private:
  // One transaction for the batch: compare the sequence's revision, bump it, put every job. The sequence and
  // its revision are remembered from the last commit, so that a commit is one round trip; they are read again
  // only when the compare fails (at the first commit, or when another replica wrote meanwhile).
  Status Commit(const std::vector<StoredJob*>& batch) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      if (!seq_known_) AWAN_RETURN_IF_ERROR(ReadSeq());
      Json compare;
      if (seq_rev_ > 0) {
        compare = {{"key", Base64Encode(kSeq)},
                   {"result", "EQUAL"},
                   {"target", "MOD"},
                   {"mod_revision", std::to_string(seq_rev_)}};
      } else {
        compare = {
            {"key", Base64Encode(kSeq)}, {"result", "EQUAL"}, {"target", "CREATE"}, {"create_revision", "0"}};
      }
      Json ops = Json::array();
      int64_t next = seq_;
      std::string first;
      for (StoredJob* job : batch) {
        job->id = JobId(++next);
        std::string value = JobToJson(*job).dump();
        if (first.empty()) first = value;
        ops.push_back(Put(kJobs + job->id, std::move(value)));
      }
      ops.push_back(Put(kSeq, std::to_string(next)));
      AWAN_ASSIGN_OR_RETURN(
          std::string res,
          client_.Call("/v3/kv/txn", Json{{"compare", Json::array({compare})}, {"success", ops}}.dump()));
      Json t = Json::parse(res, nullptr, false);
      if (t.is_discarded()) return IoError("etcd: a reply that is not JSON");
      if (t.value("succeeded", false)) {
        seq_ = next;
        seq_rev_ = RevisionOf(t);
        seq_known_ = seq_rev_ > 0;
        return Status::Ok();
      }
      // The sequence moved. Either our own transaction landed and only its answer was lost (the client
      // retried on another member): the first job is there with our bytes; or another replica took the ids.
      const int64_t tried = seq_;
      AWAN_RETURN_IF_ERROR(ReadSeq());
      if (seq_ == next) {
        AWAN_ASSIGN_OR_RETURN(
            std::string body,
            client_.Call("/v3/kv/range", Json{{"key", Base64Encode(kJobs + JobId(tried + 1))}}.dump()));
        const Json r = Json::parse(body, nullptr, false);
        if (!r.is_discarded() && r.contains("kvs") && !r["kvs"].empty() && KvValue(r["kvs"][0]) == first)
          return Status::Ok();
      }
    }
    return Status(StatusCode::kUnavailable, "etcd: could not allocate job ids (contention)");
  }

  // The sequence and its revision, read from the cluster.
  Status ReadSeq() {
    AWAN_ASSIGN_OR_RETURN(std::string body,
                          client_.Call("/v3/kv/range", Json{{"key", Base64Encode(kSeq)}}.dump()));
    Json r = Json::parse(body, nullptr, false);
    if (r.is_discarded()) return IoError("etcd: a reply that is not JSON");
    seq_ = 0;
    seq_rev_ = 0;
    if (r.contains("kvs") && !r["kvs"].empty()) {
      const std::string text = KvValue(r["kvs"][0]).value_or("");
      if (text.empty() || std::from_chars(text.data(), text.data() + text.size(), seq_).ec != std::errc()) {
        return DataLoss("etcd: the job sequence under " + std::string(kSeq) + " is not a number: '" + text +
                        "'");
      }
      seq_rev_ = Int64Field(r["kvs"][0], "mod_revision");
      if (seq_rev_ <= 0) return DataLoss("etcd: the job sequence has no revision");
    }
    seq_known_ = true;
    return Status::Ok();
  }

  // The revision a transaction committed at (its header's), 0 if absent.
  static int64_t RevisionOf(const Json& txn) {
    return txn.contains("header") ? Int64Field(txn["header"], "revision") : 0;
  }

  // An int64 field of the gateway's JSON (a string there; a number is accepted too); 0 if absent or bad.
  static int64_t Int64Field(const Json& j, const char* name) {
    if (!j.is_object() || !j.contains(name)) return 0;
    const Json& v = j[name];
    if (v.is_number_integer()) return v.get<int64_t>();
    if (!v.is_string()) return 0;
    const std::string& t = v.get_ref<const std::string&>();
    int64_t out = 0;
    return std::from_chars(t.data(), t.data() + t.size(), out).ec == std::errc() ? out : 0;
  }

  // The last committed sequence and its mod revision (GroupCommit runs one Commit at a time: no lock needed).
  bool seq_known_ = false;
  int64_t seq_ = 0, seq_rev_ = 0;
  EtcdClient client_;
  // etcd allows 128 operations per transaction and 1.5 MiB per request (by default); values go base64 (4/3).
  static constexpr size_t kMaxTxnBytes = 768 << 10;
  GroupCommit group_{100, kMaxTxnBytes};
};

}  // namespace

StatusOr<std::unique_ptr<StateStore>> OpenEtcdStore(const std::vector<std::string>& endpoints, bool create) {
  auto store = std::make_unique<EtcdStore>(endpoints);
  // Reachable, and made by `awan init`? A read of the marker answers from any healthy member.
  const std::string marker = "/awan/meta/initialized";
  EtcdClient client(endpoints);
  AWAN_ASSIGN_OR_RETURN(std::string body,
                        client.Call("/v3/kv/range", Json{{"key", Base64Encode(marker)}}.dump()));
  const Json r = Json::parse(body, nullptr, false);
  const bool initialized = !r.is_discarded() && r.contains("kvs") && !r["kvs"].empty();
  if (create) {
    if (initialized)
      return FailedPrecondition("the etcd store already exists (awan init makes a new one only)");
    AWAN_RETURN_IF_ERROR(
        client.Call("/v3/kv/put", Json{{"key", Base64Encode(marker)}, {"value", Base64Encode("1")}}.dump())
            .status());
  } else if (!initialized) {
    return FailedPrecondition(
        "no awan store in this etcd cluster: create it with `awan init --store etcd:...`");
  }
  return std::unique_ptr<StateStore>(std::move(store));
}

StatusOr<std::vector<std::string>> EtcdEndpoints(const std::string& url) {
  if (url.rfind("etcd:", 0) != 0) return InvalidArgument("not an etcd URL: " + url);
  std::vector<std::string> out;
  size_t from = 5;
  while (from <= url.size()) {
    const size_t comma = std::min(url.find(',', from), url.size());
    std::string e = url.substr(from, comma - from);
    if (!e.empty()) {
      if (e.rfind("http://", 0) != 0) e = "http://" + e;
      out.push_back(e);
    }
    from = comma + 1;
  }
  if (out.empty())
    return InvalidArgument("store URL '" + url + "': etcd:URL[,URL...] needs at least one endpoint");
  return out;
}

LeaderElection::LeaderElection(std::vector<std::string> endpoints, std::string identity, int ttl_s)
    : client_(std::make_unique<EtcdClient>(std::move(endpoints))),
      identity_(std::move(identity)),
      ttl_s_(ttl_s) {}
LeaderElection::~LeaderElection() = default;

StatusOr<bool> LeaderElection::TryAcquire() {
  if (lease_.empty()) {
    AWAN_ASSIGN_OR_RETURN(std::string g, client_->Call("/v3/lease/grant", Json{{"TTL", ttl_s_}}.dump()));
    Json r = Json::parse(g, nullptr, false);
    if (r.is_discarded() || !r.contains("ID")) return IoError("etcd: lease grant: " + g);
    lease_ = r["ID"].is_string() ? r["ID"].get<std::string>() : r["ID"].dump();
  } else if (!KeepAlive()) {
    lease_.clear();
    return false;
  }
  const Json compare = {{"key", Base64Encode("/awan/leader")},
                        {"result", "EQUAL"},
                        {"target", "CREATE"},
                        {"create_revision", "0"}};
  const Json put = {
      {"request_put",
       {{"key", Base64Encode("/awan/leader")}, {"value", Base64Encode(identity_)}, {"lease", lease_}}}};
  AWAN_ASSIGN_OR_RETURN(
      std::string res,
      client_->Call("/v3/kv/txn",
                    Json{{"compare", Json::array({compare})}, {"success", Json::array({put})}}.dump()));
  Json t = Json::parse(res, nullptr, false);
  return !t.is_discarded() && t.value("succeeded", false);
}

bool LeaderElection::KeepAlive() {
  if (lease_.empty()) return false;
  auto r = client_->Call("/v3/lease/keepalive", Json{{"ID", lease_}}.dump());
  if (!r.ok()) return false;
  // The gateway answers {"result": {"ID": ..., "TTL": "3"}}; no TTL means the lease is gone.
  Json j = Json::parse(*r, nullptr, false);
  if (j.is_discarded() || !j.contains("result")) return false;
  const Json& res = j["result"];
  if (!res.contains("TTL")) return false;
  // A string in the gateway's JSON (int64 fields are strings there), a number otherwise; anything else: gone.
  int64_t ttl = 0;
  if (res["TTL"].is_string()) {
    const std::string& t = res["TTL"].get_ref<const std::string&>();
    if (std::from_chars(t.data(), t.data() + t.size(), ttl).ec != std::errc()) return false;
  } else if (res["TTL"].is_number_integer()) {
    ttl = res["TTL"].get<int64_t>();
  } else {
    return false;
  }
  return ttl > 0;
}

}  // namespace awan::server
