// Reading the diagnosis catalog (docs/formats/diagnosis-catalog.md): one YAML file per layer under
// catalog/scenarios/, embedded in the binary at build time (EmbeddedCatalogFiles), or files given by path.
// Every error names file:line:column.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "diagnosis/catalog.h"

namespace awan::config {

// Appends the scenarios of one catalog file (its text; `source` names it in errors).
Status ParseCatalogFile(std::string_view text, std::string_view source,
                        std::vector<diagnosis::Scenario>* out);

// (file name, text) of every catalog/scenarios/*.yaml, as built into this binary, sorted by name.
const std::vector<std::pair<std::string_view, std::string_view>>& EmbeddedCatalogFiles();

// The embedded catalog, checked (diagnosis::Catalog::Create).
StatusOr<diagnosis::Catalog> LoadEmbeddedCatalog();
// A catalog from files on disk (for authors: awan diagnose eval --catalog DIR).
StatusOr<diagnosis::Catalog> LoadCatalogDir(const std::string& dir);

}  // namespace awan::config
