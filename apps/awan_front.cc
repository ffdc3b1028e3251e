// `awan`, the command users and scripts run. It does one thing itself, the call scripts make in loops:
// `awan submit FILE` of one job manifest to an http:// server, with at most --hold, --priority N, --server,
// --token and -o table. It links no more than that needs (no OpenSSL, SQLite, GLPK...), so such a call costs
// a small process and one request (docs/benchmarks.md, "Submitting like sbatch"). Everything else, and any
// submit it is not sure to do exactly as the full binary would, it hands over unchanged to `awan-core` beside
// it (execv: same process, arguments, standard streams and exit code), which implements every command.
//
// It never sends a request it may have to repeat: it hands over only before connecting, or when the
// connection itself fails (nothing was sent). Once the request is on its way, the outcome is its own to
// report.
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/job_row.h"
#include "config/job_manifest.h"  // its bounds only: nothing of it is linked

namespace {

using awan::kMaxJobPriority;
using awan::config::kMaxManifestBytes;  // a larger file: awan-core says why

[[noreturn]] void HandOver(char** argv) {
  char self[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  std::string core = "awan-core";
  if (n > 0) {
    std::string path(self, static_cast<size_t>(n));
    core = path.substr(0, path.rfind('/') + 1) + "awan-core";
  }
  execv(core.c_str(), argv);
  fmt::print(stderr, "awan: error: cannot run {}: {}\n", core, std::strerror(errno));
  std::exit(127);
}

struct Submit {
  std::string file, server, token;
  bool hold = false;
  std::optional<int64_t> priority;
};

// The submit this front does itself, or nullopt when awan-core should (any other command or option).
std::optional<Submit> ParseSubmit(int argc, char** argv) {
  if (argc < 3 || std::string_view(argv[1]) != "submit") return std::nullopt;
  // A config file (awan-core reads and checks it even when flags say everything): awan-core's.
  const char* home = std::getenv("HOME");
  struct stat st {};
  if (std::getenv("AWAN_CONFIG") != nullptr ||
      (home != nullptr && stat((std::string(home) + "/.config/awan/config.yaml").c_str(), &st) == 0))
    return std::nullopt;
  Submit s;
  std::vector<std::string_view> seen;  // an option given twice is a usage error awan-core reports
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    // An option's value never starts with '-' (awan-core's parser takes it for an option).
    const bool has_value = i + 1 < argc && argv[i + 1][0] != '-';
    if (!a.empty() && a[0] == '-') {
      if (std::find(seen.begin(), seen.end(), a == "--output" ? "-o" : a) != seen.end()) return std::nullopt;
      seen.push_back(a == "--output" ? "-o" : a);
    }
    if (a == "--hold") {
      s.hold = true;
    } else if (a == "--server" && has_value) {
      s.server = argv[++i];
    } else if (a == "--token" && has_value) {
      s.token = argv[++i];
    } else if ((a == "-o" || a == "--output") && has_value && std::string_view(argv[i + 1]) == "table") {
      ++i;
    } else if (a == "--priority" && has_value) {
      const std::string_view v = argv[++i];
      int64_t p = 0;
      const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), p);
      if (ec != std::errc() || end != v.data() + v.size() || p < -kMaxJobPriority || p > kMaxJobPriority)
        return std::nullopt;  // awan-core says what is wrong with it
      s.priority = p;
    } else if (!a.empty() && a[0] != '-' && s.file.empty()) {
      s.file = a;
    } else {
      return std::nullopt;
    }
  }
  if (s.file.empty()) return std::nullopt;
  if (s.server.empty() && std::getenv("AWAN_URL") != nullptr) s.server = std::getenv("AWAN_URL");
  if (s.token.empty() && std::getenv("AWAN_TOKEN") != nullptr) s.token = std::getenv("AWAN_TOKEN");
  if (s.token.empty() || s.token.find_first_of("\r\n") != std::string::npos) return std::nullopt;
  return s;
}

// The file, if it is plainly one job manifest: a regular file within the size bound, with no document
// separator (several documents are submitted one by one) and nothing that could make it a Service.
std::optional<std::string> OneJobManifest(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::string text;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) <= kMaxManifestBytes) {
    text.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < text.size()) {
      const ssize_t n = read(fd, text.data() + got, text.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    if (got != text.size()) text.clear();
  }
  close(fd);
  // "Service" anywhere, or any escape (a quoted kind may spell it with escapes): awan-core decides.
  if (text.empty() || text.find("Service") != std::string::npos || text.find('\\') != std::string::npos)
    return std::nullopt;
  for (size_t at = 0; at < text.size();) {
    if (text.compare(at, 3, "---") == 0 || text.compare(at, 3, "...") == 0) return std::nullopt;
    const size_t nl = text.find('\n', at);
    if (nl == std::string::npos) break;
    at = nl + 1;
  }
  return text;
}

struct Endpoint {
  std::string host, port;
};

