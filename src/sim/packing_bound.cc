#include "sim/packing_bound.h"

#include <glpk.h>

#include <algorithm>
#include <cmath>
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
  int64_t must = 0;               // pods of this shape every counted placement places
  std::vector<int64_t> arrivals;  // positions in the sequence of this shape's pods, ascending
};

// Below this many pods, a shape counts as placed in full (the simplex's own tolerance).
constexpr double kLeftOut = 1e-6;

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

// The LP, built column by column and handed to GLPK. Rows and columns added after a solve are loaded onto the
// solved problem, and the next solve starts from its optimal basis (the dual simplex: added rows leave it
// dual feasible), so a cutting-plane loop re-solves in a fraction of the first solve's time.
class Lp {
 public:
  Lp() : lp_(nullptr, glp_delete_prob) {}
  ~Lp() {
    // GLPK keeps an environment per thread; free it so that worker threads leave nothing behind.
    if (lp_) {
      lp_.reset();
      glp_free_env();
    }
  }
  Lp(const Lp&) = delete;
  Lp& operator=(const Lp&) = delete;

  int AddRow(double upper, double lower = 0) {
    upper_.push_back(upper);
    lower_.push_back(lower);
    return static_cast<int>(upper_.size());
  }
  int AddColumn(double objective) {
    objective_.push_back(objective);
    return static_cast<int>(objective_.size());
  }
  // After a solve, only rows added since may get entries.
  void Set(int row, int col, double v) {
    ia_.push_back(row);
    ja_.push_back(col);
    ar_.push_back(v);
  }
  // Solves; on success fills `values` with every column's value (index = column - 1).
  StatusOr<double> Maximize(std::vector<double>* values) {
    if (objective_.empty()) return 0.0;
    const bool warm = lp_ != nullptr;
    if (!warm) {
      glp_term_out(GLP_OFF);  // glp_scale_prob prints whatever msg_lev says
      lp_.reset(glp_create_prob());
      glp_set_obj_dir(lp_.get(), GLP_MAX);
    }
    const int old_rows = glp_get_num_rows(lp_.get()), old_cols = glp_get_num_cols(lp_.get());
    if (upper_.size() > static_cast<size_t>(old_rows)) {
      glp_add_rows(lp_.get(), static_cast<int>(upper_.size()) - old_rows);
    }
    for (size_t r = static_cast<size_t>(old_rows); r < upper_.size(); ++r) {
      if (lower_[r] > 0) {
        glp_set_row_bnds(lp_.get(), static_cast<int>(r + 1), lower_[r] < upper_[r] ? GLP_DB : GLP_FX,
                         lower_[r], upper_[r]);
      } else {
        glp_set_row_bnds(lp_.get(), static_cast<int>(r + 1), GLP_UP, 0, upper_[r]);
      }
    }
    if (objective_.size() > static_cast<size_t>(old_cols)) {
      glp_add_cols(lp_.get(), static_cast<int>(objective_.size()) - old_cols);
    }
    for (size_t c = static_cast<size_t>(old_cols); c < objective_.size(); ++c) {
      glp_set_col_bnds(lp_.get(), static_cast<int>(c + 1), GLP_LO, 0, 0);
      glp_set_obj_coef(lp_.get(), static_cast<int>(c + 1), objective_[c]);
    }
    if (!warm) {
      // GLPK's arrays are 1-based: element 0 is ignored.
      std::vector<int> ia{0}, ja{0};
      std::vector<double> ar{0};
      ia.insert(ia.end(), ia_.begin(), ia_.end());
      ja.insert(ja.end(), ja_.begin(), ja_.end());
      ar.insert(ar.end(), ar_.begin(), ar_.end());
      glp_load_matrix(lp_.get(), static_cast<int>(ar_.size()), ia.data(), ja.data(), ar.data());
    } else {
      // The entries since the last solve, row by row (each row new, so set whole).
      std::map<int, std::pair<std::vector<int>, std::vector<double>>> rows;
      for (size_t e = loaded_; e < ar_.size(); ++e) {
        if (ia_[e] <= old_rows) return Internal("packing bound: an entry added to a row already solved");
        auto& [cols, vals] = rows[ia_[e]];
        if (cols.empty()) cols.push_back(0), vals.push_back(0);
        cols.push_back(ja_[e]);
        vals.push_back(ar_[e]);
      }
      for (auto& [row, entries] : rows) {
        glp_set_mat_row(lp_.get(), row, static_cast<int>(entries.first.size()) - 1, entries.first.data(),
                        entries.second.data());
      }
    }
    const size_t first_new = loaded_;
    loaded_ = ar_.size();
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    // Cold: scaled (CPU milli and pod counts are far apart), then an advanced initial basis. Warm: only the
    // new rows and columns are scaled (rescaling the whole problem took 40 % of the time on gpuspec33), then
    // the dual simplex from the last optimal basis. No presolve, which would not leave a basis to start from.
    if (!warm) {
      glp_scale_prob(lp_.get(), GLP_SF_AUTO);
      glp_adv_basis(lp_.get(), 0);
    } else {
      ScaleNew(old_rows, old_cols, first_new);
    }
    parm.presolve = GLP_OFF;
    if (warm) parm.meth = GLP_DUALP;
    int rc = glp_simplex(lp_.get(), &parm);
    if (warm && rc != 0) {  // the basis could not be reused: solve afresh, scaled anew
      glp_scale_prob(lp_.get(), GLP_SF_AUTO);
      glp_std_basis(lp_.get());
      parm.meth = GLP_PRIMAL;
      rc = glp_simplex(lp_.get(), &parm);
    }
    const int status = glp_get_status(lp_.get());
    if (rc == GLP_ENOPFS || (rc == 0 && (status == GLP_NOFEAS || status == GLP_INFEAS))) {
      return FailedPrecondition("the pods that must be placed do not fit the fleet together");
    }
    if (rc != 0 || status != GLP_OPT) {
      return Internal("GLPK could not solve the packing bound (simplex code " + std::to_string(rc) +
                      ", status " + std::to_string(status) + ")");
    }
    values->resize(objective_.size());
    for (size_t c = 0; c < objective_.size(); ++c)
      (*values)[c] = glp_get_col_prim(lp_.get(), static_cast<int>(c + 1));
    return glp_get_obj_val(lp_.get());
  }

