#include "config/job_manifest.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <vector>

#include "config/yaml_reader.h"

namespace awan::config {
namespace {

// The deepest nesting of flow collections ([ and {) outside quoted scalars: yaml-cpp recurses once per level,
// so a manifest of 256 KiB of '[' would overflow the stack before any other check ran.
int FlowDepth(std::string_view text) {
  int depth = 0, worst = 0;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (comment) {
      comment = c != '\n';
      continue;
    }
    if (quote) {
      if (c == '\\' && quote == '"')
        ++i;
      else if (c == quote)
        quote = 0;
      continue;
    }
    if (c == '"' || c == '\'')
      quote = c;
    else if (c == '#')
      comment = true;
    else if (c == '[' || c == '{')
      worst = std::max(worst, ++depth);
    else if ((c == ']' || c == '}') && depth > 0)
      --depth;
  }
  return worst;
}

// Walks the document as a user of it would (aliases expanded), bounded: false once it is deeper than
// kMaxManifestDepth or larger than kMaxManifestExpandedBytes.
bool WithinBounds(const YAML::Node& n, int depth, size_t* bytes) {
  if (depth > kMaxManifestDepth) return false;
  if (n.IsScalar()) {
    *bytes += n.Scalar().size() + 1;
    return *bytes <= kMaxManifestExpandedBytes;
  }
  if (n.IsSequence()) {
    for (const YAML::Node& c : n) {
      if (!WithinBounds(c, depth + 1, bytes)) return false;
    }
  } else if (n.IsMap()) {
    for (const auto& kv : n) {
      if (!WithinBounds(kv.first, depth + 1, bytes) || !WithinBounds(kv.second, depth + 1, bytes))
        return false;
    }
  }
  *bytes += 1;
  return *bytes <= kMaxManifestExpandedBytes;
}

bool ValidEnvName(const std::string& k) {
  if (k.empty() || k.size() > 256 || std::isdigit(static_cast<unsigned char>(k[0]))) return false;
  for (char c : k) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

Status CheckImageReference(std::string_view ref) {
  const auto allowed = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '/' ||
           c == ':' || c == '@';
  };
  if (ref.empty() || ref.size() > kMaxImageReference || !std::isalnum(static_cast<unsigned char>(ref[0])) ||
      !std::all_of(ref.begin(), ref.end(), allowed) || ref.find("..") != std::string_view::npos) {
    return InvalidArgument("image: a reference like registry:5000/name:tag (at most " +
                           std::to_string(kMaxImageReference) +
                           " characters: letters, digits and . _ - / : @, starting with a letter or digit)");
  }
  return Status::Ok();
}

bool IsReservedEnvKey(const std::string& key) {
  static const char* const kReserved[] = {"CUDA_VISIBLE_DEVICES",
                                          "NVIDIA_VISIBLE_DEVICES",
                                          "ROCR_VISIBLE_DEVICES",
                                          "HIP_VISIBLE_DEVICES",
                                          "GPU_DEVICE_ORDINAL",
                                          "ZE_AFFINITY_MASK",
                                          "HOME",
                                          "TMPDIR"};
  for (const char* r : kReserved) {
    if (key == r) return true;
  }
  return key.rfind("AWAN_", 0) == 0;
}

StatusOr<int64_t> ParseTimeLimit(const std::string& text) {
  auto bad = [&] {
    return InvalidArgument("time_limit: expected seconds, 30m, 2h, 1d, MM:SS, HH:MM:SS or D-HH:MM:SS, got '" +
                           text + "'");
  };
  auto number = [](const std::string& s, int64_t* out) {
    if (s.empty() || s.size() > 9) return false;
    for (char c : s) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    }
    *out = std::stoll(s);
    return true;
  };
  int64_t v = 0;
  if (text.empty()) return bad();
  if (number(text, &v)) {
    // plain seconds
  } else if (text.find(':') != std::string::npos) {
    std::string rest = text;
    int64_t days = 0;
    if (const size_t dash = rest.find('-'); dash != std::string::npos) {
      if (!number(rest.substr(0, dash), &days)) return bad();
      rest = rest.substr(dash + 1);
    }
    std::vector<int64_t> parts;
    for (size_t from = 0;;) {
      const size_t colon = rest.find(':', from);
      int64_t p = 0;
      if (!number(rest.substr(from, colon == std::string::npos ? std::string::npos : colon - from), &p))
        return bad();
      parts.push_back(p);
      if (colon == std::string::npos) break;
      from = colon + 1;
    }
    if (parts.size() == 2)
      v = parts[0] * 60 + parts[1];
    else if (parts.size() == 3)
      v = parts[0] * 3600 + parts[1] * 60 + parts[2];
    else
      return bad();
    v += days * 86400;
  } else {
    const char unit = text.back();
    int64_t n = 0;
    if (!number(text.substr(0, text.size() - 1), &n)) return bad();
    if (unit == 's')
      v = n;
    else if (unit == 'm')
      v = n * 60;
    else if (unit == 'h')
      v = n * 3600;
    else if (unit == 'd')
      v = n * 86400;
    else
      return bad();
  }
  if (v < 1 || v > kMaxTimeLimitS) {
    return InvalidArgument("time_limit: between 1 s and 365 days, got '" + text + "'");
  }
  return v;
}