// "http://HOST:PORT", or nullopt for anything else (https, a path or a trailing "/", no port...).
std::optional<Endpoint> ParseUrl(std::string url) {
  if (url.rfind("http://", 0) != 0) return std::nullopt;
  url = url.substr(7);
  const size_t colon = url.rfind(':');
  if (colon == std::string::npos || colon == 0 || url.find_first_of("/?#@[]") != std::string::npos)
    return std::nullopt;
  for (char c : url)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return std::nullopt;
  Endpoint e{url.substr(0, colon), url.substr(colon + 1)};
  if (e.port.empty() || e.port.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return e;
}

// A connected TCP socket, or -1 (nothing sent yet).
int Connect(const Endpoint& e) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(e.host.c_str(), e.port.c_str(), &hints, &found) != 0) return -1;
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    // Non-blocking, at most 5 s (the full client's connection timeout), then blocking again.
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
    if (fd < 0) continue;
    bool ok = connect(fd, a->ai_addr, a->ai_addrlen) == 0;
    if (!ok && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = 0;
      socklen_t len = sizeof err;
      ok = poll(&p, 1, 5000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
    }
    if (!ok || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    const timeval t{30, 0};  // as the full client's read and write timeouts
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, sizeof t);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, sizeof t);
  }
  return fd;
}

// The body of an HTTP/1.1 answer read to its end (the request said Connection: close): its status, or -1
// when it is not an HTTP answer.
// The value of header `name` (lower case) in a lower-cased head, or "".
std::string Header(const std::string& head, const std::string& name) {
  const size_t at = head.find("\r\n" + name + ":");
  if (at == std::string::npos) return "";
  const size_t from = head.find_first_not_of(" \t", at + name.size() + 3);
  const size_t to = head.find("\r\n", at + 2);
  return from == std::string::npos || (to != std::string::npos && from > to) ? ""
                                                                             : head.substr(from, to - from);
}

int ParseAnswer(const std::string& raw, std::string* body) {
  const size_t head_end = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos || raw.size() < 12 || raw[8] != ' ')
    return -1;
  int status = 0;
  const auto [end, ec] = std::from_chars(raw.data() + 9, raw.data() + 12, status);
  if (ec != std::errc() || end != raw.data() + 12 || status < 100 || status > 599) return -1;
  std::string head = raw.substr(0, head_end);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string rest = raw.substr(head_end + 4);
  if (Header(head, "transfer-encoding").find("chunked") == std::string::npos) {
    const std::string length = Header(head, "content-length");
    size_t n = 0;
    if (!length.empty() &&
        (std::from_chars(length.data(), length.data() + length.size(), n).ec != std::errc() ||
         n != rest.size()))
      return -1;  // cut short (or more than it said)
    *body = std::move(rest);
    return status;
  }
  body->clear();
  for (size_t at = 0;;) {  // chunked: SIZE\r\nDATA\r\n ... 0\r\n\r\n
    const size_t eol = rest.find("\r\n", at);
    if (eol == std::string::npos) return -1;
    size_t size = 0;
    const auto [e, c] = std::from_chars(rest.data() + at, rest.data() + eol, size, 16);
    if (c != std::errc() || e == rest.data() + at) return -1;
    if (size == 0) return status;
    if (size > rest.size() - (eol + 2) || rest.size() - (eol + 2) - size < 2 ||
        rest.compare(eol + 2 + size, 2, "\r\n") != 0)
      return -1;
    body->append(rest, eol + 2, size);
    at = eol + 2 + size + 2;
  }
}

// Sends the manifest; prints what awan-core would print; its exit code.
int Send(int fd, const Submit& s, const Endpoint& e, const std::string& manifest) {
  std::string path = "/v1/jobs";
  std::string query;
  if (s.hold) query += "&hold=true";
  if (s.priority) query += fmt::format("&priority={}", *s.priority);
  if (!query.empty()) path += "?" + query.substr(1);
  std::string request = fmt::format(
      "POST {} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: Bearer {}\r\nContent-Type: application/yaml\r\n"
      "Content-Length: {}\r\nConnection: close\r\nUser-Agent: awan\r\n\r\n",
      path, e.host, e.port, s.token, manifest.size());
  request += manifest;
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      fmt::print(stderr, "awan: error: cannot reach {}: the connection closed while sending\n", s.server);
      return 1;
    }
    sent += static_cast<size_t>(n);
  }
  std::string raw;
  char buf[16384];
  for (ssize_t n; (n = recv(fd, buf, sizeof buf, 0)) > 0;) {
    raw.append(buf, static_cast<size_t>(n));
    if (raw.size() > (64u << 20)) break;
  }
  std::string body;
  const int status = ParseAnswer(raw, &body);
  if (status < 0) {
    fmt::print(stderr,
               "awan: error: no complete answer from {} (the job may have been submitted: awan queue)\n",
               s.server);
    return 1;
  }
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (status >= 400) {
    const std::string msg =
        j.is_object() && j.contains("error") && j["error"].is_string() ? j["error"].get<std::string>() : body;
    fmt::print(stderr, "awan: error: {} (HTTP {})\n", msg, status);
    return 1;
  }
  if (j.is_discarded()) {
    fmt::print(stderr, "awan: error: the server answered something that is not JSON\n");
    return 1;
  }
  awan::cli::PrintJobHeader();
  awan::cli::PrintJobRow(j);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::optional<Submit> s = ParseSubmit(argc, argv);
  if (!s) HandOver(argv);
  const std::optional<Endpoint> e = ParseUrl(s->server);
  if (!e) HandOver(argv);
  const std::optional<std::string> manifest = OneJobManifest(s->file);
  if (!manifest) HandOver(argv);
  const int fd = Connect(*e);
  if (fd < 0) HandOver(argv);  // nothing sent: awan-core tries and says why it cannot
  const int rc = Send(fd, *s, *e, *manifest);
  close(fd);
  return rc;
}
