// T5 attention probabilities on the GPU: scores + position bias (+ mask) → softmax → dropout in
// one kernel, its backward in one kernel, and the relative-position-bias gradient reduced into
// the bucket table without atomics. This is the unfused-attention path (the scores are
// materialized by cuBLASLt); fused.h states the composition of catalogue ops each one equals.
#include <algorithm>
#include <array>
#include <vector>

#include "tensor/cuda/dropout.cuh"
#include "tensor/cuda/fused.h"
#include "tensor/cuda/kernel_common.cuh"

namespace t5zero::cuda {

namespace {

// A [B, H, Tq, Tk] operand through its own (broadcast) strides.
struct Strides4 {
  int64_t s[4] = {0, 0, 0, 0};
};

Strides4 strides_of(const Tensor& t) {
  Strides4 st;
  for (int d = 0; d < 4; ++d) st.s[d] = t.stride(d);
  return st;
}

struct RowIndex {
  int64_t b, h, q;
};

__device__ __forceinline__ RowIndex row_index(int64_t row, int64_t heads, int64_t queries) {
  RowIndex r;
  r.q = row % queries;
  r.h = (row / queries) % heads;
  r.b = row / (queries * heads);
  return r;
}

__device__ __forceinline__ int64_t row_offset(const Strides4& st, const RowIndex& r) {
  return r.b * st.s[0] + r.h * st.s[1] + r.q * st.s[2];
}

// x_j = round(score_j + round(bias_j + mask_j)) for one row; mask may be absent.
template <typename T>
struct RowInput {
  const T* scores;
  const T* bias;
  const T* mask;
  int64_t bias_step, mask_step;
  __device__ __forceinline__ compute_t<T> operator()(int64_t j) const {
    T position_bias = bias[j * bias_step];
    if (mask != nullptr) {
      position_bias = store_value<T>(load_value(position_bias) + load_value(mask[j * mask_step]));
    }
    return load_value(store_value<T>(load_value(scores[j]) + load_value(position_bias)));
  }
};

template <typename T>
__global__ void attention_softmax_forward_kernel(const T* scores, const T* bias, Strides4 bias_st,
                                                 const T* mask, Strides4 mask_st, int64_t rows,
                                                 int64_t heads, int64_t queries, int64_t keys,
                                                 double p, uint64_t seed, uint64_t offset,
                                                 compute_t<T> scale, T* probs, T* dropped) {
  using C = compute_t<T>;
  __shared__ C scratch[32];
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const RowIndex r = row_index(row, heads, queries);
    const RowInput<T> x{scores + row * keys, bias + row_offset(bias_st, r),
                        mask != nullptr ? mask + row_offset(mask_st, r) : nullptr, bias_st.s[3],
                        mask_st.s[3]};
    C max = -::cuda::std::numeric_limits<C>::infinity();
    for (int64_t j = threadIdx.x; j < keys; j += blockDim.x) {
      const C v = x(j);
      max = v > max ? v : max;
    }
    max = block_max(max, scratch);
    C sum = 0;
    for (int64_t j = threadIdx.x; j < keys; j += blockDim.x) sum += ::exp(x(j) - max);
    sum = block_sum(sum, scratch);
    const C inv = C(1) / sum;
    T* pr = probs + row * keys;
    T* dr = dropped + row * keys;
    for (int64_t j = threadIdx.x; j < keys; j += blockDim.x) {
      const T y = store_value<T>(::exp(x(j) - max) * inv);
      pr[j] = y;
      if (p > 0) {
        const uint64_t element = offset + static_cast<uint64_t>(row * keys + j);
        dr[j] = dropped_at(seed, element, p) ? store_value<T>(C(0))
                                             : store_value<T>(load_value(y) * scale);
      }
    }
  }
}

template <typename T>
__global__ void attention_softmax_backward_kernel(const T* grad, const T* probs, int64_t rows,
                                                  int64_t keys, double p, uint64_t seed,
                                                  uint64_t offset, compute_t<T> scale, T* d) {
  using C = compute_t<T>;
  __shared__ C scratch[32];
  // g'_j: the gradient through dropout (ops::dropout of the gradient), rounded to T.
  auto grad_in = [&](int64_t row, int64_t j) -> C {
    const C g = load_value(grad[row * keys + j]);
    if (p == 0) return g;
    const uint64_t element = offset + static_cast<uint64_t>(row * keys + j);
    return dropped_at(seed, element, p) ? C(0) : load_value(store_value<T>(g * scale));
  };
  for (int64_t row = blockIdx.x; row < rows; row += gridDim.x) {
    const T* yr = probs + row * keys;
    C dot = 0;
    for (int64_t j = threadIdx.x; j < keys; j += blockDim.x)
      dot += grad_in(row, j) * load_value(yr[j]);
    dot = block_sum(dot, scratch);
    for (int64_t j = threadIdx.x; j < keys; j += blockDim.x) {
      d[row * keys + j] = store_value<T>(load_value(yr[j]) * (grad_in(row, j) - dot));
    }
  }
}

// Block (k, h): Σ over the positions of bucket k (in increasing position) and over the batch of
// d_scores[b, h, position], each thread a fixed stride of positions, then a fixed tree.
constexpr int kBucketThreads = 256;

template <typename T>
__global__ void bucket_grad_kernel(const T* d_scores, const int64_t* start, const int64_t* position,
                                   int64_t batch, int64_t heads, int64_t plane, T* out) {
  __shared__ double scratch[32];
  const int64_t k = blockIdx.x, h = blockIdx.y;
  double acc = 0;
  for (int64_t i = start[k] + threadIdx.x; i < start[k + 1]; i += kBucketThreads) {
    const int64_t pos = position[i];
    for (int64_t b = 0; b < batch; ++b) {
      acc += static_cast<double>(load_value(d_scores[(b * heads + h) * plane + pos]));
    }
  }
  acc = block_sum(acc, scratch);
  if (threadIdx.x == 0) out[k * heads + h] = store_value<T>(acc);
}

unsigned row_blocks(int64_t rows) {
  return static_cast<unsigned>(std::min<int64_t>(std::max<int64_t>(rows, 1), 1 << 20));
}

void check_probability(const char* op, double p) {
  T5_CHECK(p >= 0.0 && p < 1.0, op, ": p must lie in [0, 1), got ", p);
}

// `t` expanded to `shape`, checked to be a floating T on the scores' device.
Tensor broadcast_operand(const char* op, const char* name, const Tensor& t, const Tensor& scores) {
  T5_CHECK(t.dtype() == scores.dtype() && t.device() == scores.device(), op, ": ", name, " is ",
           dtype_name(t.dtype()), " on ", t.device().str(), ", scores ", dtype_name(scores.dtype()),
           " on ", scores.device().str());
  T5_CHECK(t.dim() <= 4, op, ": ", name, " ", shape_str(t.shape()), " has more than 4 dims");
  try {
    T5_CHECK(broadcast_shapes(t.shape(), scores.shape()) == scores.shape(), op, ": ", name, " ",
             shape_str(t.shape()), " does not broadcast to the scores ", shape_str(scores.shape()));
  } catch (const Error&) {
    fail(op, ": ", name, " ", shape_str(t.shape()), " does not broadcast to the scores ",
         shape_str(scores.shape()));
  }
  return t.expand(scores.shape());
}

}  // namespace

