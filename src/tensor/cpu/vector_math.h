// Math for loops GCC vectorizes: exponentials with no calls, no branches and integer tricks
// instead of conversions the baseline x86-64 ISA lacks (the C library's expf is a scalar call
// per element; softmax, cross-entropy and gelu_new spent most of their time in it; torch's CPU
// kernels use SLEEF's vectorized expf for the same reason), and row reductions in lanes.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

// A function marked T5_VECTOR_CLONES is compiled three times, for AVX-512 (x86-64-v4), AVX2
// (x86-64-v3) and the x86-64 baseline, and the loader binds calls to the one this CPU runs (an
// ifunc): its loops use the widest vectors the machine has, from one generic build. Mark the
// function that holds a hot loop; what it inlines is compiled into each clone (hence the
// always_inline helpers below: an out-of-line call would run the baseline code). The clones
// run the same IEEE operations (the tensor library is built with -ffp-contract=off: no a·b + c
// becomes an FMA), so these kernels' results do not depend on the machine.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define T5_VECTOR_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define T5_VECTOR_CLONES
#endif

namespace t5zero::cpu {

// e^x for float, within 1 ulp of the exact value over the normal range: 0.99 ulp at worst over
// every float in [-87, 88]. Cody-Waite reduction to r in [-ln2/2, ln2/2], Cephes' degree-6
// polynomial for e^r, then the scale 2^n applied in two halves so that subnormal results and
// overflow to inf come out as expf's. e^-inf = 0, e^inf = inf, NaN stays NaN.
[[gnu::always_inline]] inline float exp_f32(float x) {
  // Clamping keeps n = round(x / ln2) within [-217, 145], so each half of 2^n is a normal float; x
  // beyond the clamp rounds to 0 or inf anyway. NaN fails both comparisons and passes through.
  x = x < -150.0f ? -150.0f : x;
  x = x > 100.0f ? 100.0f : x;
  // n = round(x / ln2) with the 1.5·2^23 trick: the sum's low mantissa bits hold n.
  constexpr float kRoundMagic = 12582912.0f;  // 1.5 · 2^23
  const float shifted = x * 1.44269504088896341f + kRoundMagic;
  const float nf = shifted - kRoundMagic;
  // r = x − n·ln2 in two steps (ln2's high part has few bits, so n·high is exact).
  float r = x - nf * 0.693359375f;
  r = r - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  // 2^n = 2^(a − 127) · 2^(b − 127) with a + b = n + 254, both biased exponents in [18, 200]
  // (unsigned arithmetic only: it vectorizes on every x86-64).
  const uint32_t biased =
      std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kRoundMagic) + 254u;
  const uint32_t a = biased >> 1;
  const float scale_a = std::bit_cast<float>(a << 23);
  const float scale_b = std::bit_cast<float>((biased - a) << 23);
  return p * scale_a * scale_b;
}

// e^x for double to a relative error below 1e-13 (degree-11 Taylor polynomial of e^r on
// |r| <= ln2/2), for float results computed in double (gelu_new) where the float exponential's
// error would be amplified by |x|. Same clamping and NaN behaviour as exp_f32.
[[gnu::always_inline]] inline double exp_f64(double x) {
  x = x < -1000.0 ? -1000.0 : x;
  x = x > 1000.0 ? 1000.0 : x;
  constexpr double kRoundMagic = 6755399441055744.0;  // 1.5 · 2^52
  const double shifted = x * 1.4426950408889634 + kRoundMagic;
  const double nf = shifted - kRoundMagic;
  double r = x - nf * 0.6931471803691238;  // ln2 high part: 32 significant bits
  r = r - nf * 1.9082149292705877e-10;     // ln2 − high part
  double p = 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  // 2^n = 2^(a − 1023) · 2^(b − 1023) with a + b = n + 2046, both in [301, 1745].
  const uint64_t biased =
      std::bit_cast<uint64_t>(shifted) - std::bit_cast<uint64_t>(kRoundMagic) + 2046u;
  const uint64_t a = biased >> 1;
  const double scale_a = std::bit_cast<double>(a << 52);
  const double scale_b = std::bit_cast<double>((biased - a) << 52);
  return p * scale_a * scale_b;
}

// Interleaved partial results in the row reductions below: a fixed order of operations (the same
// on any thread count) that GCC vectorizes, where one running sum must stay scalar under strict
// IEEE arithmetic.
constexpr int kReductionLanes = 16;

// Σ term(j) over j in [0, n): kReductionLanes partial sums (j mod kReductionLanes), added
// pairwise at the end.
template <typename A, typename Term>
[[gnu::always_inline]] inline A lane_sum(int64_t n, Term&& term) {
  A acc[kReductionLanes] = {};
  int64_t j = 0;
  for (; j + kReductionLanes <= n; j += kReductionLanes) {
    for (int l = 0; l < kReductionLanes; ++l) acc[l] += term(j + l);
  }
  for (int l = 0; j + l < n; ++l) acc[l] += term(j + l);
  for (int width = kReductionLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) acc[l] += acc[l + width];
  }
  return acc[0];
}

// max over j in [0, n) of term(j) (−inf for n = 0), in the same lanes. A NaN term may be skipped,
// as std::max skips it; callers feed the maximum to exp, where the row's NaN surfaces anyway.
template <typename A, typename Term>
[[gnu::always_inline]] inline A lane_max(int64_t n, Term&& term) {
  A acc[kReductionLanes];
  for (A& a : acc) a = -std::numeric_limits<A>::infinity();
  int64_t j = 0;
  for (; j + kReductionLanes <= n; j += kReductionLanes) {
    for (int l = 0; l < kReductionLanes; ++l) {
      const A v = term(j + l);
      acc[l] = acc[l] < v ? v : acc[l];
    }
  }
  for (int l = 0; j + l < n; ++l) {
    const A v = term(j + l);
    acc[l] = acc[l] < v ? v : acc[l];
  }
  for (int width = kReductionLanes / 2; width > 0; width /= 2) {
    for (int l = 0; l < width; ++l) acc[l] = acc[l] < acc[l + width] ? acc[l + width] : acc[l];
  }
  return acc[0];
}

// e^x in the compute type: exp_f32 for float, the C library's for double (f64 is the gradient-
// checking dtype, where every bit of accuracy counts and speed does not).
template <typename C>
[[gnu::always_inline]] inline C exp_of(C x) {
  if constexpr (std::is_same_v<C, float>) {
    return exp_f32(x);
  } else {
    return std::exp(x);
  }
}

}  // namespace t5zero::cpu