StatusOr<YAML::Node> LoadManifest(std::string_view text, std::string_view source, std::string_view kind) {
  if (text.size() > kMaxManifestBytes) {
    return InvalidArgument(std::string(source) + ": manifest of " + std::to_string(text.size()) +
                           " bytes, more than the " + std::to_string(kMaxManifestBytes) + " allowed");
  }
  const Reader r{std::string(source)};
  if (FlowDepth(text) > kMaxManifestDepth) {
    return InvalidArgument(std::string(source) + ": manifest nests deeper than " +
                           std::to_string(kMaxManifestDepth) + " levels");
  }
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(text, source));
  try {
    size_t expanded = 0;
    if (!WithinBounds(doc, 0, &expanded)) {
      return InvalidArgument(std::string(source) + ": manifest nests deeper than " +
                             std::to_string(kMaxManifestDepth) +
                             " levels or expands (aliases included) past " +
                             std::to_string(kMaxManifestExpandedBytes) + " bytes");
    }
    if (!doc.IsMap()) return r.Error(doc, "a manifest is a mapping (apiVersion, kind, metadata, spec)");
    AWAN_RETURN_IF_ERROR(NoDuplicateKeys(doc, source));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(doc, "manifest", {"apiVersion", "kind", "metadata", "spec"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node av, r.Required(doc, "apiVersion", "manifest"));
    AWAN_ASSIGN_OR_RETURN(std::string api, r.String(av, "apiVersion"));
    if (api != "awan/v1") return r.Error(av, "apiVersion: expected awan/v1, got '" + api + "'");
    AWAN_ASSIGN_OR_RETURN(YAML::Node kn, r.Required(doc, "kind", "manifest"));
    AWAN_ASSIGN_OR_RETURN(std::string got, r.String(kn, "kind"));
    if (got != kind) return r.Error(kn, "kind: expected " + std::string(kind) + ", got '" + got + "'");
  } catch (const YAML::Exception& e) {
    return YamlError(source, e);
  }
  return doc;
}

std::string ManifestKind(std::string_view text) {
  if (text.size() > kMaxManifestBytes || FlowDepth(text) > kMaxManifestDepth) return "";
  StatusOr<YAML::Node> doc = LoadYaml(text, "manifest");
  if (!doc.ok()) return "";
  try {
    if (!doc->IsMap() || !(*doc)["kind"] || !(*doc)["kind"].IsScalar()) return "";
    return (*doc)["kind"].Scalar();
  } catch (const YAML::Exception&) {
    return "";
  }
}

