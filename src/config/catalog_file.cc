#include "config/catalog_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/yaml_reader.h"

namespace awan::config {
namespace {

using diagnosis::InjectLine;
using diagnosis::Matcher;
using diagnosis::Scenario;

template <typename E>
StatusOr<E> Enum(const Reader& r, const YAML::Node& v, const std::string& what,
                 std::optional<E> (*parse)(std::string_view)) {
  AWAN_ASSIGN_OR_RETURN(std::string s, r.String(v, what));
  const std::optional<E> e = parse(s);
  if (!e) return r.Error(v, what + ": unknown value '" + s + "'");
  return *e;
}

Status ReadMatchers(const Reader& r, const YAML::Node& list, const std::string& what,
                    std::vector<Matcher>* out) {
  AWAN_RETURN_IF_ERROR(r.ExpectList(list, what));
  for (const YAML::Node& m : list) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(m, what));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(m, what, {"kind", "contains"}));
    Matcher x;
    AWAN_ASSIGN_OR_RETURN(YAML::Node kind, r.Required(m, "kind", what));
    AWAN_ASSIGN_OR_RETURN(x.kind,
                          Enum<diagnosis::SignalKind>(r, kind, what + ".kind", diagnosis::ParseSignalKind));
    AWAN_ASSIGN_OR_RETURN(YAML::Node contains, r.Required(m, "contains", what));
    AWAN_RETURN_IF_ERROR(r.Strings(contains, what + ".contains", &x.contains));
    if (x.contains.empty()) return r.Error(m, what + ": 'contains' needs at least one string");
    out->push_back(std::move(x));
  }
  return Status::Ok();
}

Status ReadInject(const Reader& r, const YAML::Node& list, const std::string& what,
                  std::vector<InjectLine>* out) {
  AWAN_RETURN_IF_ERROR(r.ExpectList(list, what));
  for (const YAML::Node& m : list) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(m, what));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(m, what, {"kind", "text", "optional"}));
    InjectLine l;
    AWAN_ASSIGN_OR_RETURN(YAML::Node kind, r.Required(m, "kind", what));
    AWAN_ASSIGN_OR_RETURN(l.kind,
                          Enum<diagnosis::SignalKind>(r, kind, what + ".kind", diagnosis::ParseSignalKind));
    AWAN_ASSIGN_OR_RETURN(YAML::Node text, r.Required(m, "text", what));
    AWAN_ASSIGN_OR_RETURN(l.text, r.String(text, what + ".text"));
    if (m["optional"]) {
      AWAN_ASSIGN_OR_RETURN(l.optional, r.Bool(m["optional"], what + ".optional"));
    }
    out->push_back(std::move(l));
  }
  return Status::Ok();
}

