// Elementwise ops on the GPU, with the CPU backend's semantics (cpu/elementwise.cpp): numpy
// broadcasting, bf16 computing in float and rounding each result once, f64 in double, integer
// arithmetic in the integer type, comparisons giving u8 masks.
#include <cmath>
#include <limits>

#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/gelu.cuh"
#include "tensor/cuda/map.cuh"
#include "tensor/op_checks.h"

namespace t5zero::cuda {

namespace {

using op_checks::broadcast_for;
using op_checks::check_same_dtype;
using op_checks::check_scalar_fits;

void check_mask(const char* op, const char* what, const Tensor& mask) {
  T5_CHECK(mask.dtype() == DType::u8, op, ": ", what, " must be u8 (from a comparison), got ",
           dtype_name(mask.dtype()));
}

enum class Accepts { all, floating };

template <Accepts kAccepts, typename Body>
auto dispatch(DType dtype, const char* name, Body&& body) {
  if constexpr (kAccepts == Accepts::floating) {
    return T5_DISPATCH_FLOATING(dtype, name, [&] { return body(scalar_t{}); });
  } else {
    return T5_DISPATCH_ALL(dtype, name, [&] { return body(scalar_t{}); });
  }
}

// ---- functors: Op works on compute values; the wrappers load and store ------------------------
template <typename T, typename Op>
struct UnaryOf {
  Op op;
  __device__ T operator()(T x) const { return store_value<T>(op(load_value(x))); }
};

template <typename T, typename Op>
struct BinaryOf {
  Op op;
  __device__ T operator()(T x, T y) const {
    return store_value<T>(op(load_value(x), load_value(y)));
  }
};

template <typename T, typename Op>
Tensor unary_typed(const char* name, const Tensor& a, Op op) {
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
  launch_map<T, T>(name, out, UnaryOf<T, Op>{op}, a);
  return out;
}

template <Accepts kAccepts, typename Op>
Tensor unary(const char* name, const Tensor& a, Op op) {
  gpu_of(name, a);
  return dispatch<kAccepts>(a.dtype(), name,
                            [&](auto tag) { return unary_typed<decltype(tag)>(name, a, op); });
}

template <Accepts kAccepts, typename Op>
Tensor binary(const char* name, const Tensor& a, const Tensor& b, Op op) {
  gpu_of(name, a);
  check_same_dtype(name, a, b);
  const Shape shape = broadcast_for(name, {&a, &b});
  return dispatch<kAccepts>(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    Tensor out = Tensor::empty(shape, a.dtype(), a.device());
    launch_map<T, T, T>(name, out, BinaryOf<T, Op>{op}, a.expand(shape), b.expand(shape));
    return out;
  });
}

struct Add {
  template <typename C>
  __device__ C operator()(C x, C y) const {
    return x + y;
  }
};
struct Sub {
  template <typename C>
  __device__ C operator()(C x, C y) const {
    return x - y;
  }
};
struct Mul {
  template <typename C>
  __device__ C operator()(C x, C y) const {
    return x * y;
  }
};
struct Div {
  template <typename C>
  __device__ C operator()(C x, C y) const {
    return x / y;
  }
};
struct Pow {
  template <typename C>
  __device__ C operator()(C x, C y) const {
    return ::pow(x, y);
  }
};
template <typename C>
struct AddConstant {
  C c;
  __device__ C operator()(C x) const { return x + c; }
};
template <typename C>
struct MulConstant {
  C c;
  __device__ C operator()(C x) const { return x * c; }
};
template <typename C>
struct PowConstant {
  C e;
  __device__ C operator()(C x) const { return ::pow(x, e); }
};
struct Neg {
  template <typename C>
  __device__ C operator()(C x) const {
    return -x;
  }
};
struct Exp {
  template <typename C>
  __device__ C operator()(C x) const {
    return ::exp(x);
  }
};
struct Log {
  template <typename C>
  __device__ C operator()(C x) const {
    return ::log(x);
  }
};
struct Sqrt {
  template <typename C>
  __device__ C operator()(C x) const {
    return ::sqrt(x);
  }
};
struct Rsqrt {
  // 1/sqrt, both correctly rounded, as the CPU computes it (not the approximate rsqrt).
  template <typename C>
  __device__ C operator()(C x) const {
    return C(1) / ::sqrt(x);
  }
};
struct Tanh {
  template <typename C>
  __device__ C operator()(C x) const {
    return ::tanh(x);
  }
};
struct Relu {
  template <typename C>
  __device__ C operator()(C x) const {
    return x > C(0) || isnan(x) ? x : C(0);  // NaN propagates, as torch.relu
  }
};

struct GeluNew {
  template <typename C>
  __device__ C operator()(C x) const {
    return gelu_new_value(x);
  }
};

struct GeluNewBackward {
  template <typename C>
  __device__ C operator()(C g, C v) const {
    return gelu_new_grad_value(g, v);
  }
};

struct ReluBackward {
  template <typename C>
  __device__ C operator()(C g, C v) const {
    return v > C(0) ? g : C(0);
  }
};

enum class Comparison { eq, ne, gt };

template <typename T, Comparison kCmp>
struct CompareScalar {
  // As the CPU: a floating tensor meets the scalar rounded to its dtype; an integer tensor
  // compares exactly, as double.
  using Operand = std::conditional_t<std::is_integral_v<T>, double, compute_t<T>>;
  Operand threshold;
  __device__ uint8_t operator()(T x) const {
    const Operand v = static_cast<Operand>(load_value(x));
    if constexpr (kCmp == Comparison::eq) {
      return v == threshold;
    } else if constexpr (kCmp == Comparison::ne) {
      return v != threshold;
    } else {
      return v > threshold;
    }
  }
};

template <Comparison kCmp>
Tensor compare_scalar(const char* name, const Tensor& a, double s) {
  gpu_of(name, a);
  return T5_DISPATCH_ALL(a.dtype(), name, [&] {
    using Cmp = CompareScalar<scalar_t, kCmp>;
    typename Cmp::Operand threshold;
    if constexpr (std::is_integral_v<scalar_t>) {
      threshold = s;
    } else {
      threshold = load_value(store_value<scalar_t>(s));
    }
    Tensor out = Tensor::empty(a.shape(), DType::u8, a.device());
    launch_map<uint8_t, scalar_t>(name, out, Cmp{threshold}, a);
    return out;
  });
}

template <typename T>
struct Where {
  __device__ T operator()(uint8_t c, T x, T y) const { return c ? x : y; }
};

template <typename T>
struct MaskedFill {
  T fill;
  __device__ T operator()(T x, uint8_t m) const { return m ? fill : x; }
};

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary<Accepts::all>("add", a, b, Add{});
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary<Accepts::all>("sub", a, b, Sub{});
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return binary<Accepts::all>("mul", a, b, Mul{});
}