 private:
  // Equilibrates the rows and columns added since the last solve, keeping the others' scale factors: each new
  // row by its largest scaled entry in the old columns, each new column by its largest entry in the scaled
  // new rows, then each new row again over all its columns. Factors are powers of 2 (no rounding error).
  void ScaleNew(int old_rows, int old_cols, size_t first_entry) {
    glp_prob* lp = lp_.get();
    const int rows = glp_get_num_rows(lp), cols = glp_get_num_cols(lp);
    auto pow2 = [](double largest) { return largest > 0 ? std::exp2(-std::round(std::log2(largest))) : 1.0; };
    // Each new row by its largest entry scaled by its columns' factors (of the old columns only, or of all).
    auto scale_rows = [&](bool old_columns_only) {
      std::vector<double> largest(static_cast<size_t>(rows - old_rows) + 1, 0.0);
      for (size_t e = first_entry; e < ar_.size(); ++e) {
        if (ia_[e] <= old_rows || (old_columns_only && ja_[e] > old_cols)) continue;
        double& m = largest[static_cast<size_t>(ia_[e] - old_rows)];
        m = std::max(m, std::abs(ar_[e] * glp_get_sjj(lp, ja_[e])));
      }
      for (int r = old_rows + 1; r <= rows; ++r)
        glp_set_rii(lp, r, pow2(largest[static_cast<size_t>(r - old_rows)]));
    };
    scale_rows(true);
    std::vector<double> largest(static_cast<size_t>(cols - old_cols) + 1, 0.0);
    for (size_t e = first_entry; e < ar_.size(); ++e) {
      if (ja_[e] <= old_cols) continue;
      double& m = largest[static_cast<size_t>(ja_[e] - old_cols)];
      m = std::max(m, std::abs(ar_[e] * glp_get_rii(lp, ia_[e])));
    }
    for (int c = old_cols + 1; c <= cols; ++c)
      glp_set_sjj(lp, c, pow2(largest[static_cast<size_t>(c - old_cols)]));
    scale_rows(false);
  }

