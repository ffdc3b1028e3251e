// The StateStore contract (server/store.h), one suite for every backend: the embedded SQLite store and the
// etcd store on a real three-member cluster on 127.0.0.1 (scripts/etcd-up.sh; skipped, visibly, where etcd
// is not installed). Ids in creation order, nothing lost or doubled under concurrent creates, updates that
// never create, paging, the audit log's one-writer rule, tokens.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "server/store.h"
#include "shell.h"

namespace awan::server {
namespace {

using awan::testing::Shell;

std::string TempDir(const std::string& name) {
  const std::string d = ::testing::TempDir() + "awan-store-" + name + "-" + std::to_string(getpid());
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

// One etcd cluster for every etcd case of this binary.
class EtcdCluster {
 public:
  static EtcdCluster& Get() {
    static EtcdCluster c;
    return c;
  }
  bool up() const { return endpoints_.rfind("http://", 0) == 0; }
  const std::string& endpoints() const { return endpoints_; }
  std::string why() const { return why_; }
  // A fresh store: a new key prefix would need a prefix option; instead, every case wipes the keyspace.
  void Wipe() const {
    Shell("ETCDCTL_API=3 etcdctl --endpoints=" + Plain() + " del '' --from-key=true > /dev/null 2>&1");
  }
  ~EtcdCluster() {
    if (!dir_.empty()) Shell(std::string(AWAN_SOURCE_DIR) + "/scripts/etcd-down.sh " + dir_ + " 2>&1");
  }

 private:
  EtcdCluster() {
    if (Shell("command -v etcd").empty()) {
      why_ = "etcd is not installed (scripts/install-deps.sh installs it)";
      return;
    }
    dir_ = TempDir("etcd");
    // Ports of its own (ctest may run cases of this binary, each its own process and cluster, side by side):
    // the first base from one derived from the pid whose six ports are free.
    int base = 27790 + 20 * (getpid() % 50);
    while (!Free(base) && base < 40000) base += 20;
    endpoints_ = Shell(std::string(AWAN_SOURCE_DIR) + "/scripts/etcd-up.sh " + dir_ + " " +
                       std::to_string(base) + " 2>&1");
    if (!up()) why_ = "scripts/etcd-up.sh failed: " + endpoints_;
  }
  // Are the client ports base+1..3 and the peer ports base+11..13 free on 127.0.0.1?
  static bool Free(int base) {
    for (int port : {base + 1, base + 2, base + 3, base + 11, base + 12, base + 13}) {
      const int fd = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      close(fd);
      if (!ok) return false;
    }
    return true;
  }
  std::string Plain() const {
    std::string s = endpoints_;
    for (size_t at; (at = s.find("http://")) != std::string::npos;) s.erase(at, 7);
    return s;
  }
  std::string dir_, endpoints_, why_;
};

class StoreContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "sqlite") {
      url_ = "sqlite:" + TempDir("sqlite") + "/awan.db";
    } else if (GetParam() == "memory") {
      static int n = 0;
      url_ = "memory:contract-" + std::to_string(++n);
    } else {
      EtcdCluster& c = EtcdCluster::Get();
      if (!c.up()) GTEST_SKIP() << c.why();
      c.Wipe();
      url_ = "etcd:" + c.endpoints();
    }
    auto s = OpenStore(url_, StoreOpenMode::kCreate);
    ASSERT_TRUE(s.ok()) << s.status().message();
    store_ = std::move(*s);
  }
  StoredJob Job(const std::string& tenant, const std::string& name) {
    StoredJob j;
    j.tenant = tenant;
    j.name = name;
    j.manifest = R"({"spec":{"tasks":1}})";
    j.created_ms = j.updated_ms = 1000;
    return j;
  }
  std::string url_;
  std::unique_ptr<StateStore> store_;
};

