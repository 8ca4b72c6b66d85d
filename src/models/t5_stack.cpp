#include "models/t5_stack.h"

#include <limits>

#include "autograd/checkpoint.h"
#include "autograd/functions.h"
#include "models/parameter_scope.h"
#include "tensor/bf16.h"

namespace t5zero::models {

using autograd::Variable;

namespace {
// torch.finfo(dtype).min: the mask value HF adds (not −inf, so a fully masked row stays finite).
double finfo_min(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return std::numeric_limits<float>::lowest();
    case DType::f64:
      return std::numeric_limits<double>::lowest();
    case DType::bf16:
      return -3.3895313892515355e38;  // bf16 0xFF7F
    default:
      fail("attention mask: expected a floating dtype, got ", dtype_name(dtype));
  }
}

// The mask as 0/1 values [B, L]; undefined means all ones, as HF's default.
std::vector<double> mask_values(const Tensor& attention_mask, int64_t batch, int64_t length) {
  if (!attention_mask.defined()) return std::vector<double>(static_cast<size_t>(batch * length), 1);
  T5_CHECK(attention_mask.shape() == Shape({batch, length}), "attention_mask: expected shape ",
           shape_str({batch, length}), ", got ", shape_str(attention_mask.shape()));
  return attention_mask.to_vector<double>();
}
}  // namespace

Tensor padding_attention_bias(const Tensor& attention_mask, int64_t batch, int64_t length,
                              DType dtype) {
  const double min = finfo_min(dtype);
  std::vector<double> bias = mask_values(attention_mask, batch, length);
  for (double& m : bias) m = (1.0 - m) * min;
  return Tensor::from_vector(bias, {batch, 1, 1, length}, dtype);
}

Tensor causal_attention_bias(const Tensor& attention_mask, int64_t batch, int64_t length,
                             DType dtype) {
  const double min = finfo_min(dtype);
  const std::vector<double> mask = mask_values(attention_mask, batch, length);
  std::vector<double> bias(static_cast<size_t>(batch * length * length));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t q = 0; q < length; ++q) {
      for (int64_t k = 0; k < length; ++k) {
        const double causal = k <= q ? 1.0 : 0.0;
        bias[static_cast<size_t>((b * length + q) * length + k)] =
            (1.0 - causal * mask[static_cast<size_t>(b * length + k)]) * min;
      }
    }
  }
  return Tensor::from_vector(bias, {batch, 1, length, length}, dtype);
}

T5Block::T5Block(ParameterStore& store, const std::string& prefix, const T5Config& config,
                 bool is_decoder, bool has_relative_attention_bias)
    : is_decoder_(is_decoder),
      self_attention_(store, prefix + ".layer.0", config, is_decoder, has_relative_attention_bias),
      cross_attention_(is_decoder ? T5LayerCrossAttention(store, prefix + ".layer.1", config)
                                  : T5LayerCrossAttention()),
      feed_forward_(store, prefix + (is_decoder ? ".layer.2" : ".layer.1"), config) {}

Variable T5Block::forward(ParameterStore& store, const Variable& hidden, const Variable& self_bias,
                          const Variable& encoder_hidden, const Variable& cross_bias,
                          const DropoutContext& dropout, DecoderBlockCache* cache) const {
  Variable h = self_attention_.forward(store, hidden, self_bias, dropout,
                                       cache != nullptr ? &cache->self_attention : nullptr);
  if (is_decoder_) {
    h = cross_attention_.forward(store, h, encoder_hidden, cross_bias, dropout,
                                 cache != nullptr ? &cache->cross_attention : nullptr);
  }
  return feed_forward_.forward(store, h, dropout);
}

