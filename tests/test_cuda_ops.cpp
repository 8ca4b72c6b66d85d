// Every op of the catalogue on a GPU against the CPU backend on the same inputs, the fused
// kernels against compositions of CPU ops, and the dropout masks bit for bit. Runs only with a
// CUDA device (cuda_test_main.cpp skips with exit 77 otherwise).
//
// Tolerances, as max |gpu − cpu| / max(1, |cpu|):
//   exact (0): copies, casts, +, −, ×, ÷, sqrt, comparisons, selection, indexing, dropout, and
//     integer sums — one correctly rounded operation per element, or none;
//   f32 1e-5, f64 1e-12: transcendental functions (CUDA's exp/log/tanh/pow are a few ulps from
//     glibc's), contracted multiply-adds, sums in another order, cuBLASLt's accumulation order;
//   bf16 1.6e-2: two bf16 ulps (2^-7 each) — an f32 intermediate a hair apart can round to the
//     neighbouring bf16 value.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "optim/adamw.h"
#include "tensor/ops.h"
#include "tensor/relative_position.h"

#ifdef T5ZERO_CUDA
#include "tensor/cuda/cublaslt_gemm.h"
#include "tensor/cuda/cuda_ops.h"
#include "tensor/cuda/fused.h"
#endif

using namespace t5zero;

namespace {

const Device kGpu = Device::cuda(0);

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double scale = 1.0,
                     double shift = 0.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  std::vector<double> v(static_cast<size_t>(shape_numel(shape)));
  for (double& x : v) x = normal(rng) + shift;
  return Tensor::from_vector(v, shape, dtype);
}

Tensor random_ints(const Shape& shape, DType dtype, int64_t low, int64_t high, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(low, high - 1);
  std::vector<int64_t> v(static_cast<size_t>(shape_numel(shape)));
  for (int64_t& x : v) x = pick(rng);
  return Tensor::from_vector(v, shape, dtype);
}

Tensor gpu(const Tensor& t) {
  return t.to(kGpu);
}

double tolerance(DType dtype) {
  return dtype == DType::f64 ? 1e-12 : dtype == DType::bf16 ? 1.6e-2 : 1e-5;
}

// max |a − b| / max(1, |b|) over the elements; a is the GPU result, b the CPU reference.
double max_error(const Tensor& gpu_result, const Tensor& cpu_result) {
  const std::vector<double> a = gpu_result.to(Device::cpu()).to_vector<double>();
  const std::vector<double> b = cpu_result.to_vector<double>();
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) && std::isnan(b[i])) continue;
    if (std::isinf(b[i]) && a[i] == b[i]) continue;
    const double e = std::fabs(a[i] - b[i]) / std::max(1.0, std::fabs(b[i]));
    worst = std::isnan(e) ? INFINITY : std::max(worst, e);
  }
  return worst;
}

// The GPU result has the CPU result's shape, dtype, and values within `tol`; it lives on the GPU.
void check_close(const Tensor& gpu_result, const Tensor& cpu_result, double tol,
                 const std::string& what) {
  CAPTURE(what);
  REQUIRE(gpu_result.device() == kGpu);
  REQUIRE(gpu_result.shape() == cpu_result.shape());
  REQUIRE(gpu_result.dtype() == cpu_result.dtype());
  const double e = max_error(gpu_result, cpu_result);
  CAPTURE(e);
  CHECK(e <= tol);
}

// Bit-identical contents.
void check_identical(const Tensor& gpu_result, const Tensor& cpu_result, const std::string& what) {
  CAPTURE(what);
  REQUIRE(gpu_result.shape() == cpu_result.shape());
  REQUIRE(gpu_result.dtype() == cpu_result.dtype());
  const Tensor a = gpu_result.to(Device::cpu()).contiguous();
  const Tensor b = cpu_result.contiguous();
  CHECK(std::memcmp(a.data_ptr(), b.data_ptr(),
                    static_cast<size_t>(a.numel()) * dtype_size(a.dtype())) == 0);
}

const DType kFloating[] = {DType::f32, DType::f64, DType::bf16};

}  // namespace

