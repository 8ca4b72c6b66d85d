// Elementwise ops: hand-worked values, a naive broadcasting loop (written here, reading elements
// through Tensor::at) on random shapes, non-contiguous inputs, and f64 / f32 / bf16, where a bf16
// result is the f32 computation on the bf16 inputs, rounded once.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "tensor/ops.h"

using namespace t5zero;

namespace {

Tensor random_tensor(const Shape& shape, DType dtype, std::mt19937& rng, double lo = -2,
                     double hi = 2) {
  std::uniform_real_distribution<double> uniform(lo, hi);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = uniform(rng);
  return Tensor::from_vector(v, shape, dtype);
}

std::vector<int64_t> unravel(int64_t linear, const Shape& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = linear % shape[d];
    linear /= shape[d];
  }
  return index;
}

// t's element that broadcasts to position `index` of a tensor of higher or equal rank.
double at_broadcast(const Tensor& t, const std::vector<int64_t>& index) {
  std::vector<int64_t> own(t.dim());
  const size_t lead = index.size() - own.size();
  for (size_t d = 0; d < own.size(); ++d) own[d] = t.size(d) == 1 ? 0 : index[lead + d];
  return t.at(own);
}

// f evaluated as the op's dtype computes it: double for f64, float for f32, float then one
// rounding for bf16.
template <typename F>
double as_dtype_computes(DType dtype, F f, double x, double y = 0) {
  if (dtype == DType::f64) return f(x, y);
  float r = f(static_cast<float>(x), static_cast<float>(y));
  return dtype == DType::bf16 ? round_to_bf16(r) : r;
}

// Relative tolerance for a result computed in a different order than the kernel's.
double tolerance_for(DType dtype) {
  switch (dtype) {
    case DType::f64:
      return 1e-14;
    case DType::f32:
      return 1e-6;
    default:
      return 1.0 / 128;  // one bf16 step
  }
}

// Checks every element of out against f applied to the broadcast inputs.
template <typename F>
void check_binary_against_loop(const Tensor& out, const Tensor& a, const Tensor& b, F f,
                               double tolerance) {
  REQUIRE(out.shape() == broadcast_shapes(a.shape(), b.shape()));
  REQUIRE(out.dtype() == a.dtype());
  REQUIRE(out.is_contiguous());
  int mismatches = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> index = unravel(i, out.shape());
    double want = as_dtype_computes(a.dtype(), f, at_broadcast(a, index), at_broadcast(b, index));
    double got = out.at(index);
    if (!(std::fabs(got - want) <= tolerance * std::max(1.0, std::fabs(want)))) {
      if (mismatches++ < 5) {
        MESSAGE("element ", i, " of ", shape_str(out.shape()), ": got ", got, ", want ", want);
      }
    }
  }
  CHECK(mismatches == 0);
}

template <typename F>
void check_unary_against_loop(const Tensor& out, const Tensor& a, F f, double tolerance) {
  REQUIRE(out.shape() == a.shape());
  REQUIRE(out.dtype() == a.dtype());
  int mismatches = 0;
  for (int64_t i = 0; i < out.numel(); ++i) {
    std::vector<int64_t> index = unravel(i, out.shape());
    double want = as_dtype_computes(
        a.dtype(), [&](auto x, auto) { return f(x); }, a.at(index));
    double got = out.at(index);
    bool both_nan = std::isnan(got) && std::isnan(want);
    if (!both_nan && !(std::fabs(got - want) <= tolerance * std::max(1.0, std::fabs(want)))) {
      if (mismatches++ < 5) MESSAGE("element ", i, ": got ", got, ", want ", want);
    }
  }
  CHECK(mismatches == 0);
}

struct BinaryCase {
  const char* name;
  std::function<Tensor(const Tensor&, const Tensor&)> op;
  // Generic: called with doubles or floats.
  std::function<double(double, double)> f64;
  std::function<float(float, float)> f32;
};

