#include "sim/packing_bound.h"

#include <glpk.h>

#include <algorithm>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include "policies/fit/fit_filters.h"

namespace awan::sim {
namespace {

struct NodeType {
  const NodeSpec* spec = nullptr;  // a representative
  int64_t count = 0;
};

struct Shape {
  const PodSpec* pod = nullptr;  // a representative
  int64_t count = 0;
  int64_t must = 0;              // pods of this shape every counted placement places
};

using TypeKey = std::tuple<uint32_t, int, int64_t, int64_t, int>;
using ShapeKey = std::tuple<int64_t, int64_t, int, int64_t, uint64_t>;

bool Compatible(const PodSpec& p, const NodeSpec& n) {
  if (!p.wants_gpu()) return true;
  return n.gpu_count >= p.gpu_count && policies::ModelAccessible(p.allowed_models, n.model);
}

// Maximal multisets of `sizes` (descending, distinct, each in (0, 1000)) with sum <= 1000.
void Enumerate(const std::vector<int32_t>& sizes, size_t i, int32_t room, std::vector<int>& cur,
               std::vector<std::vector<int>>& out, size_t limit) {
  if (out.size() > limit) return;
  if (i == sizes.size()) {
    const bool any = std::any_of(cur.begin(), cur.end(), [](int k) { return k > 0; });
    const bool maximal = std::all_of(sizes.begin(), sizes.end(), [&](int32_t s) { return s > room; });
    if (any && maximal) out.push_back(cur);
    return;
  }
  for (int k = 0; k * sizes[i] <= room; ++k) {
    cur[i] = k;
    Enumerate(sizes, i + 1, room - k * sizes[i], cur, out, limit);
  }
  cur[i] = 0;
}

// The LP, built column by column, then handed to GLPK in one piece.
class Lp {
 public:
  int AddRow(double upper, double lower = 0) {
    upper_.push_back(upper);
    lower_.push_back(lower);
    return static_cast<int>(upper_.size());
  }
  int AddColumn(double objective) {
    objective_.push_back(objective);
    return static_cast<int>(objective_.size());
  }
  void Set(int row, int col, double v) {
    ia_.push_back(row);
    ja_.push_back(col);
    ar_.push_back(v);
  }
  // Solves; on success fills `values` with every column's value (index = column - 1).
  StatusOr<double> Maximize(std::vector<double>* values) const {
    std::unique_ptr<glp_prob, void (*)(glp_prob*)> lp(glp_create_prob(), glp_delete_prob);
    glp_set_obj_dir(lp.get(), GLP_MAX);
    if (!upper_.empty()) glp_add_rows(lp.get(), static_cast<int>(upper_.size()));
    for (size_t r = 0; r < upper_.size(); ++r) {
      if (lower_[r] > 0) {
        glp_set_row_bnds(lp.get(), static_cast<int>(r + 1), lower_[r] < upper_[r] ? GLP_DB : GLP_FX, lower_[r],
                         upper_[r]);
      } else {
        glp_set_row_bnds(lp.get(), static_cast<int>(r + 1), GLP_UP, 0, upper_[r]);
      }
    }
    if (objective_.empty()) return 0.0;
    glp_add_cols(lp.get(), static_cast<int>(objective_.size()));
    for (size_t c = 0; c < objective_.size(); ++c) {
      glp_set_col_bnds(lp.get(), static_cast<int>(c + 1), GLP_LO, 0, 0);
      glp_set_obj_coef(lp.get(), static_cast<int>(c + 1), objective_[c]);
    }
    // GLPK's arrays are 1-based: element 0 is ignored.
    std::vector<int> ia{0}, ja{0};
    std::vector<double> ar{0};
    ia.insert(ia.end(), ia_.begin(), ia_.end());
    ja.insert(ja.end(), ja_.begin(), ja_.end());
    ar.insert(ar.end(), ar_.begin(), ar_.end());
    glp_load_matrix(lp.get(), static_cast<int>(ar_.size()), ia.data(), ja.data(), ar.data());
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    parm.presolve = GLP_ON;
    const int rc = glp_simplex(lp.get(), &parm);
    const int status = glp_get_status(lp.get());
    double best = 0;
    if (rc == 0 && status == GLP_OPT) {
      values->resize(objective_.size());
      for (size_t c = 0; c < objective_.size(); ++c) (*values)[c] = glp_get_col_prim(lp.get(), static_cast<int>(c + 1));
      best = glp_get_obj_val(lp.get());
    }
    // GLPK keeps an environment per thread; free it so that worker threads leave nothing behind.
    lp.reset();
    glp_free_env();
    if (rc == GLP_ENOPFS || (rc == 0 && (status == GLP_NOFEAS || status == GLP_INFEAS))) {
      return FailedPrecondition("the pods that must be placed do not fit the fleet together");
    }
    if (rc != 0 || status != GLP_OPT) {
      return Internal("GLPK could not solve the packing bound (simplex code " + std::to_string(rc) + ", status " +
                      std::to_string(status) + ")");
    }
    return best;
  }

