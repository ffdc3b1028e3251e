// Strong types for identifiers and quantities, so that a NodeIndex cannot be passed where a device index
// is expected and milli-CPU cannot be added to MiB by accident. Zero cost: a struct around one integer.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace awan {

// An identifier: comparable and hashable, no arithmetic.
template <typename Tag, typename Rep = uint32_t>
struct StrongId {
  Rep value{};
  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value(v) {}
  constexpr auto operator<=>(const StrongId&) const = default;
};

// A quantity: adds, subtracts and compares only with itself; scales by plain integers.
template <typename Tag>
struct Quantity {
  int64_t value{};
  constexpr Quantity() = default;
  constexpr explicit Quantity(int64_t v) : value(v) {}
  constexpr auto operator<=>(const Quantity&) const = default;
  constexpr Quantity operator+(Quantity o) const { return Quantity(value + o.value); }
  constexpr Quantity operator-(Quantity o) const { return Quantity(value - o.value); }
  constexpr Quantity& operator+=(Quantity o) {
    value += o.value;
    return *this;
  }
  constexpr Quantity& operator-=(Quantity o) {
    value -= o.value;
    return *this;
  }
  constexpr Quantity operator*(int64_t k) const { return Quantity(value * k); }
};

struct CpuMilliTag {};
struct MemMiBTag {};
struct GpuMilliTag {};
using CpuMilli = Quantity<CpuMilliTag>;  // 1 core = 1000
using MemMiB = Quantity<MemMiBTag>;      // mebibytes
using GpuMilli = Quantity<GpuMilliTag>;  // 1 whole GPU = 1000

inline constexpr GpuMilli kWholeGpu{1000};

}  // namespace awan

template <typename Tag, typename Rep>
struct std::hash<awan::StrongId<Tag, Rep>> {
  size_t operator()(const awan::StrongId<Tag, Rep>& id) const noexcept { return std::hash<Rep>()(id.value); }
};
