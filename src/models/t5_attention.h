// T5 attention (T5Attention) and the two sublayers built on it: self-attention (layer.0 of every
// block) and cross-attention (layer.1 of a decoder block).
//
// As HF T5: scores are q·kᵀ with no 1/sqrt(d_kv) scaling; the position bias — block 0's learned
// relative bias plus the additive mask, or just the mask — is computed once per stack and added
// in every layer; softmax statistics in f32; dropout on the probabilities.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "autograd/variable.h"
#include "io/t5_config.h"
#include "models/dropout_site.h"
#include "models/kv_cache.h"
#include "models/parameter_store.h"
#include "models/t5_layers.h"

namespace t5zero::models {

class T5Attention {
 public:
  // Keys and values split into heads, [B, num_heads, k_len, d_kv]. Cross-attention computes them
  // once from the encoder output; a decoding cache can hold and extend them.
  struct KeyValue {
    autograd::Variable key;
    autograd::Variable value;
  };

  T5Attention() = default;
  // prefix: e.g. "decoder.block.0.layer.0.SelfAttention"; the relative bias table exists only
  // in block 0's self-attention (has_relative_attention_bias).
  T5Attention(ParameterStore& store, const std::string& prefix, const T5Config& config,
              bool is_decoder, bool has_relative_attention_bias);

  // The learned bias [1, num_heads, q_len, k_len] for queries at positions
  // query_offset..query_offset+q_len-1 against keys 0..k_len-1; bidirectional buckets in the
  // encoder, causal in the decoder.
  autograd::Variable relative_position_bias(const ParameterStore& store, int64_t q_len,
                                            int64_t k_len, int64_t query_offset = 0) const;
  KeyValue project_key_value(const ParameterStore& store, const autograd::Variable& source) const;
  // o(dropout(softmax(q(hidden)·kᵀ + position_bias))·v) for hidden [B, q_len, d_model] and a
  // position bias broadcastable to [B, num_heads, q_len, k_len].
  autograd::Variable attend(const ParameterStore& store, const autograd::Variable& hidden,
                            const KeyValue& kv, const autograd::Variable& position_bias,
                            const DropoutContext& dropout) const;

  // q, k, v, o (the projections; not the relative bias table).
  std::vector<ParamId> projections() const { return {q_, k_, v_, o_}; }
  bool has_relative_attention_bias() const { return relative_attention_bias_.valid(); }
  ParamId relative_attention_bias() const { return relative_attention_bias_; }

 private:
  autograd::Variable split_heads(const autograd::Variable& x) const;

  int64_t num_heads_ = 0;
  int64_t d_kv_ = 0;
  bool is_decoder_ = false;
  int64_t num_buckets_ = 0;
  int64_t max_distance_ = 0;
  ParamId q_, k_, v_, o_;
  ParamId relative_attention_bias_;  // invalid unless block 0's self-attention
  DropoutSite dropout_;
};

// T5LayerSelfAttention: hidden + dropout(SelfAttention(layer_norm(hidden))).
class T5LayerSelfAttention {
 public:
  T5LayerSelfAttention() = default;
  T5LayerSelfAttention(ParameterStore& store, const std::string& prefix, const T5Config& config,
                       bool is_decoder, bool has_relative_attention_bias);
  // With a cache (incremental decoding, no gradients): hidden holds only the new positions;
  // their keys and values are appended to the cache and the queries attend to all cached ones.
  autograd::Variable forward(ParameterStore& store, const autograd::Variable& hidden,
                             const autograd::Variable& position_bias, const DropoutContext& dropout,
                             KeyValueCache* cache = nullptr) const;
  const T5Attention& attention() const { return attention_; }

 private:
  T5Attention attention_;  // registered before layer_norm_, in the order of HF's state dict
  T5LayerNorm layer_norm_;
  DropoutSite dropout_;
};

// T5LayerCrossAttention: hidden + dropout(EncDecAttention(layer_norm(hidden), encoder_hidden)).
class T5LayerCrossAttention {
 public:
  T5LayerCrossAttention() = default;
  T5LayerCrossAttention(ParameterStore& store, const std::string& prefix, const T5Config& config);
  // With `memory` (incremental decoding), the keys and values of encoder_hidden come from it and
  // encoder_hidden is not read.
  autograd::Variable forward(ParameterStore& store, const autograd::Variable& hidden,
                             const autograd::Variable& encoder_hidden,
                             const autograd::Variable& position_bias, const DropoutContext& dropout,
                             const KeyValueCache* memory = nullptr) const;
  // The keys and values of encoder_hidden [B, S, d_model], for every decoding step to reuse.
  KeyValueCache project_memory(ParameterStore& store,
                               const autograd::Variable& encoder_hidden) const;

 private:
  T5Attention attention_;  // registered before layer_norm_, in the order of HF's state dict
  T5LayerNorm layer_norm_;
  DropoutSite dropout_;
};

}  // namespace t5zero::models