const std::vector<BinaryCase>& binary_cases() {
  static const std::vector<BinaryCase> cases = {
      {"add", ops::add, [](double x, double y) { return x + y; },
       [](float x, float y) { return x + y; }},
      {"sub", ops::sub, [](double x, double y) { return x - y; },
       [](float x, float y) { return x - y; }},
      {"mul", ops::mul, [](double x, double y) { return x * y; },
       [](float x, float y) { return x * y; }},
      {"div", ops::div, [](double x, double y) { return x / y; },
       [](float x, float y) { return x / y; }},
      {"pow", ops::pow, [](double x, double y) { return std::pow(std::fabs(x), y); },
       [](float x, float y) { return std::pow(std::fabs(x), y); }},
  };
  return cases;
}

// Runs a binary case; pow gets |a| so that every power is real.
void check_case(const BinaryCase& c, const Tensor& a, const Tensor& b) {
  INFO(std::string(c.name), " ", std::string(dtype_name(a.dtype())), " ", shape_str(a.shape()),
       " with ", shape_str(b.shape()));
  const bool is_pow = std::string(c.name) == "pow";
  Tensor base = is_pow ? ops::add_scalar(ops::relu(a), 0.5) : a;
  Tensor out = c.op(base, b);
  auto f = [&](auto x, auto y) {
    if constexpr (std::is_same_v<decltype(x), double>) {
      return c.f64(x, y);
    } else {
      return c.f32(x, y);
    }
  };
  // The kernel and this loop do the same single IEEE operation (pow: the same libm call).
  check_binary_against_loop(out, base, b, f, 0);
}

const DType kFloating[] = {DType::f64, DType::f32, DType::bf16};

}  // namespace

TEST_CASE("binary ops: hand-worked values") {
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor b = Tensor::from_vector<double>({10, 20}, {2});
  CHECK(ops::add(a, b).to_vector<double>() == std::vector<double>{11, 22, 13, 24});
  CHECK(ops::sub(a, b).to_vector<double>() == std::vector<double>{-9, -18, -7, -16});
  CHECK(ops::mul(a, b).to_vector<double>() == std::vector<double>{10, 40, 30, 80});
  CHECK(ops::div(a, b).to_vector<double>() == std::vector<double>{0.1, 0.1, 0.3, 0.2});
  CHECK(ops::pow(a, Tensor::from_vector<double>({2, 0.5}, {2})).to_vector<double>() ==
        std::vector<double>{1, std::sqrt(2.0), 9, 2});
  // A column against a row: [2, 1] + [3] -> [2, 3].
  Tensor col = Tensor::from_vector<float>({1, 2}, {2, 1});
  Tensor row = Tensor::from_vector<float>({10, 20, 30}, {3});
  Tensor sum = ops::add(col, row);
  CHECK(sum.shape() == Shape{2, 3});
  CHECK(sum.to_vector<float>() == std::vector<float>{11, 21, 31, 12, 22, 32});
  // Scalars (rank 0) broadcast against anything.
  Tensor two = Tensor::full({}, 2, DType::f32);
  CHECK(ops::mul(row, two).to_vector<float>() == std::vector<float>{20, 40, 60});
  CHECK(ops::mul(two, two).shape() == Shape{});
}

TEST_CASE("binary ops broadcast [3,1,4] with [2,1] and [4] in every floating dtype") {
  std::mt19937 rng(7);
  for (DType dtype : kFloating) {
    Tensor a = random_tensor({3, 1, 4}, dtype, rng);
    Tensor b = random_tensor({2, 1}, dtype, rng, 0.5, 2);
    Tensor c = random_tensor({4}, dtype, rng, 0.5, 2);
    for (const BinaryCase& bc : binary_cases()) {
      check_case(bc, a, b);
      check_case(bc, a, c);
      CHECK(bc.op(a, b).shape() == Shape{3, 2, 4});
    }
  }
}

