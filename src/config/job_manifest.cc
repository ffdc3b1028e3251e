#include "config/job_manifest.h"

#include "config/yaml_reader.h"

namespace awan::config {

StatusOr<JobManifest> ParseJobManifest(std::string_view text, std::string_view source, const Fleet& fleet) {
  if (text.size() > kMaxManifestBytes) {
    return InvalidArgument(std::string(source) + ": manifest of " + std::to_string(text.size()) + " bytes, more than the " +
                           std::to_string(kMaxManifestBytes) + " allowed");
  }
  const Reader r{std::string(source)};
  AWAN_ASSIGN_OR_RETURN(YAML::Node doc, LoadYaml(text, source));
  JobManifest m;
  try {
    if (!doc.IsMap()) return r.Error(doc, "a manifest is a mapping (apiVersion, kind, metadata, spec)");
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(doc, "manifest", {"apiVersion", "kind", "metadata", "spec"}));
    AWAN_ASSIGN_OR_RETURN(YAML::Node av, r.Required(doc, "apiVersion", "manifest"));
    AWAN_ASSIGN_OR_RETURN(std::string api, r.String(av, "apiVersion"));
    if (api != "awan/v1") return r.Error(av, "apiVersion: expected awan/v1, got '" + api + "'");
    AWAN_ASSIGN_OR_RETURN(YAML::Node kn, r.Required(doc, "kind", "manifest"));
    AWAN_ASSIGN_OR_RETURN(std::string kind, r.String(kn, "kind"));
    if (kind != "Job") return r.Error(kn, "kind: expected Job, got '" + kind + "'");
    AWAN_ASSIGN_OR_RETURN(YAML::Node md, r.Required(doc, "metadata", "manifest"));
    AWAN_RETURN_IF_ERROR(r.ExpectMap(md, "metadata"));
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(md, "metadata", {"name", "tenant"}));
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
    AWAN_RETURN_IF_ERROR(r.OnlyKeys(sp, "spec", {"tasks", "gpus", "accelerator", "cpu", "memory_gib", "topology", "reads",
                                                 "writes", "user", "command", "env", "duration_s"}));
    const std::string what = "spec";
    AWAN_ASSIGN_OR_RETURN(YAML::Node g, r.Required(sp, "gpus", what));
    (void)g;
    AWAN_RETURN_IF_ERROR(ParseJobShape(r, sp, what, fleet, &m.job));
    if (sp["duration_s"]) {
      AWAN_ASSIGN_OR_RETURN(m.job.duration_s, r.Int(sp["duration_s"], "spec duration_s", 1, int64_t{1} << 40));
    }
    if (sp["command"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectList(sp["command"], "spec command"));
      for (const YAML::Node& a : sp["command"]) {
        if (!a.IsScalar()) return r.Error(a, "spec command: expected a list of strings");
        m.command.push_back(a.Scalar());
      }
      if (m.command.empty()) return r.Error(sp["command"], "spec command: empty (leave it out for a placeholder job)");
    }
    if (sp["env"]) {
      AWAN_RETURN_IF_ERROR(r.ExpectMap(sp["env"], "spec env"));
      for (const auto& kv : sp["env"]) {
        const std::string k = kv.first.as<std::string>();
        if (k.empty() || k.find('=') != std::string::npos) return r.Error(kv.first, "spec env: bad variable name '" + k + "'");
        if (!kv.second.IsScalar()) return r.Error(kv.second, "spec env " + k + ": expected a string");
        m.env[k] = kv.second.Scalar();
      }
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
