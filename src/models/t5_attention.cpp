#include "models/t5_attention.h"

#include "autograd/functions.h"
#include "autograd/fused_functions.h"
#include "models/parameter_scope.h"
#include "models/t5_init.h"
#include "tensor/relative_position.h"

namespace t5zero::models {

using autograd::Variable;

T5Attention::T5Attention(ParameterStore& store, const std::string& prefix, const T5Config& config,
                         bool is_decoder, bool has_relative_attention_bias)
    : num_heads_(config.num_heads),
      d_kv_(config.d_kv),
      is_decoder_(is_decoder),
      num_buckets_(config.relative_attention_num_buckets),
      max_distance_(config.relative_attention_max_distance),
      dropout_(prefix + ".dropout") {
  const T5InitStds stds = t5_init_stds(config);
  const int64_t inner = config.inner_dim();  // num_heads·d_kv, which need not equal d_model
  q_ = store.add(prefix + ".q.weight", {inner, config.d_model}, InitRecipe::normal(stds.q));
  k_ = store.add(prefix + ".k.weight", {inner, config.d_model}, InitRecipe::normal(stds.k));
  v_ = store.add(prefix + ".v.weight", {inner, config.d_model}, InitRecipe::normal(stds.v));
  o_ = store.add(prefix + ".o.weight", {config.d_model, inner}, InitRecipe::normal(stds.o));
  if (has_relative_attention_bias) {
    relative_attention_bias_ =
        store.add(prefix + ".relative_attention_bias.weight", {num_buckets_, num_heads_},
                  InitRecipe::normal(stds.relative_bias));
  }
}

Variable T5Attention::split_heads(const Variable& x) const {
  const int64_t batch = x.shape()[0], length = x.shape()[1];
  return autograd::permute(autograd::reshape(x, {batch, length, num_heads_, d_kv_}), {0, 2, 1, 3});
}

Variable T5Attention::relative_position_bias(const ParameterStore& store, int64_t q_len,
                                             int64_t k_len, int64_t query_offset) const {
  T5_CHECK(has_relative_attention_bias(),
           "T5Attention: relative_position_bias of a layer without a relative bias table");
  // Bucket ids on the host, in the reference's exact f32 steps (see tensor/relative_position.h);
  // the lookup moves them to the table's device.
  const Tensor buckets = relative_position_buckets(q_len, k_len, /*bidirectional=*/!is_decoder_,
                                                   num_buckets_, max_distance_, query_offset);
  return autograd::fused::relative_position_bias(store.variable(relative_attention_bias_), buckets);
}

T5Attention::KeyValue T5Attention::project_key_value(const ParameterStore& store,
                                                     const Variable& source) const {
  return {split_heads(linear(source, store.variable(k_))),
          split_heads(linear(source, store.variable(v_)))};
}

Variable T5Attention::attend(const ParameterStore& store, const Variable& hidden,
                             const KeyValue& kv, const Variable& position_bias,
                             const DropoutContext& dropout) const {
  const int64_t batch = hidden.shape()[0], q_len = hidden.shape()[1];
  Variable query = split_heads(linear(hidden, store.variable(q_)));
  // As HF T5: no 1/sqrt(d_kv) here; the scale lives in the q initialisation.
  Variable scores = autograd::matmul(query, kv.key, false, /*transpose_b=*/true);
  // softmax(scores + position_bias), then dropout: one kernel on a GPU.
  const DropoutParams drop = dropout_.params(scores.shape(), dropout);
  Variable probs =
      autograd::fused::attention_probs(scores, position_bias, drop.p, drop.seed, drop.offset);
  Variable context = autograd::matmul(probs, kv.value);  // [B, H, q, d_kv]
  context = autograd::reshape(autograd::permute(context, {0, 2, 1, 3}),
                              {batch, q_len, num_heads_ * d_kv_});
  return linear(context, store.variable(o_));
}

T5LayerSelfAttention::T5LayerSelfAttention(ParameterStore& store, const std::string& prefix,
                                           const T5Config& config, bool is_decoder,
                                           bool has_relative_attention_bias)
    : attention_(store, prefix + ".SelfAttention", config, is_decoder, has_relative_attention_bias),
      layer_norm_(store, prefix + ".layer_norm", config),
      dropout_(prefix + ".dropout") {}

Variable T5LayerSelfAttention::forward(ParameterStore& store, const Variable& hidden,
                                       const Variable& position_bias, const DropoutContext& dropout,
                                       KeyValueCache* cache) const {
  std::vector<ParamId> ids = attention_.projections();
  ids.push_back(layer_norm_.weight());
  ParameterScope scope(store, ids);
  Variable x = scope.enter(hidden);
  Variable normed = layer_norm_.forward(store, x);
  T5Attention::KeyValue kv = attention_.project_key_value(store, normed);
  if (cache != nullptr) {
    T5_CHECK(!autograd::grad_enabled(),
             "T5 self-attention: a decoding cache holds plain tensors; "
             "decode under NoGradGuard");
    cache->append(kv.key.data(), kv.value.data());
    kv = {Variable(cache->keys()), Variable(cache->values())};
  }
  Variable y = attention_.attend(store, normed, kv, position_bias, dropout);
  return scope.exit(autograd::add(x, dropout_.apply(y, dropout)));
}

T5LayerCrossAttention::T5LayerCrossAttention(ParameterStore& store, const std::string& prefix,
                                             const T5Config& config)
    : attention_(store, prefix + ".EncDecAttention", config, /*is_decoder=*/true,
                 /*has_relative_attention_bias=*/false),
      layer_norm_(store, prefix + ".layer_norm", config),
      dropout_(prefix + ".dropout") {}

Variable T5LayerCrossAttention::forward(ParameterStore& store, const Variable& hidden,
                                        const Variable& encoder_hidden,
                                        const Variable& position_bias,
                                        const DropoutContext& dropout,
                                        const KeyValueCache* memory) const {
  std::vector<ParamId> ids = attention_.projections();
  ids.push_back(layer_norm_.weight());
  ParameterScope scope(store, ids);
  Variable x = scope.enter(hidden);
  const T5Attention::KeyValue kv =
      memory != nullptr
          ? T5Attention::KeyValue{Variable(memory->keys()), Variable(memory->values())}
          : attention_.project_key_value(store, scope.enter(encoder_hidden));
  Variable y = attention_.attend(store, layer_norm_.forward(store, x), kv, position_bias, dropout);
  return scope.exit(autograd::add(x, dropout_.apply(y, dropout)));
}

KeyValueCache T5LayerCrossAttention::project_memory(ParameterStore& store,
                                                    const Variable& encoder_hidden) const {
  ParameterScope scope(store, attention_.projections());
  const T5Attention::KeyValue kv = attention_.project_key_value(store, encoder_hidden);
  KeyValueCache memory(encoder_hidden.shape()[1]);
  memory.append(kv.key.data(), kv.value.data());
  return memory;
}

}  // namespace t5zero::models
