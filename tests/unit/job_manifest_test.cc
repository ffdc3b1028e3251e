// Job manifests: the shipped examples parse against the ASEAN fleet; bad input is a clear error with the line
// and column; random edits of a valid manifest never crash the parser and never produce a job without its
// required fields.
#include "config/job_manifest.h"

#include <gtest/gtest.h>

#include "common/rng.h"
#include "config/fleet_file.h"
#include "test_util.h"
#include "trace/csv.h"

namespace awan::config {
namespace testing = ::awan::testing;
namespace {

std::unique_ptr<FleetFile> Asean() {
  auto f = ReadFleetFile(std::string(AWAN_SOURCE_DIR) + "/examples/fleets/asean.yaml");
  EXPECT_TRUE(f.ok()) << f.status().ToString();
  return std::move(*f);
}

TEST(JobManifest, ShippedExamplesParse) {
  auto f = Asean();
  for (const char* name : {"training-gang", "notebook", "inference-worker"}) {
    const std::string path = std::string(AWAN_SOURCE_DIR) + "/examples/jobs/" + name + ".yaml";
    auto text = trace::ReadFile(path);
    ASSERT_TRUE(text.ok()) << path;
    auto m = ParseJobManifest(*text, path, f->fleet);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_FALSE(m->job.name.empty());
  }
  auto text = trace::ReadFile(std::string(AWAN_SOURCE_DIR) + "/examples/jobs/training-gang.yaml");
  auto m = ParseJobManifest(*text, "gang.yaml", f->fleet);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->job.tasks, 4);
  EXPECT_EQ(m->job.task.gpu_count, 8);
  EXPECT_EQ(m->job.tenant, "my-university");
  EXPECT_EQ(m->job.reads, (std::vector<std::string>{"my-university-data"}));
  EXPECT_EQ(m->command.size(), 3u);
  EXPECT_EQ(m->env.at("NCCL_DEBUG"), "WARN");
  // JSON is YAML too: what `awan submit -o json` and API clients send.
  auto js = ParseJobManifest(
      R"({"apiVersion":"awan/v1","kind":"Job","metadata":{"name":"j"},"spec":{"gpus":0.5,"duration_s":60}})",
      "body", f->fleet);
  ASSERT_TRUE(js.ok()) << js.status().ToString();
  EXPECT_EQ(js->job.task.gpu_milli.value, 500);
  EXPECT_EQ(js->job.priority, 0);
  auto prio = ParseJobManifest(
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6, priority: -7}\n",
      "m.yaml", f->fleet);
  ASSERT_TRUE(prio.ok()) << prio.status().ToString();
  EXPECT_EQ(prio->job.priority, -7);
}

TEST(JobManifest, BadInputIsAClearError) {
  auto f = Asean();
  const std::string good =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 60}\n";
  ASSERT_TRUE(ParseJobManifest(good, "m.yaml", f->fleet).ok());
  auto imaged = ParseJobManifest(
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: [a], image: "
      "127.0.0.1:5000/awan/replica:abc}\n",
      "m.yaml", f->fleet);
  ASSERT_TRUE(imaged.ok()) << imaged.status().ToString();
  EXPECT_EQ(imaged->image, "127.0.0.1:5000/awan/replica:abc");
  EXPECT_FALSE(imaged->job.task.long_running);
  auto long_running = ParseJobManifest(
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: [a], long_running: "
      "true}\n",
      "m.yaml", f->fleet);
  ASSERT_TRUE(long_running.ok()) << long_running.status().ToString();
  EXPECT_TRUE(long_running->job.task.long_running);
  auto not_bool = ParseJobManifest(
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: [a], long_running: 3}\n",
      "m.yaml", f->fleet);
  ASSERT_FALSE(not_bool.ok());
  EXPECT_NE(not_bool.status().message().find("spec long_running"), std::string::npos)
      << not_bool.status().message();
  struct Case {
    std::string text, expect;
  };
  const std::vector<Case> cases = {
      {"apiVersion: v2\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6}\n",
       "m.yaml:1:13: apiVersion: expected awan/v1"},
      {"apiVersion: awan/v1\nkind: Pod\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6}\n",
       "kind: expected Job"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: 'a b'}\nspec: {gpus: 1, duration_s: 6}\n",
       "letters, digits"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1}\n",
       "give a command, a duration_s, or both"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 3.5, duration_s: 6}\n",
       "whole number of GPUs"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6, accelerator: "
       "TPU}\n",
       "no 'TPU'"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: []}\n",
       "command: empty"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: [a], env: {'A=B': "
       "c}}\n",
       "bad variable name"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6, colour: red}\n",
       "unknown key 'colour'"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x\nspec: {", "not valid YAML"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: [a], image: "
       "'--privileged'}\n",
       "spec image: a reference like"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, command: [a], image: "
       "'r/../../x'}\n",
       "spec image: a reference like"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6, image: r/x}\n",
       "needs a command"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6, priority: "
       "1000001}\n",
       "spec priority"},
      {"apiVersion: awan/v1\nkind: Job\nmetadata: {name: x}\nspec: {gpus: 1, duration_s: 6, priority: "
       "high}\n",
       "spec priority"},
      {"[1, 2]", "a manifest is a mapping"},
      {std::string(kMaxManifestBytes + 1, ' '), "more than the"},
  };
  for (const Case& c : cases) {
    auto r = ParseJobManifest(c.text, "m.yaml", f->fleet);
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.status().message().find(c.expect), std::string::npos) << r.status().message();
    EXPECT_EQ(r.status().message().rfind("m.yaml", 0), 0u) << r.status().message();
  }
}

