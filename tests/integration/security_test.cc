// Tenants don't trust each other: every attack of docs/security.md's threat model, carried out against the
// real `awan serve` on 127.0.0.1 by a tenant's task or an API client, and checked to be stopped. Most need
// root (the server isolates tasks with namespaces and per-tenant uids only as root); they are skipped,
// visibly, without it.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "integration/serve_harness.h"
#include "server/local_executor.h"
#include "server/store.h"

namespace {

using namespace awan::testing;  // NOLINT

#define NEEDS_ROOT() \
  if (geteuid() != 0) GTEST_SKIP() << "task isolation needs root (namespaces, per-tenant uids)"

std::string Job(const std::string& name, const std::string& script, const std::string& extra = "") {
  std::string quoted;
  for (char c : script) {
    if (c == '\'')
      quoted += "''";
    else
      quoted += c;
  }
  return "apiVersion: awan/v1\nkind: Job\nmetadata: {name: " + name +
         "}\nspec: {gpus: 1, cpu: 1, memory_gib: 1" + extra + ", command: [sh, -c, '" + quoted + "']}\n";
}

// Submits and waits for the job to end; returns (final view, task 0's log).
std::pair<Json, std::string> RunToEnd(Http& c, const std::string& token, const std::string& manifest,
                                      int seconds = 30) {
  auto r = c.Post("/v1/jobs", Bearer(token), manifest, "application/yaml");
  EXPECT_EQ(r->status, 201) << r->body;
  if (r->status != 201) return {Json::object(), ""};
  const std::string id = Json::parse(r->body)["id"];
  const Json end = WaitForEnd(c, token, id, seconds);
  return {end, c.Get("/v1/jobs/" + id + "/logs", Bearer(token))->body};
}

// A member's task tries to become fleet admin: find the store through its parent's command line and plant a
// token in it. It runs as its tenant's uid, without capabilities, and sees neither the store nor the server.
TEST(Security, TaskCannotReachTheStoreOrTheServer) {
  NEEDS_ROOT();
  const std::string dir = TempDir("sec-store");
  OneNodeFleet(dir, "  - {name: other, guaranteed_gpus: 0}\n");
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const auto [end, log] =
      RunToEnd(c, token,
               Job("plant",
                   "id -u; cat /proc/1/cmdline | tr \"\\0\" \" \"; echo; cat /proc/$PPID/cmdline; echo; "
                   "(cat " +
                       db + " >/dev/null && echo READ-STORE) 2>/dev/null; (echo x >> " + db +
                       " && echo WROTE-STORE) 2>/dev/null; (ls " + dir +
                       "/state/logs >/dev/null && echo LISTED-LOGS) 2>/dev/null; "
                       "grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; "
                       "(echo awan > /proc/sys/kernel/hostname && echo HOSTNAME) 2>/dev/null; "
                       "ps -e -o pid= | wc -l"));
  EXPECT_EQ(end["state"], "Succeeded") << end.dump() << log;
  std::istringstream lines(log);
  std::string uid;
  std::getline(lines, uid);
  EXPECT_NE(uid, "0") << log;
  EXPECT_FALSE(uid.empty()) << log;
  EXPECT_EQ(log.find(db), std::string::npos) << "the store's path is visible to the task:\n" << log;
  EXPECT_EQ(log.find("--store"), std::string::npos) << log;
  EXPECT_EQ(log.find("READ-STORE"), std::string::npos) << log;
  EXPECT_EQ(log.find("WROTE-STORE"), std::string::npos) << log;
  EXPECT_EQ(log.find("LISTED-LOGS"), std::string::npos) << log;
  EXPECT_EQ(log.find("HOSTNAME"), std::string::npos) << log;
  EXPECT_NE(log.find("CapEff:\t0000000000000000"), std::string::npos) << log;
  EXPECT_NE(log.find("NoNewPrivs:\t1"), std::string::npos) << log;
  // Its own pid namespace: the init, sh, ps and wc, nothing of the host.
  EXPECT_LE(std::stoi(log.substr(log.rfind('\n', log.size() - 2) + 1)), 6) << log;
  // The server still serves from its store after the attempt.
  EXPECT_EQ(c.Get("/v1/jobs", Bearer(token))->status, 200);
}

// One tenant's task reads another tenant's log and working directory: refused.
TEST(Security, TaskCannotReadAnotherTenantsLogOrFiles) {
  NEEDS_ROOT();
  // Outside /tmp, so that the file modes are what stops the task (the private /tmp would hide a state
  // directory below /tmp altogether).
  const std::string dir = "/var/tmp/awan-serve-sec-logs-" + std::to_string(getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  struct Cleanup {
    std::string d;
    ~Cleanup() { std::filesystem::remove_all(d); }
  } cleanup{dir};
  OneNodeFleet(dir, "  - {name: other, guaranteed_gpus: 2}\n");
  const std::string db = dir + "/awan.db";
  const std::string lab = Token(db, "lab", "member"), other = Token(db, "other", "member");
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto [secret_end, secret_log] =
      RunToEnd(c, lab, Job("secret", "echo the-lab-secret; echo the-lab-file > secret.txt; pwd"));
  ASSERT_EQ(secret_end["state"], "Succeeded") << secret_log;
  const std::string id = secret_end["id"];
  const std::string workdir =
      secret_log.substr(secret_log.find('/'), secret_log.rfind('\n') - secret_log.find('/'));
  const std::string theirs = dir + "/state/logs/" + id + "/0.log";
  ASSERT_TRUE(std::filesystem::exists(theirs));
  auto [end, log] =
      RunToEnd(c, other,
               Job("snoop", "cat " + theirs + " 2>&1; cat " + workdir + "/secret.txt 2>&1; ls " + dir +
                                "/state/work 2>&1; ls -R " + dir + " 2>&1 | head -50"));
  ASSERT_EQ(end["state"], "Succeeded") << end.dump();
  EXPECT_NE(log.find("Permission denied"), std::string::npos) << log;
  EXPECT_EQ(log.find("the-lab-secret"), std::string::npos) << log;
  EXPECT_EQ(log.find("the-lab-file"), std::string::npos) << log;
  EXPECT_EQ(log.find("\n" + id + "\n"), std::string::npos) << "a listing shows the other tenant's job:\n"
                                                           << log;
  // Through the API, another tenant's job does not exist.
  EXPECT_EQ(c.Get("/v1/jobs/" + id + "/logs", Bearer(other))->status, 404);
}

// A task escapes its memory limit by moving itself to the root memory cgroup: refused, it stays in its group.
TEST(Security, TaskCannotLeaveItsCgroup) {
  NEEDS_ROOT();
  if (access("/sys/fs/cgroup/memory/cgroup.procs", W_OK) != 0)
    GTEST_SKIP() << "no writable cgroup-v1 memory hierarchy";
  const std::string dir = TempDir("sec-cgroup");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto [end, log] =
      RunToEnd(c, token,
               Job("escape",
                   "for f in /sys/fs/cgroup/memory/cgroup.procs /sys/fs/cgroup/memory/awan/cgroup.procs "
                   "/sys/fs/cgroup/memory/$AWAN_CGROUP/memory.limit_in_bytes; do "
                   "echo $$ > $f 2>/dev/null && echo ESCAPED $f; done; "
                   "echo 9999999999 > /sys/fs/cgroup/memory/$AWAN_CGROUP/memory.limit_in_bytes 2>/dev/null "
                   "&& echo RAISED; grep memory: /proc/self/cgroup"));
  EXPECT_EQ(end["state"], "Succeeded") << log;
  EXPECT_EQ(log.find("ESCAPED"), std::string::npos) << log;
  EXPECT_EQ(log.find("RAISED"), std::string::npos) << log;
  EXPECT_NE(log.find(":memory:/awan/"), std::string::npos) << log;
}

// CUDA_VISIBLE_DEVICES (and awan's own variables) cannot be set by a manifest, and the devices cgroup opens
// only the GPU device nodes awan assigned: stand-in nodes (char 240:N, no driver) answer ENXIO when allowed
// and EPERM when not.
TEST(Security, TaskSeesOnlyItsOwnGpus) {
  NEEDS_ROOT();
  if (access("/sys/fs/cgroup/devices/devices.allow", W_OK) != 0)
    GTEST_SKIP() << "no writable cgroup-v1 devices hierarchy";
  const std::string dir = TempDir("sec-gpus");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  const std::string devs = "/var/tmp/awan-test-devs-" + std::to_string(getpid());
  std::filesystem::remove_all(devs);
  std::filesystem::create_directories(devs);
  chmod(devs.c_str(), 0755);
  for (int i = 0; i < 4; ++i) {
    const std::string n = devs + "/gpu" + std::to_string(i);
    ASSERT_EQ(mknod(n.c_str(), S_IFCHR | 0666, makedev(240, i)), 0) << n;
    chmod(n.c_str(), 0666);
  }
  {
    Server s(dir, db, dir + "/fleet.yaml", {"--gpu-device-nodes", devs + "/gpu{}"});
    ASSERT_GT(s.port(), 0);
    Http c(s.url());
    for (const char* key : {"CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "AWAN_JOB_ID", "HOME"}) {
      auto r =
          c.Post("/v1/jobs", Bearer(token),
                 Job("override", "true", std::string(", env: {") + key + ": '0,1,2,3'}"), "application/yaml");
      EXPECT_EQ(r->status, 400) << key << ": " << r->body;
      EXPECT_NE(r->body.find(key), std::string::npos) << r->body;
    }
    auto [end, log] = RunToEnd(c, token,
                               Job("peek",
                                   "echo visible=$CUDA_VISIBLE_DEVICES; for i in 0 1 2 3; do "
                                   "cat " +
                                       devs + "/gpu$i 2>&1 | sed \"s/^/gpu$i: /\"; done"));
    EXPECT_EQ(end["state"], "Succeeded") << log;
    const std::string mine = log.substr(log.find("visible=") + 8, 1);
    int allowed = 0, denied = 0;
    for (int i = 0; i < 4; ++i) {
      const size_t at = log.find("gpu" + std::to_string(i) + ": ");
      ASSERT_NE(at, std::string::npos) << log;
      const std::string line = log.substr(at, log.find('\n', at) - at);
      if (std::to_string(i) == mine) {
        EXPECT_NE(line.find("No such device"), std::string::npos)
            << line;  // opened: only the driver is missing
        ++allowed;
      } else {
        EXPECT_NE(line.find("Operation not permitted"), std::string::npos) << line;
        ++denied;
      }
    }
    EXPECT_EQ(allowed, 1) << log;
    EXPECT_EQ(denied, 3) << log;
  }
  std::filesystem::remove_all(devs);
}

// Descendants that call setsid(2) do not survive a cancel; across a restart of the control plane the task is
// adopted with all of them, and a cancel then still reaches every one.
TEST(Security, SetsidDescendantsDieWithTheirTask) {
  NEEDS_ROOT();
  const std::string dir = TempDir("sec-setsid");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  const std::string job =
      Job("daemon", "echo $AWAN_CGROUP; setsid sleep 300 & setsid sh -c \"sleep 300\" & sleep 300");
  auto cgroup_of = [&](Http& c, const std::string& id) {
    std::string log;
    for (int i = 0; i < 100 && log.find('\n') == std::string::npos; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      log = c.Get("/v1/jobs/" + id + "/logs", Bearer(token))->body;
    }
    return log.substr(0, log.find('\n'));
  };
  auto wait_pids = [](const std::string& group, size_t n) {
    std::vector<pid_t> p;
    for (int i = 0; i < 100 && p.size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      p = CgroupPids(group);
    }
    return p;
  };
  std::vector<pid_t> after_cancel, across_restart;
  std::string id2;
  {
    Server s(dir, db, dir + "/fleet.yaml");
    ASSERT_GT(s.port(), 0);
    Http c(s.url());
    auto r = c.Post("/v1/jobs", Bearer(token), job, "application/yaml");
    ASSERT_EQ(r->status, 201) << r->body;
    const std::string id = Json::parse(r->body)["id"];
    ASSERT_EQ(WaitForState(c, token, id, "Running")["state"], "Running");
    const std::string group = cgroup_of(c, id);
    ASSERT_FALSE(group.empty());
    after_cancel = wait_pids(group, 5);  // init, sh, two setsid sleeps (one under its own sh), sleep
    ASSERT_GE(after_cancel.size(), 5u);
    EXPECT_EQ(c.Post("/v1/jobs/" + id + "/cancel", Bearer(token), "", "text/plain")->status, 200);
    // The server dies with SIGKILL while the next job runs.
    auto r2 = c.Post("/v1/jobs", Bearer(token), job, "application/yaml");
    ASSERT_EQ(r2->status, 201) << r2->body;
    id2 = Json::parse(r2->body)["id"];
    ASSERT_EQ(WaitForState(c, token, id2, "Running")["state"], "Running");
    across_restart = wait_pids(cgroup_of(c, id2), 5);
    ASSERT_GE(across_restart.size(), 5u);
    s.Kill(SIGKILL);
  }
  for (pid_t p : after_cancel) EXPECT_FALSE(Alive(p)) << "pid " << p << " outlived the cancel";
  Server s2(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s2.port(), 0);
  Http c(s2.url());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + id2, Bearer(token))->body)["state"], "Running");
  for (pid_t p : across_restart) EXPECT_TRUE(Alive(p)) << "pid " << p << ": a restart killed a running task";
  EXPECT_EQ(c.Post("/v1/jobs/" + id2 + "/cancel", Bearer(token), "", "text/plain")->status, 200);
  for (pid_t p : across_restart)
    EXPECT_FALSE(Alive(p)) << "pid " << p << " outlived the cancel of an adopted task";
}

