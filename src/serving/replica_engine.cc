#include "serving/replica_engine.h"

#include <algorithm>
#include <utility>

namespace awan::serving {

ReplicaEngine::ReplicaEngine(ReplicaModel model, int64_t token_budget, int max_seqs)
    : model_(std::move(model)),
      budget_(token_budget),
      max_seqs_(max_seqs),
      prefix_(static_cast<size_t>(model_.KvCapacityTokens() / kKvBlockTokens)) {}

void ReplicaEngine::Add(uint64_t id, int64_t prompt, int32_t output, const std::vector<uint64_t>* hash_ids) {
  waiting_.push_back({id, prompt, output, hash_ids});
  outstanding_ += prompt + output;
}

double ReplicaEngine::kv_usage() const {
  const int64_t cap = model_.KvCapacityTokens();
  return cap > 0 ? static_cast<double>(kv_used_) / static_cast<double>(cap) : 0;
}

void ReplicaEngine::Admit(std::vector<Event>& events) {
  const int64_t kv_cap = model_.KvCapacityTokens();
  while (!waiting_.empty() && static_cast<int>(running_.size()) < max_seqs_) {
    const Waiting w = waiting_.front();
    const int64_t need = w.prompt + w.output;
    if (need > kv_cap) {  // can never fit
      waiting_.pop_front();
      outstanding_ -= need;
      events.push_back({w.id, EventKind::kDropped});
      continue;
    }
    if (kv_used_ + need > kv_cap) break;
    waiting_.pop_front();
    kv_used_ += need;
    int64_t cached = 0;
    if (w.hash_ids != nullptr) {
      cached = CachedPromptTokens(w.prompt, prefix_.CachedPrefix(*w.hash_ids));
      prefix_.Insert(*w.hash_ids);
    }
    outstanding_ -= cached;
    running_.push_back({w.id, w.prompt - cached, w.output, cached, 0, need, false, cached});
  }
}

std::optional<double> ReplicaEngine::StartIteration(std::vector<Event>& events) {
  Admit(events);
  int64_t budget = budget_, prefill = 0, decode = 0, context = 0;
  for (const Seq& q : running_) {
    if (q.decoding) ++decode, --budget;
    context += q.context;
  }
  for (Seq& q : running_) {
    q.chunk = 0;
    if (q.decoding || budget <= 0) continue;
    q.chunk = std::min(q.prefill_left, budget);
    budget -= q.chunk, prefill += q.chunk;
  }
  if (prefill == 0 && decode == 0) return std::nullopt;
  busy_ = true;
  return model_.IterationS(prefill, decode, context);
}

void ReplicaEngine::EndIteration(std::vector<Event>& events) {
  busy_ = false;
  size_t keep = 0;
  for (size_t i = 0; i < running_.size(); ++i) {
    Seq q = running_[i];
    bool token = false;
    if (q.decoding) {
      token = true;
      events.push_back({q.id, EventKind::kToken});
    } else if (q.chunk > 0) {
      q.prefill_left -= q.chunk, q.context += q.chunk, outstanding_ -= q.chunk;
      if (q.prefill_left == 0) {
        q.decoding = true, token = true;
        events.push_back({q.id, EventKind::kFirstToken, q.cached});
      }
    }
    if (token) --q.out_left, ++q.context, --outstanding_;
    if (q.decoding && q.out_left <= 0) {
      events.push_back({q.id, EventKind::kDone});
      kv_used_ -= q.need;
      continue;
    }
    running_[keep++] = q;
  }
  running_.resize(keep);
}

bool ReplicaEngine::Cancel(uint64_t id) {
  for (auto it = waiting_.begin(); it != waiting_.end(); ++it) {
    if (it->id != id) continue;
    outstanding_ -= it->prompt + it->output;
    waiting_.erase(it);
    return true;
  }
  for (auto it = running_.begin(); it != running_.end(); ++it) {
    if (it->id != id) continue;
    outstanding_ -= it->prefill_left + it->out_left;
    kv_used_ -= it->need;
    running_.erase(it);
    return true;
  }
  return false;
}

std::vector<uint64_t> ReplicaEngine::Clear() {
  std::vector<uint64_t> ids;
  ids.reserve(waiting_.size() + running_.size());
  for (const Waiting& w : waiting_) ids.push_back(w.id);
  for (const Seq& q : running_) ids.push_back(q.id);
  waiting_.clear(), running_.clear();
  kv_used_ = outstanding_ = 0;
  busy_ = false;
  return ids;
}

}  // namespace awan::serving
