// JobState: where a job is in its life in the control plane. Stored and sent as its name ("Pending", ...);
// compared as an enum everywhere else.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace awan::server {

enum class JobState : uint8_t { kPending = 0, kRunning, kSucceeded, kFailed, kCancelled, kTimedOut };
inline constexpr std::array<JobState, 6> kJobStates = {JobState::kPending,   JobState::kRunning,
                                                       JobState::kSucceeded, JobState::kFailed,
                                                       JobState::kCancelled, JobState::kTimedOut};

// "Pending", "Running", "Succeeded", "Failed", "Cancelled", "TimedOut"
constexpr std::string_view JobStateName(JobState s) {
  constexpr std::array<std::string_view, 6> kNames = {"Pending", "Running",   "Succeeded",
                                                      "Failed",  "Cancelled", "TimedOut"};
  return kNames[static_cast<size_t>(s)];
}

// A state by name, ignoring case ("running" and "RUNNING" too); nullopt if none.
inline std::optional<JobState> ParseJobState(std::string_view name) {
  for (JobState s : kJobStates) {
    const std::string_view n = JobStateName(s);
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t i = 0; i < n.size() && same; ++i) {
      const char a = n[i] >= 'A' && n[i] <= 'Z' ? static_cast<char>(n[i] - 'A' + 'a') : n[i];
      const char b = name[i] >= 'A' && name[i] <= 'Z' ? static_cast<char>(name[i] - 'A' + 'a') : name[i];
      same = a == b;
    }
    if (same) return s;
  }
  return std::nullopt;
}

// Still to run or running: the scheduler holds it.
constexpr bool IsActive(JobState s) { return s == JobState::kPending || s == JobState::kRunning; }

}  // namespace awan::server
