// The dashboard's static files (HTML, CSS, JavaScript, the vendored uPlot), compiled into
// the binary at build time by embed_assets.cmake: nothing is read from disk or fetched.
#pragma once

#include <string_view>
#include <vector>

namespace agentrollout::plugin::dashboard {

struct Asset {
  std::string_view path;          // "/assets/app.js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;
};

// Every embedded file (generated source).
const std::vector<Asset>& EmbeddedAssets();

// The asset served at `path`, or nullptr.
const Asset* FindAsset(std::string_view path);

}  // namespace agentrollout::plugin::dashboard
