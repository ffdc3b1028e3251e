#include "diagnosis/catalog.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>

namespace awan::diagnosis {
namespace {

constexpr std::array<std::string_view, kSignalKinds> kKindNames = {
    "log",   "exit",  "oom_kill",  "kernel",  "gpu_health",   "heartbeat",
    "slurm", "alert", "scheduler", "serving", "control_plane"};
constexpr std::array<std::string_view, kScopes> kScopeNames = {
    "gpu", "node", "switch", "power_feed", "job", "dataset", "service", "tenant", "control_plane"};
constexpr std::array<std::string_view, 3> kSeverityNames = {"critical", "warning", "benign"};
constexpr std::array<std::string_view, 6> kActionNames = {
    "none", "cordon_node", "drain_node", "mark_gpu_unhealthy", "requeue_job", "restart_replica"};
constexpr std::array<std::string_view, 3> kRiskNames = {"low", "medium", "high"};

template <typename E, size_t N>
std::optional<E> ParseIn(const std::array<std::string_view, N>& names, std::string_view s) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s) return static_cast<E>(i);
  return std::nullopt;
}

// True when the non-optional lines of `lines` satisfy every matcher of `keys`.
bool LinesMatch(const std::vector<Matcher>& keys, const std::vector<InjectLine>& lines) {
  return std::all_of(keys.begin(), keys.end(), [&](const Matcher& m) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const InjectLine& l) { return !l.optional && m.Matches(l.kind, l.text); });
  });
}

Status CheckPlaceholders(const Scenario& s) {
  for (const InjectLine& l : s.inject) {
    for (size_t at = l.text.find('{'); at != std::string::npos; at = l.text.find('{', at + 1)) {
      const size_t end = l.text.find('}', at);
      if (end == std::string::npos) break;
      const std::string_view name = std::string_view(l.text).substr(at + 1, end - at - 1);
      const bool word = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
        return (ch >= 'a' && ch <= 'z') || ch == '_';
      });
      if (!word) continue;  // JSON or other braces, not a placeholder
      const auto& known = Placeholders();
      if (std::find(known.begin(), known.end(), name) == known.end())
        return InvalidArgument(
            fmt::format("{}: scenario {}: unknown placeholder {{{}}} in an inject line", s.file, s.id, name));
    }
  }
  return Status::Ok();
}

Status CheckOne(const Scenario& s) {
  if (s.id.empty() || !std::all_of(s.id.begin(), s.id.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
      }))
    return InvalidArgument(
        fmt::format("{}: scenario id '{}': upper case letters, digits and '-' only", s.file, s.id));
  if (s.key.empty()) return InvalidArgument(fmt::format("{}: scenario {}: no key matcher", s.file, s.id));
  for (const Matcher& m : s.key)
    if (m.contains.empty() ||
        std::any_of(m.contains.begin(), m.contains.end(), [](auto& c) { return c.empty(); }))
      return InvalidArgument(fmt::format("{}: scenario {}: a matcher needs non-empty strings", s.file, s.id));
  if (!LinesMatch(s.key, s.inject))
    return InvalidArgument(
        fmt::format("{}: scenario {}: a key matcher matches none of its inject lines that are not optional",
                    s.file, s.id));
  return CheckPlaceholders(s);
}

}  // namespace

std::string_view Name(SignalKind k) { return kKindNames[static_cast<size_t>(k)]; }
std::string_view Name(Scope s) { return kScopeNames[static_cast<size_t>(s)]; }
std::string_view Name(Severity s) { return kSeverityNames[static_cast<size_t>(s)]; }
std::string_view Name(AutoAction a) { return kActionNames[static_cast<size_t>(a)]; }
std::string_view Name(Risk r) { return kRiskNames[static_cast<size_t>(r)]; }
std::optional<SignalKind> ParseSignalKind(std::string_view s) { return ParseIn<SignalKind>(kKindNames, s); }
std::optional<Scope> ParseScope(std::string_view s) { return ParseIn<Scope>(kScopeNames, s); }
std::optional<Severity> ParseSeverity(std::string_view s) { return ParseIn<Severity>(kSeverityNames, s); }
std::optional<AutoAction> ParseAutoAction(std::string_view s) { return ParseIn<AutoAction>(kActionNames, s); }
std::optional<Risk> ParseRisk(std::string_view s) { return ParseIn<Risk>(kRiskNames, s); }

