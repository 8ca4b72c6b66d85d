#include "models/t5_init.h"

#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "models/stable_hash.h"
#include "tensor/philox.h"

namespace t5zero::models {

namespace {
// Standard normals by Box-Muller on Philox uniforms: value i uses uniforms 2i and 2i+1.
std::vector<float> philox_normals(int64_t count, uint64_t key, double std) {
  std::vector<float> out(static_cast<size_t>(count));
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < count; ++i) {
    // 1 - u lies in (0, 1], so the log is finite.
    const double u1 = 1.0 - philox_uniform_at(key, 2 * static_cast<uint64_t>(i));
    const double u2 = philox_uniform_at(key, 2 * static_cast<uint64_t>(i) + 1);
    const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * std::numbers::pi * u2);
    out[static_cast<size_t>(i)] = static_cast<float>(std * z);
  }
  return out;
}
}  // namespace

T5InitStds t5_init_stds(const T5Config& c) {
  const double f = c.initializer_factor;
  const double d_model = static_cast<double>(c.d_model);
  return T5InitStds{
      .embedding = f * 1.0,
      .lm_head = f * 1.0,
      .q = f * std::pow(d_model * static_cast<double>(c.d_kv), -0.5),
      .k = f * std::pow(d_model, -0.5),
      .v = f * std::pow(d_model, -0.5),
      .o = f * std::pow(static_cast<double>(c.num_heads * c.d_kv), -0.5),
      .relative_bias = f * std::pow(d_model, -0.5),
      .wi = f * std::pow(d_model, -0.5),
      .wo = f * std::pow(static_cast<double>(c.d_ff), -0.5),
      .layer_norm = f * 1.0,
  };
}

void initialize_parameters(ParameterStore& store, uint64_t seed) {
  for (ParamId id : store.ids()) {
    const ParameterSpec& spec = store.spec(id);
    const int64_t count = shape_numel(spec.shape);
    if (spec.init.kind == InitRecipe::Kind::constant) {
      store.assign(id, Tensor::full(spec.shape, spec.init.value, spec.dtype));
    } else {
      const uint64_t key = mix64(seed) ^ stable_hash(spec.name);
      store.assign(id, Tensor::from_vector(philox_normals(count, key, spec.init.value), spec.shape,
                                           spec.dtype));
    }
  }
}

}  // namespace t5zero::models
