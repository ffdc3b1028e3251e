#include "sim/published.h"

#include <charconv>

#include "trace/csv.h"

namespace awan::sim {

std::string AwanPolicyName(const std::string& p) {
  static const std::map<std::string, std::string> kMap = {
      {"01-Random", "random"},      {"02-DotProd", "dotprod"}, {"03-GpuClustering", "clustering"},
      {"04-GpuPacking", "packing"}, {"05-BestFit", "bestfit"}, {"06-FGD", "fgd"}};
  auto it = kMap.find(p);
  return it == kMap.end() ? "" : it->second;
}

StatusOr<PublishedCurves> PublishedCurves::Load(const std::string& path) {
  AWAN_ASSIGN_OR_RETURN(std::string text, trace::ReadFile(path));
  return Parse(text, path);
}

StatusOr<PublishedCurves> PublishedCurves::Parse(std::string_view text, std::string_view source) {
  AWAN_ASSIGN_OR_RETURN(auto rows, trace::ParseCsv(text, source));
  if (rows.empty()) return InvalidArgument(std::string(source) + ": empty file");
  trace::CsvHeader h(rows[0], std::string(source));
  AWAN_ASSIGN_OR_RETURN(int c_wl, h.Require("workload"));
  AWAN_ASSIGN_OR_RETURN(int c_pol, h.Require("sc_policy"));
  AWAN_ASSIGN_OR_RETURN(int c_0, h.Require("0"));
  PublishedCurves out;
  for (size_t r = 1; r < rows.size(); ++r) {
    const auto& f = rows[r].fields;
    if (f.size() < static_cast<size_t>(c_0 + kCurvePoints)) {
      return trace::FieldError(source, rows[r].line, 1, "expected columns 0..130");
    }
    std::string wl = f[c_wl].text;
    const std::string prefix = "openb_pod_list_";
    if (wl.rfind(prefix, 0) == 0) wl = wl.substr(prefix.size());
    std::string pol = AwanPolicyName(f[c_pol].text);
    if (pol.empty()) pol = f[c_pol].text;
    Curve c(kCurvePoints);
    for (int k = 0; k < kCurvePoints; ++k) {
      const std::string& t = f[c_0 + k].text;
      if (t.empty()) continue;
      double v = 0;
      auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size()) {
        return trace::FieldError(source, rows[r].line, f[c_0 + k].column,
                                 "expected a number, got '" + t + "'");
      }
      c[k] = v;
    }
    out.curves_[{wl, pol}].push_back(std::move(c));
  }
  return out;
}

std::vector<double> PublishedCurves::Unallocated(const std::string& workload, const std::string& policy,
                                                 int arrived_pct) const {
  std::vector<double> out;
  auto it = curves_.find({workload, policy});
  if (it == curves_.end()) return out;
  for (const Curve& c : it->second) {
    if (auto u = UnallocatedAt(c, arrived_pct)) out.push_back(*u);
  }
  return out;
}

bool PublishedCurves::Has(const std::string& workload, const std::string& policy) const {
  return curves_.count({workload, policy}) > 0;
}

}  // namespace awan::sim
