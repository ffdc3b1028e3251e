#include "server/http_server.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <string_view>
#include <thread>
#include <type_traits>

namespace awan::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;

constexpr size_t kMaxPathBytes = 4096;  // longer paths get 414 (they are never fed to std::regex)
constexpr Ms kLinger{
    1000};  // after refusing a request whose body is unread: time for the client to read the answer
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return Lower(x) == Lower(y); });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = Lower(c);
  return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

// Decodes %XX (a malformed escape is kept as is) and, in a query, '+' as a space.
std::string PercentDecode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(plus_is_space && s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

void ParseQuery(std::string_view q, std::multimap<std::string, std::string>& out) {
  while (!q.empty()) {
    const size_t amp = q.find('&');
    const std::string_view kv = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    if (kv.empty()) continue;
    const size_t eq = kv.find('=');
    out.emplace(PercentDecode(kv.substr(0, eq), true),
                eq == std::string_view::npos ? "" : PercentDecode(kv.substr(eq + 1), true));
  }
}

HttpResponse ErrorResponse(int status, const std::string& message) {
  HttpResponse r;
  r.status = status;
  // `replace`: messages may quote the client's bytes, which need not be UTF-8.
  r.body = nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (status == 503) r.set_header("Retry-After", "1");
  return r;
}

// A header a handler may set: a token name the server does not own, a value without CR, LF or NUL.
bool HeaderAllowed(const std::string& k, const std::string& v) {
  static const std::string_view kTokenPunct = "!#$%&'*+-.^_`|~";
  const auto token = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kTokenPunct.find(c) != std::string_view::npos;
  };
  if (k.empty() || !std::all_of(k.begin(), k.end(), token)) return false;
  if (v.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) return false;
  return !IEquals(k, "Content-Length") && !IEquals(k, "Transfer-Encoding") && !IEquals(k, "Connection") &&
         !IEquals(k, "Content-Type");
}

}  // namespace

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(),
                                      [](char x, char y) { return Lower(x) < Lower(y); });
}

bool HttpRequest::has_param(const std::string& k) const { return params.count(k) > 0; }
std::string HttpRequest::get_param_value(const std::string& k) const {
  auto it = params.find(k);
  return it == params.end() ? "" : it->second;
}
bool HttpRequest::has_header(const std::string& k) const { return headers.count(k) > 0; }
std::string HttpRequest::get_header_value(const std::string& k) const {
  auto it = headers.find(k);
  return it == headers.end() ? "" : it->second;
}

void ResponseStream::WakeLocked() {
  if (wake_ && !wake_posted_) {
    wake_posted_ = true;
    wake_();
  }
}

bool ResponseStream::Write(std::string data) {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_ || cancelled_) return false;
  if (data.empty()) return true;
  pending_ += data;
  WakeLocked();
  return true;
}

void ResponseStream::Close() {
  std::lock_guard<std::mutex> l(mu_);
  if (closed_) return;
  closed_ = true;
  WakeLocked();
}

bool ResponseStream::cancelled() const {
  std::lock_guard<std::mutex> l(mu_);
  return cancelled_;
}

void ResponseStream::OnCancel(std::function<void()> f) {
  std::unique_lock<std::mutex> l(mu_);
  if (!cancelled_) {
    on_cancel_ = std::move(f);
    return;
  }
  l.unlock();
  if (f) f();
}

void ResponseStream::Attach(std::function<void()> wake) {
  std::function<void()>
      old;  // destroyed after the lock is released: it may hold the last ref to a connection
  std::lock_guard<std::mutex> l(mu_);
  old.swap(wake_);
  wake_ = std::move(wake);
  wake_posted_ = false;
  if (!pending_.empty() || closed_) WakeLocked();
}

bool ResponseStream::Take(std::string& out) {
  std::lock_guard<std::mutex> l(mu_);
  out.swap(pending_);
  pending_.clear();
  wake_posted_ = false;
  return closed_;
}