TEST_CASE("copies: to(device), casts between every dtype pair, strided and permuted copies, fill") {
  const Tensor base = random_tensor({4, 6, 10}, DType::f64, 1, 40.0);
  const DType all[] = {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64, DType::u8};
  for (DType from : all) {
    const Tensor src =
        from == DType::u8 ? ops::add_scalar(ops::mul_scalar(base, 0.0), 7).to(from) : base.to(from);
    const Tensor on_gpu = gpu(src);
    CHECK(on_gpu.device() == kGpu);
    check_identical(on_gpu, src, std::string("round trip ") + dtype_name(from));
    for (DType to : all) {
      if (to == DType::u8 && from != DType::u8) continue;  // out-of-range casts are undefined
      check_identical(on_gpu.to(to), src.to(to),
                      std::string(dtype_name(from)) + " -> " + dtype_name(to));
    }
    // Permuting and slicing copies, on the GPU and across devices.
    check_identical(on_gpu.permute({2, 0, 1}).contiguous(), src.permute({2, 0, 1}).contiguous(),
                    "permute");
    check_identical(on_gpu.slice(2, 1, 9, 3).contiguous(), src.slice(2, 1, 9, 3).contiguous(),
                    "slice");
    check_identical(src.transpose(0, 2).to(kGpu), src.transpose(0, 2).contiguous(),
                    "strided host -> device");
    check_identical(on_gpu.transpose(0, 1).to(Device::cpu()), src.transpose(0, 1).contiguous(),
                    "strided device -> host");
  }
  // copy_ into a strided view, with broadcasting and conversion.
  Tensor dst_gpu = Tensor::zeros({5, 8}, DType::f32, kGpu);
  Tensor dst_cpu = Tensor::zeros({5, 8}, DType::f32);
  const Tensor row = random_tensor({4}, DType::f64, 2);
  dst_gpu.narrow(1, 2, 4).copy_(gpu(row));
  dst_cpu.narrow(1, 2, 4).copy_(row);
  check_identical(dst_gpu, dst_cpu, "copy_ broadcast into a slice");
  dst_gpu.narrow(0, 1, 2).fill_(-2.5);
  dst_cpu.narrow(0, 1, 2).fill_(-2.5);
  check_identical(dst_gpu, dst_cpu, "fill_ of a slice");
  // Host -> device copy_ into a non-contiguous destination.
  dst_gpu.transpose(0, 1).copy_(random_tensor({8, 5}, DType::f32, 3));
  dst_cpu.transpose(0, 1).copy_(random_tensor({8, 5}, DType::f32, 3));
  check_identical(dst_gpu, dst_cpu, "host -> strided device copy_");
  CHECK(Tensor::zeros({3, 3}, DType::bf16, kGpu).to(Device::cpu()).to_vector<double>() ==
        std::vector<double>(9, 0.0));
}

TEST_CASE("elementwise arithmetic and selection equal the CPU exactly, with broadcasting") {
  for (DType dtype : {DType::f32, DType::f64, DType::bf16, DType::i32, DType::i64}) {
    CAPTURE(std::string(dtype_name(dtype)));
    const bool floating = is_floating(dtype);
    const Tensor a = floating ? random_tensor({3, 5, 7}, dtype, 10, 3.0)
                              : random_ints({3, 5, 7}, dtype, -50, 50, 10);
    const Tensor b = floating ? random_tensor({5, 1}, dtype, 11, 2.0, 0.5)
                              : random_ints({5, 1}, dtype, -9, 9, 11);
    const Tensor at = a.transpose(0, 2);  // non-contiguous operand [7, 5, 3]
    const Tensor ga = gpu(a), gb = gpu(b), gat = ga.transpose(0, 2);
    check_identical(ops::add(ga, gb), ops::add(a, b), "add");
    check_identical(ops::sub(gb, ga), ops::sub(b, a), "sub");
    check_identical(ops::mul(ga, gb), ops::mul(a, b), "mul");
    check_identical(ops::neg(gat), ops::neg(at), "neg strided");
    check_identical(ops::add_scalar(ga, 3), ops::add_scalar(a, 3), "add_scalar");
    check_identical(ops::mul_scalar(gat, -2), ops::mul_scalar(at, -2), "mul_scalar");
    check_identical(ops::eq_scalar(ga, 1), ops::eq_scalar(a, 1), "eq_scalar");
    check_identical(ops::ne_scalar(ga, 0), ops::ne_scalar(a, 0), "ne_scalar");
    check_identical(ops::gt_scalar(gat, 0.25), ops::gt_scalar(at, 0.25), "gt_scalar");
    const Tensor cond = ops::gt_scalar(b, 0);
    check_identical(ops::where(gpu(cond), ga, ops::neg(ga)), ops::where(cond, a, ops::neg(a)),
                    "where");
    check_identical(ops::masked_fill(ga, gpu(cond), -7), ops::masked_fill(a, cond, -7),
                    "masked_fill");
    if (floating) {
      check_identical(ops::div(ga, gb), ops::div(a, b), "div");
      const Tensor positive = ops::add_scalar(ops::mul(a, a), 0.1);
      check_identical(ops::sqrt(gpu(positive)), ops::sqrt(positive), "sqrt");
      check_identical(ops::rsqrt(gpu(positive)), ops::rsqrt(positive), "rsqrt");
      check_identical(ops::relu(gat), ops::relu(at), "relu");
      check_identical(ops::relu_backward(gb.expand({3, 5, 7}), ga),
                      ops::relu_backward(b.expand({3, 5, 7}), a), "relu_backward");
    }
  }
  // Integer wrap-around and mixed-device errors as the CPU's.
  const Tensor u = Tensor::from_vector(std::vector<int64_t>{250, 3, 255}, {3}, DType::u8);
  check_identical(ops::add(gpu(u), gpu(u)), ops::add(u, u), "u8 wraps");
  CHECK_THROWS_WITH_AS(ops::add(gpu(u), u), doctest::Contains("inputs on cuda:0 and cpu"), Error);
  CHECK_THROWS_WITH_AS(ops::add_scalar(gpu(u), 0.5), doctest::Contains("is not a value"), Error);
}

