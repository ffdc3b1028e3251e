// Residency in the core: which regions of a fleet a job may run in, and why. The data catalog resolves the
// declared data (model/residency.h) against the fleet's regions: every item gets an effective class and a set
// of allowed regions (an item no dataset declares takes the defaults of the tenants whose jobs write it, or
// if none does of those whose jobs read it, combined strictest); outputs and checkpoints inherit the
// strictest class and the intersection of places of the inputs of every job that writes them (to a fixed
// point, so chains of checkpoints inherit too). A job may run only in the regions every item it reads or
// writes allows (its tenant's defaults when it names none).
//
// The JobScheduler takes a JobResidency per job and confines every placement attempt (start, backfill,
// preemption, requeue after a node failure) to the allowed regions' nodes through CycleContext::residency,
// which the Framework's filter stage enforces for every pod (FitReason kResidency). Pure: no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "core/placement.h"
#include "model/fleet.h"
#include "model/job.h"
#include "model/residency.h"
#include "model/tenant.h"

namespace awan {

// One data item whose rule restricts a job: the evidence an audit entry records.
struct RuleCitation {
  std::string data;
  DataClass cls = DataClass::kPublic;
  PlaceList places;                    // as declared; for an inherited rule, the regions left (by name)
  std::vector<std::string> inherited;  // the bound inputs it inherits from (outputs, checkpoints)
};

struct JobResidency {
  std::vector<uint8_t> region_ok;  // by region DomainId; empty = every region
  DataClass strictest = DataClass::kPublic;
  std::vector<RuleCitation> binding;  // the items that restrict it; empty = may run anywhere
  std::vector<uint32_t> data_homes;   // region ids where its inputs are stored (for latency to data)
  bool Allows(DomainId region) const {
    return region_ok.empty() || (region.value < region_ok.size() && region_ok[region.value]);
  }
  bool unrestricted() const;
};

class DataCatalog {
 public:
  struct Entry {
    DataSpec spec;  // as declared, or the owner tenant's default
    bool declared = false;
    DataClass cls = DataClass::kPublic;  // effective: the strictest of its own and its inputs'
    std::vector<uint8_t> region_ok;      // effective, by region
    std::vector<std::string> inherited;  // bound items it inherits from
  };

  // Resolves the declared items and the jobs' reads and writes. `tenants` gives each job's tenant spec (for
  // defaults) by the job's tenant name. Fails on a duplicate item, a bound item (declared or a tenant
  // default) that names no places, or a region name the fleet does not have.
  static StatusOr<DataCatalog> Build(const Fleet& fleet, const std::vector<DataSpec>& declared,
                                     const std::vector<JobSpec>& jobs,
                                     const std::map<std::string, TenantSpec>& tenants);

  const Entry* Find(const std::string& name) const;
  const std::map<std::string, Entry>& entries() const { return entries_; }
  // Where the job may run and the rules that say so. REQUIRES: the job was among those passed to Build (its
  // items are known) or names only declared items; its tenant's defaults apply when it names none.
  StatusOr<JobResidency> ForJob(const JobSpec& job, const TenantSpec& tenant) const;

 private:
  const Fleet* fleet_ = nullptr;
  std::map<std::string, Entry> entries_;
};

// Which regions of `fleet` the rule of a single item allows.
std::vector<uint8_t> AllowedRegions(const Fleet& fleet, DataClass cls, const PlaceList& places);

// Checks placements against a residency: nullopt if every task is in an allowed region, else a message
// naming the node, its region and jurisdiction, and the rule it breaks.
std::optional<std::string> CheckResidency(const Fleet& fleet, const JobResidency& r,
                                          const std::vector<Placement>& tasks);

}  // namespace awan
