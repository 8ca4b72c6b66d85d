// Elementwise ops on the CPU: arithmetic, math functions, activations, comparisons, selection.
// Inputs broadcast as numpy; results are new contiguous tensors. bf16 computes in float and
// rounds each result once; f32 computes in float and f64 in double, as torch's CPU kernels do.
#include <cmath>
#include <limits>
#include <tuple>
#include <type_traits>
#include <utility>

#include "tensor/cpu/cpu_ops.h"
#include "tensor/cpu/strided_loop.h"
#include "tensor/cpu/vector_math.h"
#include "tensor/op_checks.h"

namespace t5zero::cpu {

namespace {

using op_checks::broadcast_for;
using op_checks::check_same_dtype;
using op_checks::check_scalar_fits;

// One `const Tensor&` parameter per element type in a pack.
template <typename>
using TensorOf = const Tensor&;

// Writes out[i] = f(in_0[i], in_1[i], ...) for raw storage values; the inputs are already
// expanded to out's shape (out is new, so contiguous). Contiguous operands take a plain loop;
// operands whose rows are contiguous (a broadcast over outer dims: an attention mask added to
// every head) take a plain loop per row; the rest the element-by-element strided walk.
// out[i] = f(in_0[i], ...) for i in [begin, end): the vectorized inner loop of every map.
template <typename Out, typename F, typename... In>
T5_VECTOR_CLONES void map_range(int64_t begin, int64_t end, const F& f, Out* out, const In*... in) {
  for (int64_t i = begin; i < end; ++i) out[i] = f(in[i]...);
}

template <typename Out, typename... In, typename F, size_t... I>
void map_into(const Tensor& out, F&& f, std::index_sequence<I...>, TensorOf<In>... in) {
  Out* o = out.data<Out>();
  std::tuple<const In*...> src{in.template data<In>()...};
  if ((in.is_contiguous() && ...)) {
    for_each_range(out.numel(), [&](int64_t begin, int64_t end) {
      map_range<Out, F, In...>(begin, end, f, o, std::get<I>(src)...);
    });
    return;
  }
  constexpr size_t N = 1 + sizeof...(In);
  const std::array<const int64_t*, N> strides{out.strides().data(), in.strides().data()...};
  if (out.dim() > 0 && ((in.stride(-1) == 1) && ...)) {
    for_each_strided_row<N>(
        out.shape(), strides, [&](const std::array<int64_t, N>& off, int64_t length) {
          map_range<Out, F, In...>(0, length, f, o + off[0], std::get<I>(src) + off[I + 1]...);
        });
    return;
  }
  for_each_strided<N>(out.shape(), strides, [&](const std::array<int64_t, N>& off) {
    o[off[0]] = f(std::get<I>(src)[off[I + 1]]...);
  });
}

template <typename Out, typename... In, typename F>
Tensor map(const Shape& shape, DType out_dtype, F&& f, TensorOf<In>... in) {
  Tensor out = Tensor::empty(shape, out_dtype);
  map_into<Out, In...>(out, f, std::index_sequence_for<In...>{}, in.expand(shape)...);
  return out;
}

// Which dtypes an op accepts: arithmetic works on every dtype, math functions on floating ones.
enum class Accepts { all, floating };

template <Accepts kAccepts, typename Body>
auto dispatch(DType dtype, const char* name, Body&& body) {
  if constexpr (kAccepts == Accepts::floating) {
    return T5_DISPATCH_FLOATING(dtype, name, [&] { return body(scalar_t{}); });
  } else {
    return T5_DISPATCH_ALL(dtype, name, [&] { return body(scalar_t{}); });
  }
}

// out = op(a, b) computed in the compute type of the shared dtype.
template <Accepts kAccepts, typename Op>
Tensor binary(const char* name, const Tensor& a, const Tensor& b, Op op) {
  check_same_dtype(name, a, b);
  Shape shape = broadcast_for(name, {&a, &b});
  return dispatch<kAccepts>(a.dtype(), name, [&](auto tag) {
    using T = decltype(tag);
    using C = typename ComputeType<T>::type;
    return map<T, T, T>(
        shape, a.dtype(), [&](T x, T y) { return store<T>(op(C(load(x)), C(load(y)))); }, a, b);
  });
}

// out = op(a) computed in the compute type of T, a's storage type.
template <typename T, typename Op>
Tensor unary_typed(const Tensor& a, Op op) {
  using C = typename ComputeType<T>::type;
  return map<T, T>(
      a.shape(), a.dtype(), [&](T x) { return store<T>(op(C(load(x)))); }, a);
}

template <Accepts kAccepts, typename Op>
Tensor unary(const char* name, const Tensor& a, Op op) {
  return dispatch<kAccepts>(a.dtype(), name,
                            [&](auto tag) { return unary_typed<decltype(tag)>(a, op); });
}

// Comparison with a scalar, giving a u8 mask. As torch: the scalar takes a floating tensor's
// dtype (so f32 x == 0.1 compares with float(0.1)); an integer tensor compares exactly as double.
template <typename T, typename Cmp>
Tensor compare_typed(const Tensor& a, double s, Cmp cmp) {
  if constexpr (std::is_integral_v<T>) {
    return map<uint8_t, T>(
        a.shape(), DType::u8, [&](T x) -> uint8_t { return cmp(static_cast<double>(x), s); }, a);
  } else {
    using C = typename ComputeType<T>::type;
    const C threshold = load(store<T>(s));
    return map<uint8_t, T>(
        a.shape(), DType::u8, [&](T x) -> uint8_t { return cmp(C(load(x)), threshold); }, a);
  }
}

template <typename Cmp>
Tensor compare_scalar(const char* name, const Tensor& a, double s, Cmp cmp) {
  return T5_DISPATCH_ALL(a.dtype(), name, [&] { return compare_typed<scalar_t>(a, s, cmp); });
}

void check_mask(const char* op, const char* what, const Tensor& mask) {
  T5_CHECK(mask.dtype() == DType::u8, op, ": ", what, " must be u8 (from a comparison), got ",
           dtype_name(mask.dtype()));
}

// gelu_new's inner argument √(2/π)·(x + 0.044715·x³), as HF's NewGELUActivation.
constexpr double kGeluScale = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluCubic = 0.044715;

// gelu_new(x) = ½x(1 + tanh(u)) = x·σ(2u), u = √(2/π)(x + 0.044715x³). f64 evaluates HF's tanh
// form. f32 and bf16 evaluate the σ form in double with exp_f64, which vectorizes (std::tanh is
// a scalar call per element) and rounds once, so the result is within half a float ulp of the
// exact value: closer than float tanh, whose rounding error 1 + tanh(u) amplifies for x < 0.
template <typename C>
C gelu_new_value(C x) {
  if constexpr (std::is_same_v<C, double>) {
    const C inner = C(kGeluScale) * (x + C(kGeluCubic) * x * x * x);
    return C(0.5) * x * (C(1) + std::tanh(inner));
  } else {
    const double v = x;
    const double u = kGeluScale * (v + kGeluCubic * v * v * v);
    return static_cast<C>(v / (1.0 + exp_f64(-2.0 * u)));
  }
}

// d/dx gelu_new = ½(1 + t) + ½x(1 − t²)·u′ with t = tanh(u), u′ = √(2/π)(1 + 3·0.044715·x²);
// in the σ form (s = σ(2u), 1 + t = 2s, 1 − t² = 4s(1 − s)): s + 2x·s(1 − s)·u′.
template <typename C>
C gelu_new_grad_value(C g, C x) {
  if constexpr (std::is_same_v<C, double>) {
    const C t = std::tanh(C(kGeluScale) * (x + C(kGeluCubic) * x * x * x));
    const C dinner = C(kGeluScale) * (C(1) + C(3 * kGeluCubic) * x * x);
    return g * (C(0.5) * (C(1) + t) + C(0.5) * x * (C(1) - t * t) * dinner);
  } else {
    const double v = x;
    const double u = kGeluScale * (v + kGeluCubic * v * v * v);
    const double s = 1.0 / (1.0 + exp_f64(-2.0 * u));  // 0 (not NaN) when the exp overflows
    const double du = kGeluScale * (1.0 + 3 * kGeluCubic * v * v);
    return static_cast<C>(static_cast<double>(g) * (s + 2.0 * v * (s * (1.0 - s)) * du));
  }
}

template <typename C>
C relu_value(C x) {
  return x > C(0) || std::isnan(x) ? x : C(0);  // NaN propagates, as torch.relu
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  return binary<Accepts::all>("add", a, b, [](auto x, auto y) { return x + y; });
}

Tensor sub(const Tensor& a, const Tensor& b) {
  return binary<Accepts::all>("sub", a, b, [](auto x, auto y) { return x - y; });
}

Tensor mul(const Tensor& a, const Tensor& b) {
  return binary<Accepts::all>("mul", a, b, [](auto x, auto y) { return x * y; });
}

Tensor div(const Tensor& a, const Tensor& b) {
  return binary<Accepts::floating>("div", a, b, [](auto x, auto y) { return x / y; });
}

Tensor pow(const Tensor& a, const Tensor& b) {
  return binary<Accepts::floating>("pow", a, b, [](auto x, auto y) { return std::pow(x, y); });
}

Tensor add_scalar(const Tensor& a, double s) {
  return T5_DISPATCH_ALL(a.dtype(), "add_scalar", [&] {
    check_scalar_fits<scalar_t>("add_scalar", s);
    using C = typename ComputeType<scalar_t>::type;
    return unary_typed<scalar_t>(a, [c = C(s)](C x) { return x + c; });
  });
}

Tensor mul_scalar(const Tensor& a, double s) {
  return T5_DISPATCH_ALL(a.dtype(), "mul_scalar", [&] {
    check_scalar_fits<scalar_t>("mul_scalar", s);
    using C = typename ComputeType<scalar_t>::type;
    return unary_typed<scalar_t>(a, [c = C(s)](C x) { return x * c; });
  });
}

Tensor pow_scalar(const Tensor& a, double exponent) {
  return T5_DISPATCH_FLOATING(a.dtype(), "pow_scalar", [&] {
    using C = typename ComputeType<scalar_t>::type;
    return unary_typed<scalar_t>(a, [e = C(exponent)](C x) { return std::pow(x, e); });
  });
}

Tensor neg(const Tensor& a) {
  return unary<Accepts::all>("neg", a, [](auto x) { return -x; });
}

Tensor exp(const Tensor& a) {
  return unary<Accepts::floating>("exp", a, [](auto x) { return std::exp(x); });
}

Tensor log(const Tensor& a) {
  return unary<Accepts::floating>("log", a, [](auto x) { return std::log(x); });
}

Tensor sqrt(const Tensor& a) {
  return unary<Accepts::floating>("sqrt", a, [](auto x) { return std::sqrt(x); });
}

Tensor rsqrt(const Tensor& a) {
  return unary<Accepts::floating>("rsqrt", a, [](auto x) { return decltype(x)(1) / std::sqrt(x); });
}

Tensor tanh(const Tensor& a) {
  return unary<Accepts::floating>("tanh", a, [](auto x) { return std::tanh(x); });
}

Tensor relu(const Tensor& a) {
  return unary<Accepts::floating>("relu", a, [](auto x) { return relu_value(x); });
}

Tensor gelu_new(const Tensor& a) {
  return unary<Accepts::floating>("gelu_new", a, [](auto x) { return gelu_new_value(x); });
}

Tensor gelu_new_backward(const Tensor& grad, const Tensor& x) {
  return binary<Accepts::floating>("gelu_new_backward", grad, x,
                                   [](auto g, auto v) { return gelu_new_grad_value(g, v); });
}

Tensor relu_backward(const Tensor& grad, const Tensor& x) {
  return binary<Accepts::floating>("relu_backward", grad, x, [](auto g, auto v) {
    return v > decltype(v)(0) ? g : decltype(v)(0);
  });
}

Tensor eq_scalar(const Tensor& a, double s) {
  return compare_scalar("eq_scalar", a, s, [](auto x, auto y) { return x == y; });
}

Tensor ne_scalar(const Tensor& a, double s) {
  return compare_scalar("ne_scalar", a, s, [](auto x, auto y) { return x != y; });
}

Tensor gt_scalar(const Tensor& a, double s) {
  return compare_scalar("gt_scalar", a, s, [](auto x, auto y) { return x > y; });
}

Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_mask("where", "cond", cond);
  check_same_dtype("where", a, b);
  Shape shape = broadcast_for("where", {&cond, &a, &b});
  return T5_DISPATCH_ALL(a.dtype(), "where", [&] {
    return map<scalar_t, uint8_t, scalar_t, scalar_t>(
        shape, a.dtype(), [](uint8_t c, scalar_t x, scalar_t y) { return c ? x : y; }, cond, a, b);
  });
}

Tensor masked_fill(const Tensor& a, const Tensor& mask, double value) {
  check_mask("masked_fill", "mask", mask);
  T5_CHECK(broadcast_for("masked_fill", {&a, &mask}) == a.shape(), "masked_fill: mask of shape ",
           shape_str(mask.shape()), " does not broadcast to the tensor's shape ",
           shape_str(a.shape()));
  return T5_DISPATCH_ALL(a.dtype(), "masked_fill", [&] {
    check_scalar_fits<scalar_t>("masked_fill", value);
    scalar_t fill = store<scalar_t>(value);
    return map<scalar_t, scalar_t, uint8_t>(
        a.shape(), a.dtype(), [fill](scalar_t x, uint8_t m) { return m ? fill : x; }, a, mask);
  });
}

}  // namespace t5zero::cpu