TEST_CASE("binary ops on non-contiguous inputs (transposed, narrowed, expanded)") {
  std::mt19937 rng(11);
  for (DType dtype : kFloating) {
    Tensor a = random_tensor({4, 6}, dtype, rng).transpose(0, 1);           // [6, 4]
    Tensor b = random_tensor({6, 10}, dtype, rng, 0.5, 2).narrow(1, 3, 4);  // [6, 4]
    REQUIRE_FALSE(a.is_contiguous());
    REQUIRE_FALSE(b.is_contiguous());
    // Mixed: a transposed [5, 1, 3] view against a narrowed [2, 3] one.
    Tensor c = random_tensor({3, 5}, dtype, rng).transpose(0, 1).unsqueeze(1);
    Tensor d = random_tensor({2, 7}, dtype, rng, 0.5, 2).narrow(1, 2, 3);
    for (const BinaryCase& bc : binary_cases()) {
      check_case(bc, a, b);
      check_case(bc, c, d);
    }
  }
}

TEST_CASE("binary ops on random shapes with random broadcasting") {
  std::mt19937 rng(2024);
  std::uniform_int_distribution<int> rank_dist(0, 4), size_dist(1, 5), coin(0, 3);
  for (int trial = 0; trial < 40; ++trial) {
    Shape shape(rank_dist(rng));
    for (int64_t& s : shape) s = size_dist(rng);
    Shape sa = shape, sb = shape;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (coin(rng) == 0) sa[d] = 1;
      if (coin(rng) == 0) sb[d] = 1;
    }
    // Drop some leading dims of b (rank broadcasting).
    sb.erase(sb.begin(), sb.begin() + std::min<size_t>(sb.size(), coin(rng) == 0 ? 1 : 0));
    DType dtype = kFloating[trial % 3];
    Tensor a = random_tensor(sa, dtype, rng);
    Tensor b = random_tensor(sb, dtype, rng, 0.5, 2);
    for (const BinaryCase& bc : binary_cases()) check_case(bc, a, b);
  }
}

TEST_CASE("large tensors take the parallel paths and agree with the loop") {
  std::mt19937 rng(3);
  Tensor a = random_tensor({300, 200}, DType::f32, rng);
  Tensor b = random_tensor({300, 200}, DType::f32, rng, 0.5, 2);
  Tensor row = random_tensor({200}, DType::f32, rng, 0.5, 2);
  check_case(binary_cases()[2], a, b);                                  // contiguous fast path
  check_case(binary_cases()[3], a, row);                                // broadcast, strided walk
  check_case(binary_cases()[0], a.transpose(0, 1), b.transpose(0, 1));  // strided walk
}

TEST_CASE("bf16 computes in float and rounds once") {
  const float step = std::ldexp(1.0f, -8);  // half a bf16 ulp at 1
  Tensor one = Tensor::full({1}, 1, DType::bf16);
  // 1 + 2^-8 is a tie between 1 and 1 + 2^-7: even wins (1).
  CHECK(ops::add(one, Tensor::full({1}, step, DType::bf16)).item() == 1.0);
  // 1 + 3·2^-8 is a tie between 1 + 2^-7 and 1 + 2^-6: even wins (1 + 2^-6).
  CHECK(ops::add(one, Tensor::full({1}, 3 * step, DType::bf16)).item() == 1.0 + 4 * step);
  // (1 + 2^-7)² = 1 + 2^-6 + 2^-14: one rounding gives 1 + 2^-6.
  Tensor x = Tensor::full({1}, 1 + 2 * step, DType::bf16);
  CHECK(ops::mul(x, x).item() == 1.0 + 4 * step);
  CHECK(ops::mul(x, x).dtype() == DType::bf16);
}

