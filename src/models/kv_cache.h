// The decoder's cache for incremental decoding: per block, the self-attention keys and values of
// every position decoded so far, and the cross-attention keys and values of the encoder output.
//
// As transformers' past_key_values for T5: each step feeds only the new token; its self-attention
// keys and values are appended, the cross-attention ones were computed once from the encoder
// output; beam search reorders the rows so each beam continues from its parent's cache.
// Unlike transformers, which concatenates a new tensor every step, the buffers are allocated with
// room for the longest sequence, so a step writes one position and copies nothing else.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace t5zero::models {

// Keys and values [rows, heads, length, d_kv] of one attention layer, in buffers with room for
// `capacity` positions.
class KeyValueCache {
 public:
  KeyValueCache() = default;
  // Empty; the buffers take the rows, heads, d_kv, dtype and device of the first append.
  explicit KeyValueCache(int64_t capacity);

  int64_t length() const { return length_; }
  int64_t capacity() const { return capacity_; }

  // Writes keys and values [rows, heads, n, d_kv] at positions length() .. length() + n − 1.
  void append(const Tensor& keys, const Tensor& values);
  // Views of positions 0 .. length() − 1 (no copy).
  Tensor keys() const;
  Tensor values() const;
  // Row i becomes old row rows[i] (i64 indices, on any device); the row count becomes
  // rows.numel().
  void select_rows(const Tensor& rows);

 private:
  int64_t capacity_ = 0;
  int64_t length_ = 0;
  Tensor keys_;    // [rows, heads, capacity, d_kv] once the first append has sized it
  Tensor values_;  // [rows, heads, capacity, d_kv]
};

// The caches of one decoder block.
struct DecoderBlockCache {
  KeyValueCache self_attention;   // grows by one position per step
  KeyValueCache cross_attention;  // the encoder output's keys and values, filled once
};

struct DecoderCache {
  std::vector<DecoderBlockCache> blocks;
  // The cross-attention mask bias [rows, 1, 1, source_length] (0 attended, finfo.min padding).
  Tensor cross_attention_bias;

  int64_t rows() const { return cross_attention_bias.defined() ? cross_attention_bias.size(0) : 0; }
  // Decoder positions cached so far (the position of the next token fed).
  int64_t length() const { return blocks.empty() ? 0 : blocks.front().self_attention.length(); }
  // Row i continues old row rows[i] (dropping finished rows, expanding inputs to beams).
  void select_rows(const Tensor& rows);
  // Beam search's reorder: row i continues the self-attention of old row rows[i], which must be
  // a beam of the same input. Beams of one input share the encoder output, so the
  // cross-attention keys and values stay where they are instead of being copied every step.
  void reorder_beams(const Tensor& rows);
};

}  // namespace t5zero::models
