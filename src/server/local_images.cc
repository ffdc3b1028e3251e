// The local executor's containers and per-node image stores (local_executor.h, LocalExecutorOptions::
// container_runtime): the argv that runs a task in its image, the node's image store, pre-pulls, cleanup.
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>

#include "server/local_executor.h"

extern char** environ;

namespace awan::server {
namespace {

namespace fs = std::filesystem;

// The registry part of a reference: what comes before the first '/' when it looks like a host (has a '.' or
// a ':', or is localhost); "" for a name on the default registry.
std::string RegistryOf(const std::string& image) {
  const size_t slash = image.find('/');
  if (slash == std::string::npos) return "";
  const std::string first = image.substr(0, slash);
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos && first != "localhost")
    return "";
  return first;
}

// A registry on this machine's loopback: plain HTTP is acceptable there (nothing crosses a network).
bool LoopbackRegistry(const std::string& image) {
  const std::string r = RegistryOf(image);
  const std::string host = r.substr(0, r.rfind(':') == std::string::npos ? r.size() : r.rfind(':'));
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

// The name the image store records for a reference: the tag "latest" when none is given.
std::string StoredName(const std::string& image) {
  if (image.find('@') != std::string::npos) return image;
  const size_t slash = image.rfind('/');
  const size_t colon = image.rfind(':');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return image + ":latest";
  return image;
}

// Starts argv in the background with its output to `log` (/dev/null when empty); -1 if it could not start.
// In a mount namespace of its own (util-linux's unshare): the mounts the runtime makes on its store stay
// there and go with it, instead of piling up in the server's.
pid_t SpawnDetached(const std::vector<std::string>& args, const std::string& log) {
  std::vector<char*> argv;
  std::vector<std::string> copy = {"unshare", "--mount", "--propagation", "private"};
  copy.insert(copy.end(), args.begin(), args.end());
  for (std::string& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  const std::string out = log.empty() ? "/dev/null" : log;
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);  // signals to the server's group miss it
  pid_t pid = -1;
  if (posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  return pid;
}

}  // namespace

std::string LocalExecutor::NodeImageDir(const std::string& node) const {
  std::string safe;
  for (char c : node) safe += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  std::error_code ec;  // absolute: the sandbox binds it back by path when it lies below /tmp
  const std::string state = fs::absolute(o_.state_dir, ec).lexically_normal().string();
  return state + "/images/" + (safe.empty() || safe[0] == '.' ? "_" + safe : safe);
}

std::vector<std::string> LocalExecutor::RuntimeArgs(const std::string& node) const {
  // The run root holds sockets, so the runtime wants its path short (at most 50 characters): below /run, by
  // this executor's instance and a hash of the node's name.
  const std::string run = fmt::format("/run/awan/{}/{:08x}", cgroup_instance_.substr(0, 8),
                                      std::hash<std::string>{}(node)&0xffffffffu);
  const std::string dir = NodeImageDir(node);
  return {o_.container_runtime, "--root",           dir + "/storage", "--runroot", run,   "--cgroup-manager",
          "cgroupfs",           "--events-backend", "none",           "--runtime", "runc"};
}

std::string LocalExecutor::ContainerName(const std::string& job_id, int task) const {
  return fmt::format("awan-{}-{}-{}", cgroup_instance_.substr(0, 8), job_id, task);
}

std::vector<std::string> LocalExecutor::ContainerArgv(const TaskLaunch& t, const std::string& workdir,
                                                      const std::string& env_file, int64_t uid,
                                                      int64_t gid) const {
  std::vector<std::string> v = RuntimeArgs(t.node);
  const std::vector<std::string> run = {
      "run",
      "--rm",
      "--replace",
      "--name",
      ContainerName(t.job_id, t.task),
      "--pull",
      "missing",
      "--network",
      "host",
      "--hostname",
      t.node,
      "--cap-drop",
      "all",
      "--security-opt",
      "no-new-privileges",
      "--read-only",
      "--read-only-tmpfs=false",
      "--tmpfs",
      fmt::format("/tmp:rw,nosuid,nodev,size={}m,mode=1777", std::max<int64_t>(1, o_.tmp_mib)),
      "--ulimit",
      "nofile=1024:1024",
      "--ulimit",
      "nproc=4096:4096",
      "--pids-limit",
      std::to_string(o_.pids_max),
      "--log-driver",
      "none",
      "--volume",
      workdir + ":" + workdir,
      "--volume",
      CheckpointDir(t.job_id) + ":" + CheckpointDir(t.job_id),
      "--workdir",
      workdir};
  v.insert(v.end(), run.begin(), run.end());
  if (LoopbackRegistry(t.image)) v.push_back("--tls-verify=false");
  if (t.mem_mib > 0) v.insert(v.end(), {"--memory", std::to_string(t.mem_mib) + "m"});
  if (t.cpus > 0) v.insert(v.end(), {"--cpus", std::to_string(t.cpus)});
  if (uid >= 0 && gid >= 0) v.insert(v.end(), {"--user", fmt::format("{}:{}", uid, gid)});
  // The GPUs awan assigned (and the shared control devices), where this node has them.
  std::vector<std::string> devices;
  std::stringstream ds(t.devices);
  for (std::string d; std::getline(ds, d, ',');) {
    std::string path = o_.gpu_device_pattern;
    if (const size_t at = path.find("{}"); at != std::string::npos && !d.empty()) path.replace(at, 2, d);
    devices.push_back(path);
  }
  if (!devices.empty()) devices.insert(devices.end(), o_.shared_devices.begin(), o_.shared_devices.end());
  for (const std::string& d : devices) {
    std::error_code ec;
    if (fs::exists(d, ec)) v.insert(v.end(), {"--device", d});
  }
  // The environment from a root-only file: no value (the replica's key among them) is an argument `ps` shows.
  v.insert(v.end(), {"--env-file", env_file});
  // The command replaces the image's entrypoint and arguments, as a Kubernetes container's command does.
  v.insert(v.end(), {"--entrypoint", t.command.empty() ? "" : t.command[0], t.image});
  if (!t.command.empty()) v.insert(v.end(), t.command.begin() + 1, t.command.end());
  return v;
}

StatusOr<std::string> LocalExecutor::WriteContainerEnv(const TaskLaunch& t,
                                                       const std::vector<std::string>& env) const {
  const std::string path = EnvFilePath(t.node, t.job_id, t.task);
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return IoError("cannot write " + path + ": " + std::strerror(errno));
  std::string text;
  for (const std::string& e : env) {  // one KEY=VALUE a line: a value holding a newline cannot be written
    if (e.rfind("PATH=", 0) == 0 || e.find('\n') != std::string::npos) continue;
    text += e + "\n";
  }
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) return IoError("cannot write " + path);
  return fs::absolute(path).string();
}

// In the node's image store (root's, 0700), which the sandbox keeps visible to the runtime.
std::string LocalExecutor::EnvFilePath(const std::string& node, const std::string& job_id, int task) const {
  return NodeImageDir(node) + "/env-" + job_id + "-" + std::to_string(task);
}

std::vector<std::string> LocalExecutor::RuntimeEnvironment(const std::string& node) const {
  return {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=" + NodeImageDir(node),
          "TMPDIR=/tmp"};
}

void LocalExecutor::RemoveContainer(const std::string& node, const std::string& name) {
  std::vector<std::string> rm = RuntimeArgs(node);
  rm.insert(rm.end(), {"rm", "--force", "--ignore", name});
  if (const pid_t pid = SpawnDetached(rm, ""); pid > 0) pulls_.push_back({node, "", pid});
}

bool LocalExecutor::HasImage(const std::string& node, const std::string& image) const {
  // The image store's own index (containers/storage): read, not asked of the runtime, so that it costs no
  // process; and parsed again only when the file changed, so that asking every node each tick costs a stat.
  const std::string path = NodeImageDir(node) + "/storage/overlay-images/images.json";
  std::lock_guard<std::mutex> lock(images_mu_);
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    image_index_.erase(node);
    return false;
  }
  ImageIndex& idx = image_index_[node];
  const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
  const auto size = static_cast<uint64_t>(st.st_size);
  if (idx.dev != st.st_dev || idx.ino != st.st_ino || idx.size != size || idx.mtime_ns != mtime_ns) {
    idx = ImageIndex{st.st_dev, st.st_ino, size, mtime_ns, {}};
    std::ifstream in(path);
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
    if (j.is_array()) {
      for (const nlohmann::json& img : j) {
        if (!img.is_object() || !img.contains("names") || !img["names"].is_array()) continue;
        for (const nlohmann::json& n : img["names"])
          if (n.is_string()) idx.names.insert(n.get<std::string>());
      }
    }
  }
  return idx.names.count(StoredName(image)) > 0;
}

Status LocalExecutor::Prepull(const std::string& node, const std::string& image) {
  if (geteuid() != 0) return FailedPrecondition("pulling images needs awan serve as root");
  if (HasImage(node, image)) return Status::Ok();
  for (const Pull& p : pulls_)
    if (p.node == node && p.image == image) return Status::Ok();  // on its way
  const std::string dir = NodeImageDir(node);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError("cannot create " + dir + ": " + ec.message());
  chmod(dir.c_str(), 0700);
  std::vector<std::string> pull = RuntimeArgs(node);
  pull.insert(pull.end(), {"pull", "--quiet"});
  if (LoopbackRegistry(image)) pull.push_back("--tls-verify=false");
  pull.push_back(image);
  const pid_t pid = SpawnDetached(pull, dir + "/pull.log");
  if (pid <= 0) return IoError("cannot start " + o_.container_runtime + " to pull " + image);
  pulls_.push_back({node, image, pid});
  return Status::Ok();
}

void LocalExecutor::ReapPulls() {
  for (size_t i = 0; i < pulls_.size();) {
    if (waitpid(pulls_[i].pid, nullptr, WNOHANG) == pulls_[i].pid) {
      pulls_.erase(pulls_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

}  // namespace awan::server