T5Stack::T5Stack(ParameterStore& store, const std::string& name, const T5Config& config,
                 bool is_decoder, ParamId shared)
    : is_decoder_(is_decoder),
      dtype_(store.dtype()),
      device_(store.device()),
      shared_(shared),
      embedding_dropout_(name + ".dropout.embeddings"),
      final_dropout_(name + ".dropout.final") {
  const int64_t count = is_decoder ? config.num_decoder_layers : config.num_layers;
  T5_CHECK(count >= 1, "config: ", name, " needs at least one block, got ", count);
  for (int64_t i = 0; i < count; ++i) {
    // As HF T5Stack: only block 0 holds the relative bias table; later blocks reuse its bias.
    blocks_.emplace_back(store, name + ".block." + std::to_string(i), config, is_decoder, i == 0);
  }
  final_layer_norm_ = T5LayerNorm(store, name + ".final_layer_norm", config);
}

Variable T5Stack::self_attention_bias(ParameterStore& store, const Tensor& attention_mask,
                                      int64_t batch, int64_t length) const {
  const T5Attention& attention = blocks_.front().self_attention().attention();
  ParameterScope scope(store, {attention.relative_attention_bias()});
  const Tensor mask = (is_decoder_ ? causal_attention_bias(attention_mask, batch, length, dtype_)
                                   : padding_attention_bias(attention_mask, batch, length, dtype_))
                          .to(device_);
  // As HF T5Attention.forward: position_bias = compute_bias(q, k) + mask, shared by all blocks.
  return autograd::add(attention.relative_position_bias(store, length, length), Variable(mask));
}

Variable T5Stack::embed(ParameterStore& store, const Tensor& input_ids,
                        const DropoutContext& dropout) const {
  T5_CHECK(input_ids.dim() == 2, is_decoder_ ? "decoder_input_ids" : "input_ids",
           ": expected shape [batch, length], got ", shape_str(input_ids.shape()));
  Variable hidden;
  {
    ParameterScope scope(store, {shared_});
    // As HF: no sqrt(d_model) scaling. Ids given on the host move to the parameters' device.
    hidden = autograd::embedding(scope[shared_], input_ids.to(device_));
  }
  return embedding_dropout_.apply(hidden, dropout);
}

Variable T5Stack::final_norm(ParameterStore& store, const Variable& hidden,
                             const DropoutContext& dropout) const {
  Variable normed;
  {
    ParameterScope scope(store, {final_layer_norm_.weight()});
    normed = scope.exit(final_layer_norm_.forward(store, scope.enter(hidden)));
  }
  return final_dropout_.apply(normed, dropout);
}

Variable T5Stack::forward(ParameterStore& store, const Tensor& input_ids,
                          const Tensor& attention_mask, const Variable& encoder_hidden,
                          const Tensor& encoder_attention_mask, const DropoutContext& dropout,
                          bool gradient_checkpointing) const {
  Variable hidden = embed(store, input_ids, dropout);
  const int64_t batch = input_ids.size(0), length = input_ids.size(1);

  const Variable self_bias = self_attention_bias(store, attention_mask, batch, length);
  Variable cross_bias;
  if (is_decoder_) {
    T5_CHECK(encoder_hidden.defined() && encoder_hidden.shape().size() == 3 &&
                 encoder_hidden.shape()[0] == batch,
             "decoder: expected encoder hidden states [", batch, ", length, d_model], got ",
             encoder_hidden.defined() ? shape_str(encoder_hidden.shape()) : "none");
    // As HF: cross-attention has no relative bias; its position bias is the encoder mask.
    cross_bias = Variable(
        padding_attention_bias(encoder_attention_mask, batch, encoder_hidden.shape()[1], dtype_)
            .to(device_));
  }

  for (const T5Block& block : blocks_) {
    if (gradient_checkpointing && autograd::grad_enabled()) {
      // Captures outlive this call (backward recomputes the block): only the block, the store
      // and the dropout keys, by reference to the model or by value.
      auto run_block = [&block, &store, dropout](const std::vector<Variable>& in) {
        return in.size() == 4 ? block.forward(store, in[0], in[1], in[2], in[3], dropout)
                              : block.forward(store, in[0], in[1], Variable(), Variable(), dropout);
      };
      hidden = autograd::checkpoint(
          run_block, is_decoder_
                         ? std::vector<Variable>{hidden, self_bias, encoder_hidden, cross_bias}
                         : std::vector<Variable>{hidden, self_bias});
    } else {
      hidden = block.forward(store, hidden, self_bias, encoder_hidden, cross_bias, dropout);
    }
  }

  return final_norm(store, hidden, dropout);
}

