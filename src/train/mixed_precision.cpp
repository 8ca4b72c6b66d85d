#include "train/mixed_precision.h"

#include <algorithm>
#include <string>

#include "optim/grad_clip.h"
#include "tensor/caching_allocator.h"
#include "tensor/error.h"
#include "tensor/ops.h"

namespace t5zero {

using models::ParamId;

namespace {

DType dtype_of_precision(Precision precision) {
  return precision == Precision::bf16 ? DType::bf16 : DType::f32;
}

std::span<float> host_span(const Tensor& t, const char* what) {
  T5_CHECK(t.device().is_cpu(), "mixed precision: the ", what, " live on ", t.device().str(),
           ": use the tensor accessors");
  return {t.data<float>(), static_cast<size_t>(t.numel())};
}

}  // namespace

MasterParameters::MasterParameters(models::ParameterStore& store, Precision precision)
    : MasterParameters(store, precision, store.local_device()) {}

MasterParameters::MasterParameters(models::ParameterStore& store, Precision precision,
                                   Device optimizer_device, HostMemory host_memory)
    : store_(&store),
      precision_(precision),
      optimizer_device_(optimizer_device),
      masters_are_parameters_(precision == Precision::fp32 &&
                              optimizer_device == store.local_device()) {
  T5_CHECK(optimizer_device == store.local_device() || optimizer_device.is_cpu(),
           "mixed precision: the optimizer state can live beside the weights (",
           store.local_device().str(), ") or on the host, not on ", optimizer_device.str());
  T5_CHECK(store.dtype() == dtype_of_precision(precision), "mixed precision: a ",
           precision == Precision::bf16 ? "bf16" : "fp32", " run needs a ",
           dtype_name(dtype_of_precision(precision)), " parameter store, got ",
           dtype_name(store.dtype()));
  const Device device = optimizer_device;
  // Page-locked only where a GPU copies from it.
  const HostMemory host =
      optimizer_device.is_cpu() && store.device().is_cuda() ? host_memory : HostMemory::aligned;
  for (ParamId id : store.ids()) {
    Slot s;
    s.id = id;
    s.numel = store.local_numel(id);
    const Shape flat{s.numel};
    {
      MemoryCategoryScope category(MemoryCategory::optimizer_state);
      if (!masters_are_parameters_) s.master = Tensor::zeros(flat, DType::f32, device, host);
      s.exp_avg = Tensor::zeros(flat, DType::f32, device, host);
      s.exp_avg_sq = Tensor::zeros(flat, DType::f32, device, host);
    }
    MemoryCategoryScope category(MemoryCategory::gradients);
    s.gradient = Tensor::zeros(flat, DType::f32, device, host);
    slots_.push_back(std::move(s));
  }
  copy_model_to_masters();
  store.set_gradient_sink(
      [this](ParamId id, const Tensor& local_gradient) { add_gradient(id, local_gradient); });
}

MasterParameters::~MasterParameters() {
  store_->set_gradient_sink(nullptr);
}

MasterParameters::Slot& MasterParameters::slot(ParamId id) {
  T5_CHECK(id.index >= 0 && id.index < static_cast<int32_t>(slots_.size()),
           "mixed precision: parameter id ", id.index, " out of range");
  return slots_[static_cast<size_t>(id.index)];
}

Tensor MasterParameters::master_tensor(ParamId id) {
  Slot& s = slot(id);
  return masters_are_parameters_ ? store_->local_part(id) : s.master;
}

Tensor MasterParameters::gradient_tensor(ParamId id) {
  return slot(id).gradient;
}

Tensor MasterParameters::exp_avg_tensor(ParamId id) {
  return slot(id).exp_avg;
}

Tensor MasterParameters::exp_avg_sq_tensor(ParamId id) {
  return slot(id).exp_avg_sq;
}

std::span<float> MasterParameters::master(ParamId id) {
  return host_span(master_tensor(id), "master weights");
}

std::span<float> MasterParameters::gradient(ParamId id) {
  return host_span(slot(id).gradient, "gradients");
}

std::span<float> MasterParameters::exp_avg(ParamId id) {
  return host_span(slot(id).exp_avg, "moments");
}

std::span<float> MasterParameters::exp_avg_sq(ParamId id) {
  return host_span(slot(id).exp_avg_sq, "moments");
}

void MasterParameters::add_gradient(ParamId id, const Tensor& local_gradient) {
  Slot& s = slot(id);
  T5_CHECK(local_gradient.numel() == s.numel, "parameter '", store_->spec(id).name,
           "': gradient of ", local_gradient.numel(), " elements for a local part of ", s.numel);
  if (!s.gradient.device().is_cpu()) {  // the optimizer beside weights on a GPU
    s.gradient.copy_(ops::add(
        s.gradient, local_gradient.to(s.gradient.device()).to(DType::f32).view({s.numel})));
    return;
  }
  const Tensor g = local_gradient.to(Device::cpu()).to(DType::f32).contiguous();
  const float* src = g.data<float>();
  float* dst = s.gradient.data<float>();
#pragma omp parallel for schedule(static) if (s.numel > (1 << 16))
  for (int64_t i = 0; i < s.numel; ++i) dst[i] += src[i];
}

void MasterParameters::accumulate_gradients() {
  store_->flush_gradients();
}

void MasterParameters::zero_gradients() {
  for (Slot& s : slots_) s.gradient.fill_(0.0);
}

double MasterParameters::gradient_sum_of_squares() {
  double total = 0;
  for (Slot& s : slots_) {
    if (s.gradient.device().is_cpu()) {
      total += grad_sum_of_squares(std::span<const float>(host_span(s.gradient, "gradients")));
    } else {
      total += ops::sum_squares(s.gradient.to(DType::f64)).item();
    }
  }
  return total;
}

void MasterParameters::scale_gradients(float coefficient) {
  for (Slot& s : slots_) {
    if (s.gradient.device().is_cpu()) {
      const std::span<float> g = host_span(s.gradient, "gradients");
      scale_grads(std::span<const std::span<float>>(&g, 1), coefficient);
    } else {
      s.gradient.copy_(ops::mul_scalar(s.gradient, coefficient));
    }
  }
}

std::vector<AdamWSpan> MasterParameters::adamw_spans(const std::vector<ParamId>& ids) {
  std::vector<AdamWSpan> spans;
  const Device device = optimizer_device_;
  // In bf16 the update writes the weights' rounding in the same pass, when they are at hand.
  const bool copy_out =
      precision_ == Precision::bf16 && optimizer_device_ == store_->local_device();
  for (ParamId id : ids) {
    Slot& s = slot(id);
    AdamWSpan span;
    span.params = master_tensor(id).data<float>();
    span.grads = s.gradient.data<float>();
    span.exp_avg = s.exp_avg.data<float>();
    span.exp_avg_sq = s.exp_avg_sq.data<float>();
    span.numel = s.numel;
    if (copy_out) span.params_bf16 = store_->local_part(id).data<bf16>();
    if (device.is_cuda()) span.cuda_device = device.index;
    spans.push_back(span);
  }
  return spans;
}

void MasterParameters::copy_masters_to_model() {
  if (!masters_are_parameters_) {
    for (Slot& s : slots_) store_->local_part(s.id).copy_(s.master);
  }
  store_->local_parts_updated();
}

void MasterParameters::copy_model_to_masters() {
  if (masters_are_parameters_) return;
  for (Slot& s : slots_) s.master.copy_(store_->local_part(s.id));
}

void MasterParameters::finish_step() {
  const bool copied_out =
      precision_ == Precision::bf16 && optimizer_device_ == store_->local_device();
  if (masters_are_parameters_ || copied_out) {
    store_->local_parts_updated();
  } else {
    copy_masters_to_model();  // offloaded: the host's updated masters go back to the weights
  }
}

int64_t MasterParameters::master_bytes() const {
  int64_t total = 0;
  for (const Slot& s : slots_) total += s.master.defined() ? s.master.numel() * 4 : 0;
  return total;
}

int64_t MasterParameters::gradient_bytes() const {
  int64_t total = 0;
  for (const Slot& s : slots_) total += s.gradient.numel() * 4;
  return total;
}

int64_t MasterParameters::optimizer_bytes() const {
  int64_t total = 0;
  for (const Slot& s : slots_) total += (s.exp_avg.numel() + s.exp_avg_sq.numel()) * 4;
  return total;
}

bool exempt_from_weight_decay(const std::string& name) {
  // HF Trainer.create_optimizer: get_parameter_names(model, ALL_LAYERNORM_LAYERS) minus names
  // containing "bias"; modeling_t5 adds T5LayerNorm to ALL_LAYERNORM_LAYERS.
  return name.find("bias") != std::string::npos || name.find("layer_norm") != std::string::npos;
}

}  // namespace t5zero
