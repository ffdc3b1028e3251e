#include "server/local_executor.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include <fmt/format.h>

extern char** environ;

namespace awan::server {

LocalExecutor::LocalExecutor(std::string dir, std::function<int64_t()> now_ms) : dir_(std::move(dir)), now_ms_(std::move(now_ms)) {
  std::error_code ec;
  const std::string abs = std::filesystem::weakly_canonical(std::filesystem::absolute(dir_, ec), ec).string();
  cgroup_instance_ = fmt::format("{:016x}", std::hash<std::string>{}(abs.empty() ? dir_ : abs));
  SetCgroupRoot("/sys/fs/cgroup");
}

void LocalExecutor::SetCgroupRoot(const std::string& root) {
  cgroup_root_ = root;
  std::error_code ec;
  // Usable if both v1 hierarchies exist and we may create our parent group in each.
  cgroups_ = std::filesystem::exists(root + "/memory/memory.limit_in_bytes", ec) &&
             std::filesystem::exists(root + "/cpu/cpu.cfs_quota_us", ec);
  for (const char* c : {"memory", "cpu"}) {
    if (!cgroups_) break;
    std::filesystem::create_directories(root + "/" + c + "/awan", ec);
    cgroups_ = !ec && access((root + "/" + c + "/awan").c_str(), W_OK) == 0;
  }
}

std::string LocalExecutor::CgroupPath(const std::string& job_id, int task) const {
  return "awan/" + cgroup_instance_ + "/" + job_id + "-" + std::to_string(task);
}

std::string LocalExecutor::Cgroup(const std::string& controller, const std::string& job_id, int task) const {
  return cgroup_root_ + "/" + controller + "/" + CgroupPath(job_id, task);
}

void LocalExecutor::RemoveCgroups(const std::string& job_id, int task) const {
  if (!cgroups_) return;
  for (const char* c : {"memory", "cpu"}) {
    rmdir(Cgroup(c, job_id, task).c_str());
    rmdir((cgroup_root_ + "/" + c + "/awan/" + cgroup_instance_).c_str());  // only once it is empty
  }
}

LocalExecutor::~LocalExecutor() {
  for (const Running& r : running_) {
    if (r.pid > 0) {
      kill(-r.pid, SIGKILL);
      waitpid(r.pid, nullptr, 0);
    }
  }
}

std::string LocalExecutor::PidPath(const std::string& job_id, int task) const {
  return dir_ + "/" + job_id + "/" + std::to_string(task) + ".pid";
}

int LocalExecutor::ReapOrphans() {
  int killed = 0;
  std::error_code ec;
  if (!std::filesystem::is_directory(dir_, ec)) return 0;
  for (const auto& job : std::filesystem::directory_iterator(dir_, ec)) {
    for (const auto& f : std::filesystem::directory_iterator(job.path(), ec)) {
      if (f.path().extension() != ".pid") continue;
      pid_t pid = 0;
      std::ifstream(f.path()) >> pid;
      // Only a process that is still this task (pid reuse): its environment names the job.
      std::ifstream env("/proc/" + std::to_string(pid) + "/environ");
      std::string e((std::istreambuf_iterator<char>(env)), {});
      if (pid > 0 && e.find("AWAN_JOB_ID=" + job.path().filename().string() + std::string(1, '\0')) != std::string::npos) {
        kill(-pid, SIGKILL);
        ++killed;
      }
      std::filesystem::remove(f.path(), ec);
    }
  }
  return killed;
}

std::string LocalExecutor::LogPath(const std::string& job_id, int task) const {
  return dir_ + "/" + job_id + "/" + std::to_string(task) + ".log";
}

Status LocalExecutor::Launch(const TaskLaunch& t) {
  Running r{t.job_id, t.task, -1, t.duration_s > 0 ? now_ms_() + t.duration_s * 1000 : 0};
  std::error_code ec;
  std::filesystem::create_directories(dir_ + "/" + t.job_id, ec);
  if (ec) return IoError("cannot create " + dir_ + "/" + t.job_id + ": " + ec.message());
  if (t.command.empty()) {
    std::ofstream(LogPath(t.job_id, t.task)) << "placeholder task on " << t.node << " GPUs " << t.devices << " for "
                                             << t.duration_s << " s\n";
    running_.push_back(r);
    return Status::Ok();
  }
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string s = *e;
    const std::string key = s.substr(0, s.find('='));
    if (key == "CUDA_VISIBLE_DEVICES" || key == "AWAN_JOB_ID" || key == "AWAN_TASK_INDEX" || key == "AWAN_NODE" ||
        key == "AWAN_CGROUP" ||
        t.env.count(key)) {
      continue;
    }
    env_strings.push_back(s);
  }
  for (const auto& [k, v] : t.env) env_strings.push_back(k + "=" + v);
  env_strings.push_back("CUDA_VISIBLE_DEVICES=" + t.devices);
  env_strings.push_back("AWAN_JOB_ID=" + t.job_id);
  env_strings.push_back("AWAN_TASK_INDEX=" + std::to_string(t.task));
  env_strings.push_back("AWAN_NODE=" + t.node);
  if (cgroups_) env_strings.push_back("AWAN_CGROUP=" + CgroupPath(t.job_id, t.task));
  std::vector<char*> envp, argv;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = t.command;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Limits: a cgroup per task in each v1 hierarchy, with the limits written before the process joins.
  std::string mem_procs, cpu_procs;
  if (cgroups_) {
    const std::string mem = Cgroup("memory", t.job_id, t.task), cpu = Cgroup("cpu", t.job_id, t.task);
    std::error_code mk;
    std::filesystem::create_directories(mem, mk);
    std::filesystem::create_directories(cpu, mk);
    if (t.mem_mib > 0) std::ofstream(mem + "/memory.limit_in_bytes") << t.mem_mib * 1024 * 1024;
    std::ofstream(cpu + "/cpu.cfs_period_us") << 100000;
    std::ofstream(cpu + "/cpu.cfs_quota_us") << std::max(1, t.cpus) * 100000;
    mem_procs = mem + "/cgroup.procs";
    cpu_procs = cpu + "/cgroup.procs";
  }
  const std::string log = LogPath(t.job_id, t.task);
  const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return IoError("cannot open " + log + ": " + std::strerror(errno));
  // Every signal stays blocked from fork until the child has reset its handlers to the defaults. Otherwise a
  // SIGTERM for the task (a cancel) that arrives before exec runs the server's own handler in the child, which
  // shuts down the listening socket the child shares with the server: the server stopped (a flaky test showed it).
  // The defaults also undo the server's SIGPIPE "ignore", which exec would otherwise pass on to the task.
  sigset_t all, saved;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &saved);
  const pid_t pid = fork();
  if (pid < 0) {
    pthread_sigmask(SIG_SETMASK, &saved, nullptr);
    close(fd);
    return IoError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) sigaction(sig, &dfl, nullptr);  // SIGKILL and SIGSTOP refuse: fine
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setpgid(0, 0);
    for (const std::string* procs : {&mem_procs, &cpu_procs}) {  // join the task's cgroups (write "0": this process)
      if (procs->empty()) continue;
      const int cg = open(procs->c_str(), O_WRONLY | O_CLOEXEC);
      if (cg >= 0) {
        (void)!write(cg, "0", 1);
        close(cg);
      }
    }
    dup2(fd, 1);
    dup2(fd, 2);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    execvpe(argv[0], argv.data(), envp.data());
    const char msg[] = "awan: exec failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  pthread_sigmask(SIG_SETMASK, &saved, nullptr);
  setpgid(pid, pid);  // also from the parent, so a Kill right after Launch reaches the group
  close(fd);
  r.pid = pid;
  std::ofstream(PidPath(t.job_id, t.task)) << pid;
  running_.push_back(r);
  return Status::Ok();
}

