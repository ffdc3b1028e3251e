#include <gtest/gtest.h>

#include "common/rng.h"
#include "test_util.h"
#include "trace/csv.h"
#include "trace/openb_reader.h"

namespace awan::trace {
namespace {

const char* kNodes = "sn,cpu_milli,memory_mib,gpu,model\nn0,64000,262144,2,P100\nn1,96000,393216,8,G2\n";
const char* kPods =
    "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos\n"
    "p0,12000,16384,1,1000,,LS\n"
    "p1,6000,12288,1,460,V100M16|V100M32,LS\n"
    "p2,4000,8192,0,0,,BE\n"
    "p3,8000,8192,2,1500,|T4|,LS\n";

TEST(Csv, QuotesCrlfAndBlankLines) {
  auto rows = ParseCsv("a,\"b,c\",\"say \"\"hi\"\"\"\r\n\r\n1,2,3\n", "x.csv");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].fields[1].text, "b,c");
  EXPECT_EQ((*rows)[0].fields[2].text, "say \"hi\"");
  EXPECT_EQ((*rows)[1].line, 3);
  EXPECT_EQ((*rows)[1].fields[2].column, 5);
}

TEST(Csv, UnterminatedQuoteNamesTheSpot) {
  auto rows = ParseCsv("a,b\n1,\"2\n", "x.csv");
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().message(), "x.csv:2:3: unterminated quoted field");
  EXPECT_FALSE(ParseCsv("a,b\"c\n", "x.csv").ok());
}

TEST(OpenbNodes, ParsesNodes) {
  Fleet f;
  ASSERT_TRUE(ParseOpenbNodes(kNodes, "nodes.csv", f).ok());
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f.node(NodeIndex(1)).gpu_count, 8);
  EXPECT_EQ(f.models().Name(f.node(NodeIndex(1)).model), "G2");
  EXPECT_EQ(f.total_gpus(), 10);
}

TEST(OpenbNodes, ErrorsNameFileLineColumnAndExpectation) {
  Fleet f;
  Status s = ParseOpenbNodes("sn,cpu_milli,memory_mib,gpu,model\nn0,64000,abc,2,P100\n", "nodes.csv", f);
  EXPECT_EQ(s.message(),
            "nodes.csv:2:10: column 'memory_mib': expected an integer in 0..1099511627776, got 'abc'");
  Fleet g;
  s = ParseOpenbNodes("sn,cpu_milli,gpu,model\nn0,1,2,P100\n", "nodes.csv", g);
  EXPECT_EQ(s.message(),
            "nodes.csv:1:1: missing column 'memory_mib' (header has: sn, cpu_milli, gpu, model)");
  Fleet h;
  s = ParseOpenbNodes("sn,cpu_milli,memory_mib,gpu,model\nn0,1,2,3\n", "nodes.csv", h);
  EXPECT_EQ(s.message(), "nodes.csv:2:1: expected 5 fields, got 4");
  Fleet i;
  s = ParseOpenbNodes("sn,cpu_milli,memory_mib,gpu,model\nn0,1,2,99,X\n", "nodes.csv", i);
  EXPECT_NE(s.message().find("nodes.csv:2:"), std::string::npos);
  Fleet j;
  s = ParseOpenbNodes("sn,cpu_milli,memory_mib,gpu,model\nn0,1,2,1,X\nn0,1,2,1,X\n", "nodes.csv", j);
  EXPECT_EQ(s.message(), "nodes.csv:3:1: duplicate node name n0");
  Fleet k;
  EXPECT_FALSE(ParseOpenbNodes("", "nodes.csv", k).ok());
  EXPECT_FALSE(ParseOpenbNodes("sn,cpu_milli,memory_mib,gpu,model\n", "nodes.csv", k).ok());
  EXPECT_FALSE(ParseOpenbNodes("sn,cpu_milli,memory_mib,gpu,model\nn0,-5,2,1,X\n", "nodes.csv", k).ok());
}

TEST(OpenbPods, ConvertsAsThePapersConverterDoes) {
  AcceleratorRegistry models;
  auto pods = ParseOpenbPods(kPods, "pods.csv", models);
  ASSERT_TRUE(pods.ok()) << pods.status().ToString();
  ASSERT_EQ(pods->size(), 4u);
  const auto& p = *pods;
  EXPECT_TRUE(p[0].allowed_models.any_model());
  EXPECT_EQ(p[1].gpu_milli.value, 460);
  EXPECT_EQ(p[1].model_constraint, "V100M16|V100M32");
  EXPECT_TRUE(p[1].allowed_models.Allows(models.Find("V100M32")));
  EXPECT_FALSE(p[2].wants_gpu());
  EXPECT_EQ(p[3].gpu_milli.value, 1000);   // clamped
  EXPECT_EQ(p[3].model_constraint, "T4");  // empty parts dropped
}

TEST(OpenbPods, BadRowsAreErrorsNotSkips) {
  AcceleratorRegistry m;
  auto r = ParseOpenbPods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,x5\n", "pods.csv", m);
  EXPECT_EQ(r.status().message(),
            "pods.csv:2:10: column 'gpu_milli': expected an integer in 0..1073741824, got 'x5'");
  r = ParseOpenbPods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1,5\np0,1,1,1,5\n", "pods.csv", m);
  EXPECT_EQ(r.status().message(), "pods.csv:3:1: duplicate pod name 'p0'");
  r = ParseOpenbPods("name,cpu_milli,memory_mib,num_gpu\np0,1,1,1\n", "pods.csv", m);
  EXPECT_NE(r.status().message().find("missing column 'gpu_milli'"), std::string::npos);
  r = ParseOpenbPods("name,cpu_milli,memory_mib,num_gpu,gpu_milli\np0,1,1,1\n", "pods.csv", m);
  EXPECT_EQ(r.status().message(), "pods.csv:2:1: expected 5 fields, got 4");
}

TEST(OpenbPods, WorkloadNameFromFileName) {
  EXPECT_EQ(OpenbWorkloadName("/x/openb_pod_list_gpuspec33.csv"), "gpuspec33");
  EXPECT_EQ(OpenbWorkloadName("pods.csv"), "pods");
}

TEST(OpenbPods, RandomlyMutatedInputNeverCrashes) {
  // A cheap, always-on cousin of the libFuzzer target: mutate a valid file byte by byte; every result must
  // be either a parse or a clean error (run under ASan/UBSan in the debug preset).
  const std::string base = kPods;
  Rng rng(2024);
  const char alphabet[] = ",\"\n\r|-0123456789aZ ";
  for (int i = 0; i < 3000; ++i) {
    const std::string s = testing::Mutate(base, rng, alphabet, 6);
    AcceleratorRegistry m;
    auto r = ParseOpenbPods(s, "fuzz.csv", m);
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("fuzz.csv", 0), 0u) << r.status().message();
    }
    Fleet f;
    (void)ParseOpenbNodes(s, "fuzz.csv", f);
  }
}

}  // namespace
}  // namespace awan::trace
