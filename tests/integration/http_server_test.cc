// The Boost.Beast HTTP(S) server, in-process on 127.0.0.1: routing and keep-alive, JSON errors, header checks
// that refuse before the body is read, body caps after decoding, slow clients that cannot starve others, the
// request deadline, the connection cap, the worker queue cap, exclusive binding, TLS, and Stop() with open
// connections. Attack clients are raw POSIX sockets; every loop is bounded in count and time.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#include "server/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <any>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace awan::server {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr size_t kEchoCap = 64 * 1024;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

long VmRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// A raw client socket to 127.0.0.1.
class Conn {
 public:
  explicit Conn(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  }
  ~Conn() {
    if (fd_ >= 0) close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return ok_; }
  int fd() const { return fd_; }

  bool Send(std::string_view s) {
    while (!s.empty()) {
      const ssize_t n = send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // One response (headers and a Content-Length body) within `timeout`; what came ("" if nothing) on EOF or
  // timeout.
  std::string ReadResponse(Ms timeout = Ms(5000)) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const size_t he = buf_.find("\r\n\r\n");
      if (he != std::string::npos) {
        const size_t len = he + 4 + ContentLength(buf_.substr(0, he));
        if (buf_.size() >= len) {
          std::string r = buf_.substr(0, len);
          buf_.erase(0, len);
          return r;
        }
      }
      if (!Fill(deadline)) return std::exchange(buf_, "");
    }
  }

  // True when the server closes the connection (EOF or reset) within `timeout`; discards what it reads.
  bool WaitClosed(Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const int left = static_cast<int>(std::chrono::duration_cast<Ms>(deadline - Clock::now()).count());
      if (poll(&p, 1, std::max(left, 1)) <= 0) continue;
      char tmp[65536];
      const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
    return false;
  }

  static size_t ContentLength(const std::string& head) {
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = lower.find("\r\ncontent-length:");
    return at == std::string::npos ? 0 : std::strtoul(lower.c_str() + at + 17, nullptr, 10);
  }

 private:
  bool Fill(Clock::time_point deadline) {
    const int left = static_cast<int>(std::chrono::duration_cast<Ms>(deadline - Clock::now()).count());
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, left) <= 0) return false;
    char tmp[65536];
    const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool ok_ = false;
  std::string buf_;
};

int StatusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

std::string HeaderOf(const std::string& response, const std::string& name) {
  const size_t he = response.find("\r\n\r\n");
  std::istringstream in(response.substr(0, he));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t colon = line.find(':');
    if (colon == std::string::npos || strcasecmp(line.substr(0, colon).c_str(), name.c_str()) != 0) continue;
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    return line.substr(v);
  }
  return "";
}

std::string BodyOf(const std::string& response) {
  const size_t he = response.find("\r\n\r\n");
  return he == std::string::npos ? "" : response.substr(he + 4);
}

// The routes every test serves: /healthz, /items/N, an authenticated /echo (64 KiB cap), /slow, /throw.
void AddRoutes(HttpServer& s) {
  s.Route("GET", "/healthz", [](HttpRequest&, HttpResponse& res) { res.body = R"({"status": "ok"})"; });
  s.Route("GET", R"(/items/([0-9]+))", [](HttpRequest& req, HttpResponse& res) {
    res.set_content(
        "item=" + req.matches[1] + " q=" + req.get_param_value("q") + " x=" + req.get_header_value("x-test"),
        "text/plain");
  });
  const HeaderCheck auth = [](HttpRequest& req, HttpResponse& res) {
    if (req.get_header_value("authorization") != "Bearer good") {
      res.status = 401;
      res.body = R"({"error": "missing or bad token"})";
      return false;
    }
    req.context = std::string("alice");
    return true;
  };
  s.Route(
      "POST", "/echo",
      [](HttpRequest& req, HttpResponse& res) {
        res.body =
            "who=" + std::any_cast<std::string>(req.context) + " bytes=" + std::to_string(req.body.size());
      },
      auth, kEchoCap);
  s.Route("GET", "/slow", [](HttpRequest& req, HttpResponse& res) {
    std::this_thread::sleep_for(Ms(std::min(2000, std::atoi(req.get_param_value("ms").c_str()))));
    res.body = R"({"slept": true})";
  });
  s.Route("GET", "/throw", [](HttpRequest&, HttpResponse&) -> void { throw std::runtime_error("boom"); });
}