TEST_CASE("transcendental elementwise ops and activations within tolerance") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor x = random_tensor({6, 129}, dtype, 20, 2.0);
    const Tensor positive = ops::add_scalar(ops::mul(x, x), 0.05);
    const Tensor g = random_tensor({6, 129}, dtype, 21);
    const Tensor gx = gpu(x), gp = gpu(positive), gg = gpu(g);
    check_close(ops::exp(gx), ops::exp(x), tol, "exp");
    check_close(ops::log(gp), ops::log(positive), tol, "log");
    check_close(ops::tanh(gx), ops::tanh(x), tol, "tanh");
    check_close(ops::pow(gp, gx), ops::pow(positive, x), tol, "pow");
    check_close(ops::pow_scalar(gp, 1.5), ops::pow_scalar(positive, 1.5), tol, "pow_scalar");
    check_close(ops::gelu_new(gx), ops::gelu_new(x), tol, "gelu_new");
    check_close(ops::gelu_new_backward(gg, gx), ops::gelu_new_backward(g, x), tol,
                "gelu_new_backward");
  }
}

TEST_CASE("reductions over every kind of dim set, deterministic, as the CPU's") {
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
    bool keepdim;
  };
  const Case cases[] = {
      {{4, 5, 6}, {}, false},   {{4, 5, 6}, {2}, false},    {{4, 5, 6}, {0}, true},
      {{4, 5, 6}, {1}, false},  {{4, 5, 6}, {0, 2}, true},  {{3, 70001}, {1}, false},
      {{70001, 3}, {0}, false}, {{2, 300, 300}, {}, false}, {{0, 4}, {0}, false},
      {{512, 768}, {0}, false},
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.shape));
    CAPTURE(c.dims.size());
    for (DType dtype : kFloating) {
      CAPTURE(std::string(dtype_name(dtype)));
      const Tensor a = random_tensor(c.shape, dtype, 30, 1.0, 0.25);
      const Tensor ga = gpu(a);
      // Sums accumulate in double on both sides: only the last rounding can differ.
      const double tol = dtype == DType::bf16 ? 8e-3 : dtype == DType::f32 ? 1e-6 : 1e-12;
      check_close(ops::sum(ga, c.dims, c.keepdim), ops::sum(a, c.dims, c.keepdim), tol, "sum");
      check_close(ops::mean(ga, c.dims, c.keepdim), ops::mean(a, c.dims, c.keepdim), tol, "mean");
      check_close(ops::sum_squares(ga, c.dims, c.keepdim), ops::sum_squares(a, c.dims, c.keepdim),
                  tol, "sum_squares");
      if (shape_numel(c.shape) > 0) {
        check_identical(ops::amax(ga, c.dims, c.keepdim), ops::amax(a, c.dims, c.keepdim), "amax");
        // Deterministic: the same call gives the same bits.
        check_identical(ops::sum(ga, c.dims, c.keepdim),
                        ops::sum(ga, c.dims, c.keepdim).to(Device::cpu()), "sum twice");
      }
    }
    const Tensor ints = random_ints(c.shape, DType::i32, -1000, 1000, 31);
    check_identical(ops::sum(gpu(ints), c.dims, c.keepdim), ops::sum(ints, c.dims, c.keepdim),
                    "integer sum (i64)");
  }
  // Strided input and sum_to (the gradient of broadcasting).
  const Tensor a = random_tensor({6, 8, 10}, DType::f32, 32);
  check_close(ops::sum(gpu(a).permute({2, 0, 1}), {0, 2}), ops::sum(a.permute({2, 0, 1}), {0, 2}),
              1e-6, "sum of a permuted view");
  check_close(ops::sum_to(gpu(a), {8, 1}), ops::sum_to(a, {8, 1}), 1e-6, "sum_to");
  const Tensor with_nan =
      Tensor::from_vector(std::vector<double>{1, NAN, 3, 4}, {2, 2}, DType::f32);
  CHECK(std::isnan(ops::amax(gpu(with_nan), {1}).to_vector<double>()[0]));
}

