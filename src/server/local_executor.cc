#include "server/local_executor.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <grp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <tuple>

#include "config/job_manifest.h"

extern char** environ;

namespace awan::server {
namespace {

namespace fs = std::filesystem;

// Everything the task's init needs, prepared before clone(2): after it, the child calls only
// async-signal-safe functions and allocates nothing.
struct InitArgs {
  char** argv = nullptr;
  char** envp = nullptr;
  int log_fd = -1, exit_fd = -1, devnull_fd = -1, workdir_fd = -1;
  int go_fd = -1;    // read end of a pipe: the server writes a byte once it has recorded the init's pid
  int self_fd = -1;  // the server's own binary (O_PATH), when the command is kSelfCommand; else -1
  std::array<int, 6> keep_fds{};  // the six above, sorted (-1 for one not open)
  const char* workdir = nullptr;
  // Directories below /tmp, which the private /tmp hides (the working directory; a container task's image
  // store): bound back at the same paths, after their parents are made in the private /tmp (parents first).
  std::vector<const char*> rebinds;
  std::vector<const char*> rebind_parents;
  const char* hostname = nullptr;
  std::vector<const char*> cgroup_procs;
  const char* tmp_options = nullptr;
  uintptr_t cmdline_start = 0, cmdline_end = 0;  // this process's argv strings (from /proc/self/stat)
  bool sandbox = false;
  bool drop = false;  // switch to uid/gid
  uid_t uid = 0;
  gid_t gid = 0;
};

pid_t g_task_pid = 0;  // in a task's init only: the task it forwards signals to

void ForwardSignal(int sig) {
  if (g_task_pid > 0) kill(g_task_pid, sig);
}

void WriteDecimal(int fd, int v) {
  char buf[16];
  int n = 0;
  unsigned u = v < 0 ? 0u : static_cast<unsigned>(v);
  do {
    buf[15 - n++] = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u > 0 && n < 15);
  (void)!write(fd, buf + 16 - n, static_cast<size_t>(n));
}

[[noreturn]] void InitFail(const InitArgs& a, const char* what) {
  const int err = errno;
  const char prefix[] = "awan: cannot start the task: ";
  (void)!write(a.log_fd, prefix, sizeof prefix - 1);
  (void)!write(a.log_fd, what, strlen(what));
  (void)!write(a.log_fd, ": errno ", 8);  // not strerror(): it may take a lock another thread held at clone
  WriteDecimal(a.log_fd, err);
  (void)!write(a.log_fd, "\n", 1);
  _exit(126);
}

// In the init: close every descriptor inherited from the server but the ones it needs, and hide the server's
// command line.
void InitCloseInherited(const InitArgs& a) {
  // The init never execs, so close-on-exec does not apply to it: close every descriptor it inherited from the
  // server (the listening socket, the store, the server's locks) but the four it needs.
  int from = 3;
  for (int fd : a.keep_fds) {
    if (fd > from) close_range(static_cast<unsigned>(from), static_cast<unsigned>(fd - 1), 0);
    from = std::max(from, fd + 1);
  }
  close_range(static_cast<unsigned>(from), ~0U, 0);
  // The init is a copy of the server, so /proc/1/cmdline would show the server's command line (the store's
  // path among it): overwrite our copy of it.
  if (a.cmdline_end > a.cmdline_start) {
    char* c = reinterpret_cast<char*>(a.cmdline_start);
    const size_t n = a.cmdline_end - a.cmdline_start;
    memset(c, 0, n);
    const char name[] = "awan-task-init";
    memcpy(c, name, std::min(n - 1, sizeof name - 1));
  }
}

// In the init, sandboxed: private mounts, its own /proc, a private /tmp (the working directory and a
// container task's image store bound back if they lie below /tmp), its node's hostname.
void InitSandbox(const InitArgs& a) {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) InitFail(a, "making mounts private");
  if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    InitFail(a, "mounting /proc");
  // Detached copies of the mounts to bind back, taken before the private /tmp hides their paths.
  std::array<int, 4> trees{-1, -1, -1, -1};
  const size_t n = std::min(a.rebinds.size(), trees.size());
  for (size_t i = 0; i < n; ++i) {
    trees[i] = open_tree(AT_FDCWD, a.rebinds[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (trees[i] < 0) InitFail(a, "cloning the mount of a directory below /tmp");
  }
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, a.tmp_options) != 0)
    InitFail(a, "mounting a private /tmp");
  if (n > 0) umask(022);
  for (const char* d : a.rebind_parents) mkdir(d, 0755);  // empty, in the private /tmp
  for (size_t i = 0; i < n; ++i) {
    if (move_mount(trees[i], "", AT_FDCWD, a.rebinds[i], MOVE_MOUNT_F_EMPTY_PATH) != 0)
      InitFail(a, "binding a directory below /tmp back");
    close(trees[i]);
  }
  if (a.hostname) sethostname(a.hostname, strlen(a.hostname));
}

// In the init: no capabilities, no supplementary groups, the tenant's gid and uid.
void InitDropPrivileges(const InitArgs& a) {
  for (int cap = 0; cap <= 63; ++cap) prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);  // EINVAL past the last: fine
  // Raw system calls: glibc's wrappers broadcast the change to every thread glibc knows of, and this copy
  // of the server has only one while glibc's list still names the server's threads (it would wait forever).
  if (syscall(SYS_setgroups, 0, nullptr) != 0) InitFail(a, "clearing supplementary groups");
  if (syscall(SYS_setresgid, a.gid, a.gid, a.gid) != 0) InitFail(a, "switching to the tenant's gid");
  if (syscall(SYS_setresuid, a.uid, a.uid, a.uid) != 0) InitFail(a, "switching to the tenant's uid");
}