void ResponseStream::Cancel() {
  std::function<void()> f, wake;
  {
    std::lock_guard<std::mutex> l(mu_);
    wake.swap(wake_);
    if (!cancelled_ && !closed_) {  // a closed stream that was fully sent is not cancelled
      cancelled_ = true;
      f = std::move(on_cancel_);
    }
  }
  wake = nullptr;  // outside the lock: it may hold the last ref to the connection, whose end cancels again
  if (f) f();
}

void HttpResponse::set_content(std::string b, std::string type) {
  body = std::move(b);
  content_type = std::move(type);
}
void HttpResponse::set_header(std::string k, std::string v) {
  headers.emplace_back(std::move(k), std::move(v));
}

struct RouteEntry {
  std::string method;
  std::regex re;
  HttpHandler handler;
  HeaderCheck check;
  size_t max_body;
};

struct HttpServer::Impl {
  explicit Impl(HttpServerOptions o)
      : opt(std::move(o)),
        ioc(std::make_unique<net::io_context>(std::max(1, opt.io_threads))),
        pool(std::make_unique<net::thread_pool>(std::max(1, opt.worker_threads))),
        write_pool(std::make_unique<net::thread_pool>(std::max(1, opt.write_worker_threads))) {}

  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket sock);
  void Reject(tcp::socket sock);
  void Teardown();

  // Declaration order is destruction order, reversed: sessions (owned by handlers in `pool` and `ioc`) use
  // everything declared before `ioc`.
  HttpServerOptions opt;
  std::vector<RouteEntry> routes;
  RequestDoneHook on_done;
  std::atomic<size_t> connections{0};
  std::atomic<size_t> queued{0};
  std::optional<net::ssl::context> ssl;
  std::mutex mu;  // guards the flags below and the `ioc` pointer once Run() tears it down
  std::condition_variable cv;
  bool stopped = false, running = false, ran = false;
  int port = 0;
  std::unique_ptr<net::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;
  std::unique_ptr<net::thread_pool> pool;
  std::unique_ptr<net::thread_pool> write_pool;  // handlers of requests other than GET and HEAD
  // Streamed responses being sent: each holds its connection alive (through its wake callback) until it
  // ends; Teardown cancels them before the event loop goes, so no producer posts to a dead loop.
  std::mutex streams_mu;
  std::set<std::shared_ptr<ResponseStream>> streams;
  void EndStream(const std::shared_ptr<ResponseStream>& st) {
    {
      std::lock_guard<std::mutex> l(streams_mu);
      streams.erase(st);
    }
    st->Cancel();  // detaches (no-op for the stream's state once it was closed and sent)
  }
};

namespace {

// One connection: reads requests one at a time on its strand; runs checks there and handlers on the worker
// pool. Kept alive by the shared_ptr in whichever handler is pending; its destructor closes the socket.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  static constexpr bool kTls = !std::is_same_v<Stream, beast::tcp_stream>;

  template <class... Args>
  Session(HttpServer::Impl& s, std::string remote, Args&&... args)
      : s_(s),
        stream_(std::forward<Args>(args)...),
        ex_(stream_.get_executor()),
        deadline_(ex_),
        linger_(ex_),
        remote_(std::move(remote)) {}
  ~Session() {
    if (out_) s_.EndStream(out_);  // the client left, or the server stopped, before the stream ended
    s_.connections.fetch_sub(1);
  }

  const net::any_io_executor& executor() const { return ex_; }

  void Start() {
    if constexpr (kTls) {
      Lowest().expires_after(
          Ms(std::max(1, s_.opt.request_timeout_ms)));  // the handshake is under the deadline
      stream_.async_handshake(net::ssl::stream_base::server, [self = Self()](beast::error_code ec) {
        if (!ec) self->WaitRequest();
      });
    } else {
      WaitRequest();
    }
  }

