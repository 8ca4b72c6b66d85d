#include "models/dropout_site.h"

#include "autograd/functions.h"
#include "models/stable_hash.h"

namespace t5zero::models {

DropoutSite::DropoutSite(const std::string& name) : id_(stable_hash(name)) {}

uint64_t DropoutSite::seed(uint64_t run_seed, uint64_t step) const {
  return mix64(mix64(mix64(run_seed) ^ step) ^ id_);
}

autograd::Variable DropoutSite::apply(const autograd::Variable& x,
                                      const DropoutContext& context) const {
  if (!context.training || context.p <= 0) return x;
  const int64_t batch = x.shape().at(0);
  const uint64_t row_numel = batch > 0 ? static_cast<uint64_t>(x.data().numel() / batch) : 0;
  return autograd::dropout(x, context.p, seed(context.seed, context.step),
                           context.first_sample * row_numel);
}

}  // namespace t5zero::models
