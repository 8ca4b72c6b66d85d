#include "models/t5_layers.h"

#include "autograd/functions.h"
#include "autograd/fused_functions.h"
#include "models/parameter_scope.h"
#include "models/t5_init.h"

namespace t5zero::models {

using autograd::Variable;

Variable linear(const Variable& x, const Variable& weight) {
  return autograd::matmul(x, weight, /*transpose_a=*/false, /*transpose_b=*/true);
}

T5LayerNorm::T5LayerNorm(ParameterStore& store, const std::string& prefix, const T5Config& config)
    : weight_(store.add(prefix + ".weight", {config.d_model},
                        InitRecipe::constant(t5_init_stds(config).layer_norm))),
      eps_(config.layer_norm_epsilon) {}

Variable T5LayerNorm::forward(const ParameterStore& store, const Variable& x) const {
  return autograd::fused::rms_norm(x, store.variable(weight_), eps_);
}

T5DenseFF::T5DenseFF(ParameterStore& store, const std::string& prefix, const T5Config& config)
    : gated_(config.is_gated_act), activation_(config.dense_act_fn), dropout_(prefix + ".dropout") {
  // Only the activations of T5 v1.0 (relu) and v1.1/FLAN ("gated-gelu" = gelu_new) exist here.
  T5_CHECK(activation_ == Activation::relu || activation_ == Activation::gelu_new,
           "config feed_forward_proj '", config.feed_forward_proj,
           "': t5zero implements the relu and gelu_new (\"gated-gelu\") activations only");
  const T5InitStds stds = t5_init_stds(config);
  const Shape wi_shape{config.d_ff, config.d_model};
  if (gated_) {
    wi_ = store.add(prefix + ".wi_0.weight", wi_shape, InitRecipe::normal(stds.wi));
    wi_1_ = store.add(prefix + ".wi_1.weight", wi_shape, InitRecipe::normal(stds.wi));
  } else {
    wi_ = store.add(prefix + ".wi.weight", wi_shape, InitRecipe::normal(stds.wi));
  }
  wo_ =
      store.add(prefix + ".wo.weight", {config.d_model, config.d_ff}, InitRecipe::normal(stds.wo));
}

std::vector<ParamId> T5DenseFF::params() const {
  if (gated_) return {wi_, wi_1_, wo_};
  return {wi_, wo_};
}

Variable T5DenseFF::forward(const ParameterStore& store, const Variable& x,
                            const DropoutContext& dropout) const {
  Variable pre = linear(x, store.variable(wi_));
  Variable h;
  if (gated_ && activation_ == Activation::gelu_new) {
    // FLAN's "gated-gelu": one kernel on a GPU.
    Variable gate = linear(x, store.variable(wi_1_));
    h = autograd::fused::gated_gelu(pre, gate);
  } else {
    h = activation_ == Activation::relu ? autograd::relu(pre) : autograd::gelu_new(pre);
    if (gated_) h = autograd::mul(h, linear(x, store.variable(wi_1_)));
  }
  return linear(dropout_.apply(h, dropout), store.variable(wo_));
}

T5LayerFF::T5LayerFF(ParameterStore& store, const std::string& prefix, const T5Config& config)
    : dense_(store, prefix + ".DenseReluDense", config),
      layer_norm_(store, prefix + ".layer_norm", config),
      dropout_(prefix + ".dropout") {}

Variable T5LayerFF::forward(ParameterStore& store, const Variable& hidden,
                            const DropoutContext& dropout) const {
  std::vector<ParamId> ids = dense_.params();
  ids.push_back(layer_norm_.weight());
  ParameterScope scope(store, ids);
  Variable x = scope.enter(hidden);
  Variable y = dense_.forward(store, layer_norm_.forward(store, x), dropout);
  return scope.exit(autograd::add(x, dropout_.apply(y, dropout)));
}

}  // namespace t5zero::models
