#include "tensor/relative_position.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace t5zero {

namespace {

// The exact-bucket count for a half (bidirectional) or the whole (causal) bucket range.
int max_exact_of(bool bidirectional, int num_buckets) {
  return (bidirectional ? num_buckets / 2 : num_buckets) / 2;
}

void check_bucket_config(bool bidirectional, int num_buckets, int max_distance) {
  const int max_exact = max_exact_of(bidirectional, num_buckets);
  T5_CHECK(max_exact >= 1, "relative_position_bucket: num_buckets = ", num_buckets,
           " leaves no exact buckets (need at least ", bidirectional ? 4 : 2, ")");
  T5_CHECK(max_distance > max_exact, "relative_position_bucket: max_distance = ", max_distance,
           " must exceed the exact range ", max_exact);
}

}  // namespace

int relative_position_bucket(int64_t relative_position, bool bidirectional, int num_buckets,
                             int max_distance) {
  check_bucket_config(bidirectional, num_buckets, max_distance);
  int bucket = 0;
  int64_t n = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) bucket += num_buckets;
    n = relative_position < 0 ? -relative_position : relative_position;
  } else {
    n = relative_position < 0 ? -relative_position : 0;
  }
  const int max_exact = num_buckets / 2;
  // No log for small n: log(0) would be −inf.
  if (n < max_exact) return bucket + static_cast<int>(n);
  // As HF, step by step in fp32: n.float() / max_exact, torch.log, division by the Python double
  // math.log(max_distance / max_exact) (rounded to fp32 as torch does for a wrapped scalar),
  // times (num_buckets − max_exact), then .to(long) truncates. At n = 16, 32 and 64
  // (bidirectional) the product is an exact integer, so these steps must not be reordered or
  // fused: an ulp less would drop a bucket.
  const float ratio = static_cast<float>(n) / static_cast<float>(max_exact);
  const float log_ratio = std::log(ratio);
  const float log_range =
      static_cast<float>(std::log(static_cast<double>(max_distance) / max_exact));
  const float scaled = log_ratio / log_range * static_cast<float>(num_buckets - max_exact);
  const int64_t large = max_exact + static_cast<int64_t>(scaled);
  return bucket + static_cast<int>(std::min<int64_t>(large, num_buckets - 1));
}

Tensor relative_position_buckets(int64_t query_length, int64_t key_length, bool bidirectional,
                                 int num_buckets, int max_distance, int64_t query_offset) {
  T5_CHECK(query_length >= 0 && key_length >= 0 && query_offset >= 0,
           "relative_position_buckets: lengths and offset must be >= 0, got query_length ",
           query_length, ", key_length ", key_length, ", query_offset ", query_offset);
  check_bucket_config(bidirectional, num_buckets, max_distance);
  Tensor out = Tensor::zeros({query_length, key_length}, DType::i64);
  if (out.numel() == 0) return out;
  // rel = k − (offset + q) takes each value in [lowest, highest]; bucket each value once.
  const int64_t lowest = -(query_offset + query_length - 1);
  const int64_t highest = key_length - 1 - query_offset;
  std::vector<int64_t> bucket_of(static_cast<size_t>(highest - lowest + 1));
  for (int64_t rel = lowest; rel <= highest; ++rel) {
    bucket_of[rel - lowest] =
        relative_position_bucket(rel, bidirectional, num_buckets, max_distance);
  }
  int64_t* p = out.data<int64_t>();
  for (int64_t q = 0; q < query_length; ++q) {
    for (int64_t k = 0; k < key_length; ++k) {
      p[q * key_length + k] = bucket_of[k - (query_offset + q) - lowest];
    }
  }
  return out;
}

}  // namespace t5zero
