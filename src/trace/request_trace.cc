#include "trace/request_trace.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "trace/csv.h"
#include "trace/philly_reader.h"

namespace awan::trace {
namespace {

// "YYYY-MM-DD HH:MM:SS[.fraction]" in milliseconds since the epoch; -1 if malformed.
int64_t ParseTimestampMs(std::string_view s) {
  auto num = [&](size_t at, size_t n, int64_t lo, int64_t hi) -> int64_t {
    if (at + n > s.size()) return -1;
    int64_t v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v < lo || v > hi ? -1 : v;
  };
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
      s[16] != ':')
    return -1;
  const int64_t y = num(0, 4, 1970, 9999), mo = num(5, 2, 1, 12), d = num(8, 2, 1, 31);
  const int64_t h = num(11, 2, 0, 23), mi = num(14, 2, 0, 59), se = num(17, 2, 0, 60);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0) return -1;
  int64_t ms = 0;
  if (s.size() > 19) {
    if (s[19] != '.' || s.size() == 20 || s.size() > 30) return -1;
    int64_t scale = 100;
    for (size_t i = 20; i < s.size(); ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      ms += (s[i] - '0') * scale;
      scale /= 10;
    }
  }
  return ((DaysFromCivil(y, static_cast<int>(mo), static_cast<int>(d)) * 24 + h) * 60 + mi) * 60000 +
         se * 1000 + ms;
}

