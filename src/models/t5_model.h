// T5ForConditionalGeneration: encoder, decoder, LM head and loss, with the parameter names and
// numerics of Hugging Face transformers (4.26).
#pragma once

#include <cstdint>

#include "autograd/variable.h"
#include "io/t5_config.h"
#include "models/dropout_site.h"
#include "models/parameter_store.h"
#include "models/t5_stack.h"

namespace t5zero::models {

struct ForwardOptions {
  bool training = false;      // dropout with p = config.dropout_rate at HF's sites
  uint64_t dropout_seed = 0;  // dropout masks are keyed by (seed, step, site, global sample)
  uint64_t step = 0;
  uint64_t first_sample = 0;            // global index of the batch's row 0
  bool gradient_checkpointing = false;  // recompute each block in backward
};

struct T5Output {
  autograd::Variable logits;  // [B, T, vocab_size]
  autograd::Variable loss;    // mean cross-entropy over labels != -100 (undefined without labels)
  autograd::Variable encoder_hidden;  // the encoder's last hidden state [B, S, d_model]
};

// Decoder inputs from labels, as HF's _shift_right: [start, labels[:, :-1]] with -100 → pad.
Tensor shift_right(const Tensor& labels, int64_t decoder_start_token_id, int64_t pad_token_id);

class T5ForConditionalGeneration {
 public:
  // Registers every parameter in `store` under its Hugging Face name, zero-filled: load a
  // checkpoint (t5_checkpoint_io.h) or initialise (t5_init.h) next. The store must outlive the
  // model and every graph built by forward.
  T5ForConditionalGeneration(const T5Config& config, ParameterStore& store);

  // input_ids, attention_mask [B, S] (mask may be undefined: all ones). Give decoder_input_ids
  // [B, T], or labels [B, T] (-100 = ignored) from which they are shifted; with labels the
  // output holds the loss. These may be on any device; the computation runs on the store's, where
  // the outputs are.
  T5Output forward(const Tensor& input_ids, const Tensor& attention_mask,
                   const Tensor& decoder_input_ids, const Tensor& labels,
                   const ForwardOptions& options = {}) const;
  autograd::Variable encode(const Tensor& input_ids, const Tensor& attention_mask,
                            const ForwardOptions& options = {}) const;
  // Logits [B, T, vocab] of the decoder given the encoder's output and its attention mask.
  autograd::Variable decode(const Tensor& decoder_input_ids,
                            const autograd::Variable& encoder_hidden, const Tensor& attention_mask,
                            const ForwardOptions& options = {}) const;

  // Incremental decoding (generation; no dropout, no gradients). start_decoding: a cache holding
  // the cross-attention keys and values of encoder_hidden [N, S, d_model] (mask [N, S] or
  // undefined), with room for max_length decoder positions. decode_step: logits [N, q, vocab] of
  // decoder_input_ids [N, q] at positions cache.length() .., which join the cache; equal to
  // decode() of the whole prefix at those positions, without recomputing the past ones.
  DecoderCache start_decoding(const autograd::Variable& encoder_hidden,
                              const Tensor& attention_mask, int64_t max_length) const;
  autograd::Variable decode_step(const Tensor& decoder_input_ids, DecoderCache& cache) const;

  const T5Config& config() const { return config_; }
  ParameterStore& store() const { return *store_; }
  // The LM head's weight: lm_head.weight, or shared.weight when the embeddings are tied.
  ParamId lm_head() const { return tied_ ? shared_ : lm_head_; }
  ParamId shared() const { return shared_; }

 private:
  DropoutContext dropout_context(const ForwardOptions& options) const;
  // The LM head on the decoder's output [B, T, d_model].
  autograd::Variable lm_logits(const autograd::Variable& sequence) const;

  T5Config config_;
  ParameterStore* store_;
  bool tied_;
  ParamId shared_;
  T5Stack encoder_;
  T5Stack decoder_;
  ParamId lm_head_;  // invalid when tied
};

}  // namespace t5zero::models