// A second server on the same store (or state directory) exits at once with a clear message, and changes
// nothing.
TEST(Security, SecondServerOnTheStoreExits) {
  const std::string dir = TempDir("sec-second");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  Token(db, "lab", "member");
  Server first(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(first.port(), 0);
  const std::string out =
      RunAwan("serve --store sqlite:" + db + " --fleet " + dir + "/fleet.yaml --state-dir " + dir +
              "/state-2 --listen 127.0.0.1:0 --unsandboxed-tasks 2>&1; echo rc=$?");
  EXPECT_NE(out.find("another awan serve already uses the store"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
  const std::string out2 =
      RunAwan("serve --store sqlite:" + dir + "/other.db --fleet " + dir + "/fleet.yaml --state-dir " + dir +
              "/state --listen 127.0.0.1:0 2>&1; echo rc=$?");
  EXPECT_NE(out2.find("another awan serve already uses the state directory"), std::string::npos) << out2;
  Http c(first.url());
  EXPECT_EQ(c.Get("/v1/healthz")->status, 200);
}

// serve never creates a store: a missing one (a typo, or one deleted) is an error naming `awan init`; and a
// store deleted under a running server stops it instead of letting it go on with no jobs and no tokens.
TEST(Security, MissingOrDeletedStoreIsAnError) {
  const std::string dir = TempDir("sec-deleted");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string out =
      RunAwan("serve --store sqlite:" + db + " --fleet " + dir + "/fleet.yaml --state-dir " + dir +
              "/state --listen 127.0.0.1:0 --unsandboxed-tasks 2>&1; echo rc=$?");
  EXPECT_NE(out.find("awan init --store sqlite:" + db), std::string::npos) << out;
  EXPECT_FALSE(std::filesystem::exists(db));
  const std::string token = Token(db, "lab", "member");
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  ASSERT_EQ(c.Get("/v1/jobs", Bearer(token))->status, 200);
  std::filesystem::remove(db);
  bool down = false;
  for (int i = 0; i < 50 && !down; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    httplib::Client probe(s.url());
    probe.set_connection_timeout(1);
    down = !probe.Get("/v1/healthz");
  }
  EXPECT_TRUE(down) << "the server went on after its store was deleted";
}

// Another writer on the same store (here: an audit entry written behind the server's back, as a second server
// that got past the locks would): at its next audit entry the server finds the sequence taken and stops,
// before it launches what the entry records, and the foreign entry is not overwritten.
TEST(Security, AuditSequenceConflictStopsTheServer) {
  ServerFixture f("sec-fence");
  Server& s = *f.s;
  const std::string &dir = f.dir, &db = f.db, &token = f.token;
  ASSERT_GT(s.port(), 0);
  {
    auto other = awan::server::OpenStore("sqlite:" + db);
    ASSERT_TRUE(other.ok()) << other.status().message();
    ASSERT_TRUE((*other)->AppendAudit({{1, "{\"written by\": \"another server\"}"}}).ok());
  }
  // Durable before the answer; it is the start that writes the audit entry. The tick may start the job, find
  // the sequence taken and stop the server before the answer is written: then the job is found in the store.
  httplib::Client raw(s.url());
  raw.set_read_timeout(10);
  auto r = raw.Post("/v1/jobs", {{"Authorization", "Bearer " + token}}, Job("fenced", "echo ran"),
                    "application/yaml");
  if (r) {
    ASSERT_EQ(r->status, 201) << r->body;
  }
  EXPECT_EQ(s.WaitExit(10), 3) << s.output();
  std::string id;
  if (r) {
    id = Json::parse(r->body)["id"];
  } else {
    auto stored = awan::server::OpenStore("sqlite:" + db);
    ASSERT_TRUE(stored.ok());
    auto jobs = (*stored)->ListJobs(awan::server::JobFilter{});
    ASSERT_TRUE(jobs.ok());
    ASSERT_EQ(jobs->size(), 1u) << "the job was not stored before the server stopped";
    id = (*jobs)[0].id;
  }
  EXPECT_NE(s.output().find("another server is writing to the store"), std::string::npos) << s.output();
  EXPECT_FALSE(std::filesystem::exists(dir + "/state/logs/" + id)) << "its task was launched";
  auto store = awan::server::OpenStore("sqlite:" + db);
  ASSERT_TRUE(store.ok());
  auto lines = (*store)->ReadAudit(0, 10);
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 1u);
  EXPECT_NE((*lines)[0].find("another server"), std::string::npos);
}

// A manifest whose YAML aliases expand a hundredfold (a "billion laughs"), or that nests without end, is
// refused before it is stored; so are a zero memory limit and an oversized command.
TEST(Security, ManifestBombsAreRefused) {
  const std::string dir = TempDir("sec-bombs");
  OneNodeFleet(dir);
  const std::string db = dir + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  Server s(dir, db, dir + "/fleet.yaml", {"--unsandboxed-tasks"});
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  std::string bomb = "apiVersion: awan/v1\nkind: Job\nmetadata: {name: bomb}\nx0: &a0 [\"" +
                     std::string(1000, 'x') + "\"]\n";
  for (int i = 1; i <= 8; ++i) {
    bomb += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) bomb += std::string(k ? "," : "") + "*a" + std::to_string(i - 1);
    bomb += "]\n";
  }
  bomb += "spec: {gpus: 1, memory_gib: 1, duration_s: 1, command: [true], env: {X: x}}\n";
  ASSERT_LT(bomb.size(), 4096u);
  auto r = c.Post("/v1/jobs", Bearer(token), bomb, "application/yaml");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("expands"), std::string::npos) << r->body;
  const std::string deep =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: deep}\nspec: {gpus: 1, command: " +
      std::string(100000, '[') + std::string(100000, ']') + "}\n";
  r = c.Post("/v1/jobs", Bearer(token), deep, "application/yaml");
  EXPECT_EQ(r->status, 400) << r->body.substr(0, 300);
  r = c.Post("/v1/jobs", Bearer(token),
             Job("nomem", "true").replace(Job("nomem", "true").find("memory_gib: 1"), 13, "memory_gib: 0"),
             "application/yaml");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("memory_gib"), std::string::npos) << r->body;
  std::string args;
  for (int i = 0; i < 2000; ++i) args += ", a";
  r = c.Post("/v1/jobs", Bearer(token),
             "apiVersion: awan/v1\nkind: Job\nmetadata: {name: long}\nspec: {gpus: 1, command: [echo" + args +
                 "]}\n",
             "application/yaml");
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs", Bearer(token))->body)["items"].size(), 0u);  // nothing was stored
  EXPECT_EQ(c.Get("/v1/healthz")->status, 200);
}

