// The small pieces of a T5 block: the linear map, RMS layer norm, and the feed-forward sublayer
// (layer.1 of an encoder block, layer.2 of a decoder block).
#pragma once

#include <string>
#include <vector>

#include "autograd/variable.h"
#include "io/t5_config.h"
#include "models/dropout_site.h"
#include "models/parameter_store.h"

namespace t5zero::models {

// x · weightᵀ, as nn.Linear(bias=False) with weight [out, in]. The weight enters the matmul
// directly (no transposed view), so backward reads it through its Variable.
autograd::Variable linear(const autograd::Variable& x, const autograd::Variable& weight);

// T5LayerNorm: RMS norm without mean or bias, statistics in f32 (eps = layer_norm_epsilon).
class T5LayerNorm {
 public:
  T5LayerNorm() = default;
  T5LayerNorm(ParameterStore& store, const std::string& prefix, const T5Config& config);
  autograd::Variable forward(const ParameterStore& store, const autograd::Variable& x) const;
  ParamId weight() const { return weight_; }

 private:
  ParamId weight_;
  double eps_ = 1e-6;
};

// DenseReluDense: wo(dropout(act(wi x))), or gated wo(dropout(act(wi_0 x) * wi_1 x)).
class T5DenseFF {
 public:
  T5DenseFF() = default;
  T5DenseFF(ParameterStore& store, const std::string& prefix, const T5Config& config);
  autograd::Variable forward(const ParameterStore& store, const autograd::Variable& x,
                             const DropoutContext& dropout) const;
  std::vector<ParamId> params() const;

 private:
  bool gated_ = false;
  Activation activation_ = Activation::relu;
  ParamId wi_;    // wi, or wi_0 (the activated branch) when gated
  ParamId wi_1_;  // the linear branch, when gated
  ParamId wo_;
  DropoutSite dropout_;
};

// T5LayerFF: hidden + dropout(DenseReluDense(layer_norm(hidden))), in one parameter scope.
class T5LayerFF {
 public:
  T5LayerFF() = default;
  T5LayerFF(ParameterStore& store, const std::string& prefix, const T5Config& config);
  autograd::Variable forward(ParameterStore& store, const autograd::Variable& hidden,
                             const DropoutContext& dropout) const;

 private:
  T5DenseFF dense_;  // registered before layer_norm_, in the order of HF's state dict
  T5LayerNorm layer_norm_;
  DropoutSite dropout_;
};

}  // namespace t5zero::models