 private:
  std::vector<double> upper_, lower_, objective_;
  std::vector<int> ia_, ja_;
  std::vector<double> ar_;
};

}  // namespace

StatusOr<PackingBound> MaxAllocatableGpu(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                         int max_configurations) {
  return MaxAllocatableGpuPlacing(fleet, pods, {}, max_configurations);
}

StatusOr<PackingBound> MaxAllocatableGpuPlacing(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                                std::span<const PodSpec* const> must_place,
                                                int max_configurations) {
  std::map<TypeKey, NodeType> types;
  for (const NodeSpec& n : fleet.nodes()) {
    NodeType& t = types[{n.model.value, n.gpu_count, n.cpu.value, n.memory.value, n.max_pods}];
    t.spec = &n;
    ++t.count;
  }
  std::map<ShapeKey, Shape> shapes;
  std::vector<int32_t> sizes;
  for (const PodSpec* p : pods) {
    const bool gpu = p->wants_gpu();
    Shape& s = shapes[{p->cpu.value, p->memory.value, gpu ? p->gpu_count : 0, gpu ? p->gpu_milli.value : 0,
                       p->allowed_models.mask()}];
    s.pod = p;
    ++s.count;
    const int32_t milli = static_cast<int32_t>(p->gpu_milli.value);
    if (p->is_share() && std::find(sizes.begin(), sizes.end(), milli) == sizes.end()) sizes.push_back(milli);
  }
  for (const PodSpec* p : must_place) {
    const bool gpu = p->wants_gpu();
    auto it = shapes.find({p->cpu.value, p->memory.value, gpu ? p->gpu_count : 0, gpu ? p->gpu_milli.value : 0,
                           p->allowed_models.mask()});
    if (it == shapes.end() || it->second.must >= it->second.count) {
      return InvalidArgument("the pods to place include more of shape " + p->name + "'s than the pod set holds");
    }
    ++it->second.must;
  }
  std::sort(sizes.rbegin(), sizes.rend());
  std::vector<std::vector<int>> configs;
  std::vector<int> cur(sizes.size(), 0);
  Enumerate(sizes, 0, static_cast<int32_t>(kWholeGpu.value), cur, configs, static_cast<size_t>(max_configurations));
  const bool use_configs = configs.size() <= static_cast<size_t>(max_configurations);
  if (!use_configs) configs.clear();

  Lp lp;
  std::vector<std::pair<size_t, int>> placement_cols;  // (shape ordinal, column)
  std::vector<int> shape_row;
  for (const auto& [key, s] : shapes) {
    shape_row.push_back(lp.AddRow(static_cast<double>(s.count), static_cast<double>(s.must)));
  }
  for (const auto& [tkey, t] : types) {
    const NodeSpec& n = *t.spec;
    const double k = static_cast<double>(t.count);
    const int cpu = lp.AddRow(k * static_cast<double>(n.cpu.value));
    const int mem = lp.AddRow(k * static_cast<double>(n.memory.value));
    const int slots = lp.AddRow(k * n.max_pods);
    const int devices = n.gpu_count > 0 ? lp.AddRow(k * n.gpu_count) : 0;
    // Fractional pods: per size, slots provided by configurations (or, in the fallback, device capacity).
    std::vector<int> size_row(sizes.size(), 0);
    int share_milli_row = 0;
    size_t si = 0;
    for (const auto& [skey, s] : shapes) {
      const int row = shape_row[si++];
      const PodSpec& p = *s.pod;
      if (!Compatible(p, n)) continue;
      const int col = lp.AddColumn(static_cast<double>(p.total_gpu().value));
      placement_cols.emplace_back(si - 1, col);
      lp.Set(row, col, 1);
      lp.Set(cpu, col, static_cast<double>(p.cpu.value));
      lp.Set(mem, col, static_cast<double>(p.memory.value));
      lp.Set(slots, col, 1);
      if (!p.wants_gpu()) continue;
      if (!p.is_share()) {
        lp.Set(devices, col, p.gpu_count);
      } else if (use_configs) {
        const size_t q = static_cast<size_t>(
            std::find(sizes.begin(), sizes.end(), static_cast<int32_t>(p.gpu_milli.value)) - sizes.begin());
        if (size_row[q] == 0) size_row[q] = lp.AddRow(0);
        lp.Set(size_row[q], col, 1);
      } else {
        if (share_milli_row == 0) share_milli_row = lp.AddRow(0);
        lp.Set(share_milli_row, col, static_cast<double>(p.gpu_milli.value));
      }
    }
    if (use_configs) {
      if (std::all_of(size_row.begin(), size_row.end(), [](int r) { return r == 0; })) continue;
      for (const std::vector<int>& c : configs) {
        const int col = lp.AddColumn(0);
        lp.Set(devices, col, 1);
        for (size_t q = 0; q < sizes.size(); ++q) {
          if (c[q] > 0 && size_row[q] != 0) lp.Set(size_row[q], col, -c[q]);
        }
      }
    } else if (share_milli_row != 0) {
      const int col = lp.AddColumn(0);  // devices given to fractional pods
      lp.Set(devices, col, 1);
      lp.Set(share_milli_row, col, -static_cast<double>(kWholeGpu.value));
    }
  }
  std::vector<double> values;
  AWAN_ASSIGN_OR_RETURN(double best, lp.Maximize(&values));
  PackingBound out;
  std::vector<double> placed(shapes.size(), 0.0);
  for (const auto& [shape, col] : placement_cols) {
    if (static_cast<size_t>(col - 1) < values.size()) placed[shape] += values[static_cast<size_t>(col - 1)];
  }
  size_t k = 0;
  for (const auto& [key, s] : shapes) {
    const double left = static_cast<double>(s.count) - placed[k++];
    if (left > 1e-6) out.left_out.push_back({s.pod, left});
  }
  out.max_allocated_milli = best;
  out.node_types = static_cast<int>(types.size());
  out.pod_shapes = static_cast<int>(shapes.size());
  out.configurations = static_cast<int>(configs.size());
  return out;
}

}  // namespace awan::sim