// A job's wall-time limit is enforced, with its own final state, and kills everything the task started.
TEST(Security, TimeLimitIsEnforced) {
  ServerFixture f("sec-timeout");
  Server& s = *f.s;
  const std::string& token = f.token;
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  auto [end, log] = RunToEnd(c, token, Job("slow", "echo started; sleep 60", ", time_limit: '2s'"), 20);
  EXPECT_EQ(end["state"], "TimedOut") << end.dump();
  EXPECT_NE(end["message"].get<std::string>().find("time limit"), std::string::npos) << end.dump();
  auto bad =
      c.Post("/v1/jobs", Bearer(token), Job("bad", "true", ", time_limit: 'soon'"), "application/yaml");
  EXPECT_EQ(bad->status, 400) << bad->body;
  EXPECT_NE(bad->body.find("time_limit"), std::string::npos) << bad->body;
}

// A task writes 512 MiB to its log with a cap of 4 MiB: what it keeps on disk stays near the cap while it
// runs and after, the newest output is served with offsets that stay valid, and the reader learns where the
// kept part starts.
TEST(Security, TaskLogsAreCapped) {
  ServerFixture f("sec-logcap", {"--max-log-mib", "4"});
  Server& s = *f.s;
  const std::string &dir = f.dir, &token = f.token;
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  constexpr int64_t kCap = int64_t{4} << 20, kWritten = int64_t{512} << 20;
  auto r = c.Post("/v1/jobs", Bearer(token),
                  Job("chatty", "yes awan-log-line | head -c 536870912; echo THE-END; sleep 60"),
                  "application/yaml");
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id = Json::parse(r->body)["id"];
  const std::string path = dir + "/state/logs/" + id + "/0.log";
  // While it runs (it sleeps after writing): the log reaches its full length but keeps about the cap.
  struct stat st {};
  bool written = false;
  for (int i = 0; i < 600 && !written; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto tail = c.Get("/v1/jobs/" + id + "/logs?offset=-8", Bearer(token));
    written = tail->status == 200 && tail->body.find("THE-END") != std::string::npos;
  }
  ASSERT_TRUE(written) << "the task did not finish writing within 60 s";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few ticks: the cap is applied at each
  ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
  EXPECT_EQ(st.st_size, kWritten + 8);
  EXPECT_LE(static_cast<int64_t>(st.st_blocks) * 512, kCap + 65536) << "bytes kept on disk while running";
  // From the start: the server answers from the first kept byte and says so.
  auto head = c.Get("/v1/jobs/" + id + "/logs?offset=0&limit=100", Bearer(token));
  ASSERT_EQ(head->status, 200);
  const int64_t start = std::stoll(head->get_header_value("X-Log-Start"));
  EXPECT_GT(start, kWritten - kCap);
  EXPECT_EQ(std::stoll(head->get_header_value("X-Log-Offset")), start);
  EXPECT_EQ(head->body.size(), 100u);
  EXPECT_EQ(head->body.find('\0'), std::string::npos) << "a dropped part was served as zeros";
  // The kept part reads whole and in order up to the end.
  auto rest = c.Get("/v1/jobs/" + id + "/logs?offset=" + std::to_string(start), Bearer(token));
  ASSERT_EQ(rest->status, 200);
  EXPECT_EQ(static_cast<int64_t>(rest->body.size()), kWritten + 8 - start);
  EXPECT_EQ(rest->body.substr(rest->body.size() - 8), "THE-END\n");
  // The CLI says what was dropped, then prints what is kept.
  const std::string out =
      RunAwan("logs " + id + " --server " + s.url() + " --token " + token + " 2>&1 | head -c 300");
  EXPECT_NE(out.find("bytes of this log were dropped"), std::string::npos) << out;
  EXPECT_EQ(c.Post("/v1/jobs/" + id + "/cancel", Bearer(token), "", "text/plain")->status, 200);
}