TEST_CASE("matmul: every transpose, batched, broadcast and strided operands, as the CPU's") {
  struct Case {
    Shape a, b;
    bool ta, tb;
  };
  const Case cases[] = {
      {{37, 19}, {19, 23}, false, false},
      {{19, 37}, {19, 23}, true, false},
      {{37, 19}, {23, 19}, false, true},
      {{19, 37}, {23, 19}, true, true},
      {{4, 33, 16}, {16, 8}, false, false},          // a linear layer: one tall GEMM
      {{4, 33, 16}, {8, 16}, false, true},           // nn.Linear's weight layout
      {{2, 3, 17, 9}, {2, 3, 9, 11}, false, false},  // attention-like batches
      {{2, 3, 17, 9}, {2, 3, 17, 11}, true, false},
      {{2, 1, 17, 9}, {3, 9, 5}, false, false},  // broadcast batch dims
      {{1, 1}, {1, 1}, false, false},
      {{5, 0}, {0, 4}, false, false},  // k = 0: zeros
  };
  for (const Case& c : cases) {
    CAPTURE(shape_str(c.a));
    CAPTURE(shape_str(c.b));
    CAPTURE(c.ta);
    CAPTURE(c.tb);
    for (DType dtype : kFloating) {
      CAPTURE(std::string(dtype_name(dtype)));
      const Tensor a = random_tensor(c.a, dtype, 40);
      const Tensor b = random_tensor(c.b, dtype, 41);
      check_close(ops::matmul(gpu(a), gpu(b), c.ta, c.tb), ops::matmul(a, b, c.ta, c.tb),
                  tolerance(dtype), "matmul");
    }
  }
  // Heads split from [B, T, H, d] and transposed to [B, H, T, d]: batch dims with two strides.
  const Tensor q = random_tensor({2, 7, 3, 8}, DType::f32, 42).transpose(1, 2);
  const Tensor k = random_tensor({2, 5, 3, 8}, DType::f32, 43).transpose(1, 2);
  check_close(
      ops::matmul(gpu(random_tensor({2, 7, 3, 8}, DType::f32, 42)).transpose(1, 2),
                  gpu(random_tensor({2, 5, 3, 8}, DType::f32, 43)).transpose(1, 2), false, true),
      ops::matmul(q, k, false, true), 1e-5, "matmul of head-split views");
  // A column slice (a leading dimension larger than the columns).
  const Tensor wide = random_tensor({16, 40}, DType::f32, 44);
  const Tensor right = random_tensor({12, 9}, DType::f32, 45);
  check_close(ops::matmul(gpu(wide).narrow(1, 4, 12), gpu(right)),
              ops::matmul(wide.narrow(1, 4, 12), right), 1e-5, "matmul of a column slice");
#ifdef T5ZERO_CUDA
  // Plans are cached per shape.
  const cuda::GemmPlanStats before = cuda::gemm_plan_stats();
  const Tensor x = gpu(random_tensor({64, 32}, DType::f32, 46));
  ops::matmul(x, x, false, true);
  ops::matmul(x, x, false, true);
  const cuda::GemmPlanStats after = cuda::gemm_plan_stats();
  CHECK(after.hits >= before.hits + 1);
  CHECK(after.misses <= before.misses + 1);
  CHECK_FALSE(cuda::allow_tf32());
#endif
}

