// The web dashboard at /ui: the files vite built from web/ (TypeScript), embedded in the binary at build time
// (cmake/EmbedUi.cmake writes ui_assets.cc), so no Node.js runs where awan runs. The pages are static and
// hold no data: everything they show comes from the REST API with the token the user logs in with, so the
// files are served without a token, with headers that keep the page to this origin (docs/dashboard.md).
#pragma once

#include <span>
#include <string_view>

#include "server/http_server.h"

namespace awan::server {

struct UiAsset {
  std::string_view path;          // relative to /ui/: "index.html", "assets/index-<hash>.js"
  std::string_view content_type;  // from the extension
  std::string_view data;
};

// Every file of the dashboard; empty when the binary was built without it (no npm at build time).
std::span<const UiAsset> UiAssets();

// GET /ui (→ /ui/), /ui/ (index.html) and /ui/<file>.
void RegisterUiRoutes(HttpServer& http);

}  // namespace awan::server
