#include "server/slurm_executor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace awan::server {

StatusOr<std::string> RunCommand(const std::vector<std::string>& argv) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    return IoError(std::string("pipe: ") + std::strerror(errno));
  std::vector<std::string> args = argv;
  std::vector<char*> cargs;
  for (std::string& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return IoError(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    dup2(out[1], 1);
    dup2(err[1], 2);
    execvp(cargs[0], cargs.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  std::string so, se;
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof buf)) > 0;) so.append(buf, static_cast<size_t>(n));
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) se.append(buf, static_cast<size_t>(n));
  close(out[0]);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return IoError(argv[0] + " failed (exit " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) +
                   "): " + se);
  }
  return so;
}

namespace {

// Single-quotes a word for /bin/sh.
std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string Field(const std::string& line, const std::string& key) {
  const size_t at = line.find(key + "=");
  if (at == std::string::npos) return "";
  const size_t from = at + key.size() + 1;
  return line.substr(from, line.find(' ', from) - from);
}

// `scontrol show node -o`'s Reason: free text up to its " [user@time]" stamp (or the line's end).
std::string ReasonField(const std::string& line) {
  const size_t at = line.find(" Reason=");
  if (at == std::string::npos) return "";
  const size_t from = at + 8;
  size_t end = line.find(" [", from);
  if (end == std::string::npos) end = line.size();
  while (end > from && (line[end - 1] == ' ' || line[end - 1] == '\n')) --end;
  return line.substr(from, end - from);
}

// A command's time limit (0: none). A placeholder sleeps for its duration and needs none.
int64_t LimitS(const TaskLaunch& t) { return t.command.empty() ? 0 : t.time_limit_s; }

// Slurm's "[D-]HH:MM:SS" (or "MM:SS") in seconds; -1 if unreadable.
int64_t Seconds(const std::string& s) {
  int64_t days = 0, total = 0;
  std::string rest = s;
  if (const size_t dash = rest.find('-'); dash != std::string::npos) {
    try {
      days = std::stoll(rest.substr(0, dash));
    } catch (...) {
      return -1;
    }
    rest = rest.substr(dash + 1);
  }
  std::istringstream in(rest);
  for (std::string part; std::getline(in, part, ':');) {
    try {
      total = total * 60 + std::stoll(part);
    } catch (...) {
      return -1;
    }
  }
  return days * 86400 + total;
}

}  // namespace

SlurmExecutor::SlurmExecutor(std::string dir, std::map<std::string, std::string> node_map, Clock& clock,
                             int64_t poll_ms)
    : dir_(std::move(dir)), node_map_(std::move(node_map)), clock_(&clock), poll_ms_(poll_ms) {}

SlurmExecutor::~SlurmExecutor() = default;  // Slurm jobs outlive the server; the next one finds them by name

