#include "cli/queue.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "cli/cli_util.h"

namespace awan::cli {
namespace {

using Json = nlohmann::json;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "45s", "12m05s", "3h02m", "2d04h".
std::string Duration(int64_t ms) {
  const int64_t s = std::max<int64_t>(0, ms / 1000);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

// Local time: "14:02:07" today, "Dec 01 14:02" before.
std::string When(int64_t ms) {
  const time_t t = static_cast<time_t>(ms / 1000), now = time(nullptr);
  struct tm tm {
  }, today{};
  localtime_r(&t, &tm);
  localtime_r(&now, &today);
  char buf[32];
  strftime(buf, sizeof buf,
           tm.tm_yday == today.tm_yday && tm.tm_year == today.tm_year ? "%H:%M:%S" : "%b %d %H:%M", &tm);
  return buf;
}

// A column's text cut to `width` (the last character an ellipsis), so long names keep the columns.
std::string Fit(const std::string& s, size_t width) {
  if (s.size() <= width) return s;
  return s.substr(0, width - 3) + "...";
}

// The job's reason (squeue's NODELIST(REASON)): why it waits, or how it ended.
std::string Reason(const Json& j) {
  std::string m = j.value("message", "");
  if (m.rfind("waiting: ", 0) == 0) m = m.substr(9);
  return m;
}

int Nodes(const Json& j) {
  std::set<std::string> nodes;
  if (j.contains("placement") && j["placement"].is_array())
    for (const Json& p : j["placement"]) nodes.insert(p.value("node", ""));
  return static_cast<int>(nodes.size());
}

void Print(const std::vector<Json>& jobs, int64_t more, const ClientArgs& a) {
  const int64_t now = NowMs();
  fmt::print("{:<12} {:<24} {:<14} {:<10} {:<9} {:>6} {:>5} {:<14} {:>8}  {}\n", "ID", "NAME", "TENANT",
             "USER", "STATE", "GPUS", "NODES", "SUBMITTED", "TIME", "REASON");
  for (const Json& j : jobs) {
    const std::string state = j.value("state", "");
    const int64_t created = j.value("created_ms", int64_t{0}), updated = j.value("updated_ms", int64_t{0});
    // Pending: its age; running: how long this run has run; ended: how long it took from submission.
    const int64_t time = state == "Pending"   ? now - created
                         : state == "Running" ? now - updated
                                              : updated - created;
    const Json& spec = j.contains("manifest") && j["manifest"].is_object() ? j["manifest"]["spec"] : Json();
    const std::string gpus = spec.is_object() ? fmt::format("{}x{}", spec.value("tasks", 1),
                                                            spec.contains("gpus") ? spec["gpus"].dump() : "0")
                                              : "";
    const std::string user = j.value("user", "");
    fmt::print("{:<12} {:<24} {:<14} {:<10} {:<9} {:>6} {:>5} {:<14} {:>8}  {}\n", j.value("id", ""),
               Fit(j.value("name", ""), 24), Fit(j.value("tenant", ""), 14),
               user.empty() ? "-" : Fit(user, 10), state, gpus, Nodes(j), When(created), Duration(time),
               Reason(j));
  }
  if (more > 0) {
    fmt::print("({} shown; more jobs match: --limit N for more, --limit 0 for all)\n", jobs.size());
  } else if (a.output == "table") {
    fmt::print("({} job{})\n", jobs.size(), jobs.size() == 1 ? "" : "s");
  }
}

// Every page of /v1/jobs (1,000 at a time, waiting out 429s), up to `limit` jobs (0: all); `more` is 1 when
// the server has more than were read.
}  // namespace

Status FetchJobs(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h,
                 std::vector<Json>* out, int64_t* more) {
  std::string after;
  *more = 0;
  for (;;) {
    httplib::Params p{{"limit", "1000"}};
    if (!a.state.empty()) p.emplace("state", a.state);
    if (!a.tenant.empty()) p.emplace("tenant", a.tenant);
    if (!after.empty()) p.emplace("after", after);
    httplib::Result r = http.Get("/v1/jobs", p, h);
    if (!r) return IoError("cannot reach the server: " + httplib::to_string(r.error()));
    if (r->status == 429) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    const Json j = Json::parse(r->body, nullptr, false);
    if (r->status != 200 || !j.is_object()) {
      const std::string msg = j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r->body;
      return InvalidArgument(fmt::format("{} (HTTP {})", msg, r->status));
    }
    for (const Json& job : j["items"]) {
      if (!a.name.empty() && job.value("name", "").find(a.name) == std::string::npos) continue;
      if (!a.user.empty() && job.value("user", "") != a.user) continue;
      if (a.limit > 0 && static_cast<int64_t>(out->size()) >= a.limit) {
        *more = 1;
        return Status::Ok();
      }
      out->push_back(job);
    }
    if (!j.contains("next")) return Status::Ok();
    after = j["next"].get<std::string>();
  }
}

namespace {

// GET `path` (JSON), waiting out 429s; the server's error as a Status.
StatusOr<Json> GetJson(httplib::Client& http, const std::string& path, const httplib::Params& p,
                       const httplib::Headers& h) {
  for (;;) {
    httplib::Result r = http.Get(path, p, h);
    if (!r) return IoError("cannot reach the server: " + httplib::to_string(r.error()));
    if (r->status == 429) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      continue;
    }
    Json j = Json::parse(r->body, nullptr, false);
    if (r->status != 200 || !j.is_object()) {
      const std::string msg = j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r->body;
      return InvalidArgument(fmt::format("{} (HTTP {})", msg, r->status));
    }
    return j;
  }
}

int PrintUsage(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h) {
  httplib::Params p;
  if (a.since_s > 0) p.emplace("since_ms", std::to_string(NowMs() - a.since_s * 1000));
  auto j = GetJson(http, "/v1/usage", p, h);
  if (!j.ok()) return Fail(j.status());
  if (a.output != "table") return PrintObject((*j)["items"], a.output);
  fmt::print("{:<16} {:<16} {:>6} {:>11} {:>11}\n", "TENANT", "REGION", "JOBS", "GPU-HOURS", "COST(USD)");
  double hours = 0, cost = 0;
  for (const Json& r : (*j)["items"]) {
    fmt::print("{:<16} {:<16} {:>6} {:>11.2f} {:>11.2f}\n", Fit(r.value("tenant", ""), 16),
               Fit(r.value("region", ""), 16), r.value("jobs", 0), r.value("gpu_hours", 0.0),
               r.value("cost_usd", 0.0));
    hours += r.value("gpu_hours", 0.0), cost += r.value("cost_usd", 0.0);
  }
  fmt::print("{:<16} {:<16} {:>6} {:>11.2f} {:>11.2f}\n", "(all)", "", "", hours, cost);
  return 0;
}

}  // namespace

void PrintJobDetail(const Json& j) {
  const Json spec = j.contains("manifest") && j["manifest"].is_object() && j["manifest"].contains("spec")
                        ? j["manifest"]["spec"]
                        : Json::object();
  fmt::print("  resources: {} task(s) x {} GPU(s){}, {} CPU(s), {} GiB each\n", spec.value("tasks", 1),
             spec.contains("gpus") ? spec["gpus"].dump() : "0",
             spec.contains("accelerator") ? " (" + spec.value("accelerator", "") + ")" : "",
             spec.contains("cpu") ? spec["cpu"].dump() : "?",
             spec.contains("memory_gib") ? spec["memory_gib"].dump() : "?");
  if (spec.contains("command") && spec["command"].is_array()) {
    std::string cmd;
    for (const Json& a : spec["command"])
      cmd += (cmd.empty() ? "" : " ") + (a.is_string() ? a.get<std::string>() : a.dump());
    fmt::print("  command: {}\n", cmd);
  }
  if (spec.contains("priority")) fmt::print("  priority: {} (within its tenant)\n", spec["priority"].dump());
  if (spec.contains("image")) fmt::print("  image: {}\n", spec.value("image", ""));
  if (spec.contains("time_limit")) fmt::print("  time limit: {} s\n", spec.value("time_limit", ""));
  const int64_t now = NowMs(), created = j.value("created_ms", int64_t{0});
  const int64_t started = j.value("started_ms", int64_t{0}), ended = j.value("ended_ms", int64_t{0});
  fmt::print("  submitted: {}", When(created));
  if (started > 0) fmt::print("   started: {} (waited {})", When(started), Duration(started - created));
  if (ended > 0) fmt::print("   ended: {}", When(ended));
  if (started > 0) fmt::print("   elapsed: {}", Duration((ended > 0 ? ended : now) - started));
  fmt::print("\n  runs: {} (restarts: {})   used: {:.3f} GPU-hours, {:.2f} USD{}\n", j.value("runs", 0),
             j.value("restarts", 0), j.value("gpu_hours", 0.0), j.value("cost_usd", 0.0),
             j.contains("exit_code") ? fmt::format("   exit code: {}", j["exit_code"].dump()) : "");
  if (j.contains("events") && j["events"].is_array() && !j["events"].empty()) {
    fmt::print("  events:\n");
    for (const Json& e : j["events"]) {
      if (!e.is_object()) continue;
      fmt::print("    {}  {}\n", When(e.value("t_ms", int64_t{0})), e.value("event", ""));
    }
  }
}

int ListAccounting(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h) {
  if (a.summary) return PrintUsage(a, http, h);
  std::vector<Json> jobs;
  int64_t more = 0;
  if (Status s = FetchJobs(a, http, h, &jobs, &more); !s.ok()) return Fail(s);
  const int64_t now = NowMs(), since = a.since_s > 0 ? now - a.since_s * 1000 : 0;
  std::erase_if(jobs, [&](const Json& j) {
    const int64_t ended = j.value("ended_ms", int64_t{0});
    return !j.contains("started_ms") || (ended > 0 && ended < since);
  });
  if (a.output != "table") return PrintObject(Json{{"items", jobs}, {"more", more > 0}}, a.output);
  fmt::print("{:<12} {:<24} {:<14} {:<9} {:<14} {:<14} {:>8} {:>9} {:>9} {:>4}\n", "ID", "NAME", "TENANT",
             "STATE", "START", "END", "ELAPSED", "GPU-HOURS", "COST(USD)", "EXIT");
  for (const Json& j : jobs) {
    const int64_t start = j.value("started_ms", int64_t{0}), end = j.value("ended_ms", int64_t{0});
    fmt::print("{:<12} {:<24} {:<14} {:<9} {:<14} {:<14} {:>8} {:>9.3f} {:>9.2f} {:>4}\n", j.value("id", ""),
               Fit(j.value("name", ""), 24), Fit(j.value("tenant", ""), 14), j.value("state", ""),
               When(start), end > 0 ? When(end) : "-", Duration((end > 0 ? end : now) - start),
               j.value("gpu_hours", 0.0), j.value("cost_usd", 0.0),
               j.contains("exit_code") ? std::to_string(j["exit_code"].get<int>()) : "-");
  }
  if (more > 0) fmt::print("(more jobs match: --limit N for more, --limit 0 for all)\n");
  return 0;
}

int ListQueue(const ClientArgs& a, httplib::Client& http, const httplib::Headers& h) {
  for (;;) {
    std::vector<Json> jobs;
    int64_t more = 0;
    if (Status s = FetchJobs(a, http, h, &jobs, &more); !s.ok()) return Fail(s);
    auto key = [&](const Json& j) -> std::string {
      if (a.sort == "name") return j.value("name", "");
      if (a.sort == "state") return j.value("state", "");
      if (a.sort == "tenant") return j.value("tenant", "");
      return fmt::format("{:020}", j.value("created_ms", int64_t{0}));  // submitted (the default)
    };
    std::stable_sort(jobs.begin(), jobs.end(), [&](const Json& x, const Json& y) { return key(x) < key(y); });
    if (a.output == "json") {
      fmt::print("{}\n", Json{{"items", jobs}, {"more", more > 0}}.dump(1));
    } else {
      if (a.watch_s > 0)
        fmt::print("\033[H\033[2J{}  (every {} s; Ctrl-C to stop)\n", When(NowMs()), a.watch_s);
      Print(jobs, more, a);
    }
    if (a.watch_s <= 0) return 0;
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(a.watch_s));
  }
}

}  // namespace awan::cli