  std::unique_ptr<glp_prob, void (*)(glp_prob*)> lp_;
  std::vector<double> upper_, lower_, objective_;
  std::vector<int> ia_, ja_;
  std::vector<double> ar_;
  size_t loaded_ = 0;  // entries already loaded into lp_
};

}  // namespace

StatusOr<PackingBound> MaxAllocatableGpu(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                         int max_configurations) {
  return MaxAllocatableGpuPlacing(fleet, pods, {}, max_configurations);
}

namespace {

// True if every node state that can host `big` can also host `small`, under the two filters (fit_filters.h):
// then once `small` fits nowhere, `big` never fits again (no departures, so free resources only shrink).
bool Dominates(const PodSpec& big, const PodSpec& small) {
  if (big.cpu < small.cpu || big.memory < small.memory) return false;
  if (!small.wants_gpu()) return true;
  if (!big.wants_gpu() || big.gpu_count < small.gpu_count || big.gpu_milli < small.gpu_milli) return false;
  if (small.allowed_models.any_model()) return true;
  return !big.allowed_models.any_model() && (big.allowed_models.mask() & ~small.allowed_models.mask()) == 0;
}

StatusOr<PackingBound> Solve(const Fleet& fleet, std::span<const PodSpec* const> pods,
                             std::span<const PodSpec* const> must_place, int online_segments,
                             int max_configurations) {
  std::map<TypeKey, NodeType> types;
  for (const NodeSpec& n : fleet.nodes()) {
    NodeType& t = types[{n.model.value, n.gpu_count, n.cpu.value, n.memory.value, n.max_pods}];
    t.spec = &n;
    ++t.count;
  }
  std::map<ShapeKey, Shape> shapes;
  std::vector<int32_t> sizes;
  for (const PodSpec* const& p : pods) {
    const bool gpu = p->wants_gpu();
    Shape& s = shapes[{p->cpu.value, p->memory.value, gpu ? p->gpu_count : 0, gpu ? p->gpu_milli.value : 0,
                       p->allowed_models.mask()}];
    s.pod = p;
    s.arrivals.push_back(static_cast<int64_t>(&p - pods.data()));
    ++s.count;
    const int32_t milli = static_cast<int32_t>(p->gpu_milli.value);
    if (p->is_share() && std::find(sizes.begin(), sizes.end(), milli) == sizes.end()) sizes.push_back(milli);
  }
  for (const PodSpec* p : must_place) {
    const bool gpu = p->wants_gpu();
    auto it = shapes.find({p->cpu.value, p->memory.value, gpu ? p->gpu_count : 0,
                           gpu ? p->gpu_milli.value : 0, p->allowed_models.mask()});
    if (it == shapes.end() || it->second.must >= it->second.count) {
      return InvalidArgument("the pods to place include more of shape " + p->name +
                             "'s than the pod set holds");
    }
    ++it->second.must;
  }
  std::sort(sizes.rbegin(), sizes.rend());
  std::vector<std::vector<int>> configs;
  std::vector<int> cur(sizes.size(), 0);
  Enumerate(sizes, 0, static_cast<int32_t>(kWholeGpu.value), cur, configs,
            static_cast<size_t>(max_configurations));
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
  std::vector<const Shape*> shape_list;
  for (const auto& [key, s] : shapes) shape_list.push_back(&s);
  std::vector<std::vector<int>> cols_of_shape(shapes.size());
  for (const auto& [shape, col] : placement_cols) cols_of_shape[shape].push_back(col);
  // The online rule, added shape by shape for the shapes the optimum leaves out (a cutting-plane loop: a
  // shape the optimum places in full satisfies its rule's rows, so the loop ends at the optimum with every
  // rule).
  const int64_t n = static_cast<int64_t>(pods.size());
  std::vector<int64_t> bounds;  // segment b is positions [bounds[b], bounds[b + 1])
  for (int b = 0; b <= online_segments; ++b) bounds.push_back(n * b / std::max(online_segments, 1));
  auto arrived_before = [](const Shape& s, int64_t pos) {
    return static_cast<double>(std::lower_bound(s.arrivals.begin(), s.arrivals.end(), pos) -
                               s.arrivals.begin());
  };
  std::vector<bool> ruled(shapes.size(), false);
  std::vector<double> values;
  std::vector<double> placed(shapes.size(), 0.0);
  double best = 0;
  for (;;) {
    AWAN_ASSIGN_OR_RETURN(best, lp.Maximize(&values));
    std::fill(placed.begin(), placed.end(), 0.0);
    for (const auto& [shape, col] : placement_cols) {
      if (static_cast<size_t>(col - 1) < values.size()) placed[shape] += values[static_cast<size_t>(col - 1)];
    }
    if (online_segments <= 0) break;
    bool added = false;
    for (size_t i = 0; i < shape_list.size(); ++i) {
      const Shape& s = *shape_list[i];
      if (ruled[i] || static_cast<double>(s.count) - placed[i] <= kLeftOut) continue;
      ruled[i] = added = true;
      // u[b]: s first fails in segment b (b < K), or never (b = K). Sum u = 1.
      const int one = lp.AddRow(1, 1);
      std::vector<int> u;
      for (int b = 0; b <= online_segments; ++b) {
        u.push_back(lp.AddColumn(0));
        lp.Set(one, u.back(), 1);
      }
      // Every pod of s before its first failure is placed: placed(s) >= sum_b before(s, b) u[b] + count u[K].
      const int floor_row = lp.AddRow(0);
      for (int b = 0; b < online_segments; ++b) lp.Set(floor_row, u[b], arrived_before(s, bounds[b]));
      lp.Set(floor_row, u.back(), static_cast<double>(s.count));
      for (int col : cols_of_shape[i]) lp.Set(floor_row, col, -1);
      // From then on nothing s fits anywhere, so no pod of a shape that dominates s (s itself included) is
      // placed: placed(t) <= sum_b arrived_by_end_of(t, b) u[b] + count(t) u[K].
      for (size_t j = 0; j < shape_list.size(); ++j) {
        const Shape& t = *shape_list[j];
        if (!Dominates(*t.pod, *s.pod)) continue;
        const int cap_row = lp.AddRow(0);
        for (int col : cols_of_shape[j]) lp.Set(cap_row, col, 1);
        for (int b = 0; b < online_segments; ++b) lp.Set(cap_row, u[b], -arrived_before(t, bounds[b + 1]));
        lp.Set(cap_row, u.back(), -static_cast<double>(t.count));
      }
    }
    if (!added) break;
  }
  PackingBound out;
  for (size_t i = 0; i < shape_list.size(); ++i) {
    const double left = static_cast<double>(shape_list[i]->count) - placed[i];
    if (left > kLeftOut) out.left_out.push_back({shape_list[i]->pod, left});
  }
  out.max_allocated_milli = best;
  out.node_types = static_cast<int>(types.size());
  out.pod_shapes = static_cast<int>(shapes.size());
  out.configurations = static_cast<int>(configs.size());
  return out;
}

}  // namespace

StatusOr<PackingBound> MaxAllocatableGpuPlacing(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                                std::span<const PodSpec* const> must_place,
                                                int max_configurations) {
  return Solve(fleet, pods, must_place, 0, max_configurations);
}

StatusOr<PackingBound> MaxAllocatableGpuOnline(const Fleet& fleet, std::span<const PodSpec* const> pods,
                                               int segments, int max_configurations) {
  if (segments < 1) return InvalidArgument("the online bound needs at least one segment");
  return Solve(fleet, pods, {}, segments, max_configurations);
}

}  // namespace awan::sim