TEST_CASE("softmax, log_softmax and their backwards, short and vocabulary-long rows") {
  for (int64_t cols : {1, 37, 1000, 32128}) {
    CAPTURE(cols);
    for (DType dtype : kFloating) {
      CAPTURE(std::string(dtype_name(dtype)));
      const double tol = tolerance(dtype);
      const Tensor x = random_tensor({3, cols}, dtype, 50, 3.0);
      const Tensor g = random_tensor({3, cols}, dtype, 51);
      const Tensor y = ops::softmax(x), ly = ops::log_softmax(x);
      check_close(ops::softmax(gpu(x)), y, tol, "softmax");
      check_close(ops::log_softmax(gpu(x)), ly, tol, "log_softmax");
      check_close(ops::softmax_backward(gpu(g), gpu(y)), ops::softmax_backward(g, y), tol,
                  "softmax_backward");
      check_close(ops::log_softmax_backward(gpu(g), gpu(ly)), ops::log_softmax_backward(g, ly), tol,
                  "log_softmax_backward");
    }
  }
}

TEST_CASE("cross_entropy and its backward with ignore_index; errors as the CPU's") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor logits = random_tensor({9, 1000}, dtype, 60, 2.0);
    for (DType target_dtype : {DType::i32, DType::i64}) {
      std::vector<int64_t> t = {3, -100, 999, 0, 17, -100, 500, 2, 998};
      const Tensor targets = Tensor::from_vector(t, {9}, target_dtype);
      const Tensor loss = ops::cross_entropy(logits, targets);
      check_close(ops::cross_entropy(gpu(logits), gpu(targets)), loss, tol, "cross_entropy");
      const Tensor grad = Tensor::from_vector(std::vector<double>{0.75}, {}, dtype);
      check_close(ops::cross_entropy_backward(gpu(grad), gpu(logits), gpu(targets)),
                  ops::cross_entropy_backward(grad, logits, targets), tol,
                  "cross_entropy_backward");
    }
    const Tensor ignored = Tensor::from_vector(std::vector<int64_t>(9, -100), {9}, DType::i64);
    CHECK(ops::cross_entropy(gpu(logits), gpu(ignored)).item() == 0.0);
    const Tensor bad =
        Tensor::from_vector(std::vector<int64_t>{1, 2, 3, 4, 1000, 0, 0, 0, 0}, {9}, DType::i64);
    CHECK_THROWS_WITH_AS(ops::cross_entropy(gpu(logits), gpu(bad)),
                         doctest::Contains("target 1000 at row 4 is outside [0, 1000)"), Error);
  }
}

TEST_CASE("rms_norm and its backward") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor x = random_tensor({2, 5, 768}, dtype, 70, 2.0);
    const Tensor w = random_tensor({768}, dtype, 71, 0.5, 1.0);
    const Tensor g = random_tensor({2, 5, 768}, dtype, 72);
    check_close(ops::rms_norm(gpu(x), gpu(w), 1e-6), ops::rms_norm(x, w, 1e-6), tol, "rms_norm");
    const ops::RmsNormGrads cpu_grads = ops::rms_norm_backward(g, x, w, 1e-6);
    const ops::RmsNormGrads gpu_grads = ops::rms_norm_backward(gpu(g), gpu(x), gpu(w), 1e-6);
    check_close(gpu_grads.x, cpu_grads.x, tol, "rms_norm_backward dx");
    // dw sums 10 rows of products: relative to the sum's magnitude.
    check_close(gpu_grads.weight, cpu_grads.weight, 4 * tol, "rms_norm_backward dw");
  }
}