// An HttpServer with AddRoutes, bound to a free port and running on its own thread.
class TestServer {
 public:
  explicit TestServer(HttpServerOptions o = {}) : server_(std::move(o)) {
    AddRoutes(server_);
    server_.OnRequestDone([this](const HttpRequest&, const HttpResponse& res, double seconds) {
      if (seconds >= 0) done_[res.status / 100].fetch_add(1);
    });
    const Status st = server_.Bind();
    EXPECT_TRUE(st.ok()) << st.ToString();
    thread_ = std::thread([this] { server_.Run(); });
  }
  ~TestServer() {
    server_.Stop();
    thread_.join();
  }
  int port() const { return server_.port(); }
  HttpServer& server() { return server_; }
  int done(int status_class) const { return done_[status_class].load(); }

 private:
  HttpServer server_;
  std::thread thread_;
  std::atomic<int> done_[6] = {};
};

TEST(HttpServerTest, ServesRoutesParamsHeadersAndKeepAlive) {
  TestServer ts;
  httplib::Client cli("127.0.0.1", ts.port());
  cli.set_keep_alive(true);
  cli.set_read_timeout(5, 0);
  for (int i = 0; i < 5; ++i) {
    auto r = cli.Get("/items/42?q=a%20b&z", {{"X-Test", "v" + std::to_string(i)}});
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "item=42 q=a b x=v" + std::to_string(i));
    EXPECT_EQ(r->get_header_value("Content-Type"), "text/plain");
  }
  // Keep-alive and pipelining, seen from one raw socket: three requests sent at once, three answers in order.
  Conn c(ts.port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(
      c.Send("GET /items/1?z&q=x+y%21&q=2 HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
             "GET /items/%33 HTTP/1.1\r\nHost: t\r\n\r\n"));
  const std::string a = c.ReadResponse(), b = c.ReadResponse(), d = c.ReadResponse();
  EXPECT_EQ(StatusOf(a), 200);
  EXPECT_EQ(BodyOf(a), "item=1 q=x y! x=");  // '+' is a space in a query; the first value wins
  EXPECT_EQ(BodyOf(b), R"({"status": "ok"})");
  EXPECT_EQ(HeaderOf(b, "content-type"), "application/json");
  EXPECT_EQ(BodyOf(d), "item=3 q= x=");  // the path is percent-decoded before matching
  EXPECT_FALSE(c.WaitClosed(Ms(300)));   // still open
  // HTTP/1.0 without keep-alive: answered, then closed.
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  EXPECT_EQ(StatusOf(c.ReadResponse()), 200);
  EXPECT_TRUE(c.WaitClosed(Ms(3000)));
  EXPECT_GE(ts.done(2), 9);
}

