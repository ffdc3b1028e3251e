// Strict access to YAML documents for awan's file formats (fleet files, workload files): every error names
// source:line:column, unknown keys are errors, numbers are range-checked. Internal to src/config.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "config/job_manifest.h"
#include "model/fleet.h"
#include "model/job.h"
#include "model/residency.h"

namespace awan::config {

// Strict access to one YAML document, every error naming source:line:column.
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}

  Status Error(const YAML::Node& at, const std::string& message) const {
    const YAML::Mark m = at.Mark();
    if (m.is_null()) return InvalidArgument(source_ + ": " + message);
    return InvalidArgument(source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1) +
                           ": " + message);
  }

  Status ExpectMap(const YAML::Node& n, const std::string& what) const {
    if (!n.IsMap()) return Error(n, what + ": expected a mapping");
    return Status::Ok();
  }
  Status ExpectList(const YAML::Node& n, const std::string& what) const {
    if (!n.IsSequence()) return Error(n, what + ": expected a list");
    return Status::Ok();
  }

  // Every key of `n` must be one of `allowed`.
  Status OnlyKeys(const YAML::Node& n, const std::string& what,
                  std::initializer_list<const char*> allowed) const {
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      bool ok = false;
      std::string list;
      for (const char* a : allowed) {
        ok = ok || key == a;
        list += (list.empty() ? "" : ", ") + std::string(a);
      }
      if (!ok) return Error(kv.first, what + ": unknown key '" + key + "' (allowed: " + list + ")");
    }
    return Status::Ok();
  }

  StatusOr<YAML::Node> Required(const YAML::Node& map, const char* key, const std::string& what) const {
    YAML::Node v = map[key];
    if (!v) return Error(map, what + ": missing '" + key + "'");
    return v;
  }

  StatusOr<std::string> String(const YAML::Node& v, const std::string& what) const {
    if (!v.IsScalar() || v.Scalar().empty()) return Error(v, what + ": expected a non-empty string");
    return v.Scalar();
  }

  // A list of non-empty strings, appended to `out`.
  Status Strings(const YAML::Node& n, const std::string& what, std::vector<std::string>* out) const {
    AWAN_RETURN_IF_ERROR(ExpectList(n, what));
    for (const YAML::Node& v : n) {
      AWAN_ASSIGN_OR_RETURN(std::string s, String(v, what));
      out->push_back(std::move(s));
    }
    return Status::Ok();
  }

  StatusOr<int64_t> Int(const YAML::Node& v, const std::string& what, int64_t lo, int64_t hi) const {
    int64_t x = 0;
    if (!v.IsScalar() || !YAML::convert<int64_t>::decode(v, x) || x < lo || x > hi) {
      return Error(v, what + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi) +
                          (v.IsScalar() ? ", got '" + v.Scalar() + "'" : ""));
    }
    return x;
  }

  StatusOr<bool> Bool(const YAML::Node& v, const std::string& what) const {
    if (v.IsScalar() && (v.Scalar() == "true" || v.Scalar() == "false")) return v.Scalar() == "true";
    return Error(v, what + ": expected true or false" + (v.IsScalar() ? ", got '" + v.Scalar() + "'" : ""));
  }

  StatusOr<double> Number(const YAML::Node& v, const std::string& what, double lo, double hi) const {
    double x = 0;
    if (!v.IsScalar() || !YAML::convert<double>::decode(v, x) || !std::isfinite(x) || x < lo || x > hi) {
      return Error(v, what + ": expected a number in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "]" + (v.IsScalar() ? ", got '" + v.Scalar() + "'" : ""));
    }
    return x;
  }

 private:
  std::string source_;
};

// Every mapping under `n` has each key once (yaml-cpp keeps a repeated key and answers lookups with the
// first value, so the second would be silently ignored). The caller bounds the document's size and depth.
inline Status NoDuplicateKeys(const YAML::Node& n, std::string_view source, int depth = 0) {
  if (depth > 256) return InvalidArgument(std::string(source) + ": nests deeper than 256 levels");
  if (n.IsMap()) {
    std::unordered_map<std::string, YAML::Mark> seen;
    for (const auto& kv : n) {
      if (kv.first.IsScalar()) {
        const auto [at, fresh] = seen.emplace(kv.first.Scalar(), kv.first.Mark());
        if (!fresh) {
          const YAML::Mark m = kv.first.Mark();
          return InvalidArgument(std::string(source) + ":" + std::to_string(m.line + 1) + ":" +
                                 std::to_string(m.column + 1) + ": duplicate key '" + kv.first.Scalar() +
                                 "' (first at line " + std::to_string(at->second.line + 1) + ")");
        }
      }
      AWAN_RETURN_IF_ERROR(NoDuplicateKeys(kv.second, source, depth + 1));
    }
  } else if (n.IsSequence()) {
    for (const YAML::Node& v : n) AWAN_RETURN_IF_ERROR(NoDuplicateKeys(v, source, depth + 1));
  }
  return Status::Ok();
}

// Parses one YAML document; a syntax error names source:line:column; a stream of several documents is
// refused (only the first would be read). Documents are counted on the text (SplitYamlDocuments), not with
// YAML::LoadAll: yaml-cpp 0.7's LoadAll loops forever on some malformed input (found by the manifest fuzz
// test).
inline StatusOr<YAML::Node> LoadYaml(std::string_view text, std::string_view source) {
  if (const size_t docs = SplitYamlDocuments(text).size(); docs > 1) {
    return InvalidArgument(
        std::string(source) + ": " + std::to_string(docs) +
        " YAML documents ('---'): one is expected here (awan submit sends each document of "
        "a file in turn)");
  }
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) + ":" +
                           std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  }
}

// A yaml-cpp exception thrown while reading a document, as a Status naming source:line:column.
inline Status YamlError(std::string_view source, const YAML::Exception& e) {
  return InvalidArgument(std::string(source) + ":" + std::to_string(e.mark.line + 1) + ":" +
                         std::to_string(e.mark.column + 1) + ": " + e.msg);
}

// A data rule: {classification, jurisdictions: [..], regions: [..]} plus whatever else `keys` allows (the
// caller reads those). Bound classes (confidential, restricted) must list places.
Status ParseDataRule(const Reader& r, const YAML::Node& n, const std::string& what,
                     std::initializer_list<const char*> keys, DataSpec* d);

// A job's shape and data, shared by workload files and job manifests: tasks, gpus (per task; a fraction below
// 1 is one shared device), accelerator ("H100|H200", checked against the fleet), cpu, memory_gib, topology,
// reads, writes, user (a fleet user location), priority (within the tenant, ±kMaxJobPriority). Sets
// j->task.name to j->name.
Status ParseJobShape(const Reader& r, const YAML::Node& n, const std::string& what, const Fleet& fleet,
                     JobSpec* j);

// Loads a manifest (job_manifest.cc): within the size, nesting and expansion bounds, a mapping of apiVersion
// awan/v1, `kind`, metadata and spec. Errors name source:line:column.
StatusOr<YAML::Node> LoadManifest(std::string_view text, std::string_view source, std::string_view kind);

}  // namespace awan::config