// A key given twice is an error naming both lines (yaml-cpp would keep the first value silently), at any
// depth; several documents in one manifest are refused (only the first would be read).
TEST(JobManifest, DuplicateKeysAndSeveralDocumentsAreRefused) {
  auto f = Asean();
  const std::string head = "apiVersion: awan/v1\nkind: Job\nmetadata: {name: j}\n";
  auto dup = ParseJobManifest(head + "spec:\n  gpus: 1\n  cpu: 2\n  gpus: 8\n", "m.yaml", f->fleet);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.status().message(), "m.yaml:7:3: duplicate key 'gpus' (first at line 5)");
  auto env = ParseJobManifest(head + "spec:\n  gpus: 1\n  env: {A: x, A: y}\n", "m.yaml", f->fleet);
  ASSERT_FALSE(env.ok());
  EXPECT_NE(env.status().message().find("duplicate key 'A'"), std::string::npos) << env.status().message();
  auto two =
      ParseJobManifest(head + "spec: {gpus: 1}\n---\n" + head + "spec: {gpus: 2}\n", "m.yaml", f->fleet);
  ASSERT_FALSE(two.ok());
  EXPECT_NE(two.status().message().find("2 YAML documents"), std::string::npos) << two.status().message();
  // A leading '---' and trailing comments are one document.
  EXPECT_TRUE(ParseJobManifest("---\n" + head + "spec: {gpus: 1, duration_s: 60}\n---\n# nothing\n", "m.yaml",
                               f->fleet)
                  .ok());
}

TEST(JobManifest, SplitYamlDocumentsKeepsEachDocumentsText) {
  EXPECT_EQ(SplitYamlDocuments("a: 1\n---\nb: 2\n"), (std::vector<std::string>{"a: 1\n", "b: 2\n"}));
  EXPECT_EQ(SplitYamlDocuments("---\na: 1\n--- # c\n\n# only a comment\n---\nb: |\n  ---x\n"),
            (std::vector<std::string>{"a: 1\n", "b: |\n  ---x\n"}));
  EXPECT_EQ(SplitYamlDocuments("--- {a: 1}\n---x: 2\n"), (std::vector<std::string>{"{a: 1}\n---x: 2\n"}));
  EXPECT_TRUE(SplitYamlDocuments("# nothing\n\n").empty());
}

TEST(JobManifest, ArraySpecsAreReadLikeSbatch) {
  EXPECT_EQ(*ParseArraySpec("0-3"), (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(*ParseArraySpec("1,3,5-7"), (std::vector<int>{1, 3, 5, 6, 7}));
  EXPECT_EQ(*ParseArraySpec("0-15:4"), (std::vector<int>{0, 4, 8, 12}));
  EXPECT_EQ(*ParseArraySpec("7"), (std::vector<int>{7}));
  EXPECT_EQ(ParseArraySpec("0-9999")->size(), 10000u);
  for (const char* bad : {"", "0-10000", "5-1", "1,1", "a-b", "-3", "0-3:0", "0-", ",", "1000000", "0-3,2"}) {
    auto r = ParseArraySpec(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("expected like 0-999"), std::string::npos) << bad;
    }
  }
}

// An array element's place (kept in the stored manifest, so a restarted server gives it the same env).
TEST(JobManifest, ArrayElementsKeepTheirIndex) {
  auto f = Asean();
  const std::string spec = "}\nspec: {gpus: 1, duration_s: 60}\n";
  auto m = ParseJobManifest(
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: j-3, array: {index: 3, count: 8}" + spec, "m.yaml",
      f->fleet);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->array_index, 3);
  EXPECT_EQ(m->array_count, 8);
  EXPECT_EQ(ParseJobManifest("apiVersion: awan/v1\nkind: Job\nmetadata: {name: j" + spec, "m.yaml", f->fleet)
                ->array_index,
            -1);
  EXPECT_FALSE(ParseJobManifest(
                   "apiVersion: awan/v1\nkind: Job\nmetadata: {name: j, array: {index: 1, count: 0}" + spec,
                   "m.yaml", f->fleet)
                   .ok());
}

TEST(JobManifest, RandomEditsNeverCrashAndNeverYieldAnIncompleteJob) {
  auto f = Asean();
  auto text = trace::ReadFile(std::string(AWAN_SOURCE_DIR) + "/examples/jobs/training-gang.yaml");
  ASSERT_TRUE(text.ok());
  Rng rng(7);
  int ok = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string m = testing::Mutate(*text, rng, "{}[]:,-|'\" \n0123456789abcdefghxyzHJ.=", 4);
    auto r = ParseJobManifest(m, "fuzz.yaml", f->fleet);
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("fuzz.yaml", 0), 0u) << r.status().message();
      continue;
    }
    ++ok;
    EXPECT_FALSE(r->job.name.empty());
    EXPECT_GE(r->job.tasks, 1);
    EXPECT_GE(r->job.task.gpu_count, 1);
    EXPECT_TRUE(!r->command.empty() || r->job.duration_s > 0);
  }
  EXPECT_GT(ok, 0);  // some edits (in comments, say) leave it valid
}

}  // namespace
}  // namespace awan::config