DecoderCache T5Stack::start_cache(ParameterStore& store, const Variable& encoder_hidden,
                                  const Tensor& encoder_attention_mask, int64_t capacity) const {
  T5_CHECK(is_decoder_, "T5Stack: only the decoder decodes incrementally");
  T5_CHECK(encoder_hidden.defined() && encoder_hidden.shape().size() == 3,
           "decoder: expected encoder hidden states [rows, length, d_model], got ",
           encoder_hidden.defined() ? shape_str(encoder_hidden.shape()) : "none");
  autograd::NoGradGuard no_grad;
  const int64_t rows = encoder_hidden.shape()[0], source_length = encoder_hidden.shape()[1];
  DecoderCache cache;
  // As HF: cross-attention has no relative bias; its position bias is the encoder mask.
  cache.cross_attention_bias =
      padding_attention_bias(encoder_attention_mask, rows, source_length, dtype_).to(device_);
  for (const T5Block& block : blocks_) {
    cache.blocks.push_back(DecoderBlockCache{
        KeyValueCache(capacity), block.cross_attention().project_memory(store, encoder_hidden)});
  }
  return cache;
}

Variable T5Stack::forward_cached(ParameterStore& store, const Tensor& input_ids,
                                 DecoderCache& cache) const {
  T5_CHECK(is_decoder_, "T5Stack: only the decoder decodes incrementally");
  T5_CHECK(static_cast<int64_t>(cache.blocks.size()) == num_blocks(), "decoder: the cache has ",
           cache.blocks.size(), " blocks, the decoder ", num_blocks(),
           " (start it with start_cache)");
  T5_CHECK(input_ids.dim() == 2 && input_ids.size(0) == cache.rows(),
           "decoder_input_ids: expected shape [", cache.rows(), ", new positions], got ",
           shape_str(input_ids.shape()));
  autograd::NoGradGuard no_grad;
  const DropoutContext no_dropout;
  const int64_t length = input_ids.size(1), offset = cache.length();
  Variable hidden = embed(store, input_ids, no_dropout);

  // As HF with past_key_values: block 0's bias for queries at positions offset.. against keys
  // 0..offset+length-1, shared by all blocks; the new positions see each other causally.
  const T5Attention& attention = blocks_.front().self_attention().attention();
  Variable self_bias;
  {
    ParameterScope scope(store, {attention.relative_attention_bias()});
    self_bias = attention.relative_position_bias(store, length, offset + length, offset);
  }
  if (length > 1) {
    std::vector<double> causal(static_cast<size_t>(length * (offset + length)), 0.0);
    for (int64_t q = 0; q < length; ++q) {
      for (int64_t k = offset + q + 1; k < offset + length; ++k) {
        causal[static_cast<size_t>(q * (offset + length) + k)] = finfo_min(dtype_);
      }
    }
    self_bias = autograd::add(
        self_bias,
        Variable(Tensor::from_vector(causal, {1, 1, length, offset + length}, dtype_).to(device_)));
  }
  const Variable cross_bias(cache.cross_attention_bias);

  for (size_t i = 0; i < blocks_.size(); ++i) {
    hidden = blocks_[i].forward(store, hidden, self_bias, Variable(), cross_bias, no_dropout,
                                &cache.blocks[i]);
  }
  return final_norm(store, hidden, no_dropout);
}

}  // namespace t5zero::models