TEST_P(StoreContract, OpensOnlyWhatInitMade) {
  EXPECT_EQ(OpenStore(url_, StoreOpenMode::kCreate).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(OpenStore(url_, StoreOpenMode::kExisting).ok());
}

TEST_P(StoreContract, IdsFollowCreationOrderAndRoundTrip) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    StoredJob j = Job("lab", "j" + std::to_string(i));
    j.runs = i;
    j.message = "m\"\n" + std::to_string(i);  // quoting survives
    auto c = store_->CreateJob(j);
    ASSERT_TRUE(c.ok()) << c.status().message();
    ids.push_back(c->id);
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 5u);
  auto got = store_->GetJob(ids[3]);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->name, "j3");
  EXPECT_EQ((*got)->runs, 3);
  EXPECT_EQ((*got)->message, "m\"\n3");
  EXPECT_EQ((*got)->manifest, R"({"spec":{"tasks":1}})");
  EXPECT_FALSE(store_->GetJob("j-99999999")->has_value());
}

TEST_P(StoreContract, ConcurrentCreatesAreNeitherLostNorDoubled) {
  constexpr int kThreads = 150, kEach = 4;  // more than one transaction's worth at once (etcd: 128 ops)
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<std::string> ids;
  std::atomic<int> failed{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kEach; ++k) {
        auto c = store_->CreateJob(Job("lab", "c" + std::to_string(t * kEach + k)));
        if (!c.ok()) {
          ++failed;
          continue;
        }
        std::lock_guard<std::mutex> lock(mu);
        ids.push_back(c->id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), static_cast<size_t>(kThreads * kEach));
  JobFilter all;
  all.limit = 100000;
  auto listed = store_->ListJobs(all);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), static_cast<size_t>(kThreads * kEach));
  std::set<std::string> names;
  for (const StoredJob& j : *listed) names.insert(j.name);
  EXPECT_EQ(names.size(), static_cast<size_t>(kThreads * kEach));  // each stored under its own id
}