void SortByArrival(std::vector<InferenceRequest>& out) {
  std::stable_sort(out.begin(), out.end(),
                   [](const InferenceRequest& a, const InferenceRequest& b) { return a.at_ms < b.at_ms; });
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

StatusOr<std::vector<InferenceRequest>> ParseAzureLlmCsv(std::string_view text, std::string_view source) {
  AWAN_ASSIGN_OR_RETURN(std::vector<CsvRow> rows, ParseCsv(text, source));
  if (rows.empty()) return InvalidArgument(fmt::format("{}: empty file (expected a CSV header)", source));
  const CsvHeader header(rows[0], std::string(source));
  AWAN_ASSIGN_OR_RETURN(int c_time, header.Require("TIMESTAMP"));
  AWAN_ASSIGN_OR_RETURN(int c_in, header.Require("ContextTokens"));
  AWAN_ASSIGN_OR_RETURN(int c_out, header.Require("GeneratedTokens"));
  if (rows.size() - 1 > kMaxRequests)
    return InvalidArgument(
        fmt::format("{}: {} requests (at most {})", source, rows.size() - 1, kMaxRequests));
  std::vector<InferenceRequest> out;
  out.reserve(rows.size() - 1);
  int64_t first = INT64_MAX;
  std::vector<int64_t> abs_ms;
  abs_ms.reserve(rows.size() - 1);
  for (size_t i = 1; i < rows.size(); ++i) {
    const CsvRow& row = rows[i];
    AWAN_RETURN_IF_ERROR(CheckFieldCount(source, rows[0], row));
    const CsvField& t = row.fields[static_cast<size_t>(c_time)];
    const int64_t ms = ParseTimestampMs(t.text);
    if (ms < 0)
      return FieldError(source, row.line, t.column,
                        fmt::format("bad TIMESTAMP '{}' (expected YYYY-MM-DD HH:MM:SS.fffffff)", t.text));
    AWAN_ASSIGN_OR_RETURN(int64_t in, ParseCount(source, row, c_in, "ContextTokens", kMaxTokens));
    AWAN_ASSIGN_OR_RETURN(int64_t gen, ParseCount(source, row, c_out, "GeneratedTokens", kMaxTokens));
    InferenceRequest r;
    r.prompt_tokens = static_cast<int32_t>(in);
    r.output_tokens = static_cast<int32_t>(gen);
    out.push_back(std::move(r));
    abs_ms.push_back(ms);
    first = std::min(first, ms);
  }
  for (size_t i = 0; i < out.size(); ++i) out[i].at_ms = abs_ms[i] - first;
  SortByArrival(out);
  return out;
}

StatusOr<std::vector<InferenceRequest>> ParseMooncakeJsonl(std::string_view text, std::string_view source) {
  std::vector<InferenceRequest> out;
  size_t line_start = 0;
  int line = 0;
  auto count = [&](const nlohmann::json& obj, const char* key, int64_t max) -> StatusOr<int64_t> {
    const auto it = obj.find(key);
    if (it == obj.end()) return InvalidArgument(fmt::format("{}:{}: missing \"{}\"", source, line, key));
    if (!it->is_number_integer() || it->get<int64_t>() < 0 || it->get<int64_t>() > max)
      return InvalidArgument(fmt::format("{}:{}: \"{}\" must be an integer in [0, {}], got {}", source, line,
                                         key, max, it->dump()));
    return it->get<int64_t>();
  };
  while (line_start < text.size()) {
    size_t end = text.find('\n', line_start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view l = text.substr(line_start, end - line_start);
    line_start = end + 1;
    ++line;
    while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t')) l.remove_suffix(1);
    if (l.empty()) continue;
    if (out.size() >= kMaxRequests)
      return InvalidArgument(fmt::format("{}: more than {} requests", source, kMaxRequests));
    const nlohmann::json obj = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded() || !obj.is_object())
      return InvalidArgument(fmt::format("{}:{}: not a JSON object", source, line));
    InferenceRequest r;
    AWAN_ASSIGN_OR_RETURN(r.at_ms, count(obj, "timestamp", int64_t{1} << 50));
    AWAN_ASSIGN_OR_RETURN(int64_t in, count(obj, "input_length", kMaxTokens));
    AWAN_ASSIGN_OR_RETURN(int64_t gen, count(obj, "output_length", kMaxTokens));
    r.prompt_tokens = static_cast<int32_t>(in);
    r.output_tokens = static_cast<int32_t>(gen);
    if (const auto h = obj.find("hash_ids"); h != obj.end()) {
      if (!h->is_array() || h->size() > static_cast<size_t>(kMaxTokens / 512 + 1))
        return InvalidArgument(fmt::format("{}:{}: \"hash_ids\" must be an array of at most {} integers",
                                           source, line, kMaxTokens / 512 + 1));
      for (const nlohmann::json& id : *h) {
        if (!id.is_number_unsigned() && !(id.is_number_integer() && id.get<int64_t>() >= 0))
          return InvalidArgument(
              fmt::format("{}:{}: hash id {} is not a non-negative integer", source, line, id.dump()));
        r.hash_ids.push_back(id.get<uint64_t>());
      }
    }
    if (const auto u = obj.find("user"); u != obj.end()) {
      if (!u->is_string() || u->get<std::string>().size() > 128)
        return InvalidArgument(fmt::format("{}:{}: \"user\" must be a location name", source, line));
      r.user = u->get<std::string>();
    }
    out.push_back(std::move(r));
  }
  SortByArrival(out);
  return out;
}

StatusOr<std::vector<InferenceRequest>> ReadRequests(const std::string& path) {
  const bool csv = EndsWith(path, ".csv"), jsonl = EndsWith(path, ".jsonl");
  if (!csv && !jsonl)
    return InvalidArgument(fmt::format(
        "{}: unknown request trace format (expected .csv, Azure LLM 2023, or .jsonl, Mooncake)", path));
  AWAN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return csv ? ParseAzureLlmCsv(text, path) : ParseMooncakeJsonl(text, path);
}

std::string FormatMooncakeJsonl(const std::vector<InferenceRequest>& requests) {
  std::string out;
  for (const InferenceRequest& r : requests) {
    out += fmt::format(R"({{"timestamp": {}, "input_length": {}, "output_length": {}, "hash_ids": [{}])",
                       r.at_ms, r.prompt_tokens, r.output_tokens, fmt::join(r.hash_ids, ", "));
    if (!r.user.empty()) out += fmt::format(R"(, "user": "{}")", r.user);
    out += "}\n";
  }
  return out;
}

}  // namespace awan::trace