const std::vector<std::string_view>& Placeholders() {
  static const std::vector<std::string_view> k = {
      "node", "gpu",     "pci",    "pid",  "job",     "rank",    "world",  "peer", "ip", "peer_ip",
      "port", "dataset", "switch", "feed", "service", "replica", "tenant", "n",    "ms", "bytes"};
  return k;
}

bool Matcher::Matches(SignalKind k, std::string_view text) const {
  if (k != kind) return false;
  for (const std::string& c : contains)
    if (text.find(c) == std::string_view::npos) return false;
  return true;
}

bool Scenario::Explains(std::string_view cls) const {
  return std::find(explains.begin(), explains.end(), cls) != explains.end();
}

StatusOr<Catalog> Catalog::Create(std::vector<Scenario> scenarios) {
  Catalog c;
  c.scenarios_ = std::move(scenarios);
  for (size_t i = 0; i < c.scenarios_.size(); ++i) {
    const Scenario& s = c.scenarios_[i];
    AWAN_RETURN_IF_ERROR(CheckOne(s));
    if (!c.by_id_.emplace(s.id, static_cast<int>(i)).second)
      return InvalidArgument(fmt::format("{}: scenario {} is defined twice", s.file, s.id));
    if (s.is_symptom()) c.by_class_[s.symptom_class].push_back(static_cast<int>(i));
  }
  std::map<std::pair<Scope, std::set<std::pair<int, std::vector<std::string>>>>, std::string> keysets;
  for (const Scenario& s : c.scenarios_) {
    for (const std::string& cls : s.explains)
      if (!c.by_class_.count(cls))
        return InvalidArgument(
            fmt::format("{}: scenario {} explains an unknown class '{}'", s.file, s.id, cls));
    std::set<std::pair<int, std::vector<std::string>>> ks;
    for (const Matcher& m : s.key) ks.insert({static_cast<int>(m.kind), m.contains});
    auto [it, fresh] = keysets.emplace(std::make_pair(s.scope, ks), s.id);
    if (!fresh)
      return InvalidArgument(fmt::format("{}: scenarios {} and {} have the same scope and key matchers",
                                         s.file, it->second, s.id));
    for (const Scenario& o : c.scenarios_) {
      if (&o == &s || o.key.size() < s.key.size() || (o.is_symptom() && s.Explains(o.symptom_class)))
        continue;
      // A switch, feed or dataset cause needs its keys on several members: one fault elsewhere is not it.
      const bool grouped =
          o.scope == Scope::kSwitch || o.scope == Scope::kPowerFeed || o.scope == Scope::kDataset;
      if (grouped && o.scope != s.scope) continue;
      if (LinesMatch(o.key, s.inject))
        return InvalidArgument(fmt::format(
            "{}: scenario {}: its inject lines match every key matcher of {} (which has as many keys): they "
            "would tie; make the keys distinct",
            s.file, s.id, o.id));
    }
  }
  return c;
}

const Scenario* Catalog::Find(std::string_view id) const {
  const int i = IndexOf(id);
  return i < 0 ? nullptr : &scenarios_[static_cast<size_t>(i)];
}

int Catalog::IndexOf(std::string_view id) const {
  const auto it = by_id_.find(std::string(id));
  return it == by_id_.end() ? -1 : it->second;
}

const std::vector<int>& Catalog::ClassMembers(std::string_view cls) const {
  static const std::vector<int> kNone;
  const auto it = by_class_.find(std::string(cls));
  return it == by_class_.end() ? kNone : it->second;
}

}  // namespace awan::diagnosis