// Large manifests (a submit body may be 256 KiB) arriving together: the batch they form is written in as many
// transactions as the backend's request limit needs (etcd: 1.5 MiB by default), none is lost.
TEST_P(StoreContract, LargeJobsArrivingTogetherAreAllStored) {
  constexpr int kJobs = 40;
  const std::string big(200 << 10, 'm');
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  std::mutex mu;
  std::vector<StoredJob> made;
  for (int t = 0; t < kJobs; ++t) {
    threads.emplace_back([&, t] {
      StoredJob j = Job("lab", "big" + std::to_string(t));
      j.manifest = "{\"pad\":\"" + big + "\"}";
      auto c = store_->CreateJob(j);
      if (!c.ok()) {
        ++failed;
        ADD_FAILURE() << c.status().message().substr(0, 300);
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      made.push_back(*c);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failed.load(), 0);
  ASSERT_EQ(made.size(), static_cast<size_t>(kJobs));
  for (StoredJob& j : made) j.state = JobState::kRunning;
  const Status up = store_->UpdateJobs(made);  // 8 MB in one call
  EXPECT_TRUE(up.ok()) << up.message().substr(0, 300);
  JobFilter running;
  running.state = JobState::kRunning;
  running.limit = 1000;
  auto listed = store_->ListJobs(running);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), static_cast<size_t>(kJobs));
  for (const StoredJob& j : *listed) EXPECT_EQ(j.manifest.size(), big.size() + 10);
}

// A job array: every job stored with consecutive ids, in order, even with single creates racing it.
TEST_P(StoreContract, CreateJobsGivesConsecutiveIds) {
  std::atomic<bool> stop{false};
  std::thread racer([&] {
    for (int i = 0; i < 20 && !stop; ++i) ASSERT_TRUE(store_->CreateJob(Job("lab", "single")).ok());
  });
  std::vector<StoredJob> array;
  for (int i = 0; i < 250; ++i) array.push_back(Job("lab", "a-" + std::to_string(i)));
  auto made = store_->CreateJobs(std::move(array));
  stop = true;
  racer.join();
  ASSERT_TRUE(made.ok()) << made.status().message();
  ASSERT_EQ(made->size(), 250u);
  const int64_t first = std::stoll((*made)[0].id.substr(2));
  for (int i = 0; i < 250; ++i) {
    EXPECT_EQ((*made)[i].id, JobIdOf(first + i));
    EXPECT_EQ((*made)[i].name, "a-" + std::to_string(i));
    auto got = store_->GetJob((*made)[i].id);
    ASSERT_TRUE(got.ok() && got->has_value());
    EXPECT_EQ((*got)->name, "a-" + std::to_string(i));
  }
}

// A job's accounting comes back as written (created, updated alone, updated in a batch, listed).
TEST_P(StoreContract, AccountingRoundTrips) {
  StoredJob fresh = Job("lab", "acct");
  fresh.started_ms = 1'700'000'000'123;
  fresh.user = "aisyah";
  fresh.held = true;
  fresh.events = R"([{"event":"submitted by aisyah","t_ms":1700000000000}])";
  auto c = store_->CreateJob(fresh);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*store_->GetJob(c->id))->started_ms, 1'700'000'000'123);
  EXPECT_EQ((*store_->GetJob(c->id))->user, "aisyah");
  EXPECT_TRUE((*store_->GetJob(c->id))->held);
  EXPECT_EQ((*store_->GetJob(c->id))->events, fresh.events);
  StoredJob j = *c;
  j.ended_ms = 1'700'000'360'000;
  j.run_started_ms = 1'700'000'100'000;
  j.gpu_ms = 8 * 3'600'000 + 1;
  j.cost_usd = 19.625;
  ASSERT_TRUE(store_->UpdateJob(j).ok());
  auto got = *store_->GetJob(j.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->ended_ms, j.ended_ms);
  EXPECT_EQ(got->run_started_ms, j.run_started_ms);
  EXPECT_EQ(got->gpu_ms, j.gpu_ms);
  EXPECT_DOUBLE_EQ(got->cost_usd, 19.625);
  EXPECT_EQ(got->events, fresh.events);
  j.gpu_ms = 5;
  j.cost_usd = 0.5;
  j.events = R"x([{"event":"submitted","t_ms":1},{"event":"Running: run 1 started on n0 (r)","t_ms":2}])x";
  ASSERT_TRUE(store_->UpdateJobs({j}).ok());
  JobFilter f;
  f.tenant = "lab";
  auto listed = store_->ListJobs(f);
  ASSERT_TRUE(listed.ok());
  auto it = std::find_if(listed->begin(), listed->end(), [&](const StoredJob& x) { return x.id == j.id; });
  ASSERT_NE(it, listed->end());
  EXPECT_EQ(it->gpu_ms, 5);
  EXPECT_DOUBLE_EQ(it->cost_usd, 0.5);
  EXPECT_EQ(it->events, j.events);
  EXPECT_EQ(it->started_ms, 1'700'000'000'123);
}

TEST_P(StoreContract, UpdatesNeverCreate) {
  auto c = store_->CreateJob(Job("lab", "u"));
  ASSERT_TRUE(c.ok());
  StoredJob j = *c;
  j.state = JobState::kRunning;
  j.runs = 2;
  EXPECT_TRUE(store_->UpdateJob(j).ok());
  EXPECT_EQ((*store_->GetJob(j.id))->state, JobState::kRunning);
  EXPECT_EQ((*store_->GetJob(j.id))->runs, 2);
  StoredJob ghost = j;
  ghost.id = "j-77777777";
  EXPECT_EQ(store_->UpdateJob(ghost).code(), StatusCode::kNotFound);
  EXPECT_FALSE(store_->GetJob(ghost.id)->has_value());
  std::vector<StoredJob> many;
  for (int i = 0; i < 130; ++i) {
    auto m = store_->CreateJob(Job("lab", "m" + std::to_string(i)));
    ASSERT_TRUE(m.ok());
    m->state = JobState::kSucceeded;
    many.push_back(*m);
  }
  EXPECT_TRUE(store_->UpdateJobs(many).ok());
  JobFilter done;
  done.state = JobState::kSucceeded;
  done.limit = 1000;
  EXPECT_EQ(store_->ListJobs(done)->size(), 130u);
}

