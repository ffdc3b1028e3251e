// HttpServer: a hardened, event-driven HTTP/1.1 (and HTTPS) server on Boost.Beast for `awan serve`.
//
// What it guarantees, by design:
// - Slow clients hold no thread. An event loop (`io_threads` threads) reads every request asynchronously; a
//   handler runs on the worker pool (`worker_threads`) only once its request is complete, so handlers never
//   block the event loop and trickling or idle clients never hold a worker.
// - One deadline per request, from its first byte to its last (`request_timeout_ms`), set once: trickling
//   bytes cannot extend it. Over it: 408 and close (HTTPS, and a TLS handshake: close). Between requests on a
//   kept-alive connection a client has `idle_timeout_ms` before it is closed.
// - Bounded memory. The request line and headers are capped (431). The body is capped after removing the
//   chunked framing, whatever the transfer encoding (413: against Content-Length before reading, else while
//   reading). Nothing is decompressed: a Content-Encoding other than identity, or a transfer coding other
//   than chunked, gets 415.
// - A route's HeaderCheck (e.g. authentication) runs on the event loop after the headers and BEFORE any byte
//   of the body is read (it must be quick: a cached lookup); when it refuses, the answer goes out at once and
//   the connection is closed without reading the body.
// - At most `max_connections` connections (more: 503 and closed at once; over TLS just closed) and at most
//   `max_queued_requests` requests waiting for a worker (more: 503 with Retry-After).
// - Binds without SO_REUSEPORT: a port already in use is an error, so a second server cannot share it.
//
// The server's own error answers are JSON {"error": "..."} with Content-Type application/json: 400 malformed,
// 404 no route, 405 method not allowed (with Allow; HEAD is not implied by GET), 408, 413, 414 path over
// 4 KiB, 415, 431, 500 handler threw, 503. Responses have a Content-Length (chunked only when a handler
// streams its body: ResponseStream), and carry
// "Connection: close" when the server closes after them. A request is checked in this order: 400/431 parse,
// 414, 404/405 route, 415 encodings, 413 Content-Length over the route's cap, 503 queue full, the route's
// HeaderCheck, then the body as it is read (413 when a chunked body grows over the cap), 503 queue full, and
// the handler.
//
// Threading: configure (Route, OnRequestDone) before Run(). Stop() is thread-safe, also from a handler, but
// not async-signal-safe: to stop on a signal, have a thread wait for it (e.g. sigwait) and call Stop().
#pragma once

#include <any>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace awan::server {

// Orders strings ignoring ASCII case (HTTP header names).
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};

// A request as handed to a HeaderCheck (everything but `body`, `matches` already set) and to a handler.
struct HttpRequest {
  std::string method;                              // "GET", "POST", ... as sent (methods are case-sensitive)
  std::string target;                              // as sent (path + query)
  std::string path;                                // percent-decoded path, no query
  std::multimap<std::string, std::string> params;  // decoded query parameters
  std::multimap<std::string, std::string, CaseInsensitiveLess> headers;  // names compared case-insensitively
  std::string body;
  std::vector<std::string> matches;  // the route regex's match: [0] whole path, [1..] groups
  std::string remote_addr;
  std::any context;  // set by a HeaderCheck (e.g. the authenticated principal), read by the handler

  bool has_param(const std::string& k) const;
  std::string get_param_value(const std::string& k) const;  // the first value; "" if absent
  bool has_header(const std::string& k) const;
  std::string get_header_value(const std::string& k) const;  // the first value; "" if absent
};

// A response body produced after the handler returned, piece by piece (server-sent events, a generation
// token by token), sent with Transfer-Encoding: chunked as the pieces come. The producer holds it (any thread
// may Write and Close); the connection holds it while it writes. Each piece must go out within the request
// timeout; a client that leaves or stops reading cancels the stream (Write returns false, OnCancel runs).
class ResponseStream {
 public:
  // Queues bytes to send. False, sending nothing, once the stream is closed or cancelled: stop producing.
  bool Write(std::string data);
  // Ends the body once what was written is out. Idempotent.
  void Close();
  bool cancelled() const;
  // Runs `f` once when the stream is cancelled (at once if it is already); on an event-loop thread or the
  // caller's: it must be quick and must not call back into this stream.
  void OnCancel(std::function<void()> f);