// The task itself (the init's child): default signal mask, output to the log, input from /dev/null.
[[noreturn]] void InitExecTask(const InitArgs& a) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  dup2(a.log_fd, 1);
  dup2(a.log_fd, 2);
  dup2(a.devnull_fd, 0);
  if (a.self_fd >= 0) {  // this very binary, by descriptor: no path to it need be visible to the tenant
    syscall(SYS_execveat, a.self_fd, "", a.argv, a.envp, AT_EMPTY_PATH);
  } else {
    execvpe(a.argv[0], a.argv, a.envp);
  }
  const char msg[] = "awan: exec failed: ";
  (void)!write(2, msg, sizeof msg - 1);
  (void)!write(2, a.argv[0], strlen(a.argv[0]));
  (void)!write(2, "\n", 1);
  _exit(127);
}

// The init reaps everything; the task's own status is the answer.
int InitWaitTask(pid_t task) {
  int code = 127;
  for (;;) {  // reap everything; the task's own status is the answer
    int status = 0;
    const pid_t w = waitpid(-1, &status, 0);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) break;
    if (w == task) {
      code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
      break;
    }
  }
  return code;
}

// The task's init: pid 1 of its pid namespace when sandboxed.
int InitMain(void* p) {
  const InitArgs& a = *static_cast<const InitArgs*>(p);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // SIGKILL and SIGSTOP refuse: fine
  setpgid(0, 0);
  InitCloseInherited(a);
  for (const char* procs : a.cgroup_procs) {  // join the task's cgroups (write "0": this process)
    const int cg = open(procs, O_WRONLY | O_CLOEXEC);
    if (cg < 0 || write(cg, "0", 1) != 1) InitFail(a, "joining its cgroup");
    close(cg);
  }
  if (a.sandbox) InitSandbox(a);
  if (a.drop) InitDropPrivileges(a);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) InitFail(a, "setting no_new_privs");
  if (chdir(a.workdir) != 0 && fchdir(a.workdir_fd) != 0) InitFail(a, "entering the working directory");
  // The task starts only once the server has recorded this init's pid (so that a server killed at this moment
  // leaves nothing running that the next one cannot find): end of file instead of the byte means it died
  // first.
  char go = 0;
  while (read(a.go_fd, &go, 1) < 0 && errno == EINTR) {
  }
  if (go != 'g') {  // recorded, so that the next server does not count a run that never began
    (void)!write(a.exit_fd, "never", 5);
    _exit(125);
  }
  close(a.go_fd);
  // The raw system call, not glibc's fork(): that one takes glibc's internal locks (malloc, stdio), which
  // another server thread may have held at the moment of clone(2) — in this copy they would never be
  // released.
  const pid_t task = static_cast<pid_t>(syscall(SYS_clone, SIGCHLD, nullptr, nullptr, nullptr, nullptr));
  if (task < 0) InitFail(a, "fork");
  if (task == 0) InitExecTask(a);
  g_task_pid = task;
  struct sigaction fwd {};
  fwd.sa_handler = ForwardSignal;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaction(sig, &fwd, nullptr);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  const int code = InitWaitTask(task);
  WriteDecimal(a.exit_fd, code);
  _exit(code);  // as the namespace's init, whatever is left in it dies with us
}

// The fields of /proc/<who>/stat from field 3 (the state) on, so that field N is at [N - 3]; empty if there
// is no such process. (Field 2, the command, may hold spaces: it is skipped by its closing parenthesis.)
std::vector<std::string> StatFields(const std::string& who) {
  std::ifstream f("/proc/" + who + "/stat");
  const std::string s((std::istreambuf_iterator<char>(f)), {});
  const size_t close = s.rfind(')');
  std::vector<std::string> out;
  if (close == std::string::npos || close + 2 > s.size()) return out;
  std::istringstream rest(s.substr(close + 2));
  for (std::string field; rest >> field;) out.push_back(field);
  return out;
}

// Where the kernel finds this process's command line: fields 48 and 49 (arg_start, arg_end).
std::pair<uintptr_t, uintptr_t> CmdlineRange() {
  const std::vector<std::string> f = StatFields("self");
  if (f.size() < 49 - 2) return {0, 0};
  return {std::stoull(f[48 - 3]), std::stoull(f[49 - 3])};
}

// Field 22: when the process started (clock ticks since boot); with the pid, it names one process for good
// (pids are reused). 0 if there is no such process.
uint64_t StartTime(pid_t pid) {
  const std::vector<std::string> f = StatFields(std::to_string(pid));
  return f.size() < 22 - 2 ? 0 : std::stoull(f[22 - 3]);
}

// Has the process exited (a zombie its new parent has not reaped yet)?
bool Zombie(pid_t pid) {
  const std::vector<std::string> f = StatFields(std::to_string(pid));
  return !f.empty() && f[0] == "Z";
}

// The exit code a task's init recorded ("<run> <code>"), or -1 when there is none, or when it is an earlier
// run's (`run` > 0 and another number first).
int ReadExitCode(const std::string& path, int run) {
  std::ifstream f(path);
  int64_t recorded_run = -1, code = -1;
  if (!(f >> recorded_run >> code)) return -1;
  if (run > 0 && recorded_run != run) return -1;
  return code >= 0 && code < 256 + 128 ? static_cast<int>(code) : -1;
}

// How long the executor lets a task run: a placeholder its duration, a command its time limit (else, as
// before time limits existed, its duration_s when it set one). 0 = unbounded.
int64_t WallLimitS(const TaskLaunch& t) {
  return t.command.empty() ? t.duration_s : (t.time_limit_s > 0 ? t.time_limit_s : t.duration_s);
}

bool WriteFile(const std::string& path, const std::string& value) {
  std::ofstream f(path);
  f << value;
  f.flush();
  return static_cast<bool>(f);
}

