// T5Stack: the encoder or the decoder — embedding lookup, blocks, final layer norm — and T5Block.
#pragma once

#include <string>
#include <vector>

#include "autograd/variable.h"
#include "io/t5_config.h"
#include "models/dropout_site.h"
#include "models/kv_cache.h"
#include "models/parameter_store.h"
#include "models/t5_attention.h"
#include "models/t5_layers.h"

namespace t5zero::models {

// One block: self-attention, cross-attention (decoder only), feed-forward; pre-norm residuals.
class T5Block {
 public:
  T5Block(ParameterStore& store, const std::string& prefix, const T5Config& config, bool is_decoder,
          bool has_relative_attention_bias);
  // cross_bias and encoder_hidden are used by decoder blocks only. With a cache (incremental
  // decoding), hidden holds the new positions only and encoder_hidden is not read.
  autograd::Variable forward(ParameterStore& store, const autograd::Variable& hidden,
                             const autograd::Variable& self_bias,
                             const autograd::Variable& encoder_hidden,
                             const autograd::Variable& cross_bias, const DropoutContext& dropout,
                             DecoderBlockCache* cache = nullptr) const;
  const T5LayerSelfAttention& self_attention() const { return self_attention_; }
  const T5LayerCrossAttention& cross_attention() const { return cross_attention_; }

 private:
  bool is_decoder_;
  T5LayerSelfAttention self_attention_;    // layer.0
  T5LayerCrossAttention cross_attention_;  // layer.1 (decoder)
  T5LayerFF feed_forward_;                 // layer.1 (encoder) or layer.2 (decoder)
};

class T5Stack {
 public:
  // name: "encoder" or "decoder"; shared: the embedding both stacks look tokens up in.
  T5Stack(ParameterStore& store, const std::string& name, const T5Config& config, bool is_decoder,
          ParamId shared);

  // Hidden states [B, L, d_model] after final_layer_norm and dropout, on the store's device.
  //  input_ids [B, L] (i32/i64); attention_mask [B, L] (1 = attend) or undefined (all ones);
  //  ids and masks may be on any device (masks are read on the host, ids moved to the store's);
  //  decoder only: encoder_hidden [B, S, d_model] and encoder_attention_mask [B, S] (or undefined).
  // gradient_checkpointing: keep only each block's input and recompute the block in backward.
  autograd::Variable forward(ParameterStore& store, const Tensor& input_ids,
                             const Tensor& attention_mask, const autograd::Variable& encoder_hidden,
                             const Tensor& encoder_attention_mask, const DropoutContext& dropout,
                             bool gradient_checkpointing) const;

  // Incremental decoding (decoder only; no dropout, no gradients). start_cache: an empty cache
  // holding each block's cross-attention keys and values of encoder_hidden [N, S, d_model], with
  // room for `capacity` decoder positions. forward_cached: hidden states [N, q, d_model] of
  // input_ids [N, q] at positions cache.length() .. + q − 1, attending to every cached position
  // (causally among themselves); their keys and values join the cache.
  DecoderCache start_cache(ParameterStore& store, const autograd::Variable& encoder_hidden,
                           const Tensor& encoder_attention_mask, int64_t capacity) const;
  autograd::Variable forward_cached(ParameterStore& store, const Tensor& input_ids,
                                    DecoderCache& cache) const;

  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }

 private:
  autograd::Variable embed(ParameterStore& store, const Tensor& input_ids,
                           const DropoutContext& dropout) const;
  autograd::Variable final_norm(ParameterStore& store, const autograd::Variable& hidden,
                                const DropoutContext& dropout) const;
  autograd::Variable self_attention_bias(ParameterStore& store, const Tensor& attention_mask,
                                         int64_t batch, int64_t length) const;

  bool is_decoder_;
  DType dtype_;
  Device device_;  // the store's: masks and ids built on the host move there
  ParamId shared_;
  std::vector<T5Block> blocks_;
  T5LayerNorm final_layer_norm_;
  DropoutSite embedding_dropout_;
  DropoutSite final_dropout_;
};

// The additive attention masks of HF T5, in dtype: 0 where attended, finfo(dtype).min where not.
// padding: (1 − mask)[:, None, None, :]·min, [B, 1, 1, L] (encoder self- and cross-attention).
Tensor padding_attention_bias(const Tensor& attention_mask, int64_t batch, int64_t length,
                              DType dtype);
// causal: (1 − causal·mask[:, None, None, :])·min, [B, 1, L, L] (decoder self-attention).
Tensor causal_attention_bias(const Tensor& attention_mask, int64_t batch, int64_t length,
                             DType dtype);

}  // namespace t5zero::models