TEST_CASE("unary ops against the C++ math library on non-contiguous inputs") {
  std::mt19937 rng(5);
  for (DType dtype : kFloating) {
    INFO(std::string(dtype_name(dtype)));
    Tensor a = random_tensor({5, 7}, dtype, rng, -3, 3).transpose(0, 1);
    Tensor pos = random_tensor({7, 9}, dtype, rng, 0.1, 4).narrow(1, 1, 5);
    check_unary_against_loop(
        ops::neg(a), a, [](auto x) { return -x; }, 0);
    check_unary_against_loop(
        ops::exp(a), a, [](auto x) { return std::exp(x); }, 0);
    check_unary_against_loop(
        ops::tanh(a), a, [](auto x) { return std::tanh(x); }, 0);
    check_unary_against_loop(
        ops::log(pos), pos, [](auto x) { return std::log(x); }, 0);
    check_unary_against_loop(
        ops::sqrt(pos), pos, [](auto x) { return std::sqrt(x); }, 0);
    check_unary_against_loop(
        ops::rsqrt(pos), pos, [](auto x) { return decltype(x)(1) / std::sqrt(x); }, 0);
    check_unary_against_loop(
        ops::relu(a), a, [](auto x) { return x > 0 ? x : decltype(x)(0); }, 0);
    check_unary_against_loop(
        ops::add_scalar(a, 0.75), a, [](auto x) { return x + decltype(x)(0.75); }, 0);
    check_unary_against_loop(
        ops::mul_scalar(a, -1.5), a, [](auto x) { return x * decltype(x)(-1.5); }, 0);
    check_unary_against_loop(
        ops::pow_scalar(pos, -0.5), pos, [](auto x) { return std::pow(x, decltype(x)(-0.5)); }, 0);
    check_unary_against_loop(
        ops::pow_scalar(a, 3), a, [](auto x) { return std::pow(x, decltype(x)(3)); }, 0);
    // gelu_new written out as HF's NewGELUActivation, with pow(x, 3) as there.
    check_unary_against_loop(
        ops::gelu_new(a), a,
        [](auto x) {
          using T = decltype(x);
          const T k = static_cast<T>(std::sqrt(2.0 / M_PI));
          return T(0.5) * x * (T(1) + std::tanh(k * (x + T(0.044715) * std::pow(x, T(3)))));
        },
        tolerance_for(dtype));
  }
}

TEST_CASE("gelu_new and its derivative match transformers' NewGELUActivation") {
  // Values from transformers 4.26 NewGELUActivation and torch autograd in float64.
  const std::vector<double> x = {-3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0, 4.0};
  const std::vector<double> y = {
      -0.0036373920817729943, -0.1588080093917233, -0.15428599017485606, 0.0,
      0.34571400982514394,    0.8411919906082768,  1.954597694087775,    3.9999297540518075};
  const std::vector<double> dy = {
      -0.011584166630969651, -0.08296408384578258, 0.13263009646535764, 0.5,
      0.8673699035346424,    1.0829640838457826,   1.0860992566236183,  1.000335123197122};
  Tensor t = Tensor::from_vector(x, {8});
  std::vector<double> got = ops::gelu_new(t).to_vector<double>();
  std::vector<double> got_f32 = ops::gelu_new(t.to(DType::f32)).to_vector<double>();
  Tensor ones = Tensor::ones({8}, DType::f64);
  std::vector<double> dgot = ops::gelu_new_backward(ones, t).to_vector<double>();
  Tensor g = Tensor::from_vector<double>({0.5, -2, 3, 1, 1, 1, 0.25, 2}, {8});
  std::vector<double> dgot_scaled = ops::gelu_new_backward(g, t).to_vector<double>();
  for (size_t i = 0; i < x.size(); ++i) {
    INFO("x = ", x[i]);
    CHECK(got[i] == doctest::Approx(y[i]).epsilon(1e-15));
    CHECK(got_f32[i] == doctest::Approx(y[i]).epsilon(2e-7));
    CHECK(dgot[i] == doctest::Approx(dy[i]).epsilon(1e-14));
    CHECK(dgot_scaled[i] == doctest::Approx(dy[i] * g.at({int64_t(i)})).epsilon(1e-14));
    // The derivative also matches a central difference of the forward.
    const double h = 1e-5;
    double numeric = (ops::gelu_new(Tensor::full({}, x[i] + h, DType::f64)).item() -
                      ops::gelu_new(Tensor::full({}, x[i] - h, DType::f64)).item()) /
                     (2 * h);
    CHECK(dgot[i] == doctest::Approx(numeric).epsilon(1e-9));
  }
  // bf16: the float computation on bf16 inputs, rounded once.
  std::vector<float> got_bf16 = ops::gelu_new(t.to(DType::bf16)).to_vector<float>();
  for (size_t i = 0; i < x.size(); ++i) CHECK(got_bf16[i] == round_to_bf16(float(got_f32[i])));
}

