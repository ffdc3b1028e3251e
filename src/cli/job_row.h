// One job as a row of the client's table (`awan submit`, `describe`, `cancel`...), shared by the full binary
// and the small front binary (apps/awan_front.cc) so that both print a job the same way. Header-only: fmt and
// nlohmann::json, nothing else.
#pragma once

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace awan::cli {

inline void PrintJobHeader() {
  fmt::print("{:<12} {:<24} {:<16} {:<10} {:<8} {}\n", "ID", "NAME", "TENANT", "STATE", "GPUS", "MESSAGE");
}

// ID, name, tenant, state, tasks x GPUs (from the manifest, when the answer has it) and the message.
inline void PrintJobRow(const nlohmann::json& job) {
  const std::string gpus =
      job.contains("manifest") && job["manifest"].is_object() && job["manifest"].contains("spec")
          ? fmt::format("{}x{}", job["manifest"]["spec"].value("tasks", 1),
                        job["manifest"]["spec"]["gpus"].dump())
          : "";
  fmt::print("{:<12} {:<24} {:<16} {:<10} {:<8} {}\n", job.value("id", ""), job.value("name", ""),
             job.value("tenant", ""), job.value("state", ""), gpus, job.value("message", ""));
}

}  // namespace awan::cli