// A save that fails (the store's disk is full) is not dropped: the cancel answers 500 and changes nothing,
// and once there is room again it goes through; after a restart the job is Cancelled, never Running again.
TEST(Security, FullDiskLosesNothing) {
  NEEDS_ROOT();
  const std::string dir = TempDir("sec-full");
  OneNodeFleet(dir);
  const std::string small = dir + "/small";
  std::filesystem::create_directories(small);
  if (mount("tmpfs", small.c_str(), "tmpfs", 0, "size=2m") != 0) GTEST_SKIP() << "cannot mount a small tmpfs";
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{small};
  const std::string db = small + "/awan.db";
  const std::string token = Token(db, "lab", "member");
  std::string id;
  {
    Server s(dir, db, dir + "/fleet.yaml");
    ASSERT_GT(s.port(), 0);
    Http c(s.url());
    auto r = c.Post("/v1/jobs", Bearer(token), Job("long", "sleep 300"), "application/yaml");
    ASSERT_EQ(r->status, 201) << r->body;
    id = Json::parse(r->body)["id"];
    ASSERT_EQ(WaitForState(c, token, id, "Running")["state"], "Running");
    std::system(
        ("dd if=/dev/zero of=" + small + "/filler bs=64k 2>/dev/null").c_str());  // until the disk is full
    auto cancel = c.Post("/v1/jobs/" + id + "/cancel", Bearer(token), "", "text/plain");
    EXPECT_EQ(cancel->status, 500) << cancel->body;
    EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body)["state"], "Running");
    std::filesystem::remove(small + "/filler");
    cancel = c.Post("/v1/jobs/" + id + "/cancel", Bearer(token), "", "text/plain");
    EXPECT_EQ(cancel->status, 200) << cancel->body;
    EXPECT_EQ(Json::parse(cancel->body)["state"], "Cancelled");
    s.Kill(SIGKILL);
  }
  Server s(dir, db, dir + "/fleet.yaml");
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Json::parse(c.Get("/v1/jobs/" + id, Bearer(token))->body)["state"], "Cancelled");
}

}  // namespace

