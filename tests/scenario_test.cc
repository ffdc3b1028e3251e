#include <gtest/gtest.h>

#include <filesystem>

#include "jobs_scenario_runner.h"
#include "scenario_runner.h"

namespace awan::testing {
namespace {

std::vector<std::string> ScenarioFiles() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(AWAN_SCENARIO_DIR)) {
    if (e.path().extension() == ".scn") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class Scenario : public ::testing::TestWithParam<std::string> {};

TEST_P(Scenario, Passes) {
  Status s = RunScenarioFile(std::string(AWAN_SCENARIO_DIR) + "/" + GetParam());
  EXPECT_TRUE(s.ok()) << s.message();
}

INSTANTIATE_TEST_SUITE_P(Files, Scenario, ::testing::ValuesIn(ScenarioFiles()), [](const auto& info) {
  std::string n = info.param.substr(0, info.param.size() - 4);
  for (char& c : n)
    if (!isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
});

TEST(ScenarioRunner, AWrongExpectationFailsWithItsLine) {
  Status s = RunScenarioText("node a gpus=1\npod p gpus=1\nexpect p on b\n", "inline");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("inline:3"), std::string::npos) << s.message();
  s = RunScenarioText("node a gpus=1\npod p gpus=2\nexpect p on a\n", "inline");
  EXPECT_NE(s.message().find("unschedulable"), std::string::npos) << s.message();
  EXPECT_FALSE(RunScenarioText("frobnicate\n", "inline").ok());
}

std::vector<std::string> JobScenarioFiles() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(std::string(AWAN_SCENARIO_DIR) + "/jobs")) {
    if (e.path().extension() == ".jscn") out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

class JobScenario : public ::testing::TestWithParam<std::string> {};

TEST_P(JobScenario, Passes) {
  Status s = RunJobScenarioFile(std::string(AWAN_SCENARIO_DIR) + "/jobs/" + GetParam());
  EXPECT_TRUE(s.ok()) << s.message();
}

INSTANTIATE_TEST_SUITE_P(JobFiles, JobScenario, ::testing::ValuesIn(JobScenarioFiles()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 5);
                           for (char& c : n)
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

TEST(JobScenarioRunner, AWrongExpectationFailsWithItsLine) {
  const std::string base =
      "fleet nodes=1 gpus=8\ntenant a guaranteed=8\njob j tenant=a at=0 duration=10 gpus=8\n";
  Status s = RunJobScenarioText(base + "expect j start=0 end=11\n", "inline");
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("inline:4"), std::string::npos) << s.message();
  EXPECT_TRUE(RunJobScenarioText(base + "expect j start=0 end=10\n", "inline").ok());
  EXPECT_FALSE(RunJobScenarioText(base + "expect j never\n", "inline").ok());
  EXPECT_FALSE(RunJobScenarioText(base + "frobnicate\n", "inline").ok());
}

}  // namespace
}  // namespace awan::testing
