#include "core/snapshot.h"

#include <gtest/gtest.h>

#include "common/rng.h"
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

TEST(Snapshot, ADeviceOutOfServiceOffersNoRoomAndComesBackWhole) {
  Fleet f;
  NodeIndex n = AddNode(f, "n", 32000, 65536, 4);
  ClusterSnapshot s(f);
  PodSpec one = Pod("a", 1000, 1024, 1, 1000, f);
  ASSERT_TRUE(s.Assign(one, At(n, {1})).ok());
  EXPECT_EQ(s.SetDeviceHealthy(n, 1, false).code(), StatusCode::kFailedPrecondition);  // in use
  EXPECT_EQ(s.SetDeviceHealthy(n, 4, false).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(s.SetDeviceHealthy(n, 2, false).ok());
  EXPECT_EQ(s.gpu_capacity_milli(), 3000);
  EXPECT_EQ(s.node(n).gpu_left_total, 2000);
  EXPECT_EQ(s.node(n).FullyFreeGpus(), 2);
  EXPECT_FALSE(s.Assign(one, At(n, {2})).ok());
  ASSERT_TRUE(s.SetDeviceHealthy(n, 2, false).ok());  // twice: no change
  EXPECT_EQ(s.gpu_capacity_milli(), 3000);
  ASSERT_TRUE(s.SetDeviceHealthy(n, 2, true).ok());
  EXPECT_EQ(s.gpu_capacity_milli(), 4000);
  EXPECT_EQ(s.node(n).gpu_left_total, 3000);
  EXPECT_TRUE(s.Assign(one, At(n, {2})).ok());
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

// The free-GPU index stays exact through assignments, releases and nodes going down, across 64-bit word
// boundaries: for k whole GPUs, exactly the available nodes with k fully free devices; for a fractional pod,
// at least every node that can take it.
TEST(Snapshot, FreeGpuIndexFollowsEveryChange) {
  Fleet f;
  for (int i = 0; i < 150; ++i) AddNode(f, "n" + std::to_string(i), 64000, 64000, 1 + i % 8);
  ClusterSnapshot s(f);
  Rng rng(7);
  std::vector<std::pair<PodSpec, Placement>> placed;
  auto check = [&] {
    for (int k = 1; k <= 8; ++k) {
      const std::span<const uint64_t> room = s.GpuRoom(Pod("w", 1, 1, k, 1000, f));
      for (uint32_t i = 0; i < s.size(); ++i) {
        const NodeState& n = s.node(NodeIndex(i));
        const bool bit = (room[i / 64] >> (i % 64)) & 1;
        ASSERT_EQ(bit, !n.unavailable && n.fully_free_gpus >= k) << "node " << i << ", " << k << " GPUs";
      }
    }
    const PodSpec share = Pod("s", 1, 1, 1, 300, f);
    const std::span<const uint64_t> room = s.GpuRoom(share);
    for (uint32_t i = 0; i < s.size(); ++i) {
      const NodeState& n = s.node(NodeIndex(i));
      if (!n.unavailable && n.HasDevices(1, 300)) {
        ASSERT_TRUE((room[i / 64] >> (i % 64)) & 1) << i;
      }
    }
  };
  check();
  for (int step = 0; step < 2000; ++step) {
    const int op = static_cast<int>(rng.Uniform(10));
    const NodeIndex n(static_cast<uint32_t>(rng.Uniform(150)));
    if (op < 5) {  // a whole-GPU or a fractional pod on the first devices with room
      const NodeState& ns = s.node(n);
      const bool frac = op == 0;
      const int want = frac ? 1 : 1 + static_cast<int>(rng.Uniform(3));
      const int32_t milli = frac ? 250 : 1000;
      Placement p{n, {}};
      for (int d = 0; d < ns.gpu_count && p.devices.count < want; ++d)
        if (ns.gpu_left[d] >= milli) p.devices.Add(d);
      if (p.devices.count < want) continue;
      PodSpec pod = Pod("p" + std::to_string(step), 1, 1, want, milli, f);
      ASSERT_TRUE(s.Assign(pod, p).ok());
      placed.emplace_back(pod, p);
    } else if (op < 9 && !placed.empty()) {
      const size_t k = static_cast<size_t>(rng.Uniform(placed.size()));
      ASSERT_TRUE(s.Release(placed[k].first, placed[k].second).ok());
      placed.erase(placed.begin() + static_cast<std::ptrdiff_t>(k));
    } else {
      s.SetUnavailable(n, !s.node(n).unavailable);
    }
    if (step % 50 == 0) check();
  }
  check();
  ClusterSnapshot copy = s;  // a copy carries the index
  for (int k = 1; k <= 8; ++k) {
    const PodSpec pod = Pod("w", 1, 1, k, 1000, f);
    const std::span<const uint64_t> a = s.GpuRoom(pod), b = copy.GpuRoom(pod);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end()));
  }
  EXPECT_TRUE(s.GpuRoom(Pod("cpu", 1, 1, 0, 0, f)).empty());
}

}  // namespace
}  // namespace awan
