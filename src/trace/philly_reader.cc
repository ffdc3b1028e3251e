#include "trace/philly_reader.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "trace/csv.h"

namespace awan::trace {
namespace {

// Parses "YYYY-mm-dd HH:MM:SS" into seconds since the epoch, or returns false.
bool ParseTimestamp(std::string_view s, int64_t* out) {
  if (s.size() != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':')
    return false;
  auto num = [&](size_t pos, size_t len, int64_t* v) {
    const auto r = std::from_chars(s.data() + pos, s.data() + pos + len, *v);
    return r.ec == std::errc() && r.ptr == s.data() + pos + len;
  };
  int64_t y, mo, d, h, mi, se;
  if (!num(0, 4, &y) || !num(5, 2, &mo) || !num(8, 2, &d) || !num(11, 2, &h) || !num(14, 2, &mi) ||
      !num(17, 2, &se)) {
    return false;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || h > 23 || mi > 59 || se > 60) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo == 2 && d == 29 && !leap) return false;
  *out = DaysFromCivil(y, static_cast<int>(mo), static_cast<int>(d)) * 86400 + h * 3600 + mi * 60 + se;
  return true;
}

// A finite, non-negative decimal number.
bool ParseSeconds(std::string_view s, double* out) {
  if (s.empty()) return false;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(*out) && *out >= 0;
}

}  // namespace

int64_t DaysFromCivil(int64_t y, int m, int d) {
  // Howard Hinnant's algorithm (public domain description): days since 1970-01-01.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

StatusOr<std::vector<JobSpec>> ParsePhillyJobs(std::string_view text, std::string_view source,
                                               const PhillyOptions& options) {
  if (options.gpus_per_node < 1) return InvalidArgument("gpus_per_node must be at least 1");
  AWAN_ASSIGN_OR_RETURN(auto rows, ParseCsv(text, source));
  if (rows.empty())
    return InvalidArgument(std::string(source) + ": empty job table (expected a header line)");
  CsvHeader h(rows[0], std::string(source));
  AWAN_ASSIGN_OR_RETURN(int c_ts, h.Require("timestamp"));
  AWAN_ASSIGN_OR_RETURN(int c_dur, h.Require("duration"));
  AWAN_ASSIGN_OR_RETURN(int c_gpus, h.Require("num_gpus"));
  AWAN_ASSIGN_OR_RETURN(int c_gt, h.Require("gpu_time"));
  AWAN_ASSIGN_OR_RETURN(int c_vc, h.Require("cluster"));
  if (rows.size() == 1) return InvalidArgument(std::string(source) + ": job table has a header but no jobs");
  std::vector<JobSpec> jobs;
  std::vector<int64_t> absolute;
  jobs.reserve(rows.size() - 1);
  for (size_t r = 1; r < rows.size(); ++r) {
    const CsvRow& row = rows[r];
    AWAN_RETURN_IF_ERROR(CheckFieldCount(source, rows[0], row));
    const CsvField& ts = row.fields[c_ts];
    int64_t submit = 0;
    if (!ParseTimestamp(ts.text, &submit)) {
      return FieldError(source, row.line, ts.column,
                        "column 'timestamp': expected 'YYYY-mm-dd HH:MM:SS', got '" + ts.text + "'");
    }
    const CsvField& dur = row.fields[c_dur];
    double duration = 0;
    if (!ParseSeconds(dur.text, &duration) || duration > 1e9) {
      return FieldError(
          source, row.line, dur.column,
          "column 'duration': expected seconds (a number from 0 to 1e9), got '" + dur.text + "'");
    }
    AWAN_ASSIGN_OR_RETURN(int64_t gpus, ParseCount(source, row, c_gpus, "num_gpus", options.max_gpus));
    const CsvField& g = row.fields[c_gpus];
    if (gpus < 1)
      return FieldError(source, row.line, g.column, "column 'num_gpus': a job needs at least 1 GPU");
    const int64_t tasks = (gpus + options.gpus_per_node - 1) / options.gpus_per_node;
    if (gpus % tasks != 0) {
      return FieldError(source, row.line, g.column,
                        "column 'num_gpus': " + std::to_string(gpus) + " GPUs do not split into " +
                            std::to_string(tasks) + " equal tasks of at most " +
                            std::to_string(options.gpus_per_node));
    }
    const CsvField& gt = row.fields[c_gt];
    double gpu_time = 0;
    if (!ParseSeconds(gt.text, &gpu_time) ||
        std::abs(gpu_time - duration * static_cast<double>(gpus)) > 1e-3 * std::max(1.0, gpu_time)) {
      return FieldError(source, row.line, gt.column,
                        "column 'gpu_time': expected duration x num_gpus (" +
                            std::to_string(duration * static_cast<double>(gpus)) + "), got '" + gt.text +
                            "'");
    }
    const CsvField& vc = row.fields[c_vc];
    if (vc.text.empty())
      return FieldError(source, row.line, vc.column, "column 'cluster': empty virtual cluster");
    JobSpec j;
    j.name = "philly-" + std::to_string(row.line);
    j.tenant = vc.text;
    j.duration_s = std::max<int64_t>(1, std::llround(duration));
    const int per_task = static_cast<int>(gpus / tasks);
    j.tasks = static_cast<int>(tasks);
    j.task.name = j.name;
    j.task.gpu_count = per_task;
    j.task.gpu_milli = kWholeGpu;
    j.task.cpu = CpuMilli(options.cpu_milli_per_gpu * per_task);
    j.task.memory = MemMiB(options.mem_mib_per_gpu * per_task);
    absolute.push_back(submit);
    jobs.push_back(std::move(j));
  }
  const int64_t start = *std::min_element(absolute.begin(), absolute.end());
  for (size_t i = 0; i < jobs.size(); ++i) jobs[i].submit_s = absolute[i] - start;
  std::stable_sort(jobs.begin(), jobs.end(),
                   [](const JobSpec& a, const JobSpec& b) { return a.submit_s < b.submit_s; });
  return jobs;
}

StatusOr<std::vector<JobSpec>> ReadPhillyJobs(const std::string& path, const PhillyOptions& options) {
  AWAN_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
  return ParsePhillyJobs(text, path, options);
}

}  // namespace awan::trace
