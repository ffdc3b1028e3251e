// Routers: residency first (no router can pick a replica the request may not reach), then latency, work or
// prefix-cache affinity bounded by load.
#include <gtest/gtest.h>

#include "policies/builtin.h"
#include "serving/routers.h"

namespace awan {
namespace {

std::unique_ptr<Router> Build(const std::string& n) {
  auto r = policies::BuiltinRegistry().BuildRouter(n);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return std::move(*r);
}

TEST(Routers, ResidencyComesFirstForEveryRouter) {
  // Replica 7 is the nearest, the least loaded and holds the whole prompt, but the request may not reach it.
  const std::vector<ReplicaView> replicas = {
      {7, false, 1, 0, 8}, {3, true, 20, 500, 0}, {4, true, 30, 900, 0}};
  static constexpr uint64_t kIds[] = {1, 2, 3, 4, 5, 6, 7, 8};
  const RouteRequest req{kIds, 4096};
  for (const std::string n : {"nearest", "least-work", "prefix"}) {
    const std::optional<uint32_t> to = RouteWith(*Build(n), req, replicas);
    ASSERT_TRUE(to.has_value()) << n;
    EXPECT_NE(*to, 7u) << n;
  }
  const std::vector<ReplicaView> none = {{7, false, 1, 0, 8}};
  EXPECT_FALSE(RouteWith(*Build("nearest"), req, none).has_value());
  EXPECT_EQ(policies::BuiltinRegistry().BuildRouter("random").status().code(), StatusCode::kNotFound);
}

TEST(Routers, NearestLeastWorkAndPrefixAffinityBoundedByLoad) {
  static constexpr uint64_t kIds[] = {1, 2, 3, 4};
  const RouteRequest req{kIds, 4000};  // 1,000 tokens per block
  const std::vector<ReplicaView> r = {{0, true, 5, 3000, 0}, {1, true, 40, 100, 0}, {2, true, 25, 2500, 4}};
  EXPECT_EQ(RouteWith(*Build("nearest"), req, r), 0u);
  EXPECT_EQ(RouteWith(*Build("least-work"), req, r), 1u);
  // Replica 2 holds the whole prompt (saves 4,000 tokens) for 2,400 more tokens of work: worth it.
  EXPECT_EQ(RouteWith(*Build("prefix"), req, r), 2u);
  // With 6,000 more tokens of work it is not.
  std::vector<ReplicaView> busy = r;
  busy[2].outstanding_tokens = 6100;
  EXPECT_EQ(RouteWith(*Build("prefix"), req, busy), 1u);
}

TEST(Routers, PrefixCacheCountsLeadingBlocksAndForgetsTheLeastRecent) {
  serving::PrefixCache c(4);
  const std::vector<uint64_t> a = {1, 2, 3}, b = {1, 2, 9}, d = {5, 6};
  c.Insert(a);
  EXPECT_EQ(c.CachedPrefix(a), 3);
  EXPECT_EQ(c.CachedPrefix(b), 2);  // stops at the first miss
  c.Insert(d);                      // 5 blocks for 4 places: 1, the least recent, goes
  EXPECT_EQ(c.size(), 4u);
  EXPECT_EQ(c.CachedPrefix(a), 0);
  EXPECT_EQ(c.CachedPrefix(std::vector<uint64_t>{2, 3}), 2);
}

}  // namespace
}  // namespace awan