TEST_CASE("indexing: embedding and its deterministic backward, index_select/add, gather/scatter") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const Tensor weight = random_tensor({50, 12}, dtype, 80);
    const Tensor ids = random_ints({3, 7}, DType::i64, 0, 50, 81);
    const Tensor repeated =
        Tensor::from_vector(std::vector<int64_t>{4, 4, 9, 4, 0, 9}, {2, 3}, DType::i32);
    check_identical(ops::embedding(gpu(weight), gpu(ids)), ops::embedding(weight, ids),
                    "embedding");
    const Tensor g = random_tensor({2, 3, 12}, dtype, 82);
    // Each row sums its positions in increasing order, in the compute type, on both backends.
    check_identical(ops::embedding_backward(gpu(g), gpu(repeated), 50),
                    ops::embedding_backward(g, repeated, 50), "embedding_backward");
    const Tensor a = random_tensor({4, 6, 5}, dtype, 83);
    const Tensor index = Tensor::from_vector(std::vector<int64_t>{5, 0, 5, 2}, {4}, DType::i64);
    check_identical(ops::index_select(gpu(a), 1, gpu(index)), ops::index_select(a, 1, index),
                    "index_select");
    const Tensor src = random_tensor({4, 4, 5}, dtype, 84);
    check_identical(ops::index_add({4, 6, 5}, 1, gpu(index), gpu(src)),
                    ops::index_add({4, 6, 5}, 1, index, src), "index_add");
    const Tensor gather_index = random_ints({4, 3, 5}, DType::i64, 0, 6, 85);
    check_identical(ops::gather(gpu(a), 1, gpu(gather_index)), ops::gather(a, 1, gather_index),
                    "gather");
    const Tensor scatter_src = random_tensor({4, 3, 5}, dtype, 86);
    check_identical(ops::scatter_add({4, 6, 5}, 1, gpu(gather_index), gpu(scatter_src)),
                    ops::scatter_add({4, 6, 5}, 1, gather_index, scatter_src), "scatter_add");
    const Tensor b = random_tensor({4, 2, 5}, dtype, 87);
    check_identical(ops::concat({gpu(a), gpu(b)}, 1), ops::concat({a, b}, 1), "concat");
    check_identical(ops::stack({gpu(b), gpu(b)}, 0), ops::stack({b, b}, 0), "stack");
  }
  const Tensor weight = random_tensor({10, 4}, DType::f32, 88);
  const Tensor bad = Tensor::from_vector(std::vector<int64_t>{1, 10}, {2}, DType::i64);
  CHECK_THROWS_WITH_AS(ops::embedding(gpu(weight), gpu(bad)),
                       doctest::Contains("id 10 at position 1 is outside [0, 10)"), Error);
}

TEST_CASE("dropout: the GPU drops exactly the CPU's elements") {
  for (uint64_t offset : {0ull, 1ull, 3ull, 1000003ull}) {
    for (int64_t n : {1, 5, 4096, 100003}) {
      CAPTURE(offset);
      CAPTURE(n);
      const double p = 0.1;
      const uint64_t seed = 0x5eed0123456789ull;
#ifdef T5ZERO_CUDA
      check_identical(cuda::dropout_mask({n}, p, seed, offset, kGpu),
                      ops::dropout_mask({n}, p, seed, offset), "mask");
#endif
      for (DType dtype : kFloating) {
        const Tensor x = random_tensor({n}, dtype, 90);
        check_identical(ops::dropout(gpu(x), p, seed, offset), ops::dropout(x, p, seed, offset),
                        std::string("dropout ") + dtype_name(dtype));
      }
    }
  }
  const Tensor x = random_tensor({3, 4}, DType::f32, 91);
  check_identical(ops::dropout(gpu(x), 0.0, 1, 0), x, "p = 0");
  check_identical(ops::dropout(gpu(x), 1.0, 1, 0), ops::dropout(x, 1.0, 1, 0), "p = 1");
}

#ifdef T5ZERO_CUDA