Tensor div(const Tensor& a, const Tensor& b) {
  return binary<Accepts::floating>("div", a, b, Div{});
}

Tensor pow(const Tensor& a, const Tensor& b) {
  return binary<Accepts::floating>("pow", a, b, Pow{});
}

Tensor add_scalar(const Tensor& a, double s) {
  gpu_of("add_scalar", a);
  return T5_DISPATCH_ALL(a.dtype(), "add_scalar", [&] {
    check_scalar_fits<scalar_t>("add_scalar", s);
    using C = compute_t<scalar_t>;
    return unary_typed<scalar_t>("add_scalar", a, AddConstant<C>{C(s)});
  });
}

Tensor mul_scalar(const Tensor& a, double s) {
  gpu_of("mul_scalar", a);
  return T5_DISPATCH_ALL(a.dtype(), "mul_scalar", [&] {
    check_scalar_fits<scalar_t>("mul_scalar", s);
    using C = compute_t<scalar_t>;
    return unary_typed<scalar_t>("mul_scalar", a, MulConstant<C>{C(s)});
  });
}

Tensor pow_scalar(const Tensor& a, double exponent) {
  gpu_of("pow_scalar", a);
  return T5_DISPATCH_FLOATING(a.dtype(), "pow_scalar", [&] {
    using C = compute_t<scalar_t>;
    return unary_typed<scalar_t>("pow_scalar", a, PowConstant<C>{C(exponent)});
  });
}

Tensor neg(const Tensor& a) {
  return unary<Accepts::all>("neg", a, Neg{});
}

Tensor exp(const Tensor& a) {
  return unary<Accepts::floating>("exp", a, Exp{});
}

Tensor log(const Tensor& a) {
  return unary<Accepts::floating>("log", a, Log{});
}

Tensor sqrt(const Tensor& a) {
  return unary<Accepts::floating>("sqrt", a, Sqrt{});
}

Tensor rsqrt(const Tensor& a) {
  return unary<Accepts::floating>("rsqrt", a, Rsqrt{});
}

Tensor tanh(const Tensor& a) {
  return unary<Accepts::floating>("tanh", a, Tanh{});
}

Tensor relu(const Tensor& a) {
  return unary<Accepts::floating>("relu", a, Relu{});
}

Tensor gelu_new(const Tensor& a) {
  return unary<Accepts::floating>("gelu_new", a, GeluNew{});
}

Tensor gelu_new_backward(const Tensor& grad, const Tensor& x) {
  return binary<Accepts::floating>("gelu_new_backward", grad, x, GeluNewBackward{});
}

Tensor relu_backward(const Tensor& grad, const Tensor& x) {
  return binary<Accepts::floating>("relu_backward", grad, x, ReluBackward{});
}

Tensor eq_scalar(const Tensor& a, double s) {
  return compare_scalar<Comparison::eq>("eq_scalar", a, s);
}

Tensor ne_scalar(const Tensor& a, double s) {
  return compare_scalar<Comparison::ne>("ne_scalar", a, s);
}

Tensor gt_scalar(const Tensor& a, double s) {
  return compare_scalar<Comparison::gt>("gt_scalar", a, s);
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  gpu_of("where", a);
  check_mask("where", "cond", cond);
  check_same_dtype("where", a, b);
  const Shape shape = broadcast_for("where", {&cond, &a, &b});
  return T5_DISPATCH_ALL(a.dtype(), "where", [&] {
    Tensor out = Tensor::empty(shape, a.dtype(), a.device());
    launch_map<scalar_t, uint8_t, scalar_t, scalar_t>(
        "where", out, Where<scalar_t>{}, cond.expand(shape), a.expand(shape), b.expand(shape));
    return out;
  });
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  gpu_of("masked_fill", a);
  check_mask("masked_fill", "mask", mask);
  T5_CHECK(broadcast_for("masked_fill", {&a, &mask}) == a.shape(), "masked_fill: mask of shape ",
           shape_str(mask.shape()), " does not broadcast to the tensor's shape ",
           shape_str(a.shape()));
  return T5_DISPATCH_ALL(a.dtype(), "masked_fill", [&] {
    check_scalar_fits<scalar_t>("masked_fill", value);
    Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
    launch_map<scalar_t, scalar_t, uint8_t>("masked_fill", out,
                                            MaskedFill<scalar_t>{store_value<scalar_t>(value)}, a,
                                            mask.expand(a.shape()));
    return out;
  });
}

}  // namespace t5zero::cuda