TEST_CASE("relu keeps NaN; relu_backward passes the gradient where x > 0") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  Tensor x = Tensor::from_vector<double>({-1, 0, 2, nan, -0.5, 3}, {2, 3});
  std::vector<double> r = ops::relu(x).to_vector<double>();
  CHECK(r[0] == 0);
  CHECK(r[1] == 0);
  CHECK(r[2] == 2);
  CHECK(std::isnan(r[3]));
  CHECK(r[5] == 3);
  Tensor g = Tensor::from_vector<double>({10, 20, 30, 40, 50, 60}, {2, 3});
  CHECK(ops::relu_backward(g, x).to_vector<double>() == std::vector<double>{0, 0, 30, 0, 0, 60});
}

TEST_CASE("comparisons give u8 masks; the scalar takes a floating tensor's dtype") {
  Tensor f = Tensor::from_vector<float>({0.1f, 0.5f, -1.0f, 0.0f}, {2, 2});
  Tensor eq = ops::eq_scalar(f, 0.1);
  CHECK(eq.dtype() == DType::u8);
  CHECK(eq.shape() == Shape{2, 2});
  // As torch: float32(0.1) == 0.1 holds because 0.1 is first rounded to float.
  CHECK(eq.to_vector<uint8_t>() == std::vector<uint8_t>{1, 0, 0, 0});
  CHECK(ops::ne_scalar(f, 0).to_vector<uint8_t>() == std::vector<uint8_t>{1, 1, 1, 0});
  CHECK(ops::gt_scalar(f, 0.1).to_vector<uint8_t>() == std::vector<uint8_t>{0, 1, 0, 0});
  CHECK(ops::gt_scalar(f.transpose(0, 1), -0.5).to_vector<uint8_t>() ==
        std::vector<uint8_t>{1, 0, 1, 1});
  // Integers compare exactly: 1 > 0.5, and nothing equals 0.5.
  Tensor ids = Tensor::from_vector<int64_t>({-100, 0, 1, 5}, {4});
  CHECK(ops::gt_scalar(ids, 0.5).to_vector<uint8_t>() == std::vector<uint8_t>{0, 0, 1, 1});
  CHECK(ops::eq_scalar(ids, 0.5).to_vector<uint8_t>() == std::vector<uint8_t>{0, 0, 0, 0});
  CHECK(ops::ne_scalar(ids, -100).to_vector<uint8_t>() == std::vector<uint8_t>{0, 1, 1, 1});
  // bf16: 0.1 becomes bf16(0.1) before comparing.
  Tensor b = Tensor::from_vector<float>({0.1f}, {1}, DType::bf16);
  CHECK(ops::eq_scalar(b, 0.1).item() == 1);
}

TEST_CASE("where broadcasts condition and both branches") {
  Tensor cond = Tensor::from_vector<uint8_t>({1, 0, 1}, {3, 1});
  Tensor a = Tensor::from_vector<double>({1, 2, 3, 4}, {1, 4});
  Tensor b = Tensor::full({}, -7, DType::f64);
  Tensor out = ops::where(cond, a, b);
  CHECK(out.shape() == Shape{3, 4});
  CHECK(out.to_vector<double>() == std::vector<double>{1, 2, 3, 4, -7, -7, -7, -7, 1, 2, 3, 4});
  std::mt19937 rng(9);
  Tensor x = random_tensor({4, 3}, DType::f32, rng).transpose(0, 1);  // [3, 4], strided
  Tensor y = random_tensor({4}, DType::f32, rng);
  Tensor mask = ops::gt_scalar(x, 0);
  Tensor w = ops::where(mask, x, y);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      CHECK(w.at({i, j}) == (x.at({i, j}) > 0 ? x.at({i, j}) : y.at({j})));
    }
  }
  CHECK_THROWS_WITH_AS(ops::where(a, a, a), "where: cond must be u8 (from a comparison), got f64",
                       Error);
}