TEST_CASE("fused RMSNorm: forward, residual add, saved 1/rms, backward with residual gradient") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor residual = random_tensor({3, 4, 256}, dtype, 100);
    const Tensor x = random_tensor({3, 4, 256}, dtype, 101);
    const Tensor w = random_tensor({256}, dtype, 102, 0.3, 1.0);
    const Tensor g = random_tensor({3, 4, 256}, dtype, 103);
    const Tensor gr = random_tensor({3, 4, 256}, dtype, 104);
    const cuda::RmsNormForward plain = cuda::rms_norm_forward(gpu(x), gpu(w), 1e-6);
    check_close(plain.y, ops::rms_norm(x, w, 1e-6), tol, "rms_norm_forward");
    REQUIRE(plain.inv_rms.shape() == Shape{12});
    const Tensor s = ops::add(residual, x);
    const cuda::RmsNormForward fused =
        cuda::add_rms_norm_forward(gpu(residual), gpu(x), gpu(w), 1e-6);
    check_identical(fused.sum, s, "residual sum");
    check_close(fused.y, ops::rms_norm(s, w, 1e-6), tol, "add_rms_norm_forward");
    const ops::RmsNormGrads reference = ops::rms_norm_backward(g, s, w, 1e-6);
    const ops::RmsNormGrads grads =
        cuda::rms_norm_backward_fused(gpu(g), fused.sum, gpu(w), fused.inv_rms, gpu(gr));
    check_close(grads.x, ops::add(reference.x, gr), tol, "dx + residual gradient");
    check_close(grads.weight, reference.weight, 4 * tol, "dw");
  }
}

TEST_CASE("fused gated gelu equals gelu_new(h0) * h1 and its composed backward") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor h0 = random_tensor({4, 33, 64}, dtype, 110, 2.0);
    const Tensor h1 = random_tensor({4, 33, 64}, dtype, 111);
    const Tensor g = random_tensor({4, 33, 64}, dtype, 112);
    const Tensor activated = ops::gelu_new(h0);
    check_close(cuda::gated_gelu_forward(gpu(h0), gpu(h1)), ops::mul(activated, h1), tol,
                "forward");
    const cuda::GatedGeluGrads grads = cuda::gated_gelu_backward(gpu(g), gpu(h0), gpu(h1));
    check_close(grads.h1, ops::mul(g, activated), tol, "dh1");
    check_close(grads.h0, ops::gelu_new_backward(ops::mul(g, h1), h0), tol, "dh0");
  }
}

TEST_CASE("fused attention softmax with bias, mask and dropout; backward; bucket gradient") {
  const int64_t B = 2, H = 3, Tq = 9, Tk = 11, buckets = 32;
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor scores = random_tensor({B, H, Tq, Tk}, dtype, 120, 3.0);
    const Tensor bias = random_tensor({1, H, Tq, Tk}, dtype, 121);
    // The additive mask of HF's invert_attention_mask: finfo(dtype).min on padded keys.
    const double min = dtype == DType::bf16  ? -3.3895313892515355e38
                       : dtype == DType::f32 ? -3.4028234663852886e38
                                             : -1.7976931348623157e308;
    std::vector<double> mask_values(B * Tk, 0.0);
    for (int64_t k = 8; k < Tk; ++k) mask_values[1 * Tk + k] = min;  // batch 1 has 3 pads
    const Tensor mask = Tensor::from_vector(mask_values, {B, 1, 1, Tk}, dtype);
    for (double p : {0.0, 0.2}) {
      CAPTURE(p);
      const uint64_t seed = 77, offset = 1234;
      const Tensor probs = ops::softmax(ops::add(scores, ops::add(bias, mask)));
      const Tensor dropped = p > 0 ? ops::dropout(probs, p, seed, offset) : probs;
      const cuda::AttentionProbs fused =
          cuda::attention_softmax_forward(gpu(scores), gpu(bias), gpu(mask), p, seed, offset);
      check_close(fused.probs, probs, tol, "probs");
      check_close(fused.dropped, dropped, tol, "dropped");
      const Tensor g = random_tensor({B, H, Tq, Tk}, dtype, 122);
      const Tensor g_through = p > 0 ? ops::dropout(g, p, seed, offset) : g;
      const Tensor d_scores = ops::softmax_backward(g_through, probs);
      const Tensor fused_d = cuda::attention_softmax_backward(gpu(g), fused.probs, p, seed, offset);
      check_close(fused_d, d_scores, tol, "d_scores");
      // The relative bias table's gradient: the CPU composition sums over the batch, permutes
      // [H, Tq, Tk] to [Tq, Tk, H] and runs embedding_backward over the bucket table.
      const Tensor table = relative_position_buckets(Tq, Tk, true, buckets, 128);
      const Tensor per_position = ops::sum(d_scores, {0}).permute({1, 2, 0}).contiguous();
      const Tensor reference = ops::embedding_backward(per_position, table, buckets);
      check_close(cuda::relative_position_bias_grad(fused_d, table, buckets), reference,
                  dtype == DType::bf16 ? 3e-2 : 10 * tol, "bias table gradient");
    }
  }
}

