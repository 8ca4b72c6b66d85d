// The tensor core: views share storage and respect strides, copies convert dtypes, bf16 rounds
// as torch does, and errors say what was expected and what was found.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "tensor/tensor.h"

using namespace t5zero;

namespace {

// [0, 1, 2, ..., n-1] as f32 in the given shape.
Tensor iota(const Shape& shape, DType dtype = DType::f32) {
  std::vector<float> v(static_cast<size_t>(shape_numel(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i);
  return Tensor::from_vector(v, shape, dtype);
}

uint16_t bf16_bits(float f) {
  return to_bf16(f).bits;
}

}  // namespace

TEST_CASE("dtype sizes and names") {
  CHECK(dtype_size(DType::f32) == 4);
  CHECK(dtype_size(DType::f64) == 8);
  CHECK(dtype_size(DType::bf16) == 2);
  CHECK(dtype_size(DType::i32) == 4);
  CHECK(dtype_size(DType::i64) == 8);
  CHECK(dtype_size(DType::u8) == 1);
  CHECK(std::string(dtype_name(DType::f32)) == "f32");
  CHECK(std::string(dtype_name(DType::f64)) == "f64");
  CHECK(std::string(dtype_name(DType::bf16)) == "bf16");
  CHECK(std::string(dtype_name(DType::i32)) == "i32");
  CHECK(std::string(dtype_name(DType::i64)) == "i64");
  CHECK(std::string(dtype_name(DType::u8)) == "u8");
  CHECK(is_floating(DType::bf16));
  CHECK_FALSE(is_floating(DType::i64));
  CHECK_FALSE(is_floating(DType::u8));
}

TEST_CASE("contiguous tensors: shape, strides, element access") {
  Tensor t = iota({2, 3, 4});
  CHECK(t.shape() == Shape{2, 3, 4});
  CHECK(t.strides() == Shape{12, 4, 1});
  CHECK(t.numel() == 24);
  CHECK(t.dim() == 3);
  CHECK(t.is_contiguous());
  CHECK(t.at({1, 2, 3}) == 23);
  CHECK(t.at({1, 0, 2}) == 14);
  CHECK(t.size(-1) == 4);
  CHECK(t.stride(-3) == 12);
  Tensor scalar = Tensor::full({}, 2.5, DType::f64);
  CHECK(scalar.dim() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(scalar.item() == 2.5);
}

TEST_CASE("transpose and permute are views with swapped strides") {
  Tensor t = iota({2, 3, 4});
  Tensor tr = t.transpose(0, 2);
  CHECK(tr.shape() == Shape{4, 3, 2});
  CHECK(tr.strides() == Shape{1, 4, 12});
  CHECK(tr.shares_storage(t));
  CHECK_FALSE(tr.is_contiguous());
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 2; ++k) CHECK(tr.at({i, j, k}) == t.at({k, j, i}));

  Tensor p = t.permute({1, 2, 0});
  CHECK(p.shape() == Shape{3, 4, 2});
  CHECK(p.strides() == Shape{4, 1, 12});
  CHECK(p.at({2, 1, 1}) == t.at({1, 2, 1}));
  // Contiguous copy walks the view in its own row-major order.
  std::vector<float> values = p.contiguous().to_vector<float>();
  CHECK(values.size() == 24);
  CHECK(values[0] == 0);
  CHECK(values[1] == 12);  // p[0, 0, 1] = t[1, 0, 0]
  CHECK(values[2] == 1);   // p[0, 1, 0] = t[0, 0, 1]
}

TEST_CASE("narrow, slice and select offset into the same storage") {
  Tensor t = iota({4, 5});
  Tensor n = t.narrow(1, 2, 3);
  CHECK(n.shape() == Shape{4, 3});
  CHECK(n.offset() == 2);
  CHECK(n.at({3, 0}) == 17);
  CHECK_FALSE(n.is_contiguous());

  Tensor s = t.slice(0, 1, 4, 2);  // rows 1 and 3
  CHECK(s.shape() == Shape{2, 5});
  CHECK(s.strides() == Shape{10, 1});
  CHECK(s.at({1, 4}) == 19);
  Tensor neg = t.slice(1, -2, 5);  // last two columns
  CHECK(neg.shape() == Shape{4, 2});
  CHECK(neg.at({0, 0}) == 3);

  Tensor row = t.select(0, 2);
  CHECK(row.shape() == Shape{5});
  CHECK(row.at({4}) == 14);
  Tensor col = t.select(1, -1);
  CHECK(col.shape() == Shape{4});
  CHECK(col.strides() == Shape{5});
  CHECK(col.at({3}) == 19);
}

TEST_CASE("expand broadcasts with stride 0; unsqueeze and squeeze add and drop size-1 dims") {
  Tensor t = iota({3, 1});
  Tensor e = t.expand({2, 3, 4});
  CHECK(e.shape() == Shape{2, 3, 4});
  CHECK(e.strides() == Shape{0, 1, 0});
  CHECK(e.at({1, 2, 3}) == 2);
  CHECK(e.shares_storage(t));

  Tensor u = iota({2, 3}).unsqueeze(1);
  CHECK(u.shape() == Shape{2, 1, 3});
  CHECK(u.is_contiguous());
  CHECK(u.at({1, 0, 2}) == 5);
  Tensor last = iota({2, 3}).unsqueeze(-1);
  CHECK(last.shape() == Shape{2, 3, 1});
  CHECK(last.squeeze(2).shape() == Shape{2, 3});
  CHECK(u.squeeze(1).at({1, 1}) == 4);
}

TEST_CASE("writes through a view are seen by the base") {
  Tensor t = Tensor::zeros({3, 4});
  t.narrow(1, 1, 2).fill_(7);
  t.select(0, 2).fill_(-1);
  t.transpose(0, 1).select(0, 0).copy_(Tensor::from_vector<float>({5, 6, 8}, {3}));
  std::vector<float> want = {5, 7, 7, 0, 6, 7, 7, 0, 8, -1, -1, -1};
  CHECK(t.to_vector<float>() == want);
  // copy_ broadcasts its source.
  t.narrow(0, 0, 2).copy_(Tensor::from_vector<float>({1, 2, 3, 4}, {4}));
  CHECK(t.to_vector<float>() == std::vector<float>{1, 2, 3, 4, 1, 2, 3, 4, 8, -1, -1, -1});
}

TEST_CASE("contiguous, clone, reshape and view") {
  Tensor t = iota({2, 3});
  CHECK(t.contiguous().shares_storage(t));
  Tensor c = t.clone();
  CHECK_FALSE(c.shares_storage(t));
  c.fill_(0);
  CHECK(t.at({1, 2}) == 5);

  Tensor tr = t.transpose(0, 1);
  Tensor tc = tr.contiguous();
  CHECK_FALSE(tc.shares_storage(t));
  CHECK(tc.is_contiguous());
  CHECK(tc.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});

  Tensor v = t.view({3, -1});
  CHECK(v.shape() == Shape{3, 2});
  CHECK(v.shares_storage(t));
  CHECK(t.reshape({6}).shares_storage(t));
  Tensor r = tr.reshape({6});  // not contiguous: a copy
  CHECK_FALSE(r.shares_storage(t));
  CHECK(r.to_vector<float>() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK_THROWS_WITH_AS(tr.view({6}), "view: tensor of shape [3, 2] is not contiguous; use reshape",
                       Error);
  CHECK_THROWS_WITH_AS(t.view({4, -1}), "view: cannot infer -1 in [4, -1] for 6 elements", Error);
  CHECK_THROWS_WITH_AS(t.view({5}), "view: shape [5] does not hold the 6 elements of [2, 3]",
                       Error);
}

TEST_CASE("to(dtype) converts values and keeps shape") {
  Tensor t = Tensor::from_vector<double>({1.5, -2.25, 3.0, 1e10}, {2, 2});
  Tensor f = t.to(DType::f32);
  CHECK(f.dtype() == DType::f32);
  CHECK(f.shape() == Shape{2, 2});
  CHECK(f.to_vector<float>() == std::vector<float>{1.5f, -2.25f, 3.0f, 1e10f});
  CHECK(t.to(DType::f64).shares_storage(t));
  Tensor i = t.to(DType::i64);
  CHECK(i.to_vector<int64_t>() == std::vector<int64_t>{1, -2, 3, 10000000000});
  // A non-contiguous source converts element by element in view order.
  Tensor b = t.transpose(0, 1).to(DType::bf16);
  CHECK(b.to_vector<float>() == std::vector<float>{1.5f, 3.0f, -2.25f, round_to_bf16(1e10f)});
}

TEST_CASE("bf16 rounds to nearest, ties to even") {
  // bf16 keeps 7 fraction bits: the spacing above 1 is 2^-7.
  const float ulp = std::ldexp(1.0f, -7);
  CHECK(round_to_bf16(1.0f + ulp) == 1.0f + ulp);              // exact
  CHECK(round_to_bf16(1.0f + ulp / 2) == 1.0f);                // tie -> even (1)
  CHECK(round_to_bf16(1.0f + 3 * ulp / 2) == 1.0f + 2 * ulp);  // tie -> even (1+2^-6)
  CHECK(round_to_bf16(1.0f + ulp / 2 + std::ldexp(1.0f, -20)) == 1.0f + ulp);  // above tie: up
  CHECK(round_to_bf16(1.0f + ulp / 2 - std::ldexp(1.0f, -20)) == 1.0f);        // below tie: down
  CHECK(round_to_bf16(-1.0f - ulp / 2) == -1.0f);
  CHECK(bf16_bits(1.0f) == 0x3f80);
  CHECK(bf16_bits(-2.0f) == 0xc000);
  CHECK(round_to_bf16(3.14159265f) == 3.140625f);
}

TEST_CASE("bf16 overflow, NaN, signed zero and subnormals") {
  const float inf = std::numeric_limits<float>::infinity();
  const float largest = bits_float(0x7f7f0000u);  // the largest finite bf16, 3.3895e38
  CHECK(round_to_bf16(largest) == largest);
  CHECK(round_to_bf16(3.4e38f) == inf);
  CHECK(round_to_bf16(std::numeric_limits<float>::max()) == inf);
  CHECK(round_to_bf16(-3.4e38f) == -inf);
  CHECK(round_to_bf16(inf) == inf);
  CHECK(std::isnan(round_to_bf16(std::numeric_limits<float>::quiet_NaN())));
  // A NaN whose payload sits only in the low bits would become inf if simply truncated.
  CHECK(std::isnan(round_to_bf16(bits_float(0x7f800001u))));
  CHECK(std::isnan(round_to_bf16(bits_float(0xff800001u))));
  CHECK(bf16_bits(-0.0f) == 0x8000);
  CHECK(std::signbit(round_to_bf16(-0.0f)));
  // Subnormals: the smallest bf16 subnormal is 2^-133 (bits 0x0001).
  const float tiny = std::ldexp(1.0f, -133);
  CHECK(bf16_bits(tiny) == 0x0001);
  CHECK(round_to_bf16(tiny / 2) == 0.0f);          // tie -> even (0)
  CHECK(round_to_bf16(3 * tiny / 2) == 2 * tiny);  // tie -> even (2^-132)
  CHECK(round_to_bf16(std::ldexp(1.0f, -130)) == std::ldexp(1.0f, -130));
  CHECK(round_to_bf16(std::ldexp(1.0f, -140)) == 0.0f);
  // Tensor conversion uses the same rounding.
  Tensor t =
      Tensor::from_vector<float>({1.0f + std::ldexp(1.0f, -8), 3.4e38f, -0.0f}, {3}, DType::bf16);
  std::vector<float> back = t.to_vector<float>();
  CHECK(back[0] == 1.0f);
  CHECK(back[1] == inf);
  CHECK(std::signbit(back[2]));
}

TEST_CASE("errors name the op, what was expected and what was found") {
  Tensor t = iota({2, 3});
  CHECK_THROWS_WITH_AS(t.narrow(1, 2, 2), "narrow: [2, 4) outside dimension 1 of size 3", Error);
  CHECK_THROWS_WITH_AS(t.select(0, 2), "select: index 2 outside dimension 0 of size 2", Error);
  CHECK_THROWS_WITH_AS(t.transpose(0, 2),
                       "transpose: dimension 2 out of range for a tensor of rank 2", Error);
  CHECK_THROWS_WITH_AS(t.permute({0, 0}), "permute: dimension 0 repeated", Error);
  CHECK_THROWS_WITH_AS(t.permute({0}), "permute: 1 dimensions given for a tensor of rank 2", Error);
  CHECK_THROWS_WITH_AS(t.expand({2, 4}), "expand: cannot expand [2, 3] to [2, 4]", Error);
  CHECK_THROWS_WITH_AS(t.squeeze(0), "squeeze: dimension 0 has size 2, not 1", Error);
  CHECK_THROWS_WITH_AS(t.data<double>(), "tensor data<f64>() on a tensor of dtype f32", Error);
  CHECK_THROWS_WITH_AS(t.item(), "item: tensor of shape [2, 3] has 6 elements, not 1", Error);
  CHECK_THROWS_WITH_AS(t.at({0, 3}), "at: index 3 outside dimension 1 of size 3", Error);
  CHECK_THROWS_WITH_AS(Tensor::from_vector<float>({1, 2, 3}, {2, 2}),
                       "from_vector: 3 values for shape [2, 2]", Error);
  CHECK_THROWS_WITH_AS(broadcast_shapes({2, 3}, {4}), "cannot broadcast shapes [2, 3] and [4]",
                       Error);
}

TEST_CASE("broadcast_shapes and contiguous_strides") {
  CHECK(broadcast_shapes({3, 1, 4}, {2, 1}) == Shape{3, 2, 4});
  CHECK(broadcast_shapes({}, {5}) == Shape{5});
  CHECK(broadcast_shapes({1}, {0}) == Shape{0});
  CHECK(contiguous_strides({2, 0, 3}) == Shape{3, 3, 1});
  CHECK(shape_numel({2, 0, 3}) == 0);
  CHECK(shape_str({}) == "[]");
}
