#include "train/mixed_precision.h"

#include <algorithm>
#include <string>

#include "tensor/error.h"

namespace t5zero {

using models::ParamId;

namespace {

DType dtype_of_precision(Precision precision) {
  return precision == Precision::bf16 ? DType::bf16 : DType::f32;
}

// The parameter's data as one contiguous range (the store allocates them so).
const Tensor& parameter_data(const models::ParameterStore& store, ParamId id) {
  const Tensor& data = store.variable(id).data();
  T5_CHECK(data.is_contiguous(), "parameter '", store.spec(id).name,
           "': expected a contiguous tensor");
  return data;
}

}  // namespace

MasterParameters::MasterParameters(models::ParameterStore& store, Precision precision)
    : store_(&store), precision_(precision) {
  T5_CHECK(store.dtype() == dtype_of_precision(precision), "mixed precision: a ",
           precision == Precision::bf16 ? "bf16" : "fp32", " run needs a ",
           dtype_name(dtype_of_precision(precision)), " parameter store, got ",
           dtype_name(store.dtype()));
  for (ParamId id : store.ids()) {
    Slot s;
    s.id = id;
    s.numel = shape_numel(store.spec(id).shape);
    const auto n = static_cast<size_t>(s.numel);
    if (precision == Precision::bf16) s.master.resize(n);
    s.gradient.assign(n, 0.0f);
    s.exp_avg.assign(n, 0.0f);
    s.exp_avg_sq.assign(n, 0.0f);
    slots_.push_back(std::move(s));
  }
  copy_model_to_masters();
}

MasterParameters::Slot& MasterParameters::slot(ParamId id) {
  T5_CHECK(id.index >= 0 && id.index < static_cast<int32_t>(slots_.size()),
           "mixed precision: parameter id ", id.index, " out of range");
  return slots_[static_cast<size_t>(id.index)];
}

std::span<float> MasterParameters::master(ParamId id) {
  Slot& s = slot(id);
  if (precision_ == Precision::bf16) return s.master;
  return {parameter_data(*store_, id).data<float>(), static_cast<size_t>(s.numel)};
}

std::span<float> MasterParameters::gradient(ParamId id) {
  return slot(id).gradient;
}

std::span<float> MasterParameters::exp_avg(ParamId id) {
  return slot(id).exp_avg;
}

std::span<float> MasterParameters::exp_avg_sq(ParamId id) {
  return slot(id).exp_avg_sq;
}

void MasterParameters::accumulate_gradients() {
  for (Slot& s : slots_) {
    const autograd::Variable& v = store_->variable(s.id);
    if (!v.grad().defined()) continue;
    const Tensor g = v.grad().to(DType::f32).contiguous();
    T5_CHECK(g.numel() == s.numel, "parameter '", store_->spec(s.id).name, "': gradient of ",
             g.numel(), " elements for a parameter of ", s.numel);
    const float* src = g.data<float>();
    float* dst = s.gradient.data();
#pragma omp parallel for schedule(static) if (s.numel > (1 << 16))
    for (int64_t i = 0; i < s.numel; ++i) dst[i] += src[i];
  }
  store_->zero_grad();
}

void MasterParameters::zero_gradients() {
  for (Slot& s : slots_) std::fill(s.gradient.begin(), s.gradient.end(), 0.0f);
}

std::vector<std::span<float>> MasterParameters::gradients() {
  std::vector<std::span<float>> out;
  for (Slot& s : slots_) out.emplace_back(s.gradient);
  return out;
}

std::vector<std::span<const float>> MasterParameters::const_gradients() {
  std::vector<std::span<const float>> out;
  for (Slot& s : slots_) out.emplace_back(s.gradient);
  return out;
}

std::vector<AdamWSpan> MasterParameters::adamw_spans(const std::vector<ParamId>& ids) {
  std::vector<AdamWSpan> spans;
  for (ParamId id : ids) {
    Slot& s = slot(id);
    AdamWSpan span;
    span.params = master(id).data();
    span.grads = s.gradient.data();
    span.exp_avg = s.exp_avg.data();
    span.exp_avg_sq = s.exp_avg_sq.data();
    span.numel = s.numel;
    if (precision_ == Precision::bf16) span.params_bf16 = parameter_data(*store_, id).data<bf16>();
    spans.push_back(span);
  }
  return spans;
}

void MasterParameters::copy_masters_to_model() {
  if (precision_ != Precision::bf16) return;  // the masters are the parameters
  for (Slot& s : slots_) {
    bf16* dst = parameter_data(*store_, s.id).data<bf16>();
    for (int64_t i = 0; i < s.numel; ++i) dst[i] = to_bf16(s.master[static_cast<size_t>(i)]);
  }
}

void MasterParameters::copy_model_to_masters() {
  if (precision_ != Precision::bf16) return;
  for (Slot& s : slots_) {
    const bf16* src = parameter_data(*store_, s.id).data<bf16>();
    for (int64_t i = 0; i < s.numel; ++i) s.master[static_cast<size_t>(i)] = to_float(src[i]);
  }
}

int64_t MasterParameters::master_bytes() const {
  int64_t total = 0;
  for (const Slot& s : slots_) total += static_cast<int64_t>(s.master.size() * sizeof(float));
  return total;
}

int64_t MasterParameters::gradient_bytes() const {
  int64_t total = 0;
  for (const Slot& s : slots_) total += static_cast<int64_t>(s.gradient.size() * sizeof(float));
  return total;
}

int64_t MasterParameters::optimizer_bytes() const {
  int64_t total = 0;
  for (const Slot& s : slots_) {
    total += static_cast<int64_t>((s.exp_avg.size() + s.exp_avg_sq.size()) * sizeof(float));
  }
  return total;
}

bool exempt_from_weight_decay(const std::string& name) {
  // HF Trainer.create_optimizer: get_parameter_names(model, ALL_LAYERNORM_LAYERS) minus names
  // containing "bias"; modeling_t5 adds T5LayerNorm to ALL_LAYERNORM_LAYERS.
  return name.find("bias") != std::string::npos || name.find("layer_norm") != std::string::npos;
}

}  // namespace t5zero