TEST_CASE("fused cross-entropy keeps the row log-sum-exp; in-place backward") {
  for (DType dtype : kFloating) {
    CAPTURE(std::string(dtype_name(dtype)));
    const double tol = tolerance(dtype);
    const Tensor logits = random_tensor({7, 3001}, dtype, 130, 2.0);
    const Tensor targets =
        Tensor::from_vector(std::vector<int64_t>{5, -100, 3000, 0, 42, 7, -100}, {7}, DType::i64);
    const cuda::CrossEntropyForward forward =
        cuda::cross_entropy_forward(gpu(logits), gpu(targets), -100);
    CHECK(forward.kept == 5);
    check_close(forward.loss, ops::cross_entropy(logits, targets), tol, "loss");
    const Tensor grad = Tensor::from_vector(std::vector<double>{1.0}, {}, dtype);
    const Tensor reference = ops::cross_entropy_backward(grad, logits, targets);
    check_close(
        cuda::cross_entropy_backward_fused(gpu(grad), gpu(logits), gpu(targets), forward, -100),
        reference, tol, "dlogits");
    Tensor scratch = gpu(logits);
    const Tensor in_place =
        cuda::cross_entropy_backward_fused(gpu(grad), scratch, gpu(targets), forward, -100, true);
    CHECK(in_place.shares_storage(scratch));
    check_close(in_place, reference, tol, "dlogits in place");
  }
}

TEST_CASE("fused AdamW equals optim's CPU AdamW to the last ulp (true FMA vs emulated)") {
  const int64_t n = 100003;
  for (double beta1 : {0.9, 0.3}) {
    CAPTURE(beta1);
    AdamWHyperparams h;
    h.lr = 3e-4;
    h.beta1 = beta1;
    h.weight_decay = 0.01;
    const Tensor params = random_tensor({n}, DType::f32, 140);
    const Tensor grads = random_tensor({n}, DType::f32, 141, 0.1);
    const Tensor m = random_tensor({n}, DType::f32, 142, 0.01);
    const Tensor v = ops::mul(random_tensor({n}, DType::f32, 143, 0.01),
                              random_tensor({n}, DType::f32, 143, 0.01));
    Tensor cp = params.clone(), cm = m.clone(), cv = v.clone();
    Tensor cb = Tensor::zeros({n}, DType::bf16);
    Tensor gp = gpu(params), gg = gpu(grads), gm = gpu(m), gv = gpu(v);
    Tensor gb = Tensor::zeros({n}, DType::bf16, kGpu);
    for (int64_t step = 1; step <= 3; ++step) {
      const AdamWStepScalars s = adamw_step_scalars(h, step);
      adamw_update(AdamWSpan{cp.data<float>(), grads.data<float>(), cm.data<float>(),
                             cv.data<float>(), n, cb.data<bf16>()},
                   s);
      cuda::adamw_update(
          cuda::AdamWDeviceSpan{
              static_cast<float*>(gp.data_ptr()), static_cast<const float*>(gg.data_ptr()),
              static_cast<float*>(gm.data_ptr()), static_cast<float*>(gv.data_ptr()), n,
              static_cast<bf16*>(gb.data_ptr())},
          cuda::AdamWDeviceScalars{s.decay_factor, s.one_minus_beta1, s.beta2, s.one_minus_beta2,
                                   s.bias_correction2_sqrt, s.eps, s.neg_step_size},
          0);
    }
    // Within one ulp everywhere, and bit-identical almost everywhere.
    const std::vector<float> a = gp.to_vector<float>(), b = cp.to_vector<float>();
    int64_t differing = 0;
    for (int64_t i = 0; i < n; ++i) {
      if (a[i] == b[i]) continue;
      ++differing;
      CHECK(std::fabs(a[i] - b[i]) <= std::fabs(b[i]) * 1.2e-7f);
    }
    CHECK(differing <= n / 1000);
    check_close(gm, cm, 1e-6, "exp_avg");
    check_close(gv, cv, 1e-6, "exp_avg_sq");
    check_close(gb, cb, 8e-3, "bf16 copy");
  }
}

#endif  // T5ZERO_CUDA
