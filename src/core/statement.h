// Statement: tentative decisions on a snapshot, committed or discarded as a unit (after Volcano's
// Statement). A gang assigns its tasks one by one through a Statement; if any task does not fit, Discard()
// releases the ones already assigned, in reverse order, and the snapshot is exactly as before.
//
// Borrows the snapshot; the pods must outlive the statement. Not thread-safe.
#pragma once

#include <vector>

#include "core/snapshot.h"

namespace awan {

class Statement {
 public:
  explicit Statement(ClusterSnapshot& snap) : snap_(&snap) {}
  ~Statement() { Discard(); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Assigns tentatively; fails (changing nothing) if the pod does not fit there.
  Status Assign(const PodSpec& pod, const Placement& p) {
    AWAN_RETURN_IF_ERROR(snap_->Assign(pod, p));
    log_.push_back({&pod, p});
    return Status::Ok();
  }
  // Keeps every assignment.
  void Commit() { log_.clear(); }
  // Undoes every assignment not yet committed.
  void Discard() {
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) (void)snap_->Release(*it->pod, it->placement);
    log_.clear();
  }
  const std::vector<Placement> placements() const {
    std::vector<Placement> out;
    for (const auto& e : log_) out.push_back(e.placement);
    return out;
  }

 private:
  struct Entry {
    const PodSpec* pod;
    Placement placement;
  };
  ClusterSnapshot* snap_;
  std::vector<Entry> log_;
};

}  // namespace awan
