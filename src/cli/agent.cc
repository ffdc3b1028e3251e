#include "cli/agent.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <httplib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "cli/cli_util.h"
#include "server/diagnoses.h"

namespace awan::cli {
namespace {

constexpr size_t kMaxPending = 10000;

// A line for the server: its kind ("kernel" or "gpu_health") and, for GPU health, the GPU's index.
struct Line {
  const char* kind;
  std::string text;
  int gpu = -1;
};

void Push(std::deque<Line>& out, Line line, size_t* dropped) {
  if (line.text.size() > server::kMaxSignalText) line.text.resize(server::kMaxSignalText);
  out.push_back(std::move(line));
  while (out.size() > kMaxPending) out.pop_front(), ++*dropped;
}

// New lines of the kernel log since the last call: /dev/kmsg gives one record per read
// ("6,1234,5678,-;text"); a regular file is read from the last offset (a partial last line waits for its
// end).
class KernelLog {
 public:
  Status Open(const std::string& path, bool from_start) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) return IoError(fmt::format("{}: {}", path, std::strerror(errno)));
    struct stat st {};
    if (fstat(fd_, &st) != 0) return IoError(fmt::format("{}: {}", path, std::strerror(errno)));
    records_ = S_ISCHR(st.st_mode);
    if (!from_start) ::lseek(fd_, 0, SEEK_END);
    return Status::Ok();
  }
  ~KernelLog() {
    if (fd_ >= 0) ::close(fd_);
  }
  void Read(std::deque<Line>& out, size_t* dropped) {
    char buf[8192];
    for (int i = 0; i < 10000; ++i) {
      const ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n < 0 && errno == EPIPE) continue;  // kmsg: records were overwritten before we read them
      if (n <= 0) break;
      if (records_) {
        std::string rec(buf, static_cast<size_t>(n));
        const size_t semi = rec.find(';');
        std::string text = semi == std::string::npos ? rec : rec.substr(semi + 1);
        text = text.substr(0, text.find('\n'));  // continuation lines (" KEY=value") are dropped
        Push(out, {"kernel", std::move(text)}, dropped);
        continue;
      }
      partial_.append(buf, static_cast<size_t>(n));
      for (size_t nl; (nl = partial_.find('\n')) != std::string::npos;) {
        if (nl > 0) Push(out, {"kernel", partial_.substr(0, nl)}, dropped);
        partial_.erase(0, nl + 1);
      }
    }
  }

 private:
  int fd_ = -1;
  bool records_ = false;
  std::string partial_;
};

// GPU health from `nvidia-smi -q` (or a command printing the same): the lines that say something is wrong (a
// clock event reason Active, a retirement or remap pending or failed) under their GPU's header, or every line
// when the tool itself fails (a driver that does not answer). Each is sent once while it lasts.
class GpuHealth {
 public:
  explicit GpuHealth(std::string cmd) : cmd_(std::move(cmd)) {}
  void Poll(std::deque<Line>& out, size_t* dropped) {
    FILE* p = popen(("timeout 20 " + cmd_ + " 2>&1").c_str(), "r");
    if (p == nullptr) return;
    std::string all;
    char buf[4096];
    while (size_t n = fread(buf, 1, sizeof buf, p)) {
      if (all.size() < (1 << 20)) all.append(buf, n);
    }
    const int status = pclose(p);
    const bool failed = !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    std::set<std::string> now;
    int gpu = -1;
    for (size_t at = 0; at < all.size();) {
      const size_t nl = std::min(all.find('\n', at), all.size());
      std::string line = all.substr(at, nl - at);
      at = nl + 1;
      if (line.rfind("GPU 0", 0) == 0) ++gpu;  // "GPU 00000000:18:00.0": the next GPU's section
      const size_t first = line.find_first_not_of(' ');
      if (first == std::string::npos) continue;
      line = line.substr(first);
      const bool wrong =
          failed || line.find(": Active") != std::string::npos ||
          ((line.find("Pending") != std::string::npos || line.find("Failure") != std::string::npos) &&
           line.find(": Yes") != std::string::npos);
      if (!wrong) continue;
      const std::string key = std::to_string(gpu) + "|" + line;
      now.insert(key);
      if (!last_.count(key)) Push(out, {"gpu_health", line, failed ? -1 : gpu}, dropped);
    }
    last_ = std::move(now);
  }

 private:
  std::string cmd_;
  std::set<std::string> last_;
};

}  // namespace

void AddAgent(CLI::App& app, AgentArgs& a) {
  CLI::App* c = app.add_subcommand(
      "agent", "The node agent: heartbeats and the node's kernel log to the server (a node token)");
  c->add_option("--node", a.node, "this node's name in the fleet file")->required();
  c->add_option("--server", a.server, "server URL (default $AWAN_URL)");
  c->add_option("--token", a.token, "the node's token (default $AWAN_TOKEN; awan token create --role node)");
  c->add_option("--ca", a.ca, "CA certificate to trust for an https server (default $AWAN_CA)");
  c->add_option("--kernel-log", a.kernel_log, "the kernel log: /dev/kmsg, or a file that grows")
      ->capture_default_str();
  c->add_flag("--from-start", a.from_start, "read the kernel log from its start (default: what is new)");
  c->add_option(
      "--gpu-health-cmd", a.gpu_health_cmd,
      "a command printing nvidia-smi -q's report (default: nvidia-smi -q -d PERFORMANCE,PAGE_RETIREMENT,"
      "ROW_REMAPPER when nvidia-smi is installed; none: off)");
  c->add_option("--gpu-health-s", a.gpu_health_s, "seconds between GPU health checks")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 3600.0));
  c->add_option("--interval-s", a.interval_s, "seconds between heartbeats and sends")
      ->capture_default_str()
      ->check(CLI::Range(0.05, 3600.0));
  c->add_option("--duration-s", a.duration_s, "stop after this long (default: on SIGTERM or SIGINT)")
      ->check(CLI::Range(0.0, 1e9));
}

