#include "core/snapshot.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace awan {
namespace {

using testing::AddNode;
using testing::Pod;

Placement At(NodeIndex n, std::initializer_list<int> devices) {
  Placement p{n, {}};
  for (int d : devices) p.devices.Add(d);
  return p;
}

TEST(Snapshot, AssignAndReleaseKeepTotalsExact) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 32000, 65536, 4);
  ClusterSnapshot s(f);
  EXPECT_EQ(s.gpu_capacity_milli(), 4000);
  PodSpec share = Pod("a", 4000, 1024, 1, 300, f);
  PodSpec two = Pod("b", 8000, 2048, 2, 1000, f);
  ASSERT_TRUE(s.Assign(share, At(n, {1})).ok());
  ASSERT_TRUE(s.Assign(two, At(n, {2, 3})).ok());
  const NodeState& st = s.node(n);
  EXPECT_EQ(st.gpu_left[1], 700);
  EXPECT_EQ(st.gpu_left[2], 0);
  EXPECT_EQ(st.gpu_left_total, 1700);
  EXPECT_EQ(st.cpu_left.value, 20000);
  EXPECT_EQ(st.pods, 2);
  EXPECT_EQ(st.gpu_pods_by_width[0], 1);
  EXPECT_EQ(st.gpu_pods_by_width[2], 1);
  EXPECT_EQ(s.gpu_allocated_milli(), 2300);
  ASSERT_TRUE(s.Release(two, At(n, {2, 3})).ok());
  EXPECT_EQ(s.gpu_allocated_milli(), 300);
  EXPECT_EQ(s.node(n).FullyFreeGpus(), 3);
}

TEST(Snapshot, NeverOverCommitsAndChangesNothingOnRefusal) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 4000, 1000, 1);
  ClusterSnapshot s(f);
  ASSERT_TRUE(s.Assign(Pod("a", 1000, 100, 1, 600, f), At(n, {0})).ok());
  const uint64_t gen = s.node(n).generation;
  EXPECT_FALSE(s.Assign(Pod("b", 1000, 100, 1, 500, f), At(n, {0})).ok());  // GPU
  EXPECT_FALSE(s.Assign(Pod("c", 9000, 100, 0, 0, f), At(n, {})).ok());     // CPU
  EXPECT_FALSE(s.Assign(Pod("d", 100, 5000, 0, 0, f), At(n, {})).ok());     // memory
  EXPECT_FALSE(s.Assign(Pod("e", 100, 10, 1, 100, f), At(n, {})).ok());     // device count
  EXPECT_FALSE(s.Assign(Pod("g", 100, 10, 1, 100, f), At(n, {3})).ok());    // no such device
  EXPECT_EQ(s.node(n).generation, gen);
  EXPECT_EQ(s.gpu_allocated_milli(), 600);
  EXPECT_EQ(s.node(n).gpu_left[0], 400);
}

TEST(Snapshot, GenerationsChangeOnEveryWriteAndCopiesGetNewUids) {
  Fleet f;
  NodeIndex a = AddNode(f, "a", 4000, 1000, 1), b = AddNode(f, "b", 4000, 1000, 1);
  ClusterSnapshot s(f);
  const uint64_t ga = s.node(a).generation, gb = s.node(b).generation;
  ASSERT_TRUE(s.Assign(Pod("p", 100, 10, 0, 0, f), At(a, {})).ok());
  EXPECT_NE(s.node(a).generation, ga);
  EXPECT_EQ(s.node(b).generation, gb);
  ClusterSnapshot copy = s;
  EXPECT_NE(copy.uid(), s.uid());
  ASSERT_TRUE(copy.Assign(Pod("q", 100, 10, 1, 1000, f), At(b, {0})).ok());
  EXPECT_EQ(s.node(b).gpu_left[0], 1000);  // the original is untouched
  s.SetUnavailable(b, true);
  EXPECT_TRUE(s.node(b).unavailable);
}

}  // namespace
}  // namespace awan
