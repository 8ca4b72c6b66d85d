// T5's relative position buckets (HF T5Attention._relative_position_bucket, from Mesh-TF): the
// index into the learned relative attention bias for a key at distance `relative_position` =
// key position − query position.
#pragma once

#include <cstdint>

#include "tensor/tensor.h"

namespace t5zero {

// The bucket of one relative position. Bidirectional (encoder): half the buckets for keys after
// the query; causal (decoder): keys after the query share bucket 0. Distances below
// num_buckets/2 (of the half used) get their own bucket, larger ones log-spaced buckets up to
// max_distance, beyond which all share the last bucket.
int relative_position_bucket(int64_t relative_position, bool bidirectional, int num_buckets,
                             int max_distance);

// i64 [query_length, key_length]: bucket of key_pos − (query_offset + query_index). query_offset
// is the absolute position of the first query (the cache position in incremental decoding).
Tensor relative_position_buckets(int64_t query_length, int64_t key_length, bool bidirectional,
                                 int num_buckets, int max_distance, int64_t query_offset = 0);

}  // namespace t5zero