std::vector<std::string> SplitYamlDocuments(std::string_view text) {
  std::vector<std::string> docs(1);
  std::vector<bool> content(1, false);
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    const bool marker = line.rfind("---", 0) == 0 &&
                        (line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r');
    if (marker) {
      docs.emplace_back(), content.push_back(false);
      const std::string_view rest = line.substr(3);  // "--- {a: 1}": the document starts on the marker's line
      const size_t first = rest.find_first_not_of(" \t\r");
      if (first != std::string_view::npos && rest[first] != '#') {
        docs.back() += std::string(rest.substr(first)) + "\n";
        content.back() = true;
      }
    } else {
      docs.back() += std::string(line) + "\n";
      const size_t first = line.find_first_not_of(" \t\r");
      if (first != std::string_view::npos && line[first] != '#') content.back() = true;
    }
    at = end + 1;
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < docs.size(); ++i)
    if (content[i]) out.push_back(std::move(docs[i]));
  return out;
}

StatusOr<std::vector<Dependency>> ParseDependencies(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("dependency '" + std::string(text.substr(0, 64)) + "': " + why +
                           " (expected like afterok:j-00000001:j-00000002,afterany:j-00000003)");
  };
  if (text.empty() || text.size() > 4096) return bad("empty or longer than 4096 characters");
  std::vector<Dependency> out;
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = text.find(',', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view part = text.substr(at, end - at);
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos) return bad("each part is KIND:JOB[:JOB...]");
    const std::string_view kind = part.substr(0, colon);
    Dependency d;
    if (kind == "afterok") {
      d.kind = DependencyKind::kAfterOk;
    } else if (kind == "afterany") {
      d.kind = DependencyKind::kAfterAny;
    } else {
      return bad("kinds are afterok and afterany");
    }
    for (size_t j = colon + 1; j <= part.size();) {
      size_t next = part.find(':', j);
      if (next == std::string_view::npos) next = part.size();
      const std::string_view id = part.substr(j, next - j);
      if (id.size() < 3 || id.size() > 24 || id.substr(0, 2) != "j-" ||
          id.substr(2).find_first_not_of("0123456789") != std::string_view::npos)
        return bad("job ids look like j-00000001");
      d.job = std::string(id);
      if (std::find(out.begin(), out.end(), d) == out.end()) out.push_back(d);
      if (out.size() > kMaxDependencies) return bad(fmt::format("more than {} jobs", kMaxDependencies));
      j = next + 1;
    }
    at = end + 1;
  }
  return out;
}

std::string DependencyText(const std::vector<Dependency>& deps) {
  std::string out;
  for (size_t i = 0; i < deps.size(); ++i) {
    const bool same = i > 0 && deps[i].kind == deps[i - 1].kind;
    if (!same)
      out += std::string(out.empty() ? "" : ",") +
             (deps[i].kind == DependencyKind::kAfterOk ? "afterok" : "afterany");
    out += ":" + deps[i].job;
  }
  return out;
}

StatusOr<std::vector<int>> ParseArraySpec(std::string_view spec) {
  auto bad = [&](const std::string& why) {
    return InvalidArgument("array '" + std::string(spec.substr(0, 64)) + "': " + why +
                           " (expected like 0-999, 1,3,5-7 or 0-15:4)");
  };
  if (spec.empty() || spec.size() > 4096) return bad("empty or longer than 4096 characters");
  auto number = [](std::string_view t, int* out) {
    if (t.empty() || t.size() > 7 || t.find_first_not_of("0123456789") != std::string_view::npos)
      return false;
    *out = std::stoi(std::string(t));
    return *out <= kMaxArrayIndex;
  };
  std::vector<int> out;
  std::set<int> seen;
  size_t at = 0;
  while (at <= spec.size()) {
    size_t end = spec.find(',', at);
    if (end == std::string_view::npos) end = spec.size();
    std::string_view part = spec.substr(at, end - at);
    int step = 1, lo = 0, hi = 0;
    if (const size_t colon = part.find(':'); colon != std::string_view::npos) {
      if (!number(part.substr(colon + 1), &step) || step < 1) return bad("a step must be a positive integer");
      part = part.substr(0, colon);
    }
    const size_t dash = part.find('-');
    if (!number(part.substr(0, dash), &lo)) return bad("indices are integers from 0 to 999999");
    hi = lo;
    if (dash != std::string_view::npos && !number(part.substr(dash + 1), &hi))
      return bad("indices are integers from 0 to 999999");
    if (hi < lo) return bad(fmt::format("{}-{} runs backwards", lo, hi));
    for (int i = lo; i <= hi; i += step) {
      if (!seen.insert(i).second) return bad(fmt::format("index {} given twice", i));
      if (static_cast<int>(out.size()) == kMaxArrayJobs)
        return bad(fmt::format("more than {} jobs", kMaxArrayJobs));
      out.push_back(i);
    }
    at = end + 1;
  }
  return out;
}