 private:
  std::shared_ptr<Session> Self() { return this->shared_from_this(); }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  // Keep-alive: waits up to idle_timeout for the next request's first byte.
  void WaitRequest() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(std::min<size_t>(s_.opt.max_header_bytes, UINT32_MAX)));
    parser_->body_limit(boost::none);  // set per route once the headers are read
    req_ = HttpRequest{};
    req_.remote_addr = remote_;
    route_ = nullptr;
    body_unread_ = timed_out_ = false;
    if (buffer_.size() > 0) return BeginRequest();  // pipelined
    buffer_.shrink_to_fit();
    Lowest().expires_after(Ms(std::max(1, s_.opt.idle_timeout_ms)));
    stream_.async_read_some(buffer_.prepare(512), [self = Self()](beast::error_code ec, size_t n) {
      if (ec) return;  // idle timeout, or the client left: the session ends
      self->buffer_.commit(n);
      self->BeginRequest();
    });
  }

  // The request's first byte is here: one deadline for all of it.
  void BeginRequest() {
    started_ = Clock::now();
    reading_ = true;
    Lowest().expires_never();
    deadline_.expires_after(Ms(std::max(1, s_.opt.request_timeout_ms)));
    deadline_.async_wait([weak = this->weak_from_this(), gen = ++gen_](beast::error_code ec) {
      auto self = weak.lock();
      if (ec || !self || gen != self->gen_ || !self->reading_) return;
      self->timed_out_ = true;
      if constexpr (kTls) {
        self->Lowest().close();
      } else {
        self->Lowest().cancel();  // the pending read ends with operation_aborted; 408 follows
      }
    });
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    const auto& msg = parser_->get();
    req_.method = std::string(msg.method_string());
    req_.target = std::string(msg.target());
    for (const auto& f : msg) req_.headers.emplace(std::string(f.name_string()), std::string(f.value()));
    body_unread_ = !parser_->is_done();
    if (req_.target.empty() || req_.target[0] != '/') return Fail(400, "the request target must be a path");
    const size_t q = req_.target.find('?');
    const std::string_view raw_path = std::string_view(req_.target).substr(0, q);
    if (raw_path.size() > kMaxPathBytes) {
      return Fail(414, "path over " + std::to_string(kMaxPathBytes) + " bytes");
    }
    req_.path = PercentDecode(raw_path, false);
    if (q != std::string::npos) ParseQuery(std::string_view(req_.target).substr(q + 1), req_.params);

    std::set<std::string> allowed;
    for (const RouteEntry& r : s_.routes) {
      std::smatch m;
      if (!std::regex_match(req_.path, m, r.re)) continue;
      if (r.method != req_.method) {
        allowed.insert(r.method);
        continue;
      }
      route_ = &r;
      for (const auto& g : m) req_.matches.push_back(g.str());
      break;
    }
    if (route_ == nullptr && allowed.empty()) return Fail(404, "no route for " + req_.path);
    if (route_ == nullptr) {
      HttpResponse r = ErrorResponse(405, "method " + req_.method + " is not allowed on " + req_.path);
      std::string allow;
      for (const std::string& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
      r.set_header("Allow", allow);
      return Respond(std::move(r));
    }
    const std::string ce(Trim(req_.get_header_value("Content-Encoding")));
    if (!ce.empty() && !IEquals(ce, "identity")) {
      return Fail(415, "Content-Encoding " + ce + " is not supported: send the body uncompressed");
    }
    const auto te = req_.headers.equal_range("Transfer-Encoding");
    if (te.first != te.second &&
        (std::next(te.first) != te.second || !IEquals(Trim(te.first->second), "chunked"))) {
      return Fail(415, "only the chunked transfer coding is supported");
    }
    cap_ = route_->max_body != 0 ? route_->max_body : s_.opt.max_body_bytes;
    if (auto n = parser_->content_length(); n && *n > cap_) return Fail(413, TooLarge());
    parser_->body_limit(cap_);
    if (!route_->check) return ReadBody();
    // On the event loop, not the worker pool: a check is quick (a cached token lookup), and a hop to a worker
    // and back for every request costs throughput (docs/benchmarks.md §6).
    HttpResponse res;
    bool ok = false;
    try {
      ok = route_->check(req_, res);
    } catch (const std::exception& e) {
      res = ErrorResponse(500, std::string("header check failed: ") + e.what());
    } catch (...) {
      res = ErrorResponse(500, "header check failed");
    }
    if (!ok) return Respond(std::move(res));
    ReadBody();
  }

  void ReadBody() {
    if (timed_out_) return OnReadError(net::error::timed_out);
    if (parser_->is_done()) return OnBody({});
    if (IEquals(Trim(req_.get_header_value("Expect")), "100-continue")) {
      net::async_write(stream_, net::buffer(kContinue.data(), kContinue.size()),
                       [self = Self()](beast::error_code ec, size_t) {
                         if (ec) return self->OnReadError(ec);
                         self->ReadRest();
                       });
      return;
    }
    ReadRest();
  }

  void ReadRest() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (ec) return OnReadError(ec);
    reading_ = body_unread_ = false;
    deadline_.cancel();
    req_.body = std::move(parser_->get().body());
    const bool queued = Enqueue([self = Self()] {
      HttpResponse res;
      try {
        self->route_->handler(self->req_, res);
      } catch (const std::exception& e) {
        res = ErrorResponse(500, std::string("internal error: ") + e.what());
      } catch (...) {
        res = ErrorResponse(500, "internal error");
      }
      net::post(self->ex_, [self, res = std::move(res)]() mutable { self->Respond(std::move(res)); });
    });
    if (!queued) Fail(503, "server busy: try again");
  }

  void OnReadError(beast::error_code ec) {
    if (timed_out_) {
      if constexpr (!kTls) {
        Fail(408, "request not received within " + std::to_string(s_.opt.request_timeout_ms) + " ms", true);
      }
      return;  // TLS: the socket is closed already
    }
    if (ec == http::error::header_limit) {
      return Fail(431, "request line and headers over " + std::to_string(s_.opt.max_header_bytes) + " bytes",
                  true);
    }
    if (ec == http::error::body_limit) return Fail(413, TooLarge(), true);
    static const auto& http_category = http::make_error_code(http::error::end_of_stream).category();
    if (ec.category() == http_category && ec != http::error::end_of_stream &&
        ec != http::error::partial_message) {
      return Fail(400, "malformed request: " + ec.message(), true);
    }
    // The client left or the socket failed: the session ends.
  }

  std::string TooLarge() const { return "request body over " + std::to_string(cap_) + " bytes"; }

  // Posts `task` to the worker pool unless max_queued_requests tasks already wait there.
  template <class F>
  bool Enqueue(F task) {
    if (s_.queued.fetch_add(1) >= s_.opt.max_queued_requests) {
      s_.queued.fetch_sub(1);
      return false;
    }
    // A write (POST, PUT, DELETE) typically waits for a durable commit: its own, larger pool, so that reads
    // keep a few busy threads and writes many waiting ones (group commit batches them).
    net::thread_pool& pool = req_.method == "GET" || req_.method == "HEAD" ? *s_.pool : *s_.write_pool;
    net::post(pool, [&s = s_, task = std::move(task)]() mutable {
      s.queued.fetch_sub(1);
      task();
    });
    return true;
  }

  void Fail(int status, const std::string& message, bool force_close = false) {
    Respond(ErrorResponse(status, message), force_close);
  }

  // Writes `r`; then reads the next request, or closes when the request asked to, when its body is left
  // unread, or when `force_close`.
  void Respond(HttpResponse r, bool force_close = false) {
    reading_ = false;
    deadline_.cancel();
    if (route_ != nullptr && s_.on_done) {
      try {
        s_.on_done(req_, r, std::chrono::duration<double>(Clock::now() - started_).count());
      } catch (...) {
        // A metrics hook must not take the connection down.
      }
    }
    close_ = force_close || body_unread_ || !parser_->get().keep_alive();
    linger_after_ = force_close || body_unread_;
    if (r.status < 200 || r.status > 599) r = ErrorResponse(500, "handler set an invalid status");
    res_.emplace();
    res_->version(11);
    res_->result(static_cast<unsigned>(r.status));
    res_->set(http::field::server, "awan");
    if (r.content_type.find_first_of(std::string_view("\r\n\0", 3)) == std::string::npos) {
      res_->set(http::field::content_type, r.content_type);
    }
    for (const auto& [k, v] : r.headers) {
      if (HeaderAllowed(k, v)) res_->insert(k, v);
    }
    if (r.stream && r.status != 204 && r.status != 304 && req_.method != "HEAD") return RespondStream(r);
    if (r.stream) r.stream->Cancel();  // no body to stream: the producer stops
    if (r.status == 204 || r.status == 304) r.body.clear();
    const size_t n = r.body.size();
    res_->body() = std::move(r.body);
    res_->keep_alive(!close_);
    res_->prepare_payload();
    if (req_.method == "HEAD") {  // a HEAD response announces the body's length but carries none
      res_->body().clear();
      res_->content_length(n);
    }
    Lowest().expires_after(Ms(std::max(1, s_.opt.request_timeout_ms)));
    http::async_write(stream_, *res_, [self = Self()](beast::error_code ec, size_t) { self->OnWritten(ec); });
  }

  // The head of a streamed response (chunked), then its pieces as the producer writes them.
  void RespondStream(HttpResponse& r) {
    head_.emplace();
    head_->version(11);
    head_->result(res_->result());
    for (const auto& f : *res_) head_->insert(f.name_string(), f.value());
    head_->keep_alive(!close_);
    head_->chunked(true);
    res_.reset();
    out_ = std::move(r.stream);
    {
      std::lock_guard<std::mutex> l(s_.streams_mu);
      s_.streams.insert(out_);
    }
    head_sr_.emplace(*head_);
    Lowest().expires_after(Ms(std::max(1, s_.opt.request_timeout_ms)));
    http::async_write_header(stream_, *head_sr_, [self = Self()](beast::error_code ec, size_t) {
      self->Lowest().expires_never();
      if (ec) return self->EndStream();
      // The wake callback holds the connection until the stream ends (EndStream detaches it).
      const net::any_io_executor ex = self->ex_;
      self->out_->Attach([self, ex] { net::post(ex, [self] { self->SendPiece(); }); });
    });
  }

  // The stream is over (sent, or failed): it no longer holds the connection.
  void EndStream() {
    if (!out_) return;
    s_.EndStream(out_);
    out_.reset();
  }

  // Sends what the stream has queued (one chunk), or its end.
  void SendPiece() {
    if (!out_ || sending_) return;
    const bool closed = out_->Take(piece_);
    if (piece_.empty() && !closed) return;
    sending_ = true;
    Lowest().expires_after(Ms(std::max(1, s_.opt.request_timeout_ms)));
    auto done = [self = Self(), closed](beast::error_code ec, size_t) {
      self->sending_ = false;
      if (ec) {
        self->Lowest().expires_never();
        return self->EndStream();
      }
      if (!self->piece_.empty()) return self->AfterPiece(closed);
      self->EndStream();
      self->head_sr_.reset();
      self->head_.reset();
      self->OnWritten(ec);
    };
    if (!piece_.empty()) {
      net::async_write(stream_, http::make_chunk(net::buffer(piece_)), std::move(done));
    } else {
      net::async_write(stream_, http::make_chunk_last(), std::move(done));
    }
  }

  void AfterPiece(bool closed) {
    Lowest().expires_never();
    piece_.clear();
    if (closed) {
      net::post(ex_, [self = Self()] { self->SendPiece(); });  // the last chunk
      return;
    }
    SendPiece();
  }

  void OnWritten(beast::error_code ec) {
    Lowest().expires_never();
    res_.reset();
    if (ec) return;
    if (!close_) return WaitRequest();
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!linger_after_) return;  // the session ends: the destructor closes the socket
    // The body is left unread, so closing at once could reset the connection before the client has read the
    // answer: hold the socket (reading nothing) a moment first.
    linger_.expires_after(kLinger);
    linger_.async_wait([self = Self()](beast::error_code) {});
  }

  HttpServer::Impl& s_;
  Stream stream_;
  net::any_io_executor ex_;  // the connection's strand
  net::steady_timer deadline_, linger_;
  std::string remote_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::optional<http::response<http::string_body>> res_;
  std::optional<http::response<http::empty_body>> head_;  // a streamed response's head
  std::optional<http::response_serializer<http::empty_body>> head_sr_;
  std::shared_ptr<ResponseStream> out_;  // its body
  std::string piece_;                    // the chunk being written
  bool sending_ = false;
  HttpRequest req_;
  const RouteEntry* route_ = nullptr;
  size_t cap_ = 0;
  Clock::time_point started_;
  std::uint64_t gen_ = 0;
  bool reading_ = false, timed_out_ = false, body_unread_ = false, close_ = false, linger_after_ = false;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(net::make_strand(*ioc),
                         [this](beast::error_code ec, tcp::socket sock) { OnAccept(ec, std::move(sock)); });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket sock) {
  if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
  if (ec) {  // e.g. out of file descriptors: back off a little rather than spin
    auto t = std::make_shared<net::steady_timer>(*ioc, Ms(50));
    t->async_wait([this, t](beast::error_code e) {
      if (!e) Accept();
    });
    return;
  }
  Accept();
  if (connections.fetch_add(1) >= opt.max_connections) {
    connections.fetch_sub(1);
    return Reject(std::move(sock));
  }
  beast::error_code ignored;
  sock.set_option(tcp::no_delay(true), ignored);
  const auto peer = sock.remote_endpoint(ignored);
  std::string remote = ignored ? "" : peer.address().to_string();
  if (ssl) {
    auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(*this, std::move(remote),
                                                                             std::move(sock), *ssl);
    net::dispatch(s->executor(), [s] { s->Start(); });
  } else {
    auto s = std::make_shared<Session<beast::tcp_stream>>(*this, std::move(remote), std::move(sock));
    net::dispatch(s->executor(), [s] { s->Start(); });
  }
}

