// Element types a tensor can hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <type_traits>

#include "tensor/bf16.h"
#include "tensor/error.h"

namespace t5zero {

enum class DType : uint8_t { f32, f64, bf16, i32, i64, u8 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);
bool is_floating(DType dtype);

// C++ type of each dtype, for templates: storage_t<DType::f32> is float.
template <DType D>
struct StorageType;
template <>
struct StorageType<DType::f32> {
  using type = float;
};
template <>
struct StorageType<DType::f64> {
  using type = double;
};
template <>
struct StorageType<DType::bf16> {
  using type = bf16;
};
template <>
struct StorageType<DType::i32> {
  using type = int32_t;
};
template <>
struct StorageType<DType::i64> {
  using type = int64_t;
};
template <>
struct StorageType<DType::u8> {
  using type = uint8_t;
};

template <typename T>
constexpr DType dtype_of();
template <>
constexpr DType dtype_of<float>() {
  return DType::f32;
}
template <>
constexpr DType dtype_of<double>() {
  return DType::f64;
}
template <>
constexpr DType dtype_of<bf16>() {
  return DType::bf16;
}
template <>
constexpr DType dtype_of<int32_t>() {
  return DType::i32;
}
template <>
constexpr DType dtype_of<int64_t>() {
  return DType::i64;
}
template <>
constexpr DType dtype_of<uint8_t>() {
  return DType::u8;
}

// The type arithmetic runs in: bf16 computes in float and rounds the result.
template <typename T>
struct ComputeType {
  using type = T;
};
template <>
struct ComputeType<bf16> {
  using type = float;
};

template <typename T>
inline typename ComputeType<T>::type load(T v) {
  return v;
}
inline float load(bf16 v) {
  return to_float(v);
}

template <typename T, typename C>
inline T store(C v) {
  if constexpr (std::is_same_v<T, bf16>) {
    return to_bf16(static_cast<float>(v));
  } else {
    return static_cast<T>(v);
  }
}

}  // namespace t5zero

// Runs the body with `scalar_t` bound to the storage type of a floating dtype.
#define T5_DISPATCH_FLOATING(DTYPE, NAME, ...)                                     \
  [&] {                                                                            \
    switch (DTYPE) {                                                               \
      case ::t5zero::DType::f32: {                                                 \
        using scalar_t = float;                                                    \
        return __VA_ARGS__();                                                      \
      }                                                                            \
      case ::t5zero::DType::f64: {                                                 \
        using scalar_t = double;                                                   \
        return __VA_ARGS__();                                                      \
      }                                                                            \
      case ::t5zero::DType::bf16: {                                                \
        using scalar_t = ::t5zero::bf16;                                           \
        return __VA_ARGS__();                                                      \
      }                                                                            \
      default:                                                                     \
        ::t5zero::fail(NAME, ": expected a floating dtype (f32, f64, bf16), got ", \
                       ::t5zero::dtype_name(DTYPE));                               \
    }                                                                              \
  }()

// Runs the body with `scalar_t` bound to the storage type of any dtype.
#define T5_DISPATCH_ALL(DTYPE, NAME, ...)    \
  [&] {                                      \
    switch (DTYPE) {                         \
      case ::t5zero::DType::f32: {           \
        using scalar_t = float;              \
        return __VA_ARGS__();                \
      }                                      \
      case ::t5zero::DType::f64: {           \
        using scalar_t = double;             \
        return __VA_ARGS__();                \
      }                                      \
      case ::t5zero::DType::bf16: {          \
        using scalar_t = ::t5zero::bf16;     \
        return __VA_ARGS__();                \
      }                                      \
      case ::t5zero::DType::i32: {           \
        using scalar_t = int32_t;            \
        return __VA_ARGS__();                \
      }                                      \
      case ::t5zero::DType::i64: {           \
        using scalar_t = int64_t;            \
        return __VA_ARGS__();                \
      }                                      \
      case ::t5zero::DType::u8: {            \
        using scalar_t = uint8_t;            \
        return __VA_ARGS__();                \
      }                                      \
    }                                        \
    ::t5zero::fail(NAME, ": unknown dtype"); \
  }()
