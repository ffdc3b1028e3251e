// The replica engine: continuous batching, chunked prefill within the token budget, KV admission, prefix
// cache hits, and what a stopped replica gives back.
#include "serving/replica_engine.h"

#include <gtest/gtest.h>

#include <map>

namespace awan::serving {
namespace {

using Kind = ReplicaEngine::EventKind;

ReplicaModel Model() {
  return *ReplicaModel::Create(ServedModel{"llama-3.1-8b", 8.0, 16'000'000'000, 128 * 1024},
                               *FindHardware("H100"), 1, 1.0);
}

// Runs iterations until idle; per request: the iteration of its first token, its tokens, its end.
struct Trace {
  std::map<uint64_t, int> first, tokens, done, dropped;
  int iterations = 0;
  double seconds = 0;
};
Trace RunToIdle(ReplicaEngine& e) {
  Trace tr;
  std::vector<ReplicaEngine::Event> ev;
  while (true) {
    ev.clear();
    const std::optional<double> secs = e.StartIteration(ev);
    for (const auto& x : ev)
      if (x.kind == Kind::kDropped) ++tr.dropped[x.id];
    if (!secs) break;
    EXPECT_TRUE(e.busy());
    tr.seconds += *secs;
    ++tr.iterations;
    ev.clear();
    e.EndIteration(ev);
    for (const auto& x : ev) {
      if (x.kind == Kind::kFirstToken) tr.first[x.id] = tr.iterations, ++tr.tokens[x.id];
      if (x.kind == Kind::kToken) ++tr.tokens[x.id];
      if (x.kind == Kind::kDone) ++tr.done[x.id];
    }
  }
  return tr;
}

TEST(ReplicaEngine, BatchesContinuouslyAndChunksLongPrompts) {
  ReplicaEngine e(Model(), /*token_budget=*/1000, /*max_seqs=*/8);
  e.Add(1, 2500, 4);  // three chunks: 1000, 1000, 500
  e.Add(2, 10, 3);    // waits for the budget the long prompt leaves
  EXPECT_EQ(e.outstanding_tokens(), 2500 + 4 + 10 + 3);
  const Trace tr = RunToIdle(e);
  EXPECT_EQ(tr.first.at(1), 3);  // prefilled over three iterations
  EXPECT_EQ(tr.first.at(2), 3);  // 500 + 10 tokens fit the third one beside the last chunk
  EXPECT_EQ(tr.tokens.at(1), 4);
  EXPECT_EQ(tr.tokens.at(2), 3);
  EXPECT_EQ(tr.done.at(1), 1);
  EXPECT_EQ(tr.done.at(2), 1);
  EXPECT_EQ(tr.iterations, 3 + 3);  // 3 of prefill, then the last 3 tokens of request 1
  EXPECT_TRUE(e.idle());
  EXPECT_EQ(e.outstanding_tokens(), 0);
  EXPECT_EQ(e.kv_used(), 0);
}

TEST(ReplicaEngine, IterationsCostWhatTheModelSays) {
  const ReplicaModel m = Model();
  ReplicaEngine e(m, 8192, 256);
  e.Add(7, 100, 2);
  std::vector<ReplicaEngine::Event> ev;
  EXPECT_DOUBLE_EQ(*e.StartIteration(ev), m.IterationS(100, 0, 0));
  e.EndIteration(ev);
  EXPECT_DOUBLE_EQ(*e.StartIteration(ev), m.IterationS(0, 1, 101));
  e.EndIteration(ev);
  EXPECT_FALSE(e.StartIteration(ev).has_value());
}

TEST(ReplicaEngine, AdmitsOnlyWhatTheKvCacheHoldsAndDropsWhatNeverFits) {
  const ReplicaModel m = Model();
  const int64_t cap = m.KvCapacityTokens();
  ReplicaEngine e(m, 8192, 256);
  e.Add(1, cap + 1, 1);       // can never fit
  e.Add(2, cap / 2 + 10, 1);  // fits alone
  e.Add(3, cap / 2 + 10, 1);  // waits until 2 is done
  std::vector<ReplicaEngine::Event> ev;
  ASSERT_TRUE(e.StartIteration(ev).has_value());
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].id, 1u);
  EXPECT_EQ(ev[0].kind, Kind::kDropped);
  EXPECT_EQ(e.running(), 1u);
  EXPECT_EQ(e.waiting(), 1u);
  EXPECT_GT(e.kv_usage(), 0.5);
  ev.clear();
  e.EndIteration(ev);
  const Trace tr = RunToIdle(e);
  EXPECT_EQ(tr.done.at(2), 1);
  EXPECT_EQ(tr.done.at(3), 1);
  EXPECT_GT(tr.first.at(3), tr.first.at(2));  // admitted only once 2 gave its KV back
}

TEST(ReplicaEngine, APrefixCacheHitSkipsTheCachedBlocks) {
  const ReplicaModel m = Model();
  const std::vector<uint64_t> ids = {11, 12, 13};  // three blocks of 512 tokens
  ReplicaEngine e(m, 8192, 256);
  e.Add(1, 3 * kKvBlockTokens, 1, &ids);
  std::vector<ReplicaEngine::Event> ev;
  const double cold = *e.StartIteration(ev);
  e.EndIteration(ev);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev[0].kind, Kind::kFirstToken);
  EXPECT_EQ(ev[0].cached_tokens, 0);  // the first found nothing cached
  EXPECT_EQ(e.CachedPrefixBlocks(ids), 3);
  e.Add(2, 3 * kKvBlockTokens, 1, &ids);
  EXPECT_EQ(e.outstanding_tokens(), 3 * kKvBlockTokens + 1);
  const double warm = *e.StartIteration(ev);
  EXPECT_LT(warm, cold);
  EXPECT_DOUBLE_EQ(warm, m.IterationS(1, 0, 3 * kKvBlockTokens - 1));  // only the last token is computed
  // The first-token events say how many prompt tokens the cache held: none for the first, all but the last
  // token for the second.
  ev.clear();
  e.EndIteration(ev);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev[0].id, 2u);
  EXPECT_EQ(ev[0].kind, Kind::kFirstToken);
  EXPECT_EQ(ev[0].cached_tokens, 3 * kKvBlockTokens - 1);
}

