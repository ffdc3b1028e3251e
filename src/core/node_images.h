// NodeImages: which nodes already hold a pod's container image. Image caches are fleet state that lives with
// the executor (each node's image store), not in the snapshot: the control plane keeps a view of them,
// refreshed before each cycle, and the ImageLocality scorer reads it, so that a replica lands on a node that
// need not pull its image when one can take it (Kubernetes' ImageLocality, made decisive by its weight).
// Pure: a view, no I/O behind it.
#pragma once

#include "core/snapshot.h"
#include "model/workload.h"

namespace awan {

class NodeImages {
 public:
  virtual ~NodeImages() = default;
  // Whether `node` holds the image `pod` runs in (false for a pod without one).
  virtual bool Warm(const PodSpec& pod, NodeIndex node) const = 0;
};

}  // namespace awan