// Over max_connections: a plain connection gets a 503 if its socket takes it at once; then it is closed.
void HttpServer::Impl::Reject(tcp::socket sock) {
  beast::error_code ignored;
  if (!ssl) {
    static const std::string kBody = R"({"error":"too many connections: try again"})";
    static const std::string kAnswer =
        "HTTP/1.1 503 Service Unavailable\r\nServer: awan\r\nContent-Type: application/json\r\nRetry-After: "
        "1\r\n"
        "Connection: close\r\nContent-Length: " +
        std::to_string(kBody.size()) + "\r\n\r\n" + kBody;
    sock.non_blocking(true, ignored);
    sock.write_some(net::buffer(kAnswer), ignored);
    sock.shutdown(tcp::socket::shutdown_send, ignored);
  }
  sock.close(ignored);
}

// Ends every connection: pending tasks and handlers (and the sessions they hold) are destroyed. Idempotent.
// REQUIRES: no thread runs the event loop.
void HttpServer::Impl::Teardown() {
  for (auto* p : {&pool, &write_pool}) {  // outside `mu`: a running handler may call Stop()
    if (!*p) continue;
    (*p)->stop();
    (*p)->join();
    p->reset();
  }
  std::set<std::shared_ptr<ResponseStream>> open;
  {
    std::lock_guard<std::mutex> l(streams_mu);
    open.swap(streams);
  }
  for (const auto& st : open) st->Cancel();  // drops the connections they hold, while the loop still exists
  open.clear();
  std::lock_guard<std::mutex> l(mu);
  acceptor.reset();
  ioc.reset();
}