std::vector<pid_t> ReadPids(const std::string& procs) {
  std::vector<pid_t> out;
  std::ifstream f(procs);
  for (pid_t p; f >> p;) out.push_back(p);
  return out;
}

// The variables a task gets from the server's environment; everything else comes from the manifest or awan.
bool Inherited(const std::string& key) {
  return key == "PATH" || key == "LANG" || key == "LC_ALL" || key == "TZ";
}

}  // namespace

LocalExecutor::LocalExecutor(LocalExecutorOptions options, Clock& clock)
    : o_(std::move(options)), clock_(&clock) {
  logs_dir_ = o_.state_dir + "/logs";
  work_dir_ = o_.state_dir + "/work";
  std::error_code ec;
  const std::string abs = fs::weakly_canonical(fs::absolute(o_.state_dir, ec), ec).string();
  cgroup_instance_ =
      fmt::format("{:016x}", std::hash<std::string>{}((abs.empty() ? o_.state_dir : abs) + "/logs"));
  DetectCgroups();
}

void LocalExecutor::DetectCgroups() {
  const std::string& root = o_.cgroup_root;
  std::error_code ec;
  auto usable = [&](const char* c, const char* file) {
    if (!fs::exists(root + "/" + c + "/" + file, ec)) return false;
    fs::create_directories(root + "/" + c + "/awan", ec);
    return !ec && access((root + "/" + c + "/awan").c_str(), W_OK) == 0;
  };
  cgroups_ = usable("memory", "memory.limit_in_bytes") && usable("cpu", "cpu.cfs_quota_us");
  pids_cgroup_ = cgroups_ && usable("pids", "pids.max");
  devices_cgroup_ = cgroups_ && usable("devices", "devices.allow");
}

std::vector<std::string> LocalExecutor::Controllers() const {
  std::vector<std::string> out;
  if (!cgroups_) return out;
  out = {"memory", "cpu"};
  if (pids_cgroup_) out.push_back("pids");
  if (devices_cgroup_) out.push_back("devices");
  return out;
}

Status LocalExecutor::Init() {
  std::error_code ec;
  for (const std::string& d : {o_.state_dir, logs_dir_, work_dir_}) {
    fs::create_directories(d, ec);
    if (ec) return IoError("cannot create " + d + ": " + ec.message());
  }
  // Traversable but not listable: a task reaches its own working directory and nothing else.
  if (chmod(o_.state_dir.c_str(), 0711) != 0 || chmod(work_dir_.c_str(), 0711) != 0 ||
      chmod(logs_dir_.c_str(), 0700) != 0) {
    return IoError("cannot set the modes of " + o_.state_dir + ": " + std::strerror(errno));
  }
  if (o_.max_log_bytes > 0) {  // the log cap drops old output by punching holes: the filesystem must allow it
    const std::string probe = logs_dir_ + "/.punch-probe";
    const int fd = open(probe.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const std::string block(8192, 'x');
    const bool ok = fd >= 0 && write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()) &&
                    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0;
    const int err = errno;
    if (fd >= 0) close(fd);
    unlink(probe.c_str());
    if (!ok) {
      return FailedPrecondition(fmt::format(
          "task logs are capped by dropping their oldest bytes in place, and the filesystem of {} cannot do "
          "that ({}): put the state directory on ext4, xfs, btrfs or tmpfs, or pass --max-log-mib 0 (no cap)",
          logs_dir_, std::strerror(err)));
    }
  }
  if (geteuid() != 0) {
    if (o_.sandbox) {
      return FailedPrecondition(
          "the local executor isolates tasks with namespaces and per-tenant uids, which needs root; run awan "
          "serve as root, "
          "or pass --unsandboxed-tasks to run tasks as this server's own user (for development only: tasks "
          "can then read "
          "the store)");
    }
    return Status::Ok();
  }
  if (!o_.sandbox) return Status::Ok();
  // A trial sandbox: the same clone flags and mounts as a task, running `true` as nobody.
  TaskLaunch t;
  t.job_id = "awan-probe";
  t.command = {"true"};
  t.uid = t.gid = 65534;
  t.node = "probe";
  if (Status s = Launch(t); !s.ok())
    return FailedPrecondition("cannot start a sandboxed task here: " + s.message());
  for (int i = 0; i < 200 && !running_.empty(); ++i) {
    for (const TaskExit& e : Poll()) {
      if (e.exit_code != 0) {
        const std::string log = Logs(t.job_id, 0);
        fs::remove_all(JobLogDir(t.job_id), ec);
        fs::remove_all(work_dir_ + "/" + t.job_id, ec);
        return FailedPrecondition(
            fmt::format("a trial sandboxed task failed (exit {}): {}", e.exit_code, log));
      }
    }
    if (!running_.empty()) usleep(10 * 1000);
  }
  if (!running_.empty()) {
    Kill(t.job_id);
    return FailedPrecondition("a trial sandboxed task did not end within 2 s");
  }
  fs::remove_all(JobLogDir(t.job_id), ec);
  fs::remove_all(work_dir_ + "/" + t.job_id, ec);
  return Status::Ok();
}

std::string LocalExecutor::CgroupPath(const std::string& job_id, int task) const {
  return "awan/" + cgroup_instance_ + "/" + job_id + "-" + std::to_string(task);
}

std::string LocalExecutor::Cgroup(const std::string& controller, const std::string& job_id, int task) const {
  return o_.cgroup_root + "/" + controller + "/" + CgroupPath(job_id, task);
}

// Whether the task's memory cgroup killed a process for want of memory (memory.oom_control's oom_kill, Linux
// 4.13 and later): its limit in bytes, else 0.
int64_t LocalExecutor::OomKilled(const std::string& job_id, int task) const {
  if (!cgroups_) return 0;
  const std::string group = Cgroup("memory", job_id, task);
  std::ifstream control(group + "/memory.oom_control");
  int64_t kills = 0;
  for (std::string key; control >> key;) {
    int64_t v = 0;
    if (!(control >> v)) break;
    if (key == "oom_kill") kills = v;
  }
  if (kills == 0) return 0;
  int64_t limit = 0;
  std::ifstream(group + "/memory.limit_in_bytes") >> limit;
  return std::max<int64_t>(1, limit);
}