StatusOr<Scenario> ReadScenario(const Reader& r, const YAML::Node& n, const std::string& layer,
                                std::string_view source) {
  AWAN_RETURN_IF_ERROR(r.ExpectMap(n, "scenario"));
  AWAN_RETURN_IF_ERROR(
      r.OnlyKeys(n, "scenario",
                 {"id", "layer", "title", "scope", "severity", "class", "key", "also", "explains",
                  "root_cause", "evidence", "action", "auto", "source", "inject"}));
  Scenario s;
  s.file = std::string(source);
  AWAN_ASSIGN_OR_RETURN(YAML::Node id, r.Required(n, "id", "scenario"));
  AWAN_ASSIGN_OR_RETURN(s.id, r.String(id, "scenario.id"));
  const std::string what = "scenario " + s.id;
  s.layer = layer;
  if (n["layer"]) {
    AWAN_ASSIGN_OR_RETURN(s.layer, r.String(n["layer"], what + ".layer"));
  }
  std::pair<const char*, std::string*> texts[] = {{"title", &s.title},
                                                  {"root_cause", &s.root_cause},
                                                  {"evidence", &s.evidence},
                                                  {"action", &s.action},
                                                  {"source", &s.source}};
  for (auto& [key, field] : texts) {
    AWAN_ASSIGN_OR_RETURN(YAML::Node v, r.Required(n, key, what));
    AWAN_ASSIGN_OR_RETURN(*field, r.String(v, what + "." + key));
  }
  AWAN_ASSIGN_OR_RETURN(YAML::Node scope, r.Required(n, "scope", what));
  AWAN_ASSIGN_OR_RETURN(s.scope, Enum<diagnosis::Scope>(r, scope, what + ".scope", diagnosis::ParseScope));
  AWAN_ASSIGN_OR_RETURN(YAML::Node sev, r.Required(n, "severity", what));
  AWAN_ASSIGN_OR_RETURN(s.severity,
                        Enum<diagnosis::Severity>(r, sev, what + ".severity", diagnosis::ParseSeverity));
  if (n["class"] && !(n["class"].IsScalar() && n["class"].Scalar().empty())) {
    AWAN_ASSIGN_OR_RETURN(s.symptom_class, r.String(n["class"], what + ".class"));
  }
  AWAN_ASSIGN_OR_RETURN(YAML::Node key, r.Required(n, "key", what));
  AWAN_RETURN_IF_ERROR(ReadMatchers(r, key, what + ".key", &s.key));
  if (n["also"]) AWAN_RETURN_IF_ERROR(ReadMatchers(r, n["also"], what + ".also", &s.also));
  if (n["explains"]) AWAN_RETURN_IF_ERROR(r.Strings(n["explains"], what + ".explains", &s.explains));
  if (const YAML::Node a = n["auto"]) {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(a, what + ".auto"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(a, what + ".auto", {"action", "risk"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node act, r.Required(a, "action", what + ".auto"));
    AWAN_ASSIGN_OR_RETURN(s.auto_action, Enum<diagnosis::AutoAction>(r, act, what + ".auto.action",
                                                                     diagnosis::ParseAutoAction));
    AWAN_ASSIGN_OR_RETURN(YAML::Node risk, r.Required(a, "risk", what + ".auto"));
    AWAN_ASSIGN_OR_RETURN(s.auto_risk,
                          Enum<diagnosis::Risk>(r, risk, what + ".auto.risk", diagnosis::ParseRisk));
  }
  AWAN_ASSIGN_OR_RETURN(YAML::Node inject, r.Required(n, "inject", what));
  AWAN_RETURN_IF_ERROR(ReadInject(r, inject, what + ".inject", &s.inject));
  return s;
}

}  // namespace

Status ParseCatalogFile(std::string_view text, std::string_view source, std::vector<Scenario>* out) {
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(text, source));
  AWAN_RETURN_IF_ERROR(NoDuplicateKeys(doc, source));
  const Reader r{std::string(source)};
  try {
    AWAN_RETURN_IF_ERROR(r.ExpectMap(doc, "catalog file"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(doc, "catalog file", {"layer", "scenarios"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node layer_node, r.Required(doc, "layer", "catalog file"));
    AWAN_ASSIGN_OR_RETURN(std::string layer, r.String(layer_node, "layer"));
    AWAN_ASSIGN_OR_RETURN(YAML::Node list, r.Required(doc, "scenarios", "catalog file"));
    AWAN_RETURN_IF_ERROR(r.ExpectList(list, "scenarios"));
    for (const YAML::Node& n : list) {
      AWAN_ASSIGN_OR_RETURN(Scenario s, ReadScenario(r, n, layer, source));
      out->push_back(std::move(s));
    }
  } catch (const YAML::Exception& e) {
    return YamlError(source, e);
  }
  return Status::Ok();
}

StatusOr<diagnosis::Catalog> LoadEmbeddedCatalog() {
  std::vector<Scenario> all;
  for (const auto& [name, text] : EmbeddedCatalogFiles())
    AWAN_RETURN_IF_ERROR(ParseCatalogFile(text, "catalog/scenarios/" + std::string(name), &all));
  return diagnosis::Catalog::Create(std::move(all));
}

StatusOr<diagnosis::Catalog> LoadCatalogDir(const std::string& dir) {
  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  if (ec) return IoError(dir + ": " + ec.message());
  if (files.empty()) return NotFound(dir + ": no .yaml catalog files");
  std::sort(files.begin(), files.end());
  std::vector<Scenario> all;
  for (const auto& p : files) {
    std::ifstream in(p);
    if (!in.is_open()) return IoError(p.string() + ": cannot open");
    std::stringstream ss;
    ss << in.rdbuf();
    AWAN_RETURN_IF_ERROR(ParseCatalogFile(ss.str(), p.string(), &all));
  }
  return diagnosis::Catalog::Create(std::move(all));
}

}  // namespace awan::config
