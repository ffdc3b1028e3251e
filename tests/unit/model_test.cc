#include <gtest/gtest.h>

#include "model/fleet.h"
#include "model/topology.h"
#include "test_util.h"

namespace awan {
namespace {

TEST(AcceleratorRegistry, InternsNamesToStableIds) {
  AcceleratorRegistry r;
  AcceleratorId a = r.Intern("A100"), b = r.Intern("H100");
  EXPECT_EQ(r.Intern("A100"), a);
  EXPECT_NE(a, b);
  EXPECT_EQ(r.Name(b), "H100");
  EXPECT_EQ(r.Find("T4"), kNoAccelerator);
  EXPECT_EQ(r.Intern(""), kNoAccelerator);
}

TEST(AcceleratorSet, EmptyAllowsAnyModelOtherwiseMembership) {
  AcceleratorRegistry r;
  AcceleratorId a = r.Intern("A100"), b = r.Intern("H100"), t = r.Intern("T4");
  AcceleratorSet any;
  EXPECT_TRUE(any.any_model());
  EXPECT_TRUE(any.Allows(t));
  AcceleratorSet big = AcceleratorSet::Of({a, b});
  EXPECT_TRUE(big.Allows(a));
  EXPECT_TRUE(big.Allows(b));
  EXPECT_FALSE(big.Allows(t));
  EXPECT_FALSE(big.Allows(kNoAccelerator));
}

TEST(Topology, BuildsTheTreeAndFindsCommonLevels) {
  Topology t;
  TopologyPath n1 = t.Place("my-1", "az-a", "blk-1", "sn-1");
  TopologyPath n2 = t.Place("my-1", "az-a", "blk-1", "sn-1");
  TopologyPath n3 = t.Place("my-1", "az-a", "blk-2", "sn-1");  // same local name, other block
  TopologyPath n4 = t.Place("sg-1", "az-a", "blk-1", "sn-1");
  EXPECT_EQ(n1, n2);
  EXPECT_NE(n1.at(TopologyLevel::kSupernode), n3.at(TopologyLevel::kSupernode));
  EXPECT_EQ(Topology::CommonLevel(n1, n2), 3);
  EXPECT_EQ(Topology::CommonLevel(n1, n3), 1);  // same zone
  EXPECT_EQ(Topology::CommonLevel(n1, n4), -1);
  EXPECT_EQ(t.DomainCount(TopologyLevel::kRegion), 2u);
  EXPECT_EQ(t.DomainCount(TopologyLevel::kBlock), 3u);
  EXPECT_EQ(t.Parent(TopologyLevel::kSupernode, n3.at(TopologyLevel::kSupernode)),
            n3.at(TopologyLevel::kBlock));
  EXPECT_EQ(t.DomainName(TopologyLevel::kZone, n4.at(TopologyLevel::kZone)), "az-a");
}

TEST(Fleet, RejectsDuplicatesAndBadGpuCounts) {
  Fleet f;
  testing::AddNode(f, "n1", 1000, 1000, 2);
  NodeSpec dup;
  dup.name = "n1";
  EXPECT_EQ(f.AddNode(dup).status().code(), StatusCode::kAlreadyExists);
  NodeSpec many;
  many.name = "n2";
  many.gpu_count = kMaxGpusPerNode + 1;
  EXPECT_FALSE(f.AddNode(many).ok());
  EXPECT_EQ(f.total_gpus(), 2);
  NodeIndex i;
  EXPECT_TRUE(f.FindNode("n1", &i));
  EXPECT_FALSE(f.FindNode("zz", &i));
}

TEST(PodSpec, ShapeHelpers) {
  Fleet f;
  PodSpec share = testing::Pod("s", 1000, 10, 1, 300, f);
  PodSpec whole = testing::Pod("w", 1000, 10, 4, 1000, f);
  PodSpec cpu = testing::Pod("c", 1000, 10, 0, 0, f);
  EXPECT_TRUE(share.is_share());
  EXPECT_FALSE(whole.is_share());
  EXPECT_EQ(whole.total_gpu().value, 4000);
  EXPECT_FALSE(cpu.wants_gpu());
  EXPECT_EQ(cpu.total_gpu().value, 0);
}

}  // namespace
}  // namespace awan
