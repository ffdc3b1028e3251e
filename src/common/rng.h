// Rng: awan's only source of randomness. Deterministic: the same seed gives the same stream on every
// platform and build (xoshiro256** seeded through SplitMix64; all derived draws use integer arithmetic).
// Not thread-safe; give each thread or each concern its own stream (see Fork).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace awan {

class Rng {
 public:
  explicit Rng(uint64_t seed);

  // A new independent stream derived from this stream's seed and `stream_id` (does not advance this one).
  Rng Fork(uint64_t stream_id) const;

  uint64_t Next64();
  // Uniform integer in [0, n). REQUIRES: n > 0. Unbiased (Lemire's multiply-shift with rejection).
  uint64_t Uniform(uint64_t n);
  // Uniform double in [0, 1).
  double UniformDouble();
  // A uniformly random permutation of 0..n-1 (inside-out Fisher-Yates).
  std::vector<uint32_t> Permutation(uint32_t n);
  // Shuffles v in place (Fisher-Yates from the top).
  template <typename T>
  void Shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) {
      size_t j = static_cast<size_t>(Uniform(i));
      std::swap(v[i - 1], v[j]);
    }
  }

 private:
  uint64_t seed_;
  uint64_t s_[4];
};

}  // namespace awan
