// ImageLocality: 100 on a node that already holds the pod's container image, 0 elsewhere (and everywhere
// for a pod without one, or with no view of the images). Given a weight larger than the rest of the profile
// can score, it picks a warm node whenever one is feasible and leaves the choice among warm (or among cold)
// nodes to the other scorers.
#pragma once

#include "core/node_images.h"
#include "core/plugin.h"

namespace awan::policies {

class ImageLocalityScore final : public ScorePlugin {
 public:
  explicit ImageLocalityScore(const NodeImages* images) : images_(images) {}
  std::string_view name() const override { return "ImageLocality"; }
  int64_t Score(const PodSpec& pod, const ClusterSnapshot& snap, NodeIndex node) const override {
    (void)snap;
    return images_ != nullptr && images_->Warm(pod, node) ? kMaxNodeScore : 0;
  }

 private:
  const NodeImages* images_;
};

}  // namespace awan::policies
