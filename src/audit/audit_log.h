// The audit log: one JSON line per placement decision (every run the scheduler starts), with the rule that
// allowed it, chained by SHA-256 so that any change to an entry, any removed, inserted or reordered entry
// breaks the chain. Format (docs/formats/audit.md): each line is a JSON object with sorted keys
//   seq, t_s, job, tenant, run, tasks [{node, region, jurisdiction, edge}], rules [{data, class,
//   jurisdictions, regions, inherited}], allowed_regions, prev, hash
// where hash = SHA-256(prev + "\n" + the line's JSON without "hash"), prev = the previous entry's hash (64
// zeros for the first). Pure: builds and checks text; the caller writes and reads files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "core/placement.h"
#include "core/residency.h"
#include "model/fleet.h"
#include "model/job.h"

namespace awan::audit {

std::string Sha256Hex(std::string_view data);

class AuditChain {
 public:
  // Appends the decision to start `job` (run `run`) at `t_s` on `tasks` under `rules`; returns the line
  // (without newline) to write.
  std::string Append(const Fleet& fleet, int64_t t_s, const JobSpec& job, uint32_t run,
                     const std::vector<Placement>& tasks, const JobResidency& rules);
  // An operational action on a node: a remediation the diagnosis called for (applied or dry-run) or an
  // operator's (cordon, drain, uncordon, a GPU marked unhealthy or healthy, a job requeued off the node).
  struct Action {
    std::string kind, node;  // node: a fleet node
    int gpu = -1;            // the device, for GPU actions
    std::string job;         // the job, for a requeue
    std::string scenario;    // the diagnosis's scenario ("" for an operator's action)
    std::string by;          // who asked ("" for the diagnosis)
    std::string mode;        // "applied" or "dry-run"
    std::string reason;
  };
  // Appends {seq, t_s, action: {kind, node, [gpu], [job], scenario, [by], mode, reason}, prev, hash}; chained
  // like placements.
  std::string AppendAction(int64_t t_s, const Action& a);
  const std::string& head() const { return head_; }
  int64_t entries() const { return seq_; }
  // Continues a chain whose last entry had this seq and hash (after a restart).
  void Resume(int64_t seq, std::string head) { seq_ = seq, head_ = std::move(head); }

 private:
  std::string head_ = std::string(64, '0');
  int64_t seq_ = 0;
};

struct VerifyReport {
  int64_t entries = 0;
  std::string head;  // the last entry's hash: publish it to anchor the log
};

// Checks the chain (every hash, every link, consecutive seq), that an action entry names a node of the fleet,
// that every task's node exists in the fleet in
// the region and jurisdiction logged, and that every task's region is allowed by every logged rule. With a
// catalog, also that the logged rules are the catalog's rules for the job (`jobs` by name, `tenant_of` gives
// the tenant spec). The first problem fails, naming the entry (seq) and line.
StatusOr<VerifyReport> VerifyAuditLog(std::string_view text, const Fleet& fleet,
                                      const DataCatalog* catalog = nullptr,
                                      const std::vector<JobSpec>* jobs = nullptr,
                                      const std::vector<TenantSpec>* tenants = nullptr);

}  // namespace awan::audit
