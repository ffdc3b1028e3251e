// GroupCommit: batches concurrent job creations into one durable write. A caller queues its job; the first
// caller to find no commit under way becomes the leader and commits every queued job at once (one
// transaction, one fsync or one consensus round); the others wait for the commit that included theirs. Under
// load one write serves many requests; alone, a request pays one write as before. Used by every StateStore
// backend.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "server/store.h"

namespace awan::server {

class GroupCommit {
 public:
  using Commit = std::function<Status(const std::vector<StoredJob*>& batch)>;
  // At most `max_batch` jobs per commit (0: no limit); the rest wait for the next one.
  explicit GroupCommit(size_t max_batch = 0) : max_batch_(max_batch) {}
  // Returns once a commit that included `job` finished, with that commit's status.
  Status Submit(StoredJob* job, const Commit& commit) {
    Request req{job, Status::Ok(), false};
    std::unique_lock<std::mutex> q(mu_);
    queue_.push_back(&req);
    while (!req.done) {
      if (committing_) {
        cv_.wait(q);
        continue;
      }
      committing_ = true;
      std::vector<Request*> batch;
      if (max_batch_ == 0 || queue_.size() <= max_batch_) {
        batch.swap(queue_);
      } else {
        batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_));
        queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_));
      }
      q.unlock();
      std::vector<StoredJob*> jobs;
      for (Request* r : batch) jobs.push_back(r->job);
      const Status s = commit(jobs);
      q.lock();
      for (Request* r : batch) r->status = s, r->done = true;
      committing_ = false;
      cv_.notify_all();
    }
    return req.status;
  }

 private:
  struct Request {
    StoredJob* job;
    Status status;
    bool done = false;
  };
  size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request*> queue_;
  bool committing_ = false;
};

}  // namespace awan::server
