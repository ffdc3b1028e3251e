// GroupCommit (server/group_commit.h): every job is committed exactly once, batches respect their cap, and a
// failed commit fails exactly the jobs it carried.
#include "server/group_commit.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace awan::server {
namespace {

TEST(GroupCommit, EveryJobOnceBatchesCappedFailuresScoped) {
  GroupCommit group(7);
  std::mutex mu;
  std::vector<size_t> sizes;
  std::multiset<std::string> committed;
  int commits = 0;
  auto commit = [&](const std::vector<StoredJob*>& batch) {
    std::this_thread::sleep_for(std::chrono::microseconds(300));  // let callers pile up
    std::lock_guard<std::mutex> lock(mu);
    sizes.push_back(batch.size());
    const bool fail = ++commits % 5 == 0;  // every fifth commit fails
    for (StoredJob* j : batch) {
      if (!fail) committed.insert(j->name);
      j->message = fail ? "failed" : "ok";
    }
    return fail ? Status(StatusCode::kIoError, "disk") : Status::Ok();
  };
  constexpr int kThreads = 200;
  std::vector<std::thread> threads;
  std::vector<StoredJob> jobs(kThreads);
  std::vector<Status> results(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    jobs[t].name = "j" + std::to_string(t);
    threads.emplace_back([&, t] { results[t] = group.Submit(&jobs[t], commit); });
  }
  for (auto& th : threads) th.join();
  size_t total = 0;
  for (size_t n : sizes) {
    EXPECT_GE(n, 1u);
    EXPECT_LE(n, 7u);
    total += n;
  }
  EXPECT_EQ(total, static_cast<size_t>(kThreads));  // each job in exactly one commit
  EXPECT_GT(sizes.size(), 1u);
  EXPECT_LT(sizes.size(), static_cast<size_t>(kThreads));  // some batching happened
  for (int t = 0; t < kThreads; ++t) {
    // The caller's status is its own commit's: OK exactly when its job was committed.
    EXPECT_EQ(results[t].ok(), jobs[t].message == "ok") << t;
    EXPECT_EQ(committed.count(jobs[t].name), results[t].ok() ? 1u : 0u) << t;
  }
}

}  // namespace
}  // namespace awan::server