TEST_P(StoreContract, ListsFilterAndPage) {
  for (int i = 0; i < 7; ++i) ASSERT_TRUE(store_->CreateJob(Job(i % 2 ? "a" : "b", "p")).ok());
  JobFilter f;
  f.tenant = "a";
  f.limit = 2;
  auto first = store_->ListJobs(f);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  f.after_id = first->back().id;
  auto second = store_->ListJobs(f);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);  // a has 3
  EXPECT_GT(second->front().id, first->back().id);
  for (const auto& j : *first) EXPECT_EQ(j.tenant, "a");
}

// One writer: an audit entry whose sequence number is taken by a different line is refused, writing nothing;
// the same line again (a retry after a lost answer) is accepted.
TEST_P(StoreContract, AuditSequenceConflictIsRefused) {
  ASSERT_TRUE(store_->AppendAudit({{1, "one"}, {2, "two"}}).ok());
  EXPECT_TRUE(store_->AppendAudit({{2, "two"}, {3, "three"}}).ok());  // a retry overlapping what landed
  const Status s = store_->AppendAudit({{3, "mine"}, {4, "four"}});
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.message();
  EXPECT_NE(s.message().find("another server"), std::string::npos) << s.message();
  auto lines = store_->ReadAudit(0, 10);
  ASSERT_TRUE(lines.ok());
  EXPECT_EQ(*lines, (std::vector<std::string>{"one", "two", "three"}));
}

TEST_P(StoreContract, Tokens) {
  ASSERT_TRUE(store_->PutToken({"abc", "lab", "member", false, 5, "aisyah"}).ok());
  auto t = store_->FindToken("abc");
  ASSERT_TRUE(t.ok() && t->has_value());
  EXPECT_EQ((*t)->role, "member");
  EXPECT_EQ((*t)->user, "aisyah");
  ASSERT_TRUE(store_->PutToken({"abc", "lab", "member", true, 5, "aisyah"}).ok());
  EXPECT_TRUE((*store_->FindToken("abc"))->revoked);
  EXPECT_FALSE(store_->FindToken("nope")->has_value());
  ASSERT_TRUE(store_->PutToken({"0bc", "", "admin", false, 7, ""}).ok());
  auto all = store_->ListTokens();
  ASSERT_TRUE(all.ok()) << all.status().message();
  ASSERT_EQ(all->size(), 2u);  // in hash order, revoked ones too
  EXPECT_EQ((*all)[0].hash, "0bc");
  EXPECT_EQ((*all)[0].role, "admin");
  EXPECT_EQ((*all)[1].hash, "abc");
  EXPECT_TRUE((*all)[1].revoked);
  EXPECT_EQ((*all)[1].created_ms, 5);
  EXPECT_EQ((*all)[1].user, "aisyah");
}

// Named objects: replaced whole, listed per kind in name order (a kind's prefix never leaks another's),
// deleted idempotently, and there again when the store is opened anew.
TEST_P(StoreContract, ObjectsArePutListedAndDeleted) {
  using List = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(*store_->ListObjects("service"), List{});
  ASSERT_TRUE(store_->PutObject("service", "chat", R"({"v":1})").ok());
  ASSERT_TRUE(store_->PutObject("service", "code", R"({"v":2})").ok());
  ASSERT_TRUE(store_->PutObject("service", "chat", R"({"v":3})").ok());  // replaced
  ASSERT_TRUE(store_->PutObject("services", "x", "{}").ok());            // another kind, a longer name
  ASSERT_TRUE(store_->PutObject("servic", "y", "{}").ok());
  EXPECT_EQ(*store_->ListObjects("service"), (List{{"chat", R"({"v":3})"}, {"code", R"({"v":2})"}}));
  EXPECT_EQ(*store_->ListObjects("services"), (List{{"x", "{}"}}));
  ASSERT_TRUE(store_->DeleteObject("service", "chat").ok());
  ASSERT_TRUE(store_->DeleteObject("service", "chat").ok());  // not there: OK
  auto again = OpenStore(url_, StoreOpenMode::kExisting);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->ListObjects("service"), (List{{"code", R"({"v":2})"}}));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::Values("sqlite", "etcd", "memory"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace awan::server