AttentionProbs attention_softmax_forward(const Tensor& scores_in, const Tensor& bias_in,
                                         const Tensor& mask_in, double p, uint64_t seed,
                                         uint64_t offset) {
  const char* op = "attention_softmax_forward";
  gpu_of(op, scores_in);
  check_probability(op, p);
  T5_CHECK(scores_in.dim() == 4, op, ": scores must be [B, H, Tq, Tk], got ",
           shape_str(scores_in.shape()));
  T5_CHECK(is_floating(scores_in.dtype()), op, ": scores must be floating, got ",
           dtype_name(scores_in.dtype()));
  const Tensor scores = scores_in.contiguous();
  const Tensor bias = broadcast_operand(op, "bias", bias_in, scores);
  const Tensor mask = mask_in.defined() ? broadcast_operand(op, "mask", mask_in, scores) : Tensor();
  AttentionProbs out;
  out.probs = Tensor::empty(scores.shape(), scores.dtype(), scores.device());
  out.dropped = p > 0 ? Tensor::empty(scores.shape(), scores.dtype(), scores.device()) : out.probs;
  const int64_t heads = scores.size(1), queries = scores.size(2), keys = scores.size(3);
  const int64_t rows = keys == 0 ? 0 : scores.numel() / keys;
  if (rows == 0) return out;
  DeviceGuard guard(scores.device());
  T5_DISPATCH_FLOATING(scores.dtype(), op, [&] {
    using C = compute_t<scalar_t>;
    attention_softmax_forward_kernel<scalar_t>
        <<<row_blocks(rows), row_threads(keys), 0, stream_of(scores)>>>(
            static_cast<const scalar_t*>(scores.data_ptr()),
            static_cast<const scalar_t*>(bias.data_ptr()), strides_of(bias),
            mask.defined() ? static_cast<const scalar_t*>(mask.data_ptr()) : nullptr,
            mask.defined() ? strides_of(mask) : Strides4{}, rows, heads, queries, keys, p, seed,
            offset, static_cast<C>(1.0 / (1.0 - p)), static_cast<scalar_t*>(out.probs.data_ptr()),
            static_cast<scalar_t*>(out.dropped.data_ptr()));
  });
  T5_CUDA_CHECK_LAUNCH(op);
  return out;
}

