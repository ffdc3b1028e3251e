// The diagnosis catalog: exception scenarios as data (catalog/scenarios/*.yaml, format in
// docs/formats/diagnosis-catalog.md). A scenario names the signals that identify it (key matchers, all
// required; also matchers, each adding confidence), where its cause is (scope), the symptom classes it
// explains, what to tell and what to do, and the lines that reproduce it (inject).
//
// Pure data and checks: no I/O (config/catalog_file.h reads the YAML). Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"

namespace awan::diagnosis {

// What a signal is (docs/formats/diagnosis-catalog.md, "Signals").
enum class SignalKind : uint8_t {
  kLog = 0,
  kExit,
  kOomKill,
  kKernel,
  kGpuHealth,
  kHeartbeat,
  kSlurm,
  kAlert,
  kScheduler,
  kServing,
  kControlPlane,
};
inline constexpr int kSignalKinds = 11;

// Where a cause is, and so how its signals are grouped.
enum class Scope : uint8_t {
  kGpu = 0,
  kNode,
  kSwitch,
  kPowerFeed,
  kJob,
  kDataset,
  kService,
  kTenant,
  kControlPlane,
};
inline constexpr int kScopes = 9;

enum class Severity : uint8_t { kCritical = 0, kWarning, kBenign };

// What may be done without a person, and how risky it is.
enum class AutoAction : uint8_t {
  kNone = 0,
  kCordonNode,
  kDrainNode,
  kMarkGpuUnhealthy,
  kRequeueJob,
  kRestartReplica
};
enum class Risk : uint8_t { kLow = 0, kMedium, kHigh };

std::string_view Name(SignalKind k);
std::string_view Name(Scope s);
std::string_view Name(Severity s);
std::string_view Name(AutoAction a);
std::string_view Name(Risk r);
std::optional<SignalKind> ParseSignalKind(std::string_view s);
std::optional<Scope> ParseScope(std::string_view s);
std::optional<Severity> ParseSeverity(std::string_view s);
std::optional<AutoAction> ParseAutoAction(std::string_view s);
std::optional<Risk> ParseRisk(std::string_view s);

// Matches a signal of `kind` whose text contains every string of `contains` (literal, case-sensitive).
struct Matcher {
  SignalKind kind = SignalKind::kLog;
  std::vector<std::string> contains;
  bool Matches(SignalKind k, std::string_view text) const;
};

// A line the fault generator emits for a scenario; placeholders {node}, {gpu}, ... (FillPlaceholders).
struct InjectLine {
  SignalKind kind = SignalKind::kLog;
  std::string text;
  bool optional = false;  // sometimes left out (a missing signal); key matchers never rely on these
};

struct Scenario {
  std::string id;  // unique, upper case
  std::string layer, title;
  Scope scope = Scope::kNode;
  Severity severity = Severity::kCritical;
  std::string symptom_class;          // non-empty: this scenario is an instance of that symptom class
  std::vector<Matcher> key, also;     // key: all required; also: each adds confidence
  std::vector<std::string> explains;  // symptom classes this cause accounts for
  std::string root_cause, evidence, action, source;
  AutoAction auto_action = AutoAction::kNone;
  Risk auto_risk = Risk::kHigh;
  std::vector<InjectLine> inject;
  std::string file;  // where it was read from (for messages)

  bool is_symptom() const { return !symptom_class.empty(); }
  bool Explains(std::string_view cls) const;
};

// The placeholders an inject line may use.
const std::vector<std::string_view>& Placeholders();

// The scenarios, checked as a whole, with their index.
class Catalog {
 public:
  // Checks the scenarios: unique ids; at least one key matcher; every key matcher matched by a line that is
  // not optional; only known placeholders; every class named in `explains` has a scenario;
  // no two scenarios of one scope with the same key matchers; no scenario whose own lines match all the key
  // matchers of another with as many keys (they would tie) unless it explains that one's class.
  static StatusOr<Catalog> Create(std::vector<Scenario> scenarios);

  const std::vector<Scenario>& scenarios() const { return scenarios_; }
  size_t size() const { return scenarios_.size(); }
  const Scenario& at(size_t i) const { return scenarios_[i]; }
  const Scenario* Find(std::string_view id) const;
  int IndexOf(std::string_view id) const;  // -1 when unknown
  // The scenarios of a symptom class, in catalog order (empty when none).
  const std::vector<int>& ClassMembers(std::string_view cls) const;

 private:
  std::vector<Scenario> scenarios_;
  std::unordered_map<std::string, int> by_id_;
  std::unordered_map<std::string, std::vector<int>> by_class_;
};

}  // namespace awan::diagnosis
