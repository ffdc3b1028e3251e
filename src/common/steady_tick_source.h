// SteadyTickSource: a TickSource backed by std::chrono::steady_clock. Lives outside the core's include
// graph on purpose: only the simulator, the benchmarks and the server construct it.
#pragma once

#include "common/tick_source.h"

namespace awan {

class SteadyTickSource final : public TickSource {
 public:
  int64_t NowNanos() override;
};

}  // namespace awan
