// Random initialisation of a T5 as transformers' T5PreTrainedModel._init_weights (4.26): every
// weight N(0, std²) with the standard deviations below (× initializer_factor), norm weights 1.
#pragma once

#include <cstdint>

#include "io/t5_config.h"
#include "models/parameter_store.h"

namespace t5zero::models {

struct T5InitStds {
  double embedding;      // shared: 1
  double lm_head;        // untied lm_head: 1
  double q;              // (d_model·d_kv)^-0.5: the 1/sqrt(d_kv) attention scale folded into q
  double k, v;           // d_model^-0.5
  double o;              // (num_heads·d_kv)^-0.5
  double relative_bias;  // d_model^-0.5
  double wi;             // wi, wi_0, wi_1: d_model^-0.5
  double wo;             // d_ff^-0.5
  double layer_norm;     // the constant 1
};
T5InitStds t5_init_stds(const T5Config& config);

// Fills every parameter of the store by its InitRecipe. Parameter p's values are Philox normals
// keyed by (seed, p's name), so they do not depend on registration order or world size.
void initialize_parameters(ParameterStore& store, uint64_t seed);

}  // namespace t5zero::models
