#include <filesystem>

#include <gtest/gtest.h>

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

INSTANTIATE_TEST_SUITE_P(Files, Scenario, ::testing::ValuesIn(ScenarioFiles()),
                         [](const auto& info) {
                           std::string n = info.param.substr(0, info.param.size() - 4);
                           for (char& c : n) if (!isalnum(static_cast<unsigned char>(c))) c = '_';
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

}  // namespace
}  // namespace awan::testing
