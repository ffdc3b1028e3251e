// Fleet files: the shipped examples load with the topology and tenants they describe; every kind of bad
// input is an error naming file, line and column; random mutations never crash the parser.
#include "config/fleet_file.h"

#include <gtest/gtest.h>

#include "common/rng.h"
#include "test_util.h"

namespace awan::config {
namespace {

const char* kSmall = R"(name: small
node_types:
  a100x8: {accelerator: A100, gpus: 8, cpu: 128, memory_gib: 1024, price_per_gpu_hour: 2.5}
  cpu: {cpu: 64, memory_gib: 256}
regions:
  - name: r1
    jurisdiction: MY
    zones:
      - name: z1
        blocks:
          - name: b1
            supernodes:
              - {name: s1, nodes: {type: a100x8, count: 2}}
              - {name: s2, nodes: {type: cpu, count: 1}}
tenants:
  - {name: t1, guaranteed_gpus: 8, cohort: c, borrowing_limit_gpus: 4, weight: 2}
)";

TEST(FleetFile, ExplicitTreeTypesAndTenants) {
  auto f = ParseFleetFile(kSmall, "small.yaml");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const Fleet& fleet = (*f)->fleet;
  ASSERT_EQ(fleet.size(), 3u);
  EXPECT_EQ(fleet.total_gpus(), 16);
  EXPECT_EQ(fleet.node(NodeIndex(0)).name, "z1-b1-s1-0");
  EXPECT_EQ(fleet.node(NodeIndex(0)).cpu.value, 128000);
  EXPECT_EQ(fleet.node(NodeIndex(0)).memory.value, 1024 * 1024);
  EXPECT_EQ(fleet.models().Name(fleet.node(NodeIndex(1)).model), "A100");
  EXPECT_EQ(fleet.node(NodeIndex(2)).gpu_count, 0);
  EXPECT_EQ(fleet.topology().DomainCount(TopologyLevel::kSupernode), 2u);
  EXPECT_EQ(Topology::CommonLevel(fleet.node(NodeIndex(0)).topology, fleet.node(NodeIndex(1)).topology), 3);
  EXPECT_EQ(Topology::CommonLevel(fleet.node(NodeIndex(0)).topology, fleet.node(NodeIndex(2)).topology), 2);
  EXPECT_EQ((*f)->node_type_of[2], "cpu");
  EXPECT_DOUBLE_EQ((*f)->node_types.at("a100x8").price_per_gpu_hour, 2.5);
  ASSERT_EQ((*f)->tenants.size(), 1u);
  EXPECT_EQ((*f)->tenants[0].borrowing_limit_gpus, 4);
  EXPECT_EQ((*f)->tenants[0].lending_limit_gpus, kUnlimited);
  EXPECT_DOUBLE_EQ((*f)->tenants[0].weight, 2.0);
  EXPECT_FALSE((*f)->Tenant("nobody").ok());  // no default_tenant
}

TEST(FleetFile, ThePhillyLikeExample) {
  auto f = ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/philly-like.yaml");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const Fleet& fleet = (*f)->fleet;
  EXPECT_EQ(fleet.size(), 352u);
  EXPECT_EQ(fleet.total_gpus(), 352 * 8);
  EXPECT_EQ(fleet.topology().DomainCount(TopologyLevel::kSupernode), 88u);
  EXPECT_EQ(fleet.topology().DomainCount(TopologyLevel::kBlock), 11u);
  ASSERT_EQ((*f)->tenants.size(), 11u);
  int64_t guaranteed = 0;
  for (const TenantSpec& t : (*f)->tenants) guaranteed += t.guaranteed_gpus;
  EXPECT_EQ(guaranteed, 352 * 8);  // the VCs' node counts cover the fleet
  auto other = (*f)->Tenant("23dbec");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->guaranteed_gpus, 8);
  EXPECT_EQ(other->cohort, "philly");
}

TEST(FleetFile, TheSmallLabExample) {
  auto f = ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/small-lab.yaml");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const Fleet& fleet = (*f)->fleet;
  EXPECT_EQ(fleet.size(), 8u + 6 + 4 + 8);
  EXPECT_EQ(fleet.total_gpus(), 8 * 8 + 6 * 4 + 8 * 4);
  EXPECT_EQ(fleet.topology().DomainCount(TopologyLevel::kZone), 2u);
  ASSERT_EQ((*f)->tenants.size(), 3u);
  EXPECT_EQ((*f)->tenants[0].borrowing_limit_gpus, 32);
  EXPECT_EQ((*f)->tenants[2].priority, -1);
}

void ExpectError(const std::string& text, const std::string& expected) {
  auto f = ParseFleetFile(text, "f.yaml");
  ASSERT_FALSE(f.ok()) << text;
  EXPECT_EQ(f.status().message(), expected) << text;
}

TEST(FleetFile, BadInputIsAnErrorWithLineAndColumn) {
  const std::string types = "node_types:\n  t: {accelerator: A, gpus: 8, cpu: 8, memory_gib: 8}\n";
  const std::string zone = "regions:\n  - name: r\n    zones:\n      - name: z\n";
  ExpectError(types + zone + "        layout: {type: t, nodes: 2, colour: red}\n",
              "f.yaml:7:37: layout: unknown key 'colour' (allowed: type, nodes, nodes_per_supernode, "
              "supernodes_per_block)");
  ExpectError(types + zone + "        layout: {type: u, nodes: 2}\n", "f.yaml:7:24: unknown node type 'u'");
  ExpectError(types + zone + "        layout: {type: t, nodes: many}\n",
              "f.yaml:7:34: layout nodes: expected an integer in 1..1000000, got 'many'");
  ExpectError("node_types:\n  t: {accelerator: A, gpus: 17, cpu: 8, memory_gib: 8}\nregions: []\n",
              "f.yaml:2:29: node type 't' gpus: expected an integer in 0..16, got '17'");
  ExpectError("node_types:\n  t: {gpus: 2, cpu: 8, memory_gib: 8}\nregions: []\n",
              "f.yaml:2:6: node type 't': has gpus but no 'accelerator'");
  ExpectError("node_types:\n  t: {accelerator: A, gpus: 2, memory_gib: 8}\nregions: []\n",
              "f.yaml:2:6: node type 't': missing 'cpu'");
  ExpectError(types + zone, "f.yaml:6:9: zone 'z': give exactly one of 'blocks' or 'layout'");
  ExpectError(types + "regions: []\n", "f.yaml:3:10: the fleet has no nodes");
  ExpectError(types + zone + "        layout: {type: t, nodes: 1}\ntenants:\n  - {name: a}\n  - {name: a}\n",
              "f.yaml:10:5: tenant 'a' is listed twice");
  ExpectError("- just\n- a list\n",
              "f.yaml:1:1: a fleet file is a mapping (name, node_types, regions, tenants)");
  auto bad = ParseFleetFile("node_types: {t: [\n", "f.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("f.yaml:", 0), 0u);
  EXPECT_NE(bad.status().message().find("not valid YAML"), std::string::npos);
}

TEST(FleetFile, RandomlyMutatedInputNeverCrashes) {
  const std::string base = kSmall;
  Rng rng(5);
  const char alphabet[] = "{}[]:,- \n\"'#0123456789abz";
  for (int i = 0; i < 2000; ++i) {
    const std::string s = testing::Mutate(base, rng, alphabet, 5);
    auto f = ParseFleetFile(s, "fuzz.yaml");
    if (!f.ok()) {
      EXPECT_EQ(f.status().message().rfind("fuzz.yaml", 0), 0u) << f.status().message();
    }
  }
}

}  // namespace
}  // namespace awan::config
