#include "common/steady_tick_source.h"

#include <chrono>

namespace awan {

int64_t SteadyTickSource::NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace awan