StatusOr<JobManifest> ParseJobManifest(std::string_view text, std::string_view source, const Fleet& fleet) {
  const Reader r{std::string(source)};
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadManifest(text, source, "Job"));
  JobManifest m;
  try {
    AWAN_ASSIGN_OR_RETURN(YAML::Node md, r.Required(doc, "metadata", "manifest"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(md, "metadata"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(md, "metadata", {"name", "tenant", "array"}));
    if (md["array"]) {
      const YAML::Node arr = md["array"];
      AWAN_RETURN_IF_ERROR(r.ExpectMap(arr, "metadata array"));
      AWAN_RETURN_IF_ERROR(r.OnlyKeys(arr, "metadata array", {"index", "count"}));
      AWAN_ASSIGN_OR_RETURN(YAML::Node ix, r.Required(arr, "index", "metadata array"));
      AWAN_ASSIGN_OR_RETURN(YAML::Node cn, r.Required(arr, "count", "metadata array"));
      AWAN_ASSIGN_OR_RETURN(int64_t index, r.Int(ix, "metadata array index", 0, kMaxArrayIndex));
      AWAN_ASSIGN_OR_RETURN(int64_t count, r.Int(cn, "metadata array count", 1, kMaxArrayJobs));
      m.array_index = static_cast<int>(index), m.array_count = static_cast<int>(count);
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node nm, r.Required(md, "name", "metadata"));
    AWAN_ASSIGN_OR_RETURN(m.job.name, r.String(nm, "metadata name"));
    if (m.job.name.size() > 253) return r.Error(nm, "metadata name: at most 253 characters");
    for (char c : m.job.name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
        return r.Error(nm, "metadata name: letters, digits, '-', '_' and '.' only, got '" + m.job.name + "'");
      }
    }
    if (md["tenant"]) {
      AWAN_ASSIGN_OR_RETURN(m.job.tenant, r.String(md["tenant"], "metadata tenant"));
    }
    AWAN_ASSIGN_OR_RETURN(YAML::Node sp, r.Required(doc, "spec", "manifest"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(sp, "spec"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(sp, "spec",
                                    {"tasks", "gpus", "accelerator", "cpu", "memory_gib", "topology", "reads",
                                     "writes", "user", "command", "env", "duration_s", "time_limit",
                                     "workdir", "image", "dependency", "priority", "long_running"}));
    if (sp["dependency"]) {
      AWAN_ASSIGN_OR_RETURN(std::string text, r.String(sp["dependency"], "spec dependency"));
      auto deps = ParseDependencies(text);
      if (!deps.ok()) return r.Error(sp["dependency"], "spec " + deps.status().message());
      m.dependencies = std::move(*deps);
    }
    const std::string what = "spec";
    AWAN_ASSIGN_OR_RETURN(YAML::Node g, r.Required(sp, "gpus", what));
    (void)g;
    AWAN_RETURN_IF_ERROR(ParseJobShape(r, sp, what, fleet, &m.job));
    if (sp["long_running"]) {
      AWAN_ASSIGN_OR_RETURN(m.job.task.long_running, r.Bool(sp["long_running"], "spec long_running"));
    }
    if (sp["duration_s"]) {
      AWAN_ASSIGN_OR_RETURN(m.job.duration_s,
                            r.Int(sp["duration_s"], "spec duration_s", 1, int64_t{1} << 40));
    }
    if (sp["command"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectList(sp["command"], "spec command"));
      for (const YAML::Node& a : sp["command"]) {
        if (!a.IsScalar()) return r.Error(a, "spec command: expected a list of strings");
        m.command.push_back(a.Scalar());
      }
      if (m.command.empty())
        return r.Error(sp["command"], "spec command: empty (leave it out for a placeholder job)");
      if (m.command.size() > kMaxArgs) {
        return r.Error(sp["command"], "spec command: more than " + std::to_string(kMaxArgs) + " arguments");
      }
    }
    if (sp["env"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectMap(sp["env"], "spec env"));
      for (const auto& kv : sp["env"]) {
        const std::string k = kv.first.as<std::string>();
        if (!ValidEnvName(k)) {
          return r.Error(kv.first, "spec env: bad variable name '" + k +
                                       "' (letters, digits and '_', not first a digit)");
        }
        if (IsReservedEnvKey(k)) {
          return r.Error(
              kv.first,
              "spec env: " + k +
                  " is set by awan for every task (reserved: CUDA_VISIBLE_DEVICES and the other GPU "
                  "visibility variables, HOME, TMPDIR, AWAN_*)");
        }
        if (!kv.second.IsScalar()) return r.Error(kv.second, "spec env " + k + ": expected a string");
        m.env[k] = kv.second.Scalar();
      }
    }
    if (m.env.size() > kMaxEnvVars) {
      return r.Error(sp["env"], "spec env: more than " + std::to_string(kMaxEnvVars) + " variables");
    }
    size_t argv_env = 0;
    for (const std::string& a : m.command) argv_env += a.size() + 1;
    for (const auto& [k, v] : m.env) argv_env += k.size() + v.size() + 2;
    if (argv_env > kMaxArgvEnvBytes) {
      return r.Error(sp, "spec: command and env take " + std::to_string(argv_env) + " bytes, more than the " +
                             std::to_string(kMaxArgvEnvBytes) + " allowed");
    }
    if (m.job.task.memory.value <= 0) {
      return r.Error(sp["memory_gib"] ? sp["memory_gib"] : sp,
                     "spec memory_gib: must be > 0 (it is the task's memory limit)");
    }
    if (sp["time_limit"]) {
      AWAN_ASSIGN_OR_RETURN(std::string tl, r.String(sp["time_limit"], "spec time_limit"));
      StatusOr<int64_t> v = ParseTimeLimit(tl);
      if (!v.ok()) return r.Error(sp["time_limit"], "spec " + v.status().message());
      m.time_limit_s = *v;
    }
    if (sp["workdir"]) {
      AWAN_ASSIGN_OR_RETURN(m.workdir, r.String(sp["workdir"], "spec workdir"));
      if (m.workdir.empty() || m.workdir[0] != '/' || m.workdir.size() > 4096 ||
          m.workdir.find('\0') != std::string::npos) {
        return r.Error(sp["workdir"], "spec workdir: an absolute path of at most 4096 characters");
      }
    }
    if (sp["image"]) {
      AWAN_ASSIGN_OR_RETURN(m.image, r.String(sp["image"], "spec image"));
      if (Status s = CheckImageReference(m.image); !s.ok())
        return r.Error(sp["image"], "spec " + s.message());
      if (m.command.empty()) return r.Error(sp["image"], "spec image: needs a command (the argv run in it)");
    }
    if (m.command.empty() && m.job.duration_s == 0) {
      return r.Error(sp, "spec: give a command, a duration_s, or both");
    }
  } catch (const YAML::Exception& e) {
    return YamlError(source, e);
  }
  return m;
}

}  // namespace awan::config
