// GroupCommit: batches concurrent job creations into one durable write. A caller queues its job; the first
// caller to find no commit under way becomes the leader and commits every queued job at once (one
// transaction, one fsync or one consensus round); the others wait for the commit that included theirs. Under
// load one write serves many requests; alone, a request pays one write as before. Used by every StateStore
// backend.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "server/store.h"

namespace awan::server {

class GroupCommit {
 public:
  using Commit = std::function<Status(const std::vector<StoredJob*>& batch)>;
  // At most `max_batch` jobs (0: no limit) and about `max_bytes` of them (0: no limit; a job is counted by
  // its manifest, name, message and placement; one job alone may exceed it) per commit; the rest wait for the
  // next.
  explicit GroupCommit(size_t max_batch = 0, size_t max_bytes = 0)
      : max_batch_(max_batch), max_bytes_(max_bytes) {}
  // Returns once a commit that included `job` finished, with that commit's status. Each caller sleeps on its
  // own condition variable and is woken once: when its commit is done, or when it is first in the queue and
  // no commit runs (it leads the next one). No thundering herd of every waiter at every commit.
  Status Submit(StoredJob* job, const Commit& commit) { return SubmitAll({job}, commit); }

  // Queues every job of `jobs` at once, in order (so their ids are consecutive: no other caller's job lands
  // between them), and returns once all were committed: OK, or the first failed commit's status (jobs of
  // other, successful commits of the same call are stored).
  Status SubmitAll(const std::vector<StoredJob*>& jobs, const Commit& commit) {
    std::vector<Request> reqs(jobs.size());
    std::unique_lock<std::mutex> q(mu_);
    for (size_t i = 0; i < jobs.size(); ++i) {
      reqs[i].job = jobs[i];
      queue_.push_back(&reqs[i]);
    }
    Status first = Status::Ok();
    for (Request& req : reqs) {
      while (!req.done) {
        if (committing_) {
          req.cv.wait(q);
          continue;
        }
        Lead(q, commit, &req);
      }
      if (first.ok() && !req.status.ok()) first = req.status;
    }
    return first;
  }

 private:
  // Commits the next batch from the queue's front (the caller holds `q` and found no commit under way;
  // `self` is the caller's request, which needs no wake-up).
  void Lead(std::unique_lock<std::mutex>& q, const Commit& commit, const void* self) {
    committing_ = true;
    size_t take = 0, bytes = 0;
    while (take < queue_.size() && (max_batch_ == 0 || take < max_batch_)) {
      const StoredJob& j = *queue_[take]->job;
      const size_t size = j.manifest.size() + j.name.size() + j.message.size() + j.placement.size() + 256;
      if (max_bytes_ != 0 && take > 0 && bytes + size > max_bytes_) break;
      bytes += size;
      ++take;
    }
    std::vector<Request*> batch(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(take));
    q.unlock();
    std::vector<StoredJob*> jobs;
    for (Request* r : batch) jobs.push_back(r->job);
    Status s = Status::Ok();
    try {  // a commit that throws must not leave committing_ set: every later caller would wait for ever
      s = commit(jobs);
    } catch (const std::exception& e) {
      s = Status(StatusCode::kInternal, std::string("commit failed: ") + e.what());
    }
    q.lock();
    committing_ = false;
    for (Request* r : batch) {
      r->status = s;
      r->done = true;
      if (r != self) r->cv.notify_one();
    }
    if (!queue_.empty()) queue_.front()->cv.notify_one();  // it leads the next commit
  }

  struct Request {
    StoredJob* job = nullptr;
    Status status = Status::Ok();
    bool done = false;
    std::condition_variable cv;
  };
  size_t max_batch_, max_bytes_;
  std::mutex mu_;
  std::vector<Request*> queue_;
  bool committing_ = false;
};

}  // namespace awan::server
