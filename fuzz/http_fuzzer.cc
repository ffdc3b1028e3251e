// libFuzzer target: the HTTP request path of `awan serve` (server/http_server.h): every input is sent as raw
// bytes on a fresh connection to an in-process HttpServer (request parser, routing, the header check that
// runs before the body, body caps, handlers). Whatever the bytes, the server must answer with a well-formed
// status line or close, never crash (ASan and UBSan watch its threads), and keep answering the health check.
// Built and run by scripts/fuzz.sh (clang, -fsanitize=fuzzer,address,undefined). Loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "server/http_server.h"

namespace {

using awan::server::HttpRequest;
using awan::server::HttpResponse;
using awan::server::HttpServer;

HttpServer* g_server = nullptr;
int g_port = 0;

// A connection to the server; a few tries (a loopback connect can fail for a moment when the fuzzer has used
// up ports in TIME_WAIT), then abort.
int Connect() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(g_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return fd;
    if (fd >= 0) close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::abort();
}

// Sends `bytes`, closes the sending side, and reads the answer until the server closes (bounded).
std::string RoundTrip(const std::string& bytes) {
  const int fd = Connect();
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server closed early (a refusal): fine
    off += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // As `awan serve` does (cli/serve.cc): a write to a closed socket is an error, not a SIGPIPE.
  signal(SIGPIPE, SIG_IGN);
  awan::server::HttpServerOptions o;
  o.port = 0;
  o.request_timeout_ms = 500;
  o.idle_timeout_ms = 200;
  o.max_body_bytes = 4096;
  o.worker_threads = 2;
  g_server = new HttpServer(o);
  auto checked = [](HttpRequest& req, HttpResponse& res) {
    if (req.get_header_value("Authorization") != "Bearer good") {
      res.status = 401;
      res.set_content("{\"error\":\"no\"}", "application/json");
      return false;
    }
    req.context = std::string("good");
    return true;
  };
  g_server->Route("GET", "/v1/healthz",
                  [](HttpRequest&, HttpResponse& res) { res.set_content("{}", "application/json"); });
  g_server->Route(
      "POST", "/v1/jobs",
      [](HttpRequest& req, HttpResponse& res) {
        if (std::any_cast<std::string>(req.context) != "good") std::abort();  // the check ran first
        if (req.body.size() > 1024) std::abort();                             // the route's cap held
        res.status = 201;
        res.set_content(std::to_string(req.body.size()), "text/plain");
      },
      checked, 1024);
  g_server->Route("GET", R"(/v1/jobs/([^/]+)/logs)", [](HttpRequest& req, HttpResponse& res) {
    res.set_content(req.matches.at(1) + req.get_param_value("task"), "text/plain");
  });
  if (!g_server->Bind().ok()) std::abort();
  g_port = g_server->port();
  std::thread([] { g_server->Run(); }).detach();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string answer = RoundTrip(std::string(reinterpret_cast<const char*>(data), size));
  if (!answer.empty()) {
    // Every answer starts with a status line HTTP/1.1 NNN (several, pipelined, are fine).
    if (answer.rfind("HTTP/1.1 ", 0) != 0 || answer.size() < 12) std::abort();
    const int code = std::atoi(answer.substr(9, 3).c_str());
    if (code < 100 || code > 599) std::abort();
  }
  if (std::getenv("AWAN_FUZZ_LEAKS")) {  // debugging: every connection must be gone within 2.5 s
    auto sockets = [] {
      int n = 0;
      for (int fd = 0; fd < 4096; ++fd) {
        sockaddr_storage a{};
        socklen_t len = sizeof a;
        if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0) ++n;
      }
      return n;
    };
    int now = sockets();
    for (int i = 0; i < 25 && now > 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      now = sockets();
    }
    if (now > 1) {
      fprintf(stderr, "%d sockets still open after the input\n", now);
      std::abort();
    }
  }
  static int n = 0;
  if (++n % 64 == 0) {  // still serving
    // Refused connections linger up to a second and slow ones up to their deadline: allow the server a few
    // seconds to drain them, but no more (a connection that never ends is a leak that would lock out
    // everyone).
    std::string ok;
    for (int i = 0; i < 50; ++i) {
      ok = RoundTrip("GET /v1/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      if (ok.rfind("HTTP/1.1 200", 0) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (ok.rfind("HTTP/1.1 200", 0) != 0) {
      fprintf(stderr, "health check answered: [%s]\n", ok.substr(0, 200).c_str());
      std::abort();
    }
  }
  return 0;
}