void LocalExecutor::KillCgroups(const std::string& job_id, int task) const {
  for (const std::string& c : Controllers()) {
    const std::string group = Cgroup(c, job_id, task);
    for (int round = 0; round < 100; ++round) {  // a task that forks while we kill is bounded by pids.max
      const std::vector<pid_t> pids = ReadPids(group + "/cgroup.procs");
      if (pids.empty()) break;
      for (pid_t p : pids) kill(p, SIGKILL);
      usleep(round < 10 ? 1000 : 10 * 1000);
    }
    rmdir(group.c_str());
    rmdir((o_.cgroup_root + "/" + c + "/awan/" + cgroup_instance_).c_str());  // only once it is empty
  }
}

LocalExecutor::~LocalExecutor() {
  for (Running& r : running_) Stop(r, /*graceful=*/false);
}

std::string LocalExecutor::JobLogDir(const std::string& job_id) const { return logs_dir_ + "/" + job_id; }

std::string LocalExecutor::PidPath(const std::string& job_id, int task) const {
  return JobLogDir(job_id) + "/" + std::to_string(task) + ".pid";
}

std::string LocalExecutor::LogPath(const std::string& job_id, int task, int run) const {
  return JobLogDir(job_id) + "/" + std::to_string(task) + (run > 0 ? ".run" + std::to_string(run) : "") +
         ".log";
}

std::string LocalExecutor::ExitPath(const std::string& job_id, int task) const {
  return JobLogDir(job_id) + "/" + std::to_string(task) + ".exit";
}

int LocalExecutor::ReapOrphans() {
  int stopped = 0;
  std::error_code ec;
  if (!fs::is_directory(logs_dir_, ec)) return 0;
  for (const auto& job : fs::directory_iterator(logs_dir_, ec)) {
    for (const auto& f : fs::directory_iterator(job.path(), ec)) {
      if (f.path().extension() != ".pid") continue;
      const std::string job_id = job.path().filename().string();
      int task = -1;
      try {
        task = std::stoi(f.path().stem().string());
      } catch (...) {
        continue;
      }
      if (Tracked(job_id, task)) {
        continue;  // adopted: it runs on under this server
      }
      pid_t pid = 0;
      std::ifstream(f.path()) >> pid;
      // The init is still this task's only if it sits in the task's cgroup (pids are reused); without
      // cgroups, only if its environment names the job.
      bool ours = false, init_alive = false;
      if (cgroups_) {
        const std::vector<pid_t> in = ReadPids(Cgroup("memory", job_id, task) + "/cgroup.procs");
        ours = !in.empty();
        init_alive = std::find(in.begin(), in.end(), pid) != in.end();
      } else if (pid > 0) {
        std::ifstream env("/proc/" + std::to_string(pid) + "/environ");
        const std::string e((std::istreambuf_iterator<char>(env)), {});
        ours = init_alive = e.find("AWAN_JOB_ID=" + job_id + std::string(1, '\0')) != std::string::npos;
      }
      if (init_alive && pid > 0) {
        kill(pid, SIGKILL);   // the pid namespace's init: everything in it dies
        kill(-pid, SIGKILL);  // its process group, when not sandboxed
      }
      KillCgroups(job_id, task);
      stopped += ours;
      fs::remove(f.path(), ec);
    }
  }
  // A task whose server died between clone and writing its pid file has no pid file: its cgroup still names
  // it.
  if (cgroups_) {
    for (const auto& g : fs::directory_iterator(o_.cgroup_root + "/memory/awan/" + cgroup_instance_, ec)) {
      if (!g.is_directory(ec)) continue;
      const std::string name = g.path().filename().string();
      const size_t dash = name.rfind('-');
      if (dash == std::string::npos || dash + 1 >= name.size()) continue;
      const std::string job_id = name.substr(0, dash);
      int task = -1;
      try {
        task = std::stoi(name.substr(dash + 1));
      } catch (...) {
        continue;
      }
      if (Tracked(job_id, task)) {
        continue;
      }
      stopped += !ReadPids(g.path().string() + "/cgroup.procs").empty();
      KillCgroups(job_id, task);
    }
  }
  return stopped;
}

