// The Philly job table reader: conversion (gangs, relative submit times, order), clear errors naming file,
// line and column, and random mutations that never crash it.
#include "trace/philly_reader.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "common/rng.h"
#include "test_util.h"

namespace awan::trace {
namespace {

const char* kJobs =
    "timestamp,duration,num_gpus,gpu_time,cluster\n"
    "2017-09-04 10:30:41,2240194.0,8,17921552.0,7f04ca\n"
    "2017-09-04 10:00:00,100.4,1,100.4,6214e9\n"
    "2017-09-05 00:00:00,10.0,32,320.0,b436b2\n"
    "2017-09-04 10:00:00,0.2,2,0.4,6214e9\n";

TEST(PhillyJobs, ConvertsGangsTimesAndOrder) {
  auto jobs = ParsePhillyJobs(kJobs, "jobs.csv");
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->size(), 4u);
  // Sorted by submit time, file order on ties; times relative to the first submission.
  EXPECT_EQ((*jobs)[0].name, "philly-3");
  EXPECT_EQ((*jobs)[0].submit_s, 0);
  EXPECT_EQ((*jobs)[0].duration_s, 100);  // rounded to the second
  EXPECT_EQ((*jobs)[1].name, "philly-5");
  EXPECT_EQ((*jobs)[1].duration_s, 1);  // never below one second
  EXPECT_EQ((*jobs)[1].task.gpu_count, 2);
  EXPECT_EQ((*jobs)[2].submit_s, 30 * 60 + 41);
  EXPECT_EQ((*jobs)[2].tenant, "7f04ca");
  EXPECT_EQ((*jobs)[2].tasks, 1);
  EXPECT_EQ((*jobs)[2].task.gpu_count, 8);
  EXPECT_EQ((*jobs)[3].submit_s, 14 * 3600);
  EXPECT_EQ((*jobs)[3].tasks, 4);  // 32 GPUs: a gang of four 8-GPU tasks
  EXPECT_EQ((*jobs)[3].task.gpu_count, 8);
  EXPECT_EQ((*jobs)[3].total_gpus(), 32);
  auto twelve =
      ParsePhillyJobs("timestamp,duration,num_gpus,gpu_time,cluster\n2017-09-04 10:00:00,1,12,12,a\n", "j");
  ASSERT_TRUE(twelve.ok()) << twelve.status().ToString();
  EXPECT_EQ((*twelve)[0].tasks, 2);  // 12 GPUs: two tasks of 6
  EXPECT_EQ((*twelve)[0].task.gpu_count, 6);
}

TEST(PhillyJobs, ReadsTheDevelopmentSplitOfTheRealTrace) {
  const std::string path =
      std::string(AWAN_SHARED_DIR) + "/traces/philly-dev/philly_jobs_2017-09-04_2017-10-31.csv";
  if (!std::filesystem::exists(path)) {
    if (std::getenv("CI")) FAIL() << "CI must have ../shared/traces (looked for " << path << ")";
    GTEST_SKIP() << "trace not found: " << path;
  }
  auto jobs = ReadPhillyJobs(path);
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  EXPECT_EQ(jobs->size(), 52849u);
  int64_t gangs = 0, gpus = 0;
  for (const JobSpec& j : *jobs) gangs += j.tasks > 1, gpus += j.total_gpus();
  EXPECT_EQ(gangs, 7 + 65 + 4 + 23);  // the 12-, 16-, 24- and 32-GPU jobs
  EXPECT_EQ(jobs->front().submit_s, 0);
  EXPECT_GT(jobs->back().submit_s, 50 * 86400);  // about eight weeks
}

TEST(PhillyJobs, CalendarArithmetic) {
  EXPECT_EQ(DaysFromCivil(1970, 1, 1), 0);
  EXPECT_EQ(DaysFromCivil(2000, 3, 1), 11017);
  EXPECT_EQ(DaysFromCivil(2017, 9, 4), 17413);
}

void ExpectError(const std::string& body, const std::string& expected) {
  auto r = ParsePhillyJobs("timestamp,duration,num_gpus,gpu_time,cluster\n" + body, "jobs.csv");
  ASSERT_FALSE(r.ok()) << body;
  EXPECT_EQ(r.status().message(), expected);
}

TEST(PhillyJobs, BadRowsAreErrorsWithFileLineAndColumn) {
  ExpectError("2017-09-31 10:00:00,1,1,1,a\n",
              "jobs.csv:2:1: column 'timestamp': expected 'YYYY-mm-dd HH:MM:SS', got '2017-09-31 10:00:00'");
  ExpectError("2017-09-04T10:00:00,1,1,1,a\n",
              "jobs.csv:2:1: column 'timestamp': expected 'YYYY-mm-dd HH:MM:SS', got '2017-09-04T10:00:00'");
  ExpectError("2017-09-04 10:00:00,-5,1,1,a\n",
              "jobs.csv:2:21: column 'duration': expected seconds (a number from 0 to 1e9), got '-5'");
  ExpectError("2017-09-04 10:00:00,nan,1,1,a\n",
              "jobs.csv:2:21: column 'duration': expected seconds (a number from 0 to 1e9), got 'nan'");
  ExpectError("2017-09-04 10:00:00,1,0,0,a\n",
              "jobs.csv:2:23: column 'num_gpus': a job needs at least 1 GPU");
  ExpectError("2017-09-04 10:00:00,1,17,17,a\n",
              "jobs.csv:2:23: column 'num_gpus': 17 GPUs do not split into 3 equal tasks of at most 8");
  ExpectError("2017-09-04 10:00:00,10,2,10,a\n",
              "jobs.csv:2:26: column 'gpu_time': expected duration x num_gpus (20.000000), got '10'");
  ExpectError("2017-09-04 10:00:00,1,1,1,\n", "jobs.csv:2:27: column 'cluster': empty virtual cluster");
  ExpectError("2017-09-04 10:00:00,1,1\n", "jobs.csv:2:1: expected 5 fields, got 3");
  auto no_col = ParsePhillyJobs("timestamp,duration,gpus\n", "jobs.csv");
  ASSERT_FALSE(no_col.ok());
  EXPECT_NE(no_col.status().message().find("missing column 'num_gpus'"), std::string::npos);
  EXPECT_FALSE(ParsePhillyJobs("timestamp,duration,num_gpus,gpu_time,cluster\n", "jobs.csv").ok());
  EXPECT_FALSE(ParsePhillyJobs("", "jobs.csv").ok());
}

TEST(PhillyJobs, RandomlyMutatedInputNeverCrashes) {
  const std::string base = kJobs;
  Rng rng(77);
  const char alphabet[] = ",\"\n\r:.- 0123456789e";
  for (int i = 0; i < 3000; ++i) {
    const std::string s = testing::Mutate(base, rng, alphabet, 6);
    auto r = ParsePhillyJobs(s, "fuzz.csv");
    if (!r.ok()) {
      EXPECT_EQ(r.status().message().rfind("fuzz.csv", 0), 0u) << r.status().message();
    } else {
      for (const JobSpec& j : *r) {
        EXPECT_GE(j.submit_s, 0);
        EXPECT_GE(j.duration_s, 1);
        EXPECT_GE(j.tasks, 1);
      }
    }
  }
}

}  // namespace
}  // namespace awan::trace