TEST(HttpServerTest, ErrorsAreJsonWithTheRightStatus) {
  TestServer ts;
  const auto expect_json_error = [](const std::string& r, int status) {
    EXPECT_EQ(StatusOf(r), status) << r;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json") << r;
    EXPECT_EQ(BodyOf(r).rfind("{\"error\":", 0), 0u) << r;
  };
  httplib::Client cli("127.0.0.1", ts.port());
  auto r404 = cli.Get("/nope");
  ASSERT_TRUE(r404);
  EXPECT_EQ(r404->status, 404);
  EXPECT_EQ(r404->get_header_value("Content-Type"), "application/json");
  auto head = cli.Head("/healthz");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 405);
  EXPECT_EQ(head->get_header_value("Allow"), "GET");
  auto r500 = cli.Get("/throw");
  ASSERT_TRUE(r500);
  EXPECT_EQ(r500->status, 500);
  EXPECT_NE(r500->body.find("boom"), std::string::npos);

  {
    Conn c(ts.port());  // an unknown method on a known path; the connection stays usable
    ASSERT_TRUE(c.Send("BREW /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    const std::string r = c.ReadResponse();
    expect_json_error(r, 405);
    EXPECT_EQ(HeaderOf(r, "Allow"), "GET");
    ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_EQ(StatusOf(c.ReadResponse()), 200);
  }
  {
    Conn c(ts.port());
    ASSERT_TRUE(c.Send("this is not http\r\n\r\n"));
    expect_json_error(c.ReadResponse(), 400);
    EXPECT_TRUE(c.WaitClosed(Ms(3000)));
  }
  {
    Conn c(ts.port());  // Content-Length and Transfer-Encoding together: request smuggling, refused
    ASSERT_TRUE(
        c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"));
    expect_json_error(c.ReadResponse(), 400);
    EXPECT_TRUE(c.WaitClosed(Ms(3000)));
  }
  {
    Conn c(ts.port());
    ASSERT_TRUE(
        c.Send("GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(20 * 1024, 'a') + "\r\n\r\n"));
    expect_json_error(c.ReadResponse(), 431);
    EXPECT_TRUE(c.WaitClosed(Ms(3000)));
  }
  {
    Conn c(ts.port());
    ASSERT_TRUE(c.Send("GET /" + std::string(5000, 'p') + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    expect_json_error(c.ReadResponse(), 414);
  }
}

TEST(HttpServerTest, HeaderCheckRefusesBeforeReadingAStreamedBody) {
  TestServer ts;
  const long rss0 = VmRssKb();
  Conn c(ts.port());
  ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"));
  ASSERT_EQ(fcntl(c.fd(), F_SETFL, fcntl(c.fd(), F_GETFL) | O_NONBLOCK), 0);
  const std::string chunk = "10000\r\n" + std::string(0x10000, 'x') + "\r\n";  // 64 KiB per chunk
  const size_t kTotal = 64u << 20;
  size_t sent = 0, off = 0;
  std::string got;
  const auto start = Clock::now();
  // Stream up to 64 MiB, reading whatever the server answers, until sending fails (the server closed) or
  // makes no progress for 3 s (nobody reads: the kernel's socket buffers are full).
  bool eof = false;
  double answered = -1;
  auto progress = Clock::now();
  while (sent < kTotal && Seconds(start) < 15 && Seconds(progress) < 3) {
    pollfd p{c.fd(), static_cast<short>(POLLOUT | (eof ? 0 : POLLIN)), 0};
    if (poll(&p, 1, 100) <= 0) continue;
    if (!eof && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
      char tmp[4096];
      const ssize_t n = recv(c.fd(), tmp, sizeof tmp, 0);
      if (n > 0) got.append(tmp, static_cast<size_t>(n));
      eof = n <= 0;
      if (answered < 0 && StatusOf(got) != 0) answered = Seconds(start);
    }
    if (p.revents & (POLLOUT | POLLHUP | POLLERR)) {
      const ssize_t n = send(c.fd(), chunk.data() + off, chunk.size() - off, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;
      if (n > 0) {
        sent += static_cast<size_t>(n);
        off = (off + static_cast<size_t>(n)) % chunk.size();
        progress = Clock::now();
      }
    }
  }
  RecordProperty("bytes_sent", std::to_string(sent));
  EXPECT_GE(answered, 0);
  EXPECT_LT(answered, 2.0);
  EXPECT_EQ(StatusOf(got), 401) << got;
  EXPECT_EQ(BodyOf(got), R"({"error": "missing or bad token"})");
  EXPECT_NE(HeaderOf(got, "Connection").find("close"), std::string::npos);
  EXPECT_LT(sent, kTotal / 2) << "the server kept reading the body";
  EXPECT_TRUE(c.WaitClosed(Ms(5000)));
  EXPECT_LT(VmRssKb() - rss0, 32 * 1024) << "server memory grew";

  // A huge announced body: refused at once (the route's cap is checked before the header check).
  Conn huge(ts.port());
  const auto t0 = Clock::now();
  ASSERT_TRUE(huge.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 536870912\r\n\r\n"));
  const std::string r = huge.ReadResponse(Ms(3000));
  EXPECT_EQ(StatusOf(r), 413) << r;
  EXPECT_LT(Seconds(t0), 2.0);
  EXPECT_TRUE(huge.WaitClosed(Ms(5000)));

  // A body under the cap but no token: 401 at once, without waiting for the body, then closed.
  Conn small(ts.port());
  ASSERT_TRUE(small.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"));
  EXPECT_EQ(StatusOf(small.ReadResponse(Ms(3000))), 401);
  EXPECT_TRUE(small.WaitClosed(Ms(5000)));
  EXPECT_GE(ts.done(4), 3);  // refusals after routing reach OnRequestDone too
}

TEST(HttpServerTest, BodiesAreCappedAfterDecodingAndNeverDecompressed) {
  TestServer ts;
  const std::string auth = "Authorization: Bearer good\r\n";
  {  // authenticated, chunked, under the cap
    Conn c(ts.port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\n" + auth +
                       "Transfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
    const std::string r = c.ReadResponse();
    EXPECT_EQ(StatusOf(r), 200) << r;
    EXPECT_EQ(BodyOf(r), "who=alice bytes=11");
  }
  {  // authenticated, chunked, over the cap in small chunks: 413 and closed
    Conn c(ts.port());
    std::string req = "POST /echo HTTP/1.1\r\nHost: t\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 25; ++i) req += "1000\r\n" + std::string(4096, 'y') + "\r\n";  // 100 KiB > 64 KiB
    req += "0\r\n\r\n";
    c.Send(req);  // may fail part way once the server has answered
    const std::string r = c.ReadResponse();
    EXPECT_EQ(StatusOf(r), 413) << r;
    EXPECT_TRUE(c.WaitClosed(Ms(5000)));
  }
  {  // authenticated, Content-Length over the cap: 413 before the body
    Conn c(ts.port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\n" + auth + "Content-Length: 100000\r\n\r\n"));
    EXPECT_EQ(StatusOf(c.ReadResponse(Ms(3000))), 413);
    EXPECT_TRUE(c.WaitClosed(Ms(5000)));
  }
  {  // compressed bodies are refused, whatever the encoding
    Conn c(ts.port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\n" + auth +
                       "Content-Encoding: gzip\r\nContent-Length: 4\r\n\r\n"));
    const std::string r = c.ReadResponse(Ms(3000));
    EXPECT_EQ(StatusOf(r), 415) << r;
    EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
    EXPECT_TRUE(c.WaitClosed(Ms(5000)));
  }
  {  // Expect: 100-continue is honoured once the header check passed
    Conn c(ts.port());
    ASSERT_TRUE(c.Send("POST /echo HTTP/1.1\r\nHost: t\r\n" + auth +
                       "Expect: 100-continue\r\nContent-Length: 3\r\n\r\n"));
    EXPECT_EQ(StatusOf(c.ReadResponse(Ms(3000))), 100);
    ASSERT_TRUE(c.Send("abc"));
    EXPECT_EQ(BodyOf(c.ReadResponse()), "who=alice bytes=3");
  }
  httplib::Client cli("127.0.0.1", ts.port());
  auto ok =
      cli.Post("/echo", {{"Authorization", "Bearer good"}}, std::string(kEchoCap, 'z'), "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, "who=alice bytes=" + std::to_string(kEchoCap));
  auto no = cli.Post("/echo", std::string(10, 'z'), "application/json");
  ASSERT_TRUE(no);
  EXPECT_EQ(no->status, 401);
}

TEST(HttpServerTest, SlowClientsCannotStarveHealthChecks) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < 2048) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, 4096);
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  TestServer ts;  // default limits: 2 io threads, 8 workers, 10 s request deadline
  constexpr int kSlow = 300;
  std::vector<std::unique_ptr<Conn>> slow;
  for (int i = 0; i < kSlow; ++i) {
    slow.push_back(std::make_unique<Conn>(ts.port()));
    ASSERT_TRUE(slow.back()->ok()) << i;
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {  // one header byte per connection every 2 s, for about 6 s
    const std::string header = "GET /healthz HTTP/1.1\r\nHost: t\r\n";
    for (size_t round = 0; round < 4 && !stop; ++round) {
      for (auto& c : slow) send(c->fd(), header.data() + round, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      for (int i = 0; i < 20 && !stop && round < 3; ++i) std::this_thread::sleep_for(Ms(100));
    }
  });
  int ok = 0;
  double worst = 0;
  for (int i = 0; i < 20; ++i) {
    httplib::Client cli("127.0.0.1", ts.port());
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(5, 0);
    const auto t0 = Clock::now();
    auto r = cli.Get("/healthz");
    worst = std::max(worst, Seconds(t0));
    if (r && r->status == 200) ++ok;
    std::this_thread::sleep_for(Ms(250));
  }
  stop = true;
  trickle.join();
  EXPECT_EQ(ok, 20);
  EXPECT_LT(worst, 2.0);
}

TEST(HttpServerTest, TricklingAndIdleClientsAreCutOff) {
  HttpServerOptions o;
  o.request_timeout_ms = 1500;
  o.idle_timeout_ms = 1000;
  TestServer ts(o);
  Conn c(ts.port());
  const std::string header = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Pad: " + std::string(100, 'p');
  const auto t0 = Clock::now();
  bool closed = false;
  std::string got;
  for (size_t i = 0; i < header.size() && Seconds(t0) < 8 && !closed; ++i) {
    if (send(c.fd(), header.data() + i, 1, MSG_NOSIGNAL) != 1) break;
    pollfd p{c.fd(), POLLIN, 0};
    if (poll(&p, 1, 200) > 0) {
      char tmp[4096];
      const ssize_t n = recv(c.fd(), tmp, sizeof tmp, 0);
      if (n > 0) got.append(tmp, static_cast<size_t>(n));
      closed = n <= 0;
    }
  }
  if (!closed) closed = c.WaitClosed(Ms(4000));
  const double cut = Seconds(t0);
  EXPECT_TRUE(closed);
  EXPECT_GE(cut, 1.0);
  EXPECT_LT(cut, 6.0);
  if (!got.empty()) {
    EXPECT_EQ(StatusOf(got), 408) << got;
  }

  Conn idle(ts.port());  // connects and says nothing
  const auto t1 = Clock::now();
  EXPECT_TRUE(idle.WaitClosed(Ms(5000)));
  EXPECT_LT(Seconds(t1), 4.5);
}

TEST(HttpServerTest, ConnectionCapRefusesTheNextAndRecovers) {
  HttpServerOptions o;
  o.max_connections = 20;
  o.idle_timeout_ms = 30000;
  TestServer ts(o);
  const std::string get = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
  std::vector<std::unique_ptr<Conn>> held;
  for (int i = 0; i < 20; ++i) {
    held.push_back(std::make_unique<Conn>(ts.port()));
    ASSERT_TRUE(held.back()->Send(get));
    ASSERT_EQ(StatusOf(held.back()->ReadResponse()), 200) << i;
  }
  {
    Conn extra(ts.port());
    const std::string r = extra.ReadResponse(Ms(3000));
    EXPECT_TRUE(r.empty() || StatusOf(r) == 503) << r;
    EXPECT_TRUE(extra.WaitClosed(Ms(3000)));
  }
  for (auto& c : held) {  // the earlier ones are still served
    ASSERT_TRUE(c->Send(get));
    EXPECT_EQ(StatusOf(c->ReadResponse()), 200);
  }
  held.resize(10);
  bool served = false;
  const auto t0 = Clock::now();
  for (int i = 0; i < 30 && !served && Seconds(t0) < 5; ++i) {
    Conn c(ts.port());
    served = c.Send(get) && StatusOf(c.ReadResponse(Ms(1000))) == 200;
    if (!served) std::this_thread::sleep_for(Ms(100));
  }
  EXPECT_TRUE(served);
}

TEST(HttpServerTest, FullWorkerQueueAnswers503WithRetryAfter) {
  HttpServerOptions o;
  o.worker_threads = 1;
  o.max_queued_requests = 1;
  TestServer ts(o);
  std::vector<std::future<std::string>> answers;
  for (int i = 0; i < 3; ++i) {
    answers.push_back(std::async(std::launch::async, [&ts] {
      Conn c(ts.port());
      c.Send("GET /slow?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
      return c.ReadResponse(Ms(5000));
    }));
    std::this_thread::sleep_for(Ms(150));
  }
  int ok = 0, busy = 0;
  for (auto& a : answers) {
    const std::string r = a.get();
    if (StatusOf(r) == 200) ++ok;
    if (StatusOf(r) == 503) {
      ++busy;
      EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
      EXPECT_EQ(HeaderOf(r, "Content-Type"), "application/json");
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(busy, 1);
}

TEST(HttpServerTest, BindRefusesAPortInUse) {
  TestServer first;
  HttpServerOptions o;
  o.port = first.port();
  HttpServer second(o);
  const Status st = second.Bind();
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kUnavailable);
  EXPECT_NE(st.message().find("127.0.0.1:" + std::to_string(first.port())), std::string::npos)
      << st.message();
  second.Run();  // returns at once: nothing bound

  // A plain socket listening with SO_REUSEADDR and SO_REUSEPORT: the server still cannot share its port.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  o.port = ntohs(a.sin_port);
  HttpServer third(o);
  EXPECT_EQ(third.Bind().code(), StatusCode::kUnavailable);
  close(fd);
}

TEST(HttpServerTest, ServesHttpsAndPutsTheHandshakeUnderTheDeadline) {
  const auto dir = std::filesystem::temp_directory_path() / ("awan-http-tls-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string key = (dir / "k.pem").string(), cert = (dir / "c.pem").string();
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " + cert +
                          " -days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) GTEST_SKIP() << "openssl could not make a certificate";
  HttpServerOptions o;
  o.tls_cert = cert;
  o.tls_key = key;
  o.request_timeout_ms = 1500;
  TestServer ts(o);
  httplib::SSLClient cli("127.0.0.1", ts.port());
  cli.enable_server_certificate_verification(false);
  cli.set_keep_alive(true);
  for (int i = 0; i < 3; ++i) {
    auto r = cli.Get("/items/7?q=tls");
    ASSERT_TRUE(r) << httplib::to_string(r.error());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "item=7 q=tls x=");
  }
  auto refused = cli.Post("/echo", std::string(10, 'z'), "application/json");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 401);

  Conn silent(ts.port());  // connects, never starts the handshake
  const auto t0 = Clock::now();
  EXPECT_TRUE(silent.WaitClosed(Ms(6000)));
  EXPECT_LT(Seconds(t0), 5.0);
  std::filesystem::remove_all(dir);

  HttpServerOptions bad;
  bad.tls_cert = (dir / "missing.pem").string();
  bad.tls_key = key;
  HttpServer none(bad);
  EXPECT_EQ(none.Bind().code(), StatusCode::kInvalidArgument);
}

TEST(HttpServerTest, StopEndsRunPromptlyWithConnectionsOpen) {
  auto server = std::make_unique<HttpServer>(HttpServerOptions{});
  AddRoutes(*server);
  ASSERT_TRUE(server->Bind().ok());
  auto run = std::async(std::launch::async, [&] { server->Run(); });
  Conn idle(server->port()), partial(server->port()), kept(server->port()), busy(server->port());
  ASSERT_TRUE(partial.Send("GET /healthz HTTP/1.1\r\nHo"));
  ASSERT_TRUE(kept.Send("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(StatusOf(kept.ReadResponse()), 200);
  ASSERT_TRUE(busy.Send("GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n"));
  std::this_thread::sleep_for(Ms(100));
  const auto t0 = Clock::now();
  server->Stop();
  ASSERT_EQ(run.wait_for(5s), std::future_status::ready);
  EXPECT_LT(Seconds(t0), 3.0);
  for (Conn* c : {&idle, &partial, &kept, &busy}) EXPECT_TRUE(c->WaitClosed(Ms(3000)));
  server->Stop();  // again: harmless
  server.reset();

  HttpServer never(HttpServerOptions{});  // stopped before running: Run returns at once
  ASSERT_TRUE(never.Bind().ok());
  never.Stop();
  never.Run();
  HttpServer unused(HttpServerOptions{});  // destroyed without Bind or Run
}

}  // namespace
}  // namespace awan::server