Status LocalExecutor::SetUpCgroups(const TaskLaunch& t, std::vector<std::string>* procs) const {
  for (const std::string& c : Controllers()) {
    const std::string g = Cgroup(c, t.job_id, t.task);
    std::error_code ec;
    fs::create_directories(g, ec);
    if (ec) return IoError("cannot create cgroup " + g + ": " + ec.message());
    // Readable (not writable) by the task, which may size itself by its limits as JVMs and PyTorch do.
    for (const std::string& d :
         {o_.cgroup_root + "/" + c + "/awan", o_.cgroup_root + "/" + c + "/awan/" + cgroup_instance_, g}) {
      chmod(d.c_str(), 0755);
    }
    bool ok = true;
    if (c == "memory" && t.mem_mib > 0) {
      ok = WriteFile(g + "/memory.limit_in_bytes", std::to_string(t.mem_mib * 1024 * 1024));
      // Swap too, where the kernel accounts it: a task does not get past its memory by swapping.
      if (fs::exists(g + "/memory.memsw.limit_in_bytes"))
        (void)WriteFile(g + "/memory.memsw.limit_in_bytes", std::to_string(t.mem_mib * 1024 * 1024));
    }
    if (c == "cpu") {
      ok = WriteFile(g + "/cpu.cfs_period_us", "100000") &&
           WriteFile(g + "/cpu.cfs_quota_us", std::to_string(std::max(1, t.cpus) * 100000));
    }
    if (c == "pids") ok = WriteFile(g + "/pids.max", std::to_string(o_.pids_max));
    if (c == "devices") {
      // Nothing but the ordinary character devices and the GPUs awan assigned.
      ok = WriteFile(g + "/devices.deny", "a");
      for (const char* d : {"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", "c 5:0 rwm",
                            "c 5:2 rwm", "c 136:* rwm"}) {
        ok = ok && WriteFile(g + "/devices.allow", d);
      }
      std::vector<std::string> nodes = o_.shared_devices;
      std::stringstream ss(t.devices);
      for (std::string idx; std::getline(ss, idx, ',');) {
        if (idx.empty()) continue;
        std::string path = o_.gpu_device_pattern;
        const size_t at = path.find("{}");
        if (at != std::string::npos) path.replace(at, 2, idx);
        nodes.push_back(path);
      }
      for (const std::string& n : nodes) {
        struct stat st {};
        if (stat(n.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) continue;  // not on this machine
        ok = ok &&
             WriteFile(g + "/devices.allow", fmt::format("c {}:{} rw", major(st.st_rdev), minor(st.st_rdev)));
      }
    }
    if (!ok) return IoError("cannot set the limits of cgroup " + g);
    procs->push_back(g + "/cgroup.procs");
  }
  return Status::Ok();
}

namespace {

// Who the task runs as: the tenant's uid and gid when the server is root (never uid or gid 0 unless allowed).
Status SetIdentity(const TaskLaunch& t, bool allow_root, InitArgs& a) {
  if (geteuid() != 0) return Status::Ok();
  if (t.uid < 0 || t.gid < 0) {
    if (!allow_root) return FailedPrecondition("refusing to run a task as root: its tenant has no uid");
    return Status::Ok();
  }
  if ((t.uid == 0 || t.gid == 0) && !allow_root)
    return FailedPrecondition("refusing to run a task as root (uid or gid 0)");
  a.drop = true;
  a.uid = static_cast<uid_t>(t.uid);
  a.gid = static_cast<gid_t>(t.gid);
  return Status::Ok();
}

// The files the init writes to and reads from, opened here: the log, the exit file ("<run> ", then the init
// appends its exit code: an earlier run's code is never this one's), /dev/null, the working directory, and
// the go pipe. Every descriptor opened is in `fds` (the caller closes them).
Status OpenTaskFiles(const std::string& log, const std::string& exit_path, int run,
                     const std::string& workdir, InitArgs& a, int go[2], std::vector<int>& fds) {
  a.log_fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  a.exit_fd = open(exit_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (a.exit_fd >= 0) {
    const std::string mark = std::to_string(run) + " ";
    (void)!write(a.exit_fd, mark.data(), mark.size());
  }
  a.devnull_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  a.workdir_fd = open(workdir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (pipe2(go, O_CLOEXEC) != 0) go[0] = go[1] = -1;
  a.go_fd = go[0];
  fds = {a.log_fd, a.exit_fd, a.devnull_fd, a.workdir_fd, go[0], go[1]};
  if (a.argv != nullptr && a.argv[0] != nullptr && std::strcmp(a.argv[0], kSelfCommand) == 0) {
    a.self_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    if (a.self_fd < 0) return IoError(std::string("cannot open this binary: ") + std::strerror(errno));
    fds.push_back(a.self_fd);
  }
  a.keep_fds = {a.log_fd, a.exit_fd, a.devnull_fd, a.workdir_fd, a.go_fd, a.self_fd};
  std::sort(a.keep_fds.begin(), a.keep_fds.end());
  if (a.log_fd < 0 || a.exit_fd < 0 || a.devnull_fd < 0 || go[0] < 0)
    return IoError("cannot open " + log + ": " + std::strerror(errno));
  if (a.workdir_fd < 0)
    return FailedPrecondition("working directory " + workdir + ": " + std::strerror(errno));
  return Status::Ok();
}

// Starts the init (InitMain) in new namespaces when sandboxed. Its stack is its own copy of a mapping (no
// CLONE_VM), so ours is unmapped right after. Every signal stays blocked from clone until the init has reset
// its handlers to the defaults: a SIGTERM for the task that arrived earlier would run the server's own
// handler in the child.
StatusOr<pid_t> CloneInit(InitArgs& a) {
  constexpr size_t kStack = 512 * 1024;
  void* stack = mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) return IoError(std::string("mmap: ") + std::strerror(errno));
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  int flags = SIGCHLD;
  if (a.sandbox) flags |= CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;
  const pid_t pid = clone(InitMain, static_cast<char*>(stack) + kStack, flags, &a);
  const int clone_errno = errno;
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  munmap(stack, kStack);
  if (pid < 0) return IoError(std::string("clone: ") + std::strerror(clone_errno));
  return pid;
}

}  // namespace

// Every run keeps its own log: the previous run's becomes <task>.run<k>.log.
Status LocalExecutor::PrepareLog(const TaskLaunch& t) const {
  std::error_code ec;
  const std::string job_logs = JobLogDir(t.job_id);
  fs::create_directories(job_logs, ec);
  if (ec) return IoError("cannot create " + job_logs + ": " + ec.message());
  chmod(job_logs.c_str(), 0700);
  if (fs::exists(LogPath(t.job_id, t.task), ec)) {
    int k = 1;
    while (fs::exists(LogPath(t.job_id, t.task, k), ec)) ++k;
    fs::rename(LogPath(t.job_id, t.task), LogPath(t.job_id, t.task, k), ec);
  }
  return Status::Ok();
}

// Its working directory: its own, owned by its uid, unless the manifest names one (and the job's checkpoint
// directory, made the first time).
StatusOr<std::string> LocalExecutor::TaskWorkdir(const TaskLaunch& t, bool drop, int64_t uid,
                                                 int64_t gid) const {
  std::error_code ec;
  std::string workdir = t.workdir;
  if (workdir.empty()) {
    workdir = work_dir_ + "/" + t.job_id;
    fs::create_directories(workdir, ec);
    if (ec) return IoError("cannot create " + workdir + ": " + ec.message());
    if (drop && chown(workdir.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)
      return IoError("cannot chown " + workdir + ": " + std::strerror(errno));
    chmod(workdir.c_str(), 0700);
  }
  AWAN_RETURN_IF_ERROR(MakeCheckpointDir(t, drop, uid, gid));
  return fs::absolute(workdir, ec).lexically_normal().string();
}

// The job's checkpoint directory: the same for every task and run of the job (a requeued run finds what the
// last one saved there), owned by the task's uid, removed with the job's files.
std::string LocalExecutor::CheckpointDir(const std::string& job_id) const {
  // Absolute: the task runs in its own working directory, and a container mounts it by this path.
  std::error_code ec;
  return fs::absolute(work_dir_ + "/" + job_id + "/checkpoint", ec).lexically_normal().string();
}

Status LocalExecutor::MakeCheckpointDir(const TaskLaunch& t, bool drop, int64_t uid, int64_t gid) const {
  std::error_code ec;
  for (const std::string& dir : {work_dir_ + "/" + t.job_id, CheckpointDir(t.job_id)}) {
    if (fs::exists(dir, ec)) continue;
    fs::create_directory(dir, ec);
    if (ec) return IoError("cannot create " + dir + ": " + ec.message());
    if (drop && chown(dir.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0)
      return IoError("cannot chown " + dir + ": " + std::strerror(errno));
    chmod(dir.c_str(), 0700);
  }
  return Status::Ok();
}

// Its environment: an allowlist of ours, the manifest's, and awan's (which nothing overrides).
std::vector<std::string> LocalExecutor::TaskEnvironment(const TaskLaunch& t,
                                                        const std::string& workdir) const {
  std::vector<std::string> env;
  bool has_path = false;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string s = *e;
    const std::string key = s.substr(0, s.find('='));
    if (!Inherited(key) || t.env.count(key)) continue;
    has_path = has_path || key == "PATH";
    env.push_back(s);
  }
  if (!has_path && !t.env.count("PATH")) env.push_back("PATH=/usr/local/bin:/usr/bin:/bin");
  for (const auto& [k, v] : t.env) {
    if (k == "HOME" || k == "TMPDIR" || k == "CUDA_VISIBLE_DEVICES" || k.rfind("AWAN_", 0) == 0) continue;
    env.push_back(k + "=" + v);
  }
  env.push_back("HOME=" + workdir);
  env.push_back("TMPDIR=/tmp");
  env.push_back("CUDA_VISIBLE_DEVICES=" + t.devices);
  env.push_back("AWAN_JOB_ID=" + t.job_id);
  env.push_back("AWAN_TASK_INDEX=" + std::to_string(t.task));
  env.push_back("AWAN_RUN=" + std::to_string(t.run));
  env.push_back("AWAN_CHECKPOINT_DIR=" + CheckpointDir(t.job_id));
  env.push_back("AWAN_NODE=" + t.node);
  if (!t.tenant.empty()) env.push_back("AWAN_TENANT=" + t.tenant);
  if (cgroups_) env.push_back("AWAN_CGROUP=" + CgroupPath(t.job_id, t.task));
  for (const auto& [k, v] : t.awan_env) env.push_back(k + "=" + v);
  return env;
}

namespace {

// Of `dirs`, those below /tmp (which a sandbox's private /tmp hides), and the directories to make in the
// private /tmp before binding them back (parents first).
void BelowTmp(const std::vector<std::string>& dirs, std::vector<std::string>* below,
              std::vector<std::string>* parents) {
  for (const std::string& dir : dirs) {
    if (dir.rfind("/tmp/", 0) != 0) continue;
    below->push_back(dir);
    std::vector<std::string> up;
    for (fs::path p = fs::path(dir); p != "/tmp" && p.has_parent_path() && p != p.parent_path();
         p = p.parent_path()) {
      up.insert(up.begin(), p.string());
    }
    parents->insert(parents->end(), up.begin(), up.end());
  }
}

}  // namespace

// What a container task's start will cost, its log's first line (read by the service manager too).
std::string LocalExecutor::ImageNote(const TaskLaunch& t) const {
  return HasImage(t.node, t.image) ? fmt::format("awan: image {}{}{}\n", t.image, kImagePresentNote, t.node)
                                   : fmt::format("{}{} to node {}\n", kImagePullingNote, t.image, t.node);
}

// A task with an image: its reference checked again (the executor trusts no caller), root and the sandbox
// there, its node's image store made.
Status LocalExecutor::PrepareContainer(const TaskLaunch& t) const {
  AWAN_RETURN_IF_ERROR(config::CheckImageReference(t.image));
  if (geteuid() != 0 || !o_.sandbox) {
    return FailedPrecondition("image " + t.image +
                              ": running images needs awan serve as root with sandboxed tasks (the container "
                              "runtime runs as root; the image runs as the tenant)");
  }
  const std::string dir = NodeImageDir(t.node);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  chmod(dir.c_str(), 0700);
  return Status::Ok();
}

Status LocalExecutor::Launch(const TaskLaunch& t) {
  Running r{t.job_id, t.task, -1, 0, false};
  r.run = t.run;
  const int64_t limit_s = WallLimitS(t);
  if (limit_s > 0) r.ends_ms = clock_->NowMs() + limit_s * 1000;
  AWAN_RETURN_IF_ERROR(PrepareLog(t));
  if (t.command.empty()) {
    std::ofstream(LogPath(t.job_id, t.task))
        << "placeholder task on " << t.node << " GPUs " << t.devices << " for " << t.duration_s << " s\n";
    running_.push_back(r);
    return Status::Ok();
  }
  const bool container = !t.image.empty();
  if (container) AWAN_RETURN_IF_ERROR(PrepareContainer(t));
  InitArgs a;
  a.sandbox = o_.sandbox && geteuid() == 0;
  AWAN_RETURN_IF_ERROR(SetIdentity(t, o_.allow_root, a));
  AWAN_ASSIGN_OR_RETURN(const std::string workdir, TaskWorkdir(t, a.drop, a.uid, a.gid));
  std::vector<std::string> env_strings = TaskEnvironment(t, workdir);
  std::vector<std::string> args = t.command;
  r.node = t.node;
  if (container) {  // the runtime runs as root in the sandbox; the image's processes as the tenant (--user)
    AWAN_ASSIGN_OR_RETURN(const std::string env_file, WriteContainerEnv(t, env_strings));
    args = ContainerArgv(t, workdir, env_file, a.drop ? a.uid : -1, a.drop ? a.gid : -1);
    env_strings = RuntimeEnvironment(t.node);  // nothing of the tenant's reaches the root runtime's own
    a.drop = false;
    r.container = ContainerName(t.job_id, t.task);
  }
  std::vector<char*> envp, argv;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  for (std::string& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  a.argv = argv.data();
  a.envp = envp.data();
  std::vector<std::string> procs;
  if (Status s = SetUpCgroups(t, &procs); !s.ok()) {
    KillCgroups(t.job_id, t.task);
    return s;
  }
  for (const std::string& p : procs) a.cgroup_procs.push_back(p.c_str());
  std::vector<std::string> rebinds, parents;  // below /tmp, hidden by the private /tmp: bound back
  if (a.sandbox) {
    BelowTmp({workdir, container ? NodeImageDir(t.node) : "", CheckpointDir(t.job_id)}, &rebinds, &parents);
  }
  for (const std::string& p : rebinds) a.rebinds.push_back(p.c_str());
  for (const std::string& p : parents) a.rebind_parents.push_back(p.c_str());
  a.workdir = workdir.c_str();
  std::tie(a.cmdline_start, a.cmdline_end) = CmdlineRange();
  const std::string hostname = t.node;
  a.hostname = hostname.c_str();
  const std::string tmp_options = fmt::format("mode=1777,size={}m", std::max<int64_t>(1, o_.tmp_mib));
  a.tmp_options = tmp_options.c_str();
  std::vector<int> fds;
  auto close_all = [&] {
    for (int fd : fds) close(fd);
  };
  int go[2] = {-1, -1};
  Status opened =
      OpenTaskFiles(LogPath(t.job_id, t.task), ExitPath(t.job_id, t.task), t.run, workdir, a, go, fds);
  const std::string note = container && opened.ok() ? ImageNote(t) : "";
  (void)!write(a.log_fd, note.data(), note.size());
  StatusOr<pid_t> pid = opened.ok() ? CloneInit(a) : StatusOr<pid_t>(opened);
  if (!pid.ok()) {
    close_all();
    KillCgroups(t.job_id, t.task);
    return pid.status();
  }
  setpgid(*pid, *pid);  // also from here, so a Kill right after Launch reaches the group
  r.pid = *pid;
  // Recorded, with the mark that the init may start the task, before it may: a server killed before the mark
  // leaves an init that never ran the task (it exits at the go pipe's end of file), which the next server
  // does not count as a run; one killed between the mark and the byte at worst counts a run that did not
  // happen.
  std::ofstream(PidPath(t.job_id, t.task)) << *pid << " " << StartTime(*pid) << " go";
  (void)!write(go[1], "g", 1);
  close_all();
  running_.push_back(r);
  return Status::Ok();
}

void LocalExecutor::Stop(Running& r, bool graceful) {
  if (r.pid > 0) {
    if (graceful) {
      kill(r.pid, SIGTERM);  // the init forwards it to the task
      for (int64_t waited = 0; waited < o_.kill_grace_ms; waited += 10) {
        if (waitpid(r.pid, nullptr, WNOHANG) == r.pid) {
          r.pid = -1;
          break;
        }
        usleep(10 * 1000);
      }
    }
    if (r.pid > 0) {
      kill(r.pid, SIGKILL);   // the init: with it, its pid namespace
      kill(-r.pid, SIGKILL);  // its process group, when not sandboxed
      waitpid(r.pid, nullptr, 0);
    }
  }
  KillCgroups(r.job_id, r.task);  // anything left, wherever it went
  if (!r.container.empty()) {     // its record in the node's store, its environment file
    RemoveContainer(r.node, r.container);
    std::error_code gone;
    fs::remove(EnvFilePath(r.node, r.job_id, r.task), gone);
  }
  std::error_code ec;
  fs::remove(PidPath(r.job_id, r.task), ec);
}

void LocalExecutor::CapLog(const Running& r) const {
  if (o_.max_log_bytes <= 0) return;
  const std::string path = LogPath(r.job_id, r.task);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0 || st.st_size <= o_.max_log_bytes) return;
  // Kept bytes: what is allocated (holes punched before do not count), about st_blocks * 512.
  if (static_cast<int64_t>(st.st_blocks) * 512 <= o_.max_log_bytes) return;
  const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  // Keep the newest half of the cap; whole 4 KiB blocks, so the kept part starts on a block boundary.
  const int64_t drop_to = (st.st_size - o_.max_log_bytes / 2) / 4096 * 4096;
  if (drop_to > 0) fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, drop_to);
  close(fd);
}

std::vector<TaskExit> LocalExecutor::Poll() {
  std::vector<TaskExit> out;
  const int64_t now = clock_->NowMs();
  ReapPulls();
  for (size_t i = 0; i < running_.size();) {
    Running& r = running_[i];
    if (r.pid > 0) CapLog(r);
    bool ended = false;
    int code = 0;
    if (r.ended_code >= 0) {  // ended while no server watched
      ended = true;
      code = r.ended_code;
    } else if (r.pid < 0) {  // a placeholder
      ended = now >= r.ends_ms;
    } else {
      if (r.adopted) {  // not our child: alive while its init is; its code is in the exit file
        if (kill(r.pid, 0) != 0 || StartTime(r.pid) == 0 || Zombie(r.pid)) {
          ended = true;
          code = 128 + SIGKILL;  // no code recorded: it was killed
          if (const int c = ReadExitCode(ExitPath(r.job_id, r.task), r.run); c >= 0) code = c;
        }
      } else if (int status = 0; waitpid(r.pid, &status, WNOHANG) == r.pid) {
        ended = true;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        kill(-r.pid, SIGKILL);  // anything the task left behind in its group
      }
      if (!ended && r.ends_ms > 0 && now >= r.ends_ms) {  // over its time limit
        r.timed_out = true;
        Stop(r, /*graceful=*/true);
        ended = true;
        code = 128 + SIGKILL;
      }
    }
    if (ended) {
      r.pid = -1;
      const int64_t oom_limit = OomKilled(r.job_id, r.task);  // read before its cgroups go
      KillCgroups(r.job_id, r.task);
      if (!r.container.empty() && code != 0) RemoveContainer(r.node, r.container);  // killed: no --rm ran
      CapLog(r);  // what it wrote since the last look
      std::error_code ec;
      if (!r.container.empty()) fs::remove(EnvFilePath(r.node, r.job_id, r.task), ec);
      fs::remove(PidPath(r.job_id, r.task), ec);
      out.push_back({r.job_id, r.task, code, r.timed_out, oom_limit});
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  return out;
}

bool LocalExecutor::Tracked(const std::string& job_id, int task) const {
  return std::any_of(running_.begin(), running_.end(),
                     [&](const Running& r) { return r.job_id == job_id && r.task == task; });
}

Executor::Adoption LocalExecutor::Adopt(const TaskLaunch& t, int64_t started_ms) {
  Running r{t.job_id, t.task, -1, 0, false};
  r.run = t.run;
  r.adopted = true;
  r.node = t.node;
  if (!t.image.empty()) r.container = ContainerName(t.job_id, t.task);
  const int64_t limit_s = WallLimitS(t);
  if (limit_s > 0) r.ends_ms = started_ms + limit_s * 1000;
  if (t.command.empty()) {  // a placeholder "runs" on the clock alone
    if (!fs::exists(LogPath(t.job_id, t.task))) return Adoption::kNeverStarted;
    running_.push_back(r);
    return Adoption::kRunning;
  }
  const int code = ReadExitCode(ExitPath(t.job_id, t.task), t.run);
  pid_t pid = 0;
  uint64_t start = 0;
  std::string went;
  std::ifstream(PidPath(t.job_id, t.task)) >> pid >> start >> went;
  std::string run_mark, mark;
  std::ifstream(ExitPath(t.job_id, t.task)) >> run_mark >> mark;
  if (mark == "never" && run_mark == std::to_string(t.run))
    return Adoption::kNeverStarted;  // no go byte came
  if (code >= 0) {                   // it ended while no server watched: recorded, not rerun
    KillCgroups(t.job_id, t.task);
    r.ended_code = code;
    running_.push_back(r);
    return Adoption::kEnded;
  }
  // A zombie is an init that has exited and that its new parent has not reaped yet: not running. (One whose
  // server died before letting it start exits at once, at the end of file of its go pipe, without an exit
  // code.)
  if (pid <= 0 || start == 0 || StartTime(pid) != start || Zombie(pid)) {
    // Never let go and no output: the previous server died before its init was allowed to start the task (or
    // before it launched at all).
    std::error_code ec;
    const std::string log = LogPath(t.job_id, t.task);
    const bool silent = !fs::exists(log, ec) || fs::file_size(log, ec) == 0;
    return went != "go" && silent ? Adoption::kNeverStarted : Adoption::kLost;
  }
  r.pid = pid;
  running_.push_back(r);
  return Adoption::kRunning;
}

void LocalExecutor::Kill(const std::string& job_id) {
  for (size_t i = 0; i < running_.size();) {
    if (running_[i].job_id != job_id) {
      ++i;
      continue;
    }
    Stop(running_[i], /*graceful=*/true);
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

Executor::LogChunk LocalExecutor::ReadLog(const std::string& job_id, int task, int run, int64_t offset,
                                          int64_t max_bytes) const {
  LogChunk c;
  const int fd = open(LogPath(job_id, task, run).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return c;
  struct stat st {};
  if (fstat(fd, &st) == 0) c.size = st.st_size;
  // The log cap drops the oldest bytes by punching a hole at the front: the first data is where the log
  // starts.
  const off_t data = lseek(fd, 0, SEEK_DATA);
  c.start = data < 0 ? (errno == ENXIO ? c.size : 0) : std::min<int64_t>(data, c.size);
  c.offset = offset < 0 ? std::max<int64_t>(0, c.size + offset) : std::min(offset, c.size);
  c.offset = std::max(c.offset, c.start);
  const int64_t n = std::clamp<int64_t>(c.size - c.offset, 0, std::max<int64_t>(0, max_bytes));
  c.data.resize(static_cast<size_t>(n));
  const ssize_t got = n > 0 ? pread(fd, c.data.data(), static_cast<size_t>(n), c.offset) : 0;
  c.data.resize(got > 0 ? static_cast<size_t>(got) : 0);
  close(fd);
  return c;
}

std::string LocalExecutor::Logs(const std::string& job_id, int task) const {
  std::ifstream f(LogPath(job_id, task));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace awan::server