  // For the server's connection: Attach(wake) is called once the head is out; `wake` is called (under the
  // stream's lock: it must only post work) when there is something to send. Take moves the queued bytes into
  // `out` and says whether the stream is closed; Cancel marks it cancelled (and detaches).
  void Attach(std::function<void()> wake);
  bool Take(std::string& out);
  void Cancel();

 private:
  void WakeLocked();
  mutable std::mutex mu_;
  std::string pending_;
  bool closed_ = false, cancelled_ = false, wake_posted_ = false;
  std::function<void()> wake_, on_cancel_;
};

struct HttpResponse {
  int status = 200;  // 200..599 (anything else is answered 500)
  std::string body;
  std::string content_type = "application/json";
  // Extra headers (e.g. Retry-After). Content-Length, Transfer-Encoding, Connection and Content-Type (see
  // content_type) are the server's and are ignored here, as is any header with CR, LF or NUL in it.
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: the body is this stream (chunked), and `body` is ignored. The RequestDoneHook sees the response when
  // its head is sent.
  std::shared_ptr<ResponseStream> stream;

  void set_content(std::string b, std::string type);
  void set_header(std::string k, std::string v);
};

// Runs on a worker thread. Exceptions are answered 500.
using HttpHandler = std::function<void(HttpRequest&, HttpResponse&)>;
// Runs on an event-loop thread (so it must be quick, e.g. a cached token lookup) once the request line and
// headers are read, BEFORE any byte of the body is read:
// returns true to go on; false with `res` filled to answer at once without reading the body (the connection
// is then closed if a body was announced or chunked). May set `headers_only.context` for the handler.
using HeaderCheck = std::function<bool(HttpRequest& headers_only, HttpResponse& res)>;
// Runs on an event-loop thread for every request that reached a route (after its handler, or when refused
// after routing): must be quick and thread-safe. `seconds` runs from the request's first byte.
using RequestDoneHook = std::function<void(const HttpRequest&, const HttpResponse&, double seconds)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";  // an IP address or a resolvable name
  int port = 0;                    // 0: any free port (see port())
  std::string tls_cert, tls_key;   // PEM files; both set = HTTPS (TLS 1.2 or later)
  int io_threads = 2;              // threads running the event loop (never blocked by handlers)
  int worker_threads = 8;          // threads running handlers of GET and HEAD requests
  int write_worker_threads = 64;   // threads running the others (they may wait for a durable commit)
  size_t max_connections = 1024;   // more are accepted and closed at once (plain HTTP: answered 503 first)
  size_t max_header_bytes = 16 * 1024;  // request line + headers; over it: 431, close
  size_t max_body_bytes = 256 * 1024;   // decoded body size (Content-Length or chunked); over it: 413, close
  int request_timeout_ms = 10000;  // first byte to last byte of a request (and a TLS handshake; and writing
                                   // a response): a slow client is cut off (408 and close, or close)
  int idle_timeout_ms = 5000;      // keep-alive: time allowed before a request's first byte
  size_t max_queued_requests = 4096;  // requests waiting for a worker; over it: 503 with Retry-After
};

// Thread-safety: see the file comment. Not copyable or movable.
class HttpServer {
 public:
  explicit HttpServer(HttpServerOptions o);
  // Stops the server and waits for Run() to return (when another thread runs it); closes every connection.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Routes are matched in registration order on (method, std::regex_match of the decoded path). Per route: an
  // optional HeaderCheck, and a body cap (0 = the server's max_body_bytes). REQUIRES: before Run().
  // Throws std::regex_error for a bad `path_regex` (a programming error).
  void Route(std::string method, std::string path_regex, HttpHandler handler, HeaderCheck check = {},
             size_t max_body = 0);
  // REQUIRES: before Run().
  void OnRequestDone(RequestDoneHook f);

  // Loads the TLS pair (when set), binds and listens, with SO_REUSEADDR but WITHOUT SO_REUSEPORT: an address
  // already in use is kUnavailable naming it ("cannot listen on 127.0.0.1:8080: Address already in
  // use"), a bad host, port or TLS file kInvalidArgument. REQUIRES: called once, before Run().
  Status Bind();
  int port() const;  // the bound port (after a successful Bind); 0 before

  // Serves until Stop(); blocks the calling thread (one of the io_threads). When it returns, every connection
  // is closed and the server cannot run again. Returns at once if Bind() did not succeed or Stop() came
  // first.
  void Run();
  // Makes Run() return promptly, whatever the open connections (a handler still running is waited for).
  // Thread-safe; may be called from any thread, before or during Run(), more than once.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace awan::server
