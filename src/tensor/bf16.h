// bfloat16: the top 16 bits of an IEEE float32, rounded to nearest even.
#pragma once

#include <cstdint>
#include <cstring>

#ifdef __CUDACC__
#define T5_HOST_DEVICE __host__ __device__
#else
#define T5_HOST_DEVICE
#endif

namespace t5zero {

struct bf16 {
  uint16_t bits = 0;
};

T5_HOST_DEVICE inline uint32_t float_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

T5_HOST_DEVICE inline float bits_float(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

// Round-to-nearest-even; NaN stays NaN (quiet bit forced so truncation cannot make it inf);
// values past the largest bf16 round to inf, as torch does.
T5_HOST_DEVICE inline bf16 to_bf16(float f) {
  uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<uint16_t>((u >> 16) | 0x0040u)};
  uint32_t rounding_bias = 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<uint16_t>((u + rounding_bias) >> 16)};
}

T5_HOST_DEVICE inline float to_float(bf16 h) {
  return bits_float(static_cast<uint32_t>(h.bits) << 16);
}

// Rounds a float to the nearest bf16 value and returns it as float.
T5_HOST_DEVICE inline float round_to_bf16(float f) {
  return to_float(to_bf16(f));
}

}  // namespace t5zero