HttpServer::HttpServer(HttpServerOptions o) : impl_(std::make_unique<Impl>(std::move(o))) {}

HttpServer::~HttpServer() {
  Stop();
  {
    std::unique_lock<std::mutex> l(impl_->mu);
    impl_->cv.wait(l, [this] { return !impl_->running; });
  }
  impl_->Teardown();
}

void HttpServer::Route(std::string method, std::string path_regex, HttpHandler handler, HeaderCheck check,
                       size_t max_body) {
  impl_->routes.push_back(
      RouteEntry{std::move(method), std::regex(path_regex), std::move(handler), std::move(check), max_body});
}

void HttpServer::OnRequestDone(RequestDoneHook f) { impl_->on_done = std::move(f); }

Status HttpServer::Bind() {
  Impl& s = *impl_;
  const HttpServerOptions& o = s.opt;
  const std::string where = o.host + ":" + std::to_string(o.port);
  if (o.port < 0 || o.port > 65535) return InvalidArgument(where + ": port out of range");
  if (o.tls_cert.empty() != o.tls_key.empty())
    return InvalidArgument("tls_cert and tls_key must be set together");
  beast::error_code ec;
  if (!o.tls_cert.empty()) {
    s.ssl.emplace(net::ssl::context::tls_server);
    s.ssl->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2 |
                       net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1 |
                       net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    if (s.ssl->use_certificate_chain_file(o.tls_cert, ec); ec) {
      return InvalidArgument("TLS certificate " + o.tls_cert + ": " + ec.message());
    }
    if (s.ssl->use_private_key_file(o.tls_key, net::ssl::context::pem, ec); ec) {
      return InvalidArgument("TLS key " + o.tls_key + ": " + ec.message());
    }
  }
  tcp::endpoint ep;
  const auto addr = net::ip::make_address(o.host, ec);
  if (!ec) {
    ep = tcp::endpoint(addr, static_cast<unsigned short>(o.port));
  } else {
    tcp::resolver resolver(*s.ioc);
    const auto found = resolver.resolve(o.host, std::to_string(o.port), ec);
    if (ec || found.empty()) return InvalidArgument(where + ": cannot resolve the host: " + ec.message());
    ep = found.begin()->endpoint();
  }
  tcp::acceptor a(*s.ioc);
  if (a.open(ep.protocol(), ec); !ec)
    a.set_option(net::socket_base::reuse_address(true), ec);  // never REUSEPORT
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return Status(StatusCode::kUnavailable, "cannot listen on " + where + ": " + ec.message());
  s.port = a.local_endpoint(ec).port();
  s.acceptor.emplace(std::move(a));
  return Status::Ok();
}

int HttpServer::port() const { return impl_->port; }

void HttpServer::Run() {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> l(s.mu);
    if (s.stopped || s.ran || !s.acceptor) return;
    s.running = s.ran = true;
  }
  s.Accept();
  {
    auto guard = net::make_work_guard(*s.ioc);
    const auto loop = [&s] {
      for (;;) {
        try {
          s.ioc->run();
          return;
        } catch (const std::exception&) {
          // A completion handler threw (e.g. out of memory): that connection is dropped, the loop goes on.
        }
      }
    };
    std::vector<std::thread> threads;
    for (int i = 1; i < s.opt.io_threads; ++i) threads.emplace_back(loop);
    loop();
    for (std::thread& t : threads) t.join();
  }
  s.Teardown();
  {
    std::lock_guard<std::mutex> l(s.mu);
    s.running = false;
  }
  s.cv.notify_all();
}

void HttpServer::Stop() {
  std::lock_guard<std::mutex> l(impl_->mu);
  impl_->stopped = true;
  if (impl_->ioc) impl_->ioc->stop();
}

}  // namespace awan::server