TEST_CASE("masked_fill broadcasts the mask into the tensor's shape") {
  Tensor scores = Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor mask = Tensor::from_vector<uint8_t>({0, 1, 1}, {1, 3});
  const float lowest = std::numeric_limits<float>::lowest();
  Tensor out = ops::masked_fill(scores, mask, lowest);
  CHECK(out.to_vector<float>() == std::vector<float>{1, lowest, lowest, 4, lowest, lowest});
  Tensor inf = ops::masked_fill(scores.transpose(0, 1), Tensor::from_vector<uint8_t>({1, 0}, {2}),
                                -std::numeric_limits<double>::infinity());
  CHECK(inf.shape() == Shape{3, 2});
  CHECK(std::isinf(inf.at({2, 0})));
  CHECK(inf.at({2, 1}) == 6);
  Tensor labels = Tensor::from_vector<int64_t>({5, 0, 0, 7}, {4});
  CHECK(ops::masked_fill(labels, ops::eq_scalar(labels, 0), -100).to_vector<int64_t>() ==
        std::vector<int64_t>{5, -100, -100, 7});
  CHECK_THROWS_WITH_AS(ops::masked_fill(Tensor::zeros({3}), Tensor::zeros({2, 3}, DType::u8), 1),
                       "masked_fill: mask of shape [2, 3] does not broadcast to the tensor's "
                       "shape [3]",
                       Error);
  CHECK_THROWS_WITH_AS(ops::masked_fill(labels, ops::eq_scalar(labels, 0), 0.5),
                       "masked_fill: scalar 0.5 is not a value of the tensor's dtype i64", Error);
}

TEST_CASE("integer arithmetic stays integer; floating-only ops refuse integers") {
  Tensor a = Tensor::from_vector<int64_t>({1, -2, 3}, {3});
  Tensor b = Tensor::from_vector<int64_t>({10, 20, 30}, {3});
  CHECK(ops::add(a, b).to_vector<int64_t>() == std::vector<int64_t>{11, 18, 33});
  CHECK(ops::mul(a, b).dtype() == DType::i64);
  CHECK(ops::sub(a, b).to_vector<int64_t>() == std::vector<int64_t>{-9, -22, -27});
  CHECK(ops::neg(a).to_vector<int64_t>() == std::vector<int64_t>{-1, 2, -3});
  CHECK(ops::add_scalar(a, 4).to_vector<int64_t>() == std::vector<int64_t>{5, 2, 7});
  CHECK(ops::mul_scalar(a.to(DType::i32), -3).to_vector<int32_t>() ==
        std::vector<int32_t>{-3, 6, -9});
  CHECK_THROWS_WITH_AS(ops::add_scalar(a, 0.5),
                       "add_scalar: scalar 0.5 is not a value of the tensor's dtype i64", Error);
  CHECK_THROWS_WITH_AS(ops::exp(a), "exp: expected a floating dtype (f32, f64, bf16), got i64",
                       Error);
  CHECK_THROWS_WITH_AS(ops::div(a, b), "div: expected a floating dtype (f32, f64, bf16), got i64",
                       Error);
}

TEST_CASE("binary op errors name the op and what did not fit") {
  Tensor f = Tensor::zeros({2, 3});
  CHECK_THROWS_WITH_AS(ops::add(f, Tensor::zeros({2, 3}, DType::f64)),
                       "add: inputs have different dtypes f32 and f64; cast one first", Error);
  CHECK_THROWS_WITH_AS(ops::mul(f, Tensor::zeros({4})),
                       "mul: cannot broadcast shapes [2, 3] and [4]", Error);
  CHECK_THROWS_WITH_AS(ops::gelu_new_backward(f, Tensor::zeros({3}, DType::bf16)),
                       "gelu_new_backward: inputs have different dtypes f32 and bf16; cast one "
                       "first",
                       Error);
}

TEST_CASE("empty tensors and cast") {
  Tensor empty = Tensor::zeros({0, 3});
  Tensor out = ops::add(empty, Tensor::ones({3}));
  CHECK(out.shape() == Shape{0, 3});
  CHECK(ops::exp(empty).numel() == 0);
  Tensor d = Tensor::from_vector<double>({1.0 + 1e-9, -2.5}, {2});
  Tensor c = ops::cast(d, DType::f32);
  CHECK(c.dtype() == DType::f32);
  CHECK(c.to_vector<float>() == std::vector<float>{1.0f, -2.5f});
  CHECK(ops::cast(d, DType::f64).shares_storage(d));
}
