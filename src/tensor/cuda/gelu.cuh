// gelu_new (HF's NewGELUActivation) and its derivative on the GPU, in the CPU backend's forms
// (cpu/elementwise.cpp): f64 evaluates the tanh form; f32 and bf16 evaluate the sigmoid form
//   gelu_new(x) = x·σ(2u),  u = √(2/π)(x + 0.044715x³)
// in double and round once, which avoids float tanh's error that 1 + tanh(u) amplifies for x < 0.
#pragma once

#include <type_traits>

namespace t5zero::cuda {

constexpr double kGeluScale = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

template <typename C>
__device__ __forceinline__ C gelu_new_value(C x) {
  if constexpr (std::is_same_v<C, double>) {
    const C inner = C(kGeluScale) * (x + C(kGeluCubic) * x * x * x);
    return C(0.5) * x * (C(1) + ::tanh(inner));
  } else {
    const double v = x;
    const double u = kGeluScale * (v + kGeluCubic * v * v * v);
    return static_cast<C>(v / (1.0 + ::exp(-2.0 * u)));
  }
}

// g · d/dx gelu_new: ½(1 + t) + ½x(1 − t²)·u′ (tanh form), or s + 2x·s(1 − s)·u′ with
// s = σ(2u) (sigmoid form, in double).
template <typename C>
__device__ __forceinline__ C gelu_new_grad_value(C g, C x) {
  if constexpr (std::is_same_v<C, double>) {
    const C t = ::tanh(C(kGeluScale) * (x + C(kGeluCubic) * x * x * x));
    const C dinner = C(kGeluScale) * (C(1) + C(3 * kGeluCubic) * x * x);
    return g * (C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t * t) * dinner);
  } else {
    const double v = x;
    const double u = kGeluScale * (v + kGeluCubic * v * v * v);
    const double s = 1.0 / (1.0 + ::exp(-2.0 * u));  // 0 (not NaN) when the exp overflows
    const double du = kGeluScale * (1.0 + 3 * kGeluCubic * v * v);
    return static_cast<C>(static_cast<double>(g) * (s + 2.0 * v * (s * (1.0 - s)) * du));
  }
}

}  // namespace t5zero::cuda
