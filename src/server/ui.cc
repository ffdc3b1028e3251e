#include "server/ui.h"

#include <algorithm>
#include <string>

namespace awan::server {

namespace {

// The page may load only its own files and talk only to this server; it can't be framed. Styles may be set
// inline (the chart library positions its elements that way); scripts may not.
constexpr const char* kPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

void Serve(const std::string& path, HttpResponse& res) {
  const auto assets = UiAssets();
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("X-Frame-Options", "DENY");
  if (assets.empty()) {
    res.status = 404;
    res.set_content(
        "This awan was built without its dashboard (npm was not found when it was built): install Node.js "
        "and npm, then build again (docs/dashboard.md).\n",
        "text/plain; charset=utf-8");
    return;
  }
  auto it = std::find_if(assets.begin(), assets.end(), [&](const UiAsset& a) { return a.path == path; });
  if (it == assets.end()) {
    res.status = 404;
    res.set_content("no such file in the dashboard: " + path + "\n", "text/plain; charset=utf-8");
    return;
  }
  res.set_header("Content-Security-Policy", kPolicy);
  // Files under assets/ have a content hash in their names: cached for good. The page itself: checked
  // every time, so a new binary's dashboard shows at once.
  res.set_header("Cache-Control",
                 path.starts_with("assets/") ? "public, max-age=31536000, immutable" : "no-cache");
  res.set_content(std::string(it->data), std::string(it->content_type));
}

}  // namespace

void RegisterUiRoutes(HttpServer& http) {
  http.Route("GET", "/ui", [](HttpRequest&, HttpResponse& res) {
    res.status = 302;
    res.set_header("Location", "/ui/");
  });
  http.Route("GET", "/ui/", [](HttpRequest&, HttpResponse& res) { Serve("index.html", res); });
  http.Route("GET", R"(/ui/([A-Za-z0-9._/-]{1,200}))", [](HttpRequest& req, HttpResponse& res) {
    const std::string path = req.matches[1];
    if (path.find("..") != std::string::npos) {
      res.status = 404;
      return;
    }
    Serve(path, res);
  });
}

}  // namespace awan::server
