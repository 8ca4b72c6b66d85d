#include "models/t5_model.h"

#include <cmath>
#include <vector>

#include "autograd/functions.h"
#include "autograd/fused_functions.h"
#include "models/parameter_scope.h"
#include "models/t5_init.h"
#include "models/t5_layers.h"

namespace t5zero::models {

using autograd::Variable;

Tensor shift_right(const Tensor& labels, int64_t decoder_start_token_id, int64_t pad_token_id) {
  T5_CHECK(labels.dim() == 2, "labels: expected shape [batch, length], got ",
           shape_str(labels.shape()));
  const int64_t batch = labels.size(0), length = labels.size(1);
  const std::vector<int64_t> in = labels.to_vector<int64_t>();
  std::vector<int64_t> out(in.size());
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t t = 0; t < length; ++t) {
      const int64_t v =
          t == 0 ? decoder_start_token_id : in[static_cast<size_t>(b * length + t - 1)];
      out[static_cast<size_t>(b * length + t)] = v == -100 ? pad_token_id : v;
    }
  }
  return Tensor::from_vector(out, {batch, length});
}

namespace {
ParamId register_shared(ParameterStore& store, const T5Config& config) {
  return store.add("shared.weight", {config.vocab_size, config.d_model},
                   InitRecipe::normal(t5_init_stds(config).embedding));
}
}  // namespace

T5ForConditionalGeneration::T5ForConditionalGeneration(const T5Config& config,
                                                       ParameterStore& store)
    : config_(config),
      store_(&store),
      tied_(config.tie_word_embeddings),
      shared_(register_shared(store, config)),
      encoder_(store, "encoder", config, /*is_decoder=*/false, shared_),
      decoder_(store, "decoder", config, /*is_decoder=*/true, shared_) {
  if (!tied_) {
    lm_head_ = store.add("lm_head.weight", {config.vocab_size, config.d_model},
                         InitRecipe::normal(t5_init_stds(config).lm_head));
  }
}

DropoutContext T5ForConditionalGeneration::dropout_context(const ForwardOptions& options) const {
  return DropoutContext{options.training, config_.dropout_rate, options.dropout_seed, options.step,
                        options.first_sample};
}

Variable T5ForConditionalGeneration::encode(const Tensor& input_ids, const Tensor& attention_mask,
                                            const ForwardOptions& options) const {
  return encoder_.forward(*store_, input_ids, attention_mask, Variable(), Tensor(),
                          dropout_context(options), options.gradient_checkpointing);
}

Variable T5ForConditionalGeneration::decode(const Tensor& decoder_input_ids,
                                            const Variable& encoder_hidden,
                                            const Tensor& attention_mask,
                                            const ForwardOptions& options) const {
  // As HF: no decoder_attention_mask, so decoder self-attention masks only the future.
  return lm_logits(decoder_.forward(*store_, decoder_input_ids, Tensor(), encoder_hidden,
                                    attention_mask, dropout_context(options),
                                    options.gradient_checkpointing));
}

DecoderCache T5ForConditionalGeneration::start_decoding(const Variable& encoder_hidden,
                                                        const Tensor& attention_mask,
                                                        int64_t max_length) const {
  return decoder_.start_cache(*store_, encoder_hidden, attention_mask, max_length);
}

Variable T5ForConditionalGeneration::decode_step(const Tensor& decoder_input_ids,
                                                 DecoderCache& cache) const {
  autograd::NoGradGuard no_grad;
  return lm_logits(decoder_.forward_cached(*store_, decoder_input_ids, cache));
}

Variable T5ForConditionalGeneration::lm_logits(const Variable& sequence) const {
  ParameterScope scope(*store_, {lm_head()});
  Variable x = scope.enter(sequence);
  // As HF: tied embeddings (t5 v1.0) rescale by d_model^-0.5 before the head; FLAN does not.
  if (tied_) x = autograd::mul_scalar(x, std::pow(static_cast<double>(config_.d_model), -0.5));
  return scope.exit(linear(x, scope[lm_head()]));
}

T5Output T5ForConditionalGeneration::forward(const Tensor& input_ids, const Tensor& attention_mask,
                                             const Tensor& decoder_input_ids, const Tensor& labels,
                                             const ForwardOptions& options) const {
  T5_CHECK(decoder_input_ids.defined() || labels.defined(),
           "T5 forward: give decoder_input_ids or labels");
  T5Output out;
  out.encoder_hidden = encode(input_ids, attention_mask, options);
  const Tensor decoder_inputs =
      decoder_input_ids.defined()
          ? decoder_input_ids
          : shift_right(labels, config_.decoder_start_token_id, config_.pad_token_id);
  out.logits = decode(decoder_inputs, out.encoder_hidden, attention_mask, options);
  if (labels.defined()) {
    T5_CHECK(labels.shape() == decoder_inputs.shape(), "labels: expected shape ",
             shape_str(decoder_inputs.shape()), " (as decoder_input_ids), got ",
             shape_str(labels.shape()));
    const int64_t tokens = labels.numel();
    // As HF: CrossEntropyLoss(ignore_index=-100), the mean over every kept token of the batch.
    const Tensor targets = labels.reshape({tokens}).to(DType::i64).to(store_->device());
    out.loss = autograd::fused::cross_entropy(
        autograd::reshape(out.logits, {tokens, config_.vocab_size}), targets, -100);
  }
  return out;
}

}  // namespace t5zero::models