Tensor attention_softmax_backward(const Tensor& grad_dropped, const Tensor& probs_in, double p,
                                  uint64_t seed, uint64_t offset) {
  const char* op = "attention_softmax_backward";
  gpu_of(op, probs_in);
  check_probability(op, p);
  T5_CHECK(probs_in.dim() == 4 && is_floating(probs_in.dtype()), op,
           ": probs must be floating [B, H, Tq, Tk], got ", dtype_name(probs_in.dtype()), " ",
           shape_str(probs_in.shape()));
  T5_CHECK(grad_dropped.shape() == probs_in.shape() && grad_dropped.dtype() == probs_in.dtype() &&
               grad_dropped.device() == probs_in.device(),
           op, ": grad ", dtype_name(grad_dropped.dtype()), " ", shape_str(grad_dropped.shape()),
           " does not match probs ", dtype_name(probs_in.dtype()), " ",
           shape_str(probs_in.shape()));
  const Tensor probs = probs_in.contiguous(), grad = grad_dropped.contiguous();
  Tensor d = Tensor::empty(probs.shape(), probs.dtype(), probs.device());
  const int64_t keys = probs.size(3);
  const int64_t rows = keys == 0 ? 0 : probs.numel() / keys;
  if (rows == 0) return d;
  DeviceGuard guard(probs.device());
  T5_DISPATCH_FLOATING(probs.dtype(), op, [&] {
    using C = compute_t<scalar_t>;
    attention_softmax_backward_kernel<scalar_t>
        <<<row_blocks(rows), row_threads(keys), 0, stream_of(probs)>>>(
            static_cast<const scalar_t*>(grad.data_ptr()),
            static_cast<const scalar_t*>(probs.data_ptr()), rows, keys, p, seed, offset,
            static_cast<C>(1.0 / (1.0 - p)), static_cast<scalar_t*>(d.data_ptr()));
  });
  T5_CUDA_CHECK_LAUNCH(op);
  return d;
}

Tensor relative_position_bias_grad(const Tensor& d_scores_in, const Tensor& buckets,
                                   int64_t num_buckets) {
  const char* op = "relative_position_bias_grad";
  gpu_of(op, d_scores_in);
  T5_CHECK(d_scores_in.dim() == 4 && is_floating(d_scores_in.dtype()), op,
           ": d_scores must be floating [B, H, Tq, Tk], got ", dtype_name(d_scores_in.dtype()), " ",
           shape_str(d_scores_in.shape()));
  const int64_t batch = d_scores_in.size(0), heads = d_scores_in.size(1);
  const int64_t queries = d_scores_in.size(2), keys = d_scores_in.size(3);
  T5_CHECK(buckets.dim() == 2 && buckets.size(0) == queries && buckets.size(1) == keys, op,
           ": buckets must be [", queries, ", ", keys, "], got ", shape_str(buckets.shape()));
  T5_CHECK(buckets.dtype() == DType::i32 || buckets.dtype() == DType::i64, op,
           ": buckets must be i32 or i64, got ", dtype_name(buckets.dtype()));
  T5_CHECK(num_buckets > 0, op, ": num_buckets must be positive, got ", num_buckets);
  // Positions grouped by bucket, in increasing position (a counting sort on the host).
  const std::vector<int64_t> bucket = buckets.to_vector<int64_t>();
  std::vector<int64_t> start(static_cast<size_t>(num_buckets) + 1, 0);
  for (size_t i = 0; i < bucket.size(); ++i) {
    T5_CHECK(bucket[i] >= 0 && bucket[i] < num_buckets, op, ": bucket ", bucket[i], " at position ",
             i, " is outside [0, ", num_buckets, ")");
    ++start[bucket[i] + 1];
  }
  for (int64_t k = 0; k < num_buckets; ++k) start[k + 1] += start[k];
  std::vector<int64_t> position(bucket.size());
  std::vector<int64_t> next(start.begin(), start.end() - 1);
  for (size_t i = 0; i < bucket.size(); ++i) position[next[bucket[i]]++] = static_cast<int64_t>(i);

  const Tensor d_scores = d_scores_in.contiguous();
  Tensor out = Tensor::empty({num_buckets, heads}, d_scores.dtype(), d_scores.device());
  if (heads == 0) return out;
  const Device device = d_scores.device();
  const Tensor start_d =
      Tensor::from_vector(start, {static_cast<int64_t>(start.size())}).to(device);
  const Tensor position_d =
      Tensor::from_vector(position, {static_cast<int64_t>(position.size())}).to(device);
  DeviceGuard guard(device);
  T5_DISPATCH_FLOATING(d_scores.dtype(), op, [&] {
    bucket_grad_kernel<scalar_t>
        <<<dim3(static_cast<unsigned>(num_buckets), static_cast<unsigned>(heads)), kBucketThreads,
           0, stream_of(d_scores)>>>(static_cast<const scalar_t*>(d_scores.data_ptr()),
                                     static_cast<const int64_t*>(start_d.data_ptr()),
                                     static_cast<const int64_t*>(position_d.data_ptr()), batch,
                                     heads, queries * keys, static_cast<scalar_t*>(out.data_ptr()));
  });
  T5_CUDA_CHECK_LAUNCH(op);
  return out;
}

}  // namespace t5zero::cuda