namespace {

// The Slurm job's name for one run of one task: Adopt finds it by this name after a restart.
std::string SlurmJobName(const TaskLaunch& t) {
  return "awan-" + t.job_id + "-" + std::to_string(t.task) + "-r" + std::to_string(t.run);
}

// Does the server run the task as its tenant's user (root, and the tenant has a uid)?
bool AsTenant(const TaskLaunch& t) { return geteuid() == 0 && t.uid >= 0; }

// A task's output, read without following a link the task's user may have put in its place.
std::string ReadOwnFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return "";
  struct stat st {};
  std::string out;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
    char buf[65536];
    for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace

namespace {

// <dir>/<job>/ holds the scripts (the server's, never writable by the task), <dir>/<job>/out/ the output and
// the working directory (the task's). As tenant: the directories above out/ are root's, traversable (0711),
// not listable; out/ is the tenant's alone (the user opens its output and working directory itself).
Status PrepareJobDirs(const std::string& dir, const TaskLaunch& t, bool as_tenant) {
  const std::string job_dir = dir + "/" + t.job_id, out_dir = job_dir + "/out";
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return IoError("cannot create " + out_dir + ": " + ec.message());
  if (!as_tenant) return Status::Ok();
  const std::filesystem::path logs(dir);
  for (const std::filesystem::path& d : {logs.parent_path(), logs, std::filesystem::path(job_dir)}) {
    if (!d.empty() && (chown(d.c_str(), 0, 0) != 0 || chmod(d.c_str(), 0711) != 0))
      return IoError("cannot make " + d.string() + " traversable: " + std::strerror(errno));
  }
  if (chown(out_dir.c_str(), static_cast<uid_t>(t.uid), static_cast<gid_t>(t.gid)) != 0 ||
      chmod(out_dir.c_str(), 0700) != 0) {
    return IoError("cannot hand " + out_dir + " to uid " + std::to_string(t.uid) + ": " +
                   std::strerror(errno));
  }
  return Status::Ok();
}

// The batch script: an allowlist of the server's environment (sbatch --export=NONE passes nothing else), the
// task's own, the devices and ids awan chose, then the command (or a placeholder sleep).
Status WriteScript(const std::string& path, const TaskLaunch& t) {
  unlink(path.c_str());  // never written through whatever is there
  std::ofstream script(path);
  script << "#!/bin/sh\n";
  for (const char* key : {"PATH", "LANG", "LC_ALL", "TZ"}) {
    if (const char* v = std::getenv(key)) script << "export " << key << "=" << Quote(v) << "\n";
  }
  for (const auto& [k, v] : t.env) script << "export " << k << "=" << Quote(v) << "\n";
  script << "export CUDA_VISIBLE_DEVICES=" << Quote(t.devices) << "\n"
         << "export AWAN_JOB_ID=" << Quote(t.job_id) << "\nexport AWAN_TASK_INDEX=" << t.task << "\n"
         << "export AWAN_RUN=" << t.run << "\n"
         << "export AWAN_NODE=" << Quote(t.node) << "\n";
  for (const auto& [k, v] : t.awan_env) script << "export " << k << "=" << Quote(v) << "\n";
  if (t.command.empty()) {
    script << "exec sleep " << std::max<int64_t>(1, t.duration_s) << "\n";
  } else {
    // A time limit to the second (Slurm's own --time, the backstop, is checked about twice a minute): TERM
    // at the limit, KILL 10 s later; timeout exits 124.
    script << "exec";
    if (const int64_t limit = LimitS(t); limit > 0) script << " timeout --kill-after=10 " << limit;
    for (size_t i = 0; i < t.command.size(); ++i) {
      // kSelfCommand: this binary, by its path (Slurm's nodes share it with the server's machine).
      const bool self = i == 0 && t.command[0] == kSelfCommand;
      script << " " << Quote(self ? std::filesystem::read_symlink("/proc/self/exe").string() : t.command[i]);
    }
    script << "\n";
  }
  script.close();
  if (!script) return IoError("cannot write " + path);
  chmod(path.c_str(), 0755);
  return Status::Ok();
}

}  // namespace

Status SlurmExecutor::Launch(const TaskLaunch& t) {
  // As Slurm does for its own users: the job runs as its tenant's Unix user (sbatch --uid/--gid, which only
  // root may pass, and only for a user the cluster knows).
  if (!t.image.empty())  // Slurm's own container support (OCI bundles through scrun) is not wired in yet
    return FailedPrecondition("image " + t.image + ": the slurm executor does not run images yet");
  const bool as_tenant = AsTenant(t);
  AWAN_RETURN_IF_ERROR(PrepareJobDirs(dir_, t, as_tenant));
  const std::string job_dir = dir_ + "/" + t.job_id, out_dir = job_dir + "/out";
  const std::string base = job_dir + "/" + std::to_string(t.task);
  AWAN_RETURN_IF_ERROR(WriteScript(base + ".sh", t));
  auto node = node_map_.find(t.node);
  const std::string slurm_node = node == node_map_.end() ? t.node : node->second;
  std::vector<std::string> argv = {"sbatch",
                                   "--parsable",
                                   "--job-name=" + SlurmJobName(t),
                                   "--nodelist=" + slurm_node,
                                   "--nodes=1",
                                   "--ntasks=1",
                                   "--cpus-per-task=" + std::to_string(std::max(1, t.cpus)),
                                   "--mem=" + std::to_string(std::max<int64_t>(1, t.mem_mib)),
                                   "--output=" + out_dir + "/" + std::to_string(t.task) + ".log",
                                   "--export=NONE",
                                   "--chdir=" + (t.workdir.empty() ? out_dir : t.workdir)};
  if (as_tenant) {
    argv.push_back("--uid=" + std::to_string(t.uid));
    argv.push_back("--gid=" + std::to_string(t.gid));
  }
  if (t.gpus > 0) argv.push_back("--gres=gpu:" + std::to_string(t.gpus));
  if (LimitS(t) > 0) {  // minutes, with room for the script's own TERM and KILL
    argv.push_back("--time=" + std::to_string((LimitS(t) + 60 + 59) / 60));
  } else if (t.duration_s > 0 && !t.command.empty()) {
    argv.push_back("--time=" + std::to_string((t.duration_s + 59) / 60));
  }
  argv.push_back(base + ".sh");
  StatusOr<std::string> ran = RunCommand(argv);
  if (!ran.ok() && as_tenant &&
      (ran.status().message().find("Invalid --uid") != std::string::npos ||
       ran.status().message().find("Invalid --gid") != std::string::npos)) {
    return FailedPrecondition(
        fmt::format("Slurm refused to run tenant {}'s task as uid {} gid {}: Slurm runs jobs as Unix users "
                    "the cluster knows; "
                    "create that user on the Slurm nodes, or give the tenant an existing user's uid: and "
                    "gid: in the fleet "
                    "file ({})",
                    t.tenant, t.uid, t.gid, ran.status().message()));
  }
  AWAN_ASSIGN_OR_RETURN(std::string out, std::move(ran));
  std::string id = out.substr(0, out.find_first_of(";\n"));
  if (id.empty()) return IoError("sbatch printed no job id: " + out);
  running_.push_back({t.job_id, t.task, id, LimitS(t)});
  return Status::Ok();
}

std::vector<std::pair<std::string, std::string>> SlurmExecutor::NodeStates() {
  std::vector<std::pair<std::string, std::string>> out;
  auto info = RunCommand({"scontrol", "show", "node", "-o"});
  if (!info.ok()) return out;
  std::map<std::string, std::string> awan_name;  // Slurm node -> awan node
  for (const auto& [awan, slurm] : node_map_) awan_name[slurm] = awan;
  std::stringstream lines(*info);
  for (std::string line; std::getline(lines, line);) {
    const std::string slurm = Field(line, "NodeName"), state = Field(line, "State");
    std::string held;
    if (state.find("DRAIN") != std::string::npos) {
      held = "DRAIN";
    } else if (state.rfind("DOWN", 0) == 0 || state.rfind("FAIL", 0) == 0) {
      held = state.substr(0, state.find('+'));
    }
    if (held.empty() || slurm.empty()) continue;
    const auto it = awan_name.find(slurm);
    out.push_back({it == awan_name.end() ? slurm : it->second,
                   fmt::format("state={} reason={}", held, ReasonField(line))});
  }
  return out;
}

std::vector<TaskExit> SlurmExecutor::Poll() {
  std::vector<TaskExit> out;
  const int64_t now = clock_->NowMs();
  if (running_.empty() || now - last_poll_ms_ < poll_ms_) return out;
  last_poll_ms_ = now;
  for (size_t i = 0; i < running_.size();) {
    auto info = RunCommand({"scontrol", "show", "job", "-o", running_[i].slurm_id});
    if (!info.ok()) {  // unknown to Slurm any more: count it as failed
      out.push_back({running_[i].job_id, running_[i].task, 255, false, 0});
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
      continue;
    }
    const std::string state = Field(*info, "JobState");
    if (state == "PENDING" || state == "RUNNING" || state == "CONFIGURING" || state == "COMPLETING" ||
        state == "SUSPENDED") {
      ++i;
      continue;
    }
    const std::string exit = Field(*info, "ExitCode");  // "code:signal"
    int code = 255;
    try {
      const int c = std::stoi(exit.substr(0, exit.find(':')));
      const int sig = std::stoi(exit.substr(exit.find(':') + 1));
      code = sig != 0 ? 128 + sig : c;
      if (state != "COMPLETED" && code == 0) code = 255;  // cancelled, timed out, node failure
    } catch (...) {
    }
    // Timed out: Slurm's limit (state TIMEOUT), or the script's (timeout exits 124 once the run reached it).
    const Running& r = running_[i];
    const bool timed_out =
        state == "TIMEOUT" || (r.limit_s > 0 && code == 124 && Seconds(Field(*info, "RunTime")) >= r.limit_s);
    // Slurm's own memory cgroup killed it: the limit it ran under (MinMemoryNode, in MiB unless suffixed).
    int64_t oom = 0;
    if (state == "OUT_OF_MEMORY") {
      const std::string mem = Field(*info, "MinMemoryNode");
      oom = int64_t{1} << 20;
      try {
        const char unit = mem.empty() ? 'M' : mem.back();
        oom = std::stoll(mem) * (unit == 'G'   ? int64_t{1} << 30
                                 : unit == 'T' ? int64_t{1} << 40
                                               : int64_t{1} << 20);
      } catch (...) {
      }
    }
    out.push_back({r.job_id, r.task, code, timed_out, oom});
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
  }
  return out;
}

Executor::Adoption SlurmExecutor::Adopt(const TaskLaunch& t, int64_t started_ms) {
  (void)started_ms;
  // This run's Slurm job, submitted as the tenant's user (another user's job of the same name is not it).
  std::vector<std::string> argv = {"squeue", "--noheader", "--states=all", "--name=" + SlurmJobName(t),
                                   "--format=%i %T"};
  if (AsTenant(t)) argv.push_back("--user=" + std::to_string(t.uid));
  StatusOr<std::string> out = RunCommand(argv);
  if (!out.ok()) return Adoption::kLost;  // Slurm unreachable: the job is requeued (and this task cancelled)
  int64_t newest = -1;
  std::string state;
  std::istringstream lines(*out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream f(line);
    int64_t id = -1;
    std::string st;
    if (f >> id >> st && id > newest) newest = id, state = st;
  }
  if (newest < 0) return Adoption::kNeverStarted;
  running_.push_back({t.job_id, t.task, std::to_string(newest), LimitS(t)});
  const bool live = state == "PENDING" || state == "RUNNING" || state == "CONFIGURING" ||
                    state == "COMPLETING" || state == "SUSPENDED";
  last_poll_ms_ = 0;  // look at it at the next Poll
  return live ? Adoption::kRunning : Adoption::kEnded;
}

void SlurmExecutor::Kill(const std::string& job_id) {
  std::vector<std::string> argv = {"scancel"};
  for (size_t i = 0; i < running_.size();) {
    if (running_[i].job_id == job_id) {
      argv.push_back(running_[i].slurm_id);
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  if (argv.size() > 1) (void)RunCommand(argv);
}

std::string SlurmExecutor::Logs(const std::string& job_id, int task) const {
  const std::string dir = dir_ + "/" + job_id;
  std::string out = ReadOwnFile(dir + "/out/" + std::to_string(task) + ".log");
  return out.empty() ? ReadOwnFile(dir + "/" + std::to_string(task) + ".log") : out;  // before out/ existed
}

}  // namespace awan::server
