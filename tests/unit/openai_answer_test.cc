// What the gateway reads from a replica's answer: the replica may be a tenant's own program, so malformed or
// hostile answers must leave the figures as they were and never throw (a throw in the proxy's thread would
// end the whole server).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/replica_standin.h"

namespace awan::server {
namespace {

using Json = nlohmann::json;

TEST(OpenAiAnswer, TheTimingIsReadOnlyWhereItIsNumbers) {
  double ttft = -1, tpot = 0;
  ReadAnswerTiming(Json::parse(R"({"timing": {"ttft_ms": 250, "tpot_ms": 40}})"), &ttft, &tpot);
  EXPECT_DOUBLE_EQ(ttft, 0.25);
  EXPECT_DOUBLE_EQ(tpot, 0.04);
  for (const char* hostile :
       {R"({"timing": []})", R"({"timing": {"ttft_ms": "fast", "tpot_ms": null}})", R"({"timing": 7})",
        R"([1, 2])", R"("text")", R"({"timing": {"ttft_ms": {}}})"}) {
    double a = -1, b = 0;
    EXPECT_NO_THROW(ReadAnswerTiming(Json::parse(hostile), &a, &b)) << hostile;
    EXPECT_EQ(a, -1) << hostile;
    EXPECT_EQ(b, 0) << hostile;
  }
  double a = -1, b = 0;
  EXPECT_NO_THROW(ReadAnswerTiming(Json::parse("{", nullptr, false), &a, &b));  // unparsable: discarded
  EXPECT_EQ(a, -1);
}

TEST(OpenAiAnswer, ThePrefilledShareComesFromTheReplicasOwnCounts) {
  // vLLM counts in its tokenizer's tokens, the gateway in words: the share is what carries over.
  EXPECT_EQ(AnswerPrefilledTokens(Json::parse(R"({"usage": {"prompt_tokens": 1300,
      "prompt_tokens_details": {"cached_tokens": 975}}})"),
                                  1000),
            250);
  EXPECT_EQ(AnswerPrefilledTokens(Json::parse(R"({"usage": {"prompt_tokens": 100,
      "prompt_tokens_details": {"cached_tokens": 0}}})"),
                                  80),
            80);
  // Fully cached: at least one token is computed.
  EXPECT_EQ(AnswerPrefilledTokens(Json::parse(R"({"usage": {"prompt_tokens": 100,
      "prompt_tokens_details": {"cached_tokens": 100}}})"),
                                  80),
            1);
  // Absent, malformed or hostile: all of the prompt, nothing thrown, no overflow.
  for (const char* answer :
       {R"({})", R"({"usage": {"prompt_tokens": 100}})", R"({"usage": {"prompt_tokens": 100,
        "prompt_tokens_details": null}})",
        R"({"usage": {"prompt_tokens": 100, "prompt_tokens_details": {"cached_tokens": "all"}}})",
        R"({"usage": {"prompt_tokens": 0, "prompt_tokens_details": {"cached_tokens": 5}}})",
        R"({"usage": {"prompt_tokens": -3, "prompt_tokens_details": {"cached_tokens": 5}}})",
        R"({"usage": 1})", R"([])"}) {
    int64_t got = 0;
    EXPECT_NO_THROW(got = AnswerPrefilledTokens(Json::parse(answer), 500)) << answer;
    EXPECT_EQ(got, 500) << answer;
  }
  EXPECT_EQ(AnswerPrefilledTokens(Json::parse(R"({"usage": {"prompt_tokens": 100,
      "prompt_tokens_details": {"cached_tokens": 1e300}}})"),
                                  500),
            1);  // more cached than the prompt: clamped, not overflowed
  EXPECT_EQ(AnswerPrefilledTokens(Json::parse(R"({"usage": {"prompt_tokens": 100,
      "prompt_tokens_details": {"cached_tokens": -1e300}}})"),
                                  500),
            500);
}

}  // namespace
}  // namespace awan::server
