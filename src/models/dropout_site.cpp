#include "models/dropout_site.h"

#include "autograd/functions.h"
#include "models/stable_hash.h"

namespace t5zero::models {

DropoutSite::DropoutSite(const std::string& name) : id_(stable_hash(name)) {}

uint64_t DropoutSite::seed(uint64_t run_seed, uint64_t step) const {
  return mix64(mix64(mix64(run_seed) ^ step) ^ id_);
}

DropoutParams DropoutSite::params(const Shape& shape, const DropoutContext& context) const {
  if (!context.training || context.p <= 0) return {};
  const int64_t batch = shape.at(0);
  const uint64_t row_numel = batch > 0 ? static_cast<uint64_t>(shape_numel(shape) / batch) : 0;
  return {context.p, seed(context.seed, context.step), context.first_sample * row_numel};
}

autograd::Variable DropoutSite::apply(const autograd::Variable& x,
                                      const DropoutContext& context) const {
  const DropoutParams d = params(x.shape(), context);
  if (d.p <= 0) return x;
  return autograd::dropout(x, d.p, d.seed, d.offset);
}

}  // namespace t5zero::models