int RunAgent(const AgentArgs& a) {
  auto pick = [](const std::string& flag, const char* env) {
    if (!flag.empty()) return flag;
    const char* v = std::getenv(env);
    return v ? std::string(v) : std::string();
  };
  const std::string url = pick(a.server, "AWAN_URL"), token = pick(a.token, "AWAN_TOKEN"),
                    ca = pick(a.ca, "AWAN_CA");
  if (url.empty()) return Fail(InvalidArgument("no server: pass --server or set AWAN_URL"));
  if (token.empty()) return Fail(InvalidArgument("no token: pass --token or set AWAN_TOKEN"));
  KernelLog klog;
  if (Status s = klog.Open(a.kernel_log, a.from_start); !s.ok()) return Fail(s);
  std::string gpu_cmd = a.gpu_health_cmd;
  if (gpu_cmd.empty() && std::system("command -v nvidia-smi > /dev/null 2>&1") == 0)
    gpu_cmd = "nvidia-smi -q -d PERFORMANCE,PAGE_RETIREMENT,ROW_REMAPPER";
  if (gpu_cmd == "none") gpu_cmd.clear();
  std::optional<GpuHealth> gpu_health;
  if (!gpu_cmd.empty()) gpu_health.emplace(gpu_cmd);
  BlockStopSignals();
  static std::atomic<bool> stop{false};  // static: the signal thread outlives this call
  OnStopSignal([] { stop = true; });
  httplib::Client http(url);
  if (!ca.empty()) http.set_ca_cert_path(ca.c_str());
  http.enable_server_certificate_verification(true);
  http.set_connection_timeout(2);
  http.set_read_timeout(10);
  const httplib::Headers h = {{"Authorization", "Bearer " + token}};
  fmt::print(stderr, "awan agent: node {} reporting to {} (kernel log {}; GPU health: {})\n", a.node, url,
             a.kernel_log, gpu_cmd.empty() ? "off, no nvidia-smi" : gpu_cmd);
  const auto start = std::chrono::steady_clock::now();
  const auto interval = std::chrono::milliseconds(static_cast<int64_t>(a.interval_s * 1000));
  std::deque<Line> pending;
  auto next_gpu = start;
  size_t dropped = 0, sent = 0;
  bool connected = true;
  double backoff_s = 0;
  auto next_try = start;
  while (!stop) {
    const auto now = std::chrono::steady_clock::now();
    if (a.duration_s > 0 && now - start >= std::chrono::duration<double>(a.duration_s)) break;
    klog.Read(pending, &dropped);
    if (gpu_health && now >= next_gpu) {
      gpu_health->Poll(pending, &dropped);
      next_gpu = now + std::chrono::milliseconds(static_cast<int64_t>(a.gpu_health_s * 1000));
    }
    if (now >= next_try) {
      bool ok = false;
      httplib::Result r = http.Post("/v1/nodes/" + a.node + "/heartbeat", h, "", "text/plain");
      if (r && r->status == 200) {
        ok = true;
        while (ok && !pending.empty()) {
          nlohmann::json batch = nlohmann::json::array();
          for (size_t i = 0; i < pending.size() && i < server::kMaxSignalsPerPost; ++i)
            batch.push_back(pending[i].gpu >= 0
                                ? nlohmann::json{{"kind", pending[i].kind},
                                                 {"text", pending[i].text},
                                                 {"gpu", pending[i].gpu}}
                                : nlohmann::json{{"kind", pending[i].kind}, {"text", pending[i].text}});
          httplib::Result p = http.Post("/v1/signals", h, batch.dump(), "application/json");
          ok = p && p->status == 202;
          if (ok) {
            sent += batch.size();
            pending.erase(pending.begin(), pending.begin() + static_cast<long>(batch.size()));
          } else if (p && p->status >= 400 && p->status < 500 && p->status != 429) {
            return Fail(InvalidArgument(
                fmt::format("the server refused the signals (HTTP {}): {}", p->status, p->body)));
          }
        }
      } else if (r && (r->status == 401 || r->status == 403 || r->status == 404)) {
        return Fail(InvalidArgument(
            fmt::format("the server refused the heartbeat (HTTP {}): {}", r->status, r->body)));
      }
      if (ok != connected)
        fmt::print(stderr, "{}\n",
                   ok ? fmt::format("awan agent: connected again ({} lines sent so far)", sent)
                      : std::string("awan agent: server unreachable; keeping lines and retrying"));
      connected = ok;
      backoff_s = ok ? 0 : std::min(30.0, backoff_s == 0 ? a.interval_s : backoff_s * 2);
      next_try = now + (ok ? interval : std::chrono::milliseconds(static_cast<int64_t>(backoff_s * 1000)));
    }
    std::this_thread::sleep_for(
        std::min<std::chrono::milliseconds>(interval, std::chrono::milliseconds(200)));
  }
  if (dropped > 0)
    fmt::print(stderr, "awan agent: {} lines dropped (more than {} unsent)\n", dropped, kMaxPending);
  fmt::print(stderr, "awan agent: stopped ({} lines sent, {} unsent)\n", sent, pending.size());
  return 0;
}

}  // namespace awan::cli
