#include "core/scheduler_state.h"

namespace awan {

StatusOr<Profile> SchedulerState::BuildProfile() const {
  const PluginContext ctx{fleet_, &pods_, images_};
  AWAN_ASSIGN_OR_RETURN(Profile p, registry_->BuildProfile(placement_, ctx));
  if (images_ == nullptr) return p;
  // Above the most the rest can add up to: 100 * weight > sum of weight_i * (largest normalized score_i).
  int64_t rest = 0;
  for (const WeightedScorer& s : p.scorers)
    rest += s.weight *
            (s.plugin->normalization() == Normalization::kMinMax ? kMaxNodeScore : s.plugin->max_score());
  AWAN_ASSIGN_OR_RETURN(std::unique_ptr<ScorePlugin> warm, registry_->BuildScorer("ImageLocality", ctx));
  p.scorers.push_back({std::move(warm), rest / kMaxNodeScore + 1});
  return p;
}

Status SchedulerState::PreferWarmNodes(const NodeImages* images) {
  images_ = images;
  AWAN_ASSIGN_OR_RETURN(Profile profile, BuildProfile());
  fw_->ReplaceProfile(std::move(profile));
  return Status::Ok();
}

StatusOr<std::unique_ptr<SchedulerState>> SchedulerState::Create(const Fleet& fleet,
                                                                 const PluginRegistry& registry,
                                                                 const std::string& placement,
                                                                 std::unique_ptr<QueueOrder> order,
                                                                 const SchedulerOptions& options) {
  std::unique_ptr<SchedulerState> s(new SchedulerState());
  s->fleet_ = &fleet;
  s->registry_ = &registry;
  s->placement_ = placement;
  StatusOr<Profile> profile = s->BuildProfile();
  if (!profile.ok() && profile.status().code() == StatusCode::kFailedPrecondition) {
    // Its plugins need a target workload: estimated online, from the fleet's shapes until jobs arrive.
    s->target_.emplace(fleet);
    s->pods_ = s->target_->Target();
    profile = s->BuildProfile();
  }
  if (!profile.ok()) return profile.status();
  AWAN_ASSIGN_OR_RETURN(CyclePolicies policies, registry.BuildCyclePolicies(options.policies));
  s->fw_ = std::make_unique<Framework>(std::move(*profile));
  s->snap_ = std::make_unique<ClusterSnapshot>(fleet);
  s->order_ = std::move(order);
  s->sched_ =
      std::make_unique<JobScheduler>(fleet, *s->snap_, *s->fw_, *s->order_,
                                     std::make_shared<const CyclePolicies>(std::move(policies)), options);
  return s;
}

StatusOr<std::unique_ptr<SchedulerState>> SchedulerState::Clone() const {
  std::unique_ptr<SchedulerState> c(new SchedulerState());
  c->fleet_ = fleet_;
  c->registry_ = registry_;
  c->placement_ = placement_;
  c->target_ = target_;
  c->pods_ = pods_;
  c->images_ = images_;
  AWAN_ASSIGN_OR_RETURN(Profile profile, c->BuildProfile());
  c->fw_ = std::make_unique<Framework>(std::move(profile));
  c->snap_ = std::make_unique<ClusterSnapshot>(*snap_);
  c->order_ = order_->Clone();
  c->sched_ = sched_->Clone(*c->snap_, *c->fw_, *c->order_);
  return c;
}

Status SchedulerState::Observe(const JobSpec& job) {
  if (!target_) return Status::Ok();
  target_->Observe(job);
  if (!target_->due()) return Status::Ok();
  pods_ = target_->Target();
  AWAN_ASSIGN_OR_RETURN(Profile profile, BuildProfile());
  fw_->ReplaceProfile(std::move(profile));
  return Status::Ok();
}

}  // namespace awan