TEST(ReplicaEngine, TheCacheSparesWholeBlocksButNeverThePromptsLastToken) {
  EXPECT_EQ(CachedPromptTokens(3 * kKvBlockTokens + 7, 2), 2 * kKvBlockTokens);  // two full blocks held
  EXPECT_EQ(CachedPromptTokens(3 * kKvBlockTokens, 3), 3 * kKvBlockTokens - 1);  // all but the last token
  EXPECT_EQ(CachedPromptTokens(kKvBlockTokens, 0), 0);                           // nothing held
  EXPECT_EQ(CachedPromptTokens(1, 1), 0);                                        // one token: prefilled
  EXPECT_EQ(CachedPromptTokens(0, 0), 0);                                        // an empty prompt
  EXPECT_EQ(CachedPromptTokens(0, 2), 0);
}

TEST(ReplicaEngine, ClearGivesBackEveryRequestItHeld) {
  ReplicaEngine e(Model(), 8192, 1);  // one sequence at a time: the second waits
  e.Add(4, 100, 50);
  e.Add(5, 100, 50);
  std::vector<ReplicaEngine::Event> ev;
  ASSERT_TRUE(e.StartIteration(ev).has_value());
  const std::vector<uint64_t> held = e.Clear();
  EXPECT_EQ(held, (std::vector<uint64_t>{5, 4}));  // waiting first, then running
  EXPECT_TRUE(e.idle());
  EXPECT_FALSE(e.busy());
  EXPECT_EQ(e.outstanding_tokens(), 0);
  EXPECT_EQ(e.kv_used(), 0);
}

}  // namespace
}  // namespace awan::serving