std::vector<TaskExit> LocalExecutor::Poll() {
  std::vector<TaskExit> out;
  const int64_t now = now_ms_();
  std::error_code ec;
  for (size_t i = 0; i < running_.size();) {
    Running& r = running_[i];
    bool ended = false;
    int code = 0;
    if (r.pid < 0) {
      ended = now >= r.ends_ms;
    } else {
      int status = 0;
      const pid_t w = waitpid(r.pid, &status, WNOHANG);
      if (w == r.pid) {
        ended = true;
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        kill(-r.pid, SIGKILL);  // anything the task left behind in its group
      } else if (r.ends_ms > 0 && now >= r.ends_ms) {
        kill(-r.pid, SIGKILL);  // over its time limit: reaped on a later poll
        r.ends_ms = 0;
      }
    }
    if (ended) {
      RemoveCgroups(r.job_id, r.task);
      std::filesystem::remove(PidPath(r.job_id, r.task), ec);
      out.push_back({r.job_id, r.task, code});
      running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  return out;
}

void LocalExecutor::Kill(const std::string& job_id) {
  for (size_t i = 0; i < running_.size();) {
    if (running_[i].job_id != job_id) {
      ++i;
      continue;
    }
    if (running_[i].pid > 0) {
      kill(-running_[i].pid, SIGTERM);
      usleep(100 * 1000);
      kill(-running_[i].pid, SIGKILL);
      waitpid(running_[i].pid, nullptr, 0);
    }
    RemoveCgroups(running_[i].job_id, running_[i].task);
    std::error_code ec;
    std::filesystem::remove(PidPath(running_[i].job_id, running_[i].task), ec);
    running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

std::string LocalExecutor::Logs(const std::string& job_id, int task) const {
  std::ifstream f(LogPath(job_id, task));
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace awan::server
