// Statement: tentative decisions on a snapshot, committed or discarded as a unit (after Volcano's
// Statement). A gang assigns its tasks one by one through a Statement; if any task does not fit, Discard()
// releases the ones already assigned, in reverse order, and the snapshot is exactly as before. Releases are
// tentative too (a victim search evicts, tries, and puts the victims back on Discard).
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
    log_.push_back({&pod, p, true});
    return Status::Ok();
  }
  // Releases tentatively (Discard assigns it back); fails (changing nothing) if it is not assigned there.
  Status Release(const PodSpec& pod, const Placement& p) {
    AWAN_RETURN_IF_ERROR(snap_->Release(pod, p));
    log_.push_back({&pod, p, false});
    return Status::Ok();
  }
  // Keeps every assignment.
  void Commit() { log_.clear(); }
  // Undoes every assignment and release not yet committed, newest first.
  void Discard() {
    for (auto it = log_.rbegin(); it != log_.rend(); ++it) {
      if (it->assigned) {
        (void)snap_->Release(*it->pod, it->placement);
      } else {
        (void)snap_->Assign(*it->pod, it->placement);
      }
    }
    log_.clear();
  }
  // The placements assigned (not released) so far, in order.
  const std::vector<Placement> placements() const {
    std::vector<Placement> out;
    for (const auto& e : log_)
      if (e.assigned) out.push_back(e.placement);
    return out;
  }

 private:
  struct Entry {
    const PodSpec* pod;
    Placement placement;
    bool assigned;  // false: a release
  };
  ClusterSnapshot* snap_;
  std::vector<Entry> log_;
};

}  // namespace awan