namespace {

int Connect(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

int64_t RssKiB(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

// Reads what the server answered (until it closes or `ms` pass).
std::string ReadAnswer(int fd, int ms) {
  std::string out;
  char buf[4096];
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// An unauthenticated client streams a chunked body (and a gzip one, and one announcing 512 MiB): each is
// refused from its headers, and the server reads none of it (its memory does not grow).
TEST(Security, UnauthenticatedBodiesAreNeverRead) {
  ServerFixture f("sec-chunked");
  ASSERT_GT(f.s->port(), 0);
  const int64_t before = RssKiB(f.s->pid());
  const int fd = Connect(f.s->port());
  ASSERT_GE(fd, 0);
  const std::string head = "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(send(fd, head.data(), head.size(), MSG_NOSIGNAL), static_cast<ssize_t>(head.size()));
  const std::string chunk = "100000\r\n" + std::string(0x100000, 'a') + "\r\n";  // 1 MiB chunks
  int64_t sent = 0;
  for (int i = 0; i < 512; ++i) {  // up to 512 MiB, until the server stops taking it
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 1000) <= 0) break;
    const ssize_t n = send(fd, chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    sent += n;
  }
  const std::string answer = ReadAnswer(fd, 2000);
  close(fd);
  EXPECT_LT(sent, 64LL << 20) << "the server kept reading an unauthenticated body";
  EXPECT_NE(answer.find(" 401 "), std::string::npos) << answer.substr(0, 200);
  const int64_t after = RssKiB(f.s->pid());
  EXPECT_LT(after - before, 32 * 1024) << "RSS " << before << " -> " << after << " KiB";
  for (const std::string& h :
       {std::string(
            "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 100\r\n\r\n"),
        std::string("POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Length: 536870912\r\n\r\n")}) {
    const int g = Connect(f.s->port());
    ASSERT_GE(g, 0);
    ASSERT_GT(send(g, h.data(), h.size(), MSG_NOSIGNAL), 0);
    const std::string a = ReadAnswer(g, 2000);
    close(g);
    EXPECT_TRUE(a.find(" 401 ") != std::string::npos || a.find(" 413 ") != std::string::npos ||
                a.find(" 415 ") != std::string::npos)
        << a.substr(0, 200);
  }
  // With a token, a compressed body is refused too: the server never decompresses.
  Http c(f.s->url());
  httplib::Headers gz = Bearer(f.token);
  gz.emplace("Content-Encoding", "gzip");
  EXPECT_EQ(c.Post("/v1/jobs", gz, std::string(100, 'x'), "application/yaml")->status, 415);
  EXPECT_EQ(c.Get("/v1/healthz")->status, 200);
}

// 300 connections trickle a byte every 2 s: the health check and a tenant's reads are still answered.
TEST(Security, SlowClientsDoNotStarveOthers) {
  ServerFixture f("sec-slow");
  ASSERT_GT(f.s->port(), 0);
  std::vector<int> slow;
  for (int i = 0; i < 300; ++i) {
    const int fd = Connect(f.s->port());
    if (fd >= 0) slow.push_back(fd);
  }
  ASSERT_EQ(slow.size(), 300u);
  Http c(f.s->url());
  double worst = 0;
  for (int round = 0; round < 3; ++round) {  // about 6 s of trickling
    for (int fd : slow) send(fd, "G", 1, MSG_NOSIGNAL);
    for (int k = 0; k < 5; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      EXPECT_EQ(c.Get("/v1/healthz")->status, 200);
      EXPECT_EQ(c.Get("/v1/jobs/none", Bearer(f.token))->status, 404);
      worst = std::max(worst, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  for (int fd : slow) close(fd);
  EXPECT_LT(worst, 2.0) << "a health check took " << worst << " s behind slow clients";
}

// A second server on the port of a running one exits at once (no SO_REUSEPORT sharing).
TEST(Security, SecondServerOnThePortExits) {
  ServerFixture f("sec-port");
  ASSERT_GT(f.s->port(), 0);
  const std::string dir2 = TempDir("sec-port-2");
  OneNodeFleet(dir2);
  RunAwan("init --store sqlite:" + dir2 + "/awan.db");
  const std::string out = RunAwan(
      "serve --store sqlite:" + dir2 + "/awan.db --fleet " + dir2 + "/fleet.yaml --state-dir " + dir2 +
      "/state --unsandboxed-tasks --listen 127.0.0.1:" + std::to_string(f.s->port()) + " 2>&1; echo rc=$?");
  EXPECT_NE(out.find("Address already in use"), std::string::npos) << out;
  EXPECT_NE(out.find("rc=1"), std::string::npos) << out;
}

// A viewer spams explain: past its tenant's rate it gets 429 with Retry-After; another tenant is not slowed.
TEST(Security, ExplainSpamIsRateLimitedPerTenant) {
  ServerFixture f("sec-spam");
  ASSERT_GT(f.s->port(), 0);
  Http c(f.s->url());
  // A waiting job to explain: the node is full.
  const std::string big =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: big}\nspec: {gpus: 4, cpu: 1, memory_gib: 1, "
      "duration_s: 600}\n";
  const std::string a = Json::parse(c.Post("/v1/jobs", Bearer(f.token), big, "application/yaml")->body)["id"];
  ASSERT_EQ(WaitForState(c, f.token, a, "Running")["state"], "Running");
  const std::string b = Json::parse(c.Post("/v1/jobs", Bearer(f.token), big, "application/yaml")->body)["id"];
  int ok = 0, limited = 0;
  bool retry_after = true;
  for (int i = 0; i < 100; ++i) {
    auto r = c.Get("/v1/jobs/" + b + "/explain", Bearer(f.viewer));
    if (r->status == 200) ++ok;
    if (r->status == 429) {
      ++limited;
      retry_after = retry_after && r->has_header("Retry-After");
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(limited, 0);
  EXPECT_TRUE(retry_after);
  EXPECT_EQ(c.Get("/v1/jobs", Bearer(f.other))->status, 200);  // another tenant's reads go on
}

// Another tenant's 1-GPU job starts within a cycle beside 1,010 waiting 8-GPU jobs of one tenant (which can
// never start: its quota is 8 GPUs, already in use), and a job that can never fit is refused at submit.
TEST(Security, OneTenantsBacklogDoesNotDelayAnother) {
  const std::string dir = TempDir("sec-fair");
  std::ofstream(dir + "/fleet.yaml")
      << "node_types:\n  g8: {accelerator: H100, gpus: 8, cpu: 64, memory_gib: 512}\n"
         "regions:\n  - name: lab\n    zones:\n      - {name: z, layout: {type: g8, nodes: 8}}\n"
         "  - name: far\n    zones:\n      - {name: f, layout: {type: g8, nodes: 1}}\n"
         "tenants:\n  - {name: big, guaranteed_gpus: 8}\n  - {name: small, guaranteed_gpus: 8, "
         "data: {classification: restricted, regions: [lab]}}\n";
  const std::string db = dir + "/awan.db";
  const std::string big = Token(db, "big", "member"), small = Token(db, "small", "member");
  Server s(dir, db, dir + "/fleet.yaml", AnyUser({"--submits-per-s", "0"}));
  ASSERT_GT(s.port(), 0);
  Http c(s.url());
  const std::string eight =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: eight}\nspec: {gpus: 8, cpu: 1, memory_gib: 1, "
      "duration_s: 3600}\n";
  for (int i = 0; i < 1011; ++i)
    ASSERT_EQ(c.Post("/v1/jobs", Bearer(big), eight, "application/yaml")->status, 201) << i;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the first runs, the rest wait for quota
  const std::string one =
      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: one}\nspec: {gpus: 1, cpu: 1, memory_gib: 1, "
      "duration_s: 3600}\n";
  auto r = c.Post("/v1/jobs", Bearer(small), one, "application/yaml");
  ASSERT_EQ(r->status, 201) << r->body;
  const std::string id = Json::parse(r->body)["id"];
  // The server ticks every 50 ms: "within one cycle" allows a few for the submit to land.
  const Json j = WaitForState(c, small, id, "Running");
  EXPECT_EQ(j["state"], "Running") << j.dump();
  // Jobs that could never start are refused at submit, naming why.
  for (const auto& [spec, why] : std::vector<std::pair<std::string, std::string>>{
           {"{gpus: 12, cpu: 1, memory_gib: 1, duration_s: 60}", "gpus"},
           {"{gpus: 1, cpu: 1, memory_gib: 999999, duration_s: 60}", "memory"},
           {"{tasks: 9, gpus: 8, cpu: 1, memory_gib: 1, duration_s: 60}", "gang-size"}}) {
    auto bad = c.Post("/v1/jobs", Bearer(small),
                      "apiVersion: awan/v1\nkind: Job\nmetadata: {name: never}\nspec: " + spec + "\n",
                      "application/yaml");
    EXPECT_EQ(bad->status, 400) << spec << ": " << bad->body;
    EXPECT_NE(bad->body.find(why), std::string::npos) << bad->body;
  }
}

}  // namespace

namespace {

// A run that ended leaves its exit code behind; the next run, recorded Running by a server that died before
// launching it, must not be taken for ended with that code (it never started: requeued, not Failed).
TEST(LocalExecutor, AnEarlierRunsExitCodeIsNotThisRuns) {
  const std::string dir = TempDir("exec-runs");
  awan::server::LocalExecutorOptions o;
  o.state_dir = dir + "/state";
  o.sandbox = false;
  o.allow_root = true;
  o.cgroup_root = dir + "/no-cgroups";
  awan::FakeClock clock;
  awan::server::LocalExecutor exec(o, clock);
  ASSERT_TRUE(exec.Init().ok());
  awan::server::TaskLaunch t;
  t.job_id = "j-00000001";
  t.command = {"sh", "-c", "exit 3"};
  t.run = 1;
  ASSERT_TRUE(exec.Launch(t).ok());
  std::vector<awan::server::TaskExit> ended;
  for (int i = 0; i < 500 && ended.empty(); ++i) {
    ended = exec.Poll();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_EQ(ended[0].exit_code, 3);
  // A new executor (the next server): run 1 adopted again ended with its code; run 2 never started.
  awan::server::LocalExecutor next(o, clock);
  EXPECT_EQ(next.Adopt(t, 0), awan::server::Executor::Adoption::kEnded);
  awan::server::TaskLaunch second = t;
  second.run = 2;
  awan::server::LocalExecutor after(o, clock);
  EXPECT_NE(after.Adopt(second, 0), awan::server::Executor::Adoption::kEnded);
  // Run 3: the server recorded its init's pid with the go mark, then died before the go byte; the init saw
  // the end of its go pipe and left "never" for the run in the exit file. Not a run: never started (before,
  // it was taken for lost, and the job's run count kept a run that did not happen).
  const std::string logs = o.state_dir + "/logs/" + t.job_id;
  std::ofstream(logs + "/0.pid") << 999999 << " " << 12345 << " go";
  std::ofstream(logs + "/0.exit") << "3 never";
  std::ofstream(logs + "/0.log") << "";
  awan::server::TaskLaunch third = t;
  third.run = 3;
  awan::server::LocalExecutor last(o, clock);
  EXPECT_EQ(last.Adopt(third, 0), awan::server::Executor::Adoption::kNeverStarted);
}

}  // namespace
