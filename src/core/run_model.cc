#include "core/run_model.h"

#include <algorithm>
#include <cmath>

#include "model/topology.h"

namespace awan {

int64_t RunModel::Start(size_t i, int level, bool restarted) {
  Run& r = runs_[i];
  r.factor = level < 0                                              ? 1.0
             : level == static_cast<int>(TopologyLevel::kSupernode) ? o_.slowdown_supernode
             : level == static_cast<int>(TopologyLevel::kBlock)     ? o_.slowdown_block
                                                                    : o_.slowdown_zone;
  r.overhead = StartOverheadS(restarted);
  // (the small epsilon keeps 100 x 1.1 at 110, not 111)
  return r.overhead + std::max<int64_t>(1, static_cast<int64_t>(std::ceil(r.work_left * r.factor - 1e-9)));
}

int64_t RunModel::RunSeconds(size_t i, double work_s) const {
  const Run& r = runs_[i];
  return r.overhead + std::max<int64_t>(1, static_cast<int64_t>(std::ceil(work_s * r.factor)));
}

double RunModel::Done(size_t i, int64_t ran_s) const {
  const Run& r = runs_[i];
  return std::max<double>(0, static_cast<double>(ran_s - r.overhead)) / r.factor;
}

void RunModel::Stop(size_t i, int64_t ran_s) {
  const double done = Done(i, ran_s);
  const double saved =
      o_.checkpoint_s > 0 ? std::floor(done / static_cast<double>(o_.checkpoint_s)) * o_.checkpoint_s : done;
  runs_[i].work_left = std::max(1.0, runs_[i].work_left - saved);
}

double RunModel::LostWorkS(size_t i, int64_t ran_s) const {
  return o_.checkpoint_s > 0 ? std::fmod(Done(i, ran_s), static_cast<double>(o_.checkpoint_s)) : 0.0;
}

int64_t RunModel::FirstCheckpointS(size_t i) const {
  const Run& r = runs_[i];
  return r.overhead + static_cast<int64_t>(std::ceil(static_cast<double>(o_.checkpoint_s) * r.factor));
}

}  // namespace awan
