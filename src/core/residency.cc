#include "core/residency.h"

#include <algorithm>
#include <set>

namespace awan {

bool JobResidency::unrestricted() const {
  return std::all_of(region_ok.begin(), region_ok.end(), [](uint8_t ok) { return ok != 0; });
}

std::vector<uint8_t> AllowedRegions(const Fleet& fleet, DataClass cls, const PlaceList& places) {
  const size_t n = fleet.region_count();
  std::vector<uint8_t> ok(n, 1);
  if (!IsLocationBound(cls)) return ok;
  for (uint32_t r = 0; r < n; ++r) {
    const DomainId id(r);
    const RegionInfo& info = fleet.region(id);
    const std::string& name = fleet.topology().DomainName(TopologyLevel::kRegion, id);
    const bool listed = places.regions.count(name) > 0 ||
                        (!info.jurisdiction.empty() && places.jurisdictions.count(info.jurisdiction) > 0);
    ok[r] = listed && !(cls == DataClass::kRestricted && info.edge);
  }
  return ok;
}

namespace {

Status CheckPlaces(const Fleet& fleet, const DataSpec& d, const std::string& what) {
  if (IsLocationBound(d.cls) && d.places.empty()) {
    return InvalidArgument(what + " '" + d.name + "' is " + std::string(DataClassName(d.cls)) +
                           " but names no jurisdictions or regions where it may be processed");
  }
  for (const std::string& r : d.places.regions) {
    bool found = false;
    for (uint32_t i = 0; i < fleet.region_count() && !found; ++i) {
      found = fleet.topology().DomainName(TopologyLevel::kRegion, DomainId(i)) == r;
    }
    if (!found)
      return InvalidArgument(what + " '" + d.name + "' names region '" + r +
                             "', which the fleet does not have");
  }
  return Status::Ok();
}

// Combines `from` into `into` (class: the stricter; regions: the intersection). Returns true if it changed.
bool Tighten(DataClass from_cls, const std::vector<uint8_t>& from_ok, DataClass* cls,
             std::vector<uint8_t>* ok) {
  bool changed = false;
  if (from_cls > *cls) *cls = from_cls, changed = true;
  for (size_t r = 0; r < ok->size(); ++r) {
    if ((*ok)[r] && !from_ok[r]) (*ok)[r] = 0, changed = true;
  }
  return changed;
}

}  // namespace

StatusOr<DataCatalog> DataCatalog::Build(const Fleet& fleet, const std::vector<DataSpec>& declared,
                                         const std::vector<JobSpec>& jobs,
                                         const std::map<std::string, TenantSpec>& tenants) {
  DataCatalog c;
  c.fleet_ = &fleet;
  for (const DataSpec& d : declared) {
    AWAN_RETURN_IF_ERROR(CheckPlaces(fleet, d, "dataset"));
    if (!d.home_region.empty()) {
      AWAN_RETURN_IF_ERROR(CheckPlaces(
          fleet, DataSpec{d.name, DataClass::kPublic, PlaceList{{}, {d.home_region}}, ""}, "dataset"));
    }
    Entry e;
    e.spec = d;
    e.declared = true;
    e.cls = d.cls;
    e.region_ok = AllowedRegions(fleet, d.cls, d.places);
    if (!c.entries_.emplace(d.name, std::move(e)).second)
      return InvalidArgument("dataset '" + d.name + "' is declared twice");
  }
  // Items only jobs name take the defaults of the tenants whose jobs write them (or, if none does, of the
  // tenants whose jobs read them), combined strictest: independent of the jobs' order.
  std::map<std::string, std::set<std::string>> writers, readers;
  for (const JobSpec& j : jobs) {
    if (!tenants.count(j.tenant)) return NotFound("job " + j.name + ": tenant '" + j.tenant + "' unknown");
    for (const std::string& name : j.writes) writers[name].insert(j.tenant);
    for (const std::string& name : j.reads) readers[name].insert(j.tenant);
  }
  for (const auto* side : {&writers, &readers}) {
    for (const auto& [name, owners] : *side) {
      if (c.entries_.count(name)) continue;
      Entry e;
      e.spec.name = name;
      e.cls = DataClass::kPublic;
      e.region_ok.assign(fleet.region_count(), 1);
      for (const std::string& tn : owners) {
        const TenantSpec& t = tenants.at(tn);
        DataSpec d{name, t.data_class, t.data_places, ""};
        AWAN_RETURN_IF_ERROR(CheckPlaces(fleet, d, "tenant '" + tn + "' default for item"));
        Tighten(d.cls, AllowedRegions(fleet, d.cls, d.places), &e.cls, &e.region_ok);
        if (owners.size() == 1) e.spec.places = d.places;  // several owners: cited by the regions left
      }
      e.spec.cls = e.cls;
      c.entries_.emplace(name, std::move(e));
    }
  }
  // Outputs inherit from inputs, to a fixed point (classes only rise and region sets only shrink, so this
  // ends after at most one pass per item in the longest chain).
  for (bool changed = true; changed;) {
    changed = false;
    for (const JobSpec& j : jobs) {
      DataClass cls = DataClass::kPublic;
      std::vector<uint8_t> ok(fleet.region_count(), 1);
      std::vector<std::string> bound;
      for (const std::string& in : j.reads) {
        const Entry& e = c.entries_.at(in);
        Tighten(e.cls, e.region_ok, &cls, &ok);
        if (IsLocationBound(e.cls)) bound.push_back(in);
      }
      for (const std::string& out : j.writes) {
        Entry& e = c.entries_.at(out);
        if (Tighten(cls, ok, &e.cls, &e.region_ok)) changed = true;
        for (const std::string& b : bound) {
          if (b != out && std::find(e.inherited.begin(), e.inherited.end(), b) == e.inherited.end())
            e.inherited.push_back(b);
        }
      }
    }
  }
  for (auto& [name, e] : c.entries_) std::sort(e.inherited.begin(), e.inherited.end());
  return c;
}

const DataCatalog::Entry* DataCatalog::Find(const std::string& name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

StatusOr<JobResidency> DataCatalog::ForJob(const JobSpec& job, const TenantSpec& tenant) const {
  JobResidency r;
  r.region_ok.assign(fleet_->region_count(), 1);
  auto cite = [&](const std::string& name, DataClass cls, const std::vector<uint8_t>& ok,
                  const PlaceList& places, const std::vector<std::string>& inherited) {
    Tighten(cls, ok, &r.strictest, &r.region_ok);
    if (!IsLocationBound(cls)) return;
    PlaceList where = places;
    if (!inherited.empty() || places.empty()) {
      where = PlaceList{};
      for (uint32_t i = 0; i < ok.size(); ++i) {
        if (ok[i]) where.regions.insert(fleet_->topology().DomainName(TopologyLevel::kRegion, DomainId(i)));
      }
    }
    r.binding.push_back(RuleCitation{name, cls, where, inherited});
  };
  if (job.reads.empty() && job.writes.empty()) {
    DataSpec d{"tenant:" + tenant.name, tenant.data_class, tenant.data_places, ""};
    AWAN_RETURN_IF_ERROR(CheckPlaces(*fleet_, d, "tenant default"));
    cite(d.name, d.cls, AllowedRegions(*fleet_, d.cls, d.places), d.places, {});
    return r;
  }
  for (const auto* list : {&job.reads, &job.writes}) {
    for (const std::string& name : *list) {
      const Entry* e = Find(name);
      if (e == nullptr)
        return NotFound("job " + job.name + ": data item '" + name + "' is not in the catalog");
      if (std::any_of(r.binding.begin(), r.binding.end(),
                      [&](const RuleCitation& c) { return c.data == name; }))
        continue;
      cite(name, e->cls, e->region_ok, e->spec.places, e->inherited);
    }
  }
  for (const std::string& name : job.reads) {
    const Entry* e = Find(name);
    for (uint32_t i = 0; e != nullptr && !e->spec.home_region.empty() && i < fleet_->region_count(); ++i) {
      if (fleet_->topology().DomainName(TopologyLevel::kRegion, DomainId(i)) == e->spec.home_region &&
          std::find(r.data_homes.begin(), r.data_homes.end(), i) == r.data_homes.end()) {
        r.data_homes.push_back(i);
      }
    }
  }
  return r;
}

std::optional<std::string> CheckResidency(const Fleet& fleet, const JobResidency& r,
                                          const std::vector<Placement>& tasks) {
  for (const Placement& p : tasks) {
    const DomainId region = fleet.region_of(p.node);
    if (r.Allows(region)) continue;
    const RegionInfo& info = fleet.region(region);
    std::string rule;
    for (const RuleCitation& c : r.binding) {
      rule += (rule.empty() ? "" : "; ") + c.data + " (" + std::string(DataClassName(c.cls)) + ": " +
              c.places.ToString() + ")";
    }
    return "node " + fleet.node(p.node).name + " is in region " +
           fleet.topology().DomainName(TopologyLevel::kRegion, region) + " (jurisdiction " +
           (info.jurisdiction.empty() ? std::string("none") : info.jurisdiction) +
           (info.edge ? ", edge site" : "") + "), which " +
           (rule.empty() ? std::string("the job's rules") : rule) + " do not allow";
  }
  return std::nullopt;
}

}  // namespace awan
