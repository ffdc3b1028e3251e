// TenantSpec: who shares the fleet and on what terms. A tenant's guaranteed quota is always available to
// it (lower-priority or borrowed work is preempted to restore it); idle quota of tenants in the same cohort
// may be borrowed up to `borrowing_limit_gpus` and lent up to `lending_limit_gpus`. Fair share among
// tenants is by dominant resource, weighted by `weight`. Tenants also carry residency defaults for their
// data.
#pragma once

#include <cstdint>
#include <string>

#include "model/residency.h"

namespace awan {

inline constexpr int64_t kUnlimited = -1;

struct TenantSpec {
  std::string name;
  int64_t guaranteed_gpus = 0;
  std::string cohort;  // "" = borrows from and lends to nobody
  int64_t borrowing_limit_gpus = kUnlimited;
  int64_t lending_limit_gpus = kUnlimited;
  double weight = 1.0;
  int priority = 0;  // higher runs first within the cohort's ordering
  // Defaults for the tenant's data that no catalog entry describes (and for a job that names no data):
  // its classification and where it may be processed (model/residency.h).
  DataClass data_class = DataClass::kInternal;
  PlaceList data_places;
  // The Unix identity its tasks run as on local executors (-1: allocated by the server from its uid range).
  // Not a scheduling input.
  int64_t uid = -1, gid = -1;
};

}  // namespace awan
