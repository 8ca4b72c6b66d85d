#include "models/parameter_store.h"

namespace t5zero::models {

ParamId ParameterStore::add(const std::string& name, const Shape& shape, InitRecipe init) {
  T5_CHECK(!contains(name), "parameter store: '", name, "' registered twice");
  ParamId id{static_cast<int32_t>(entries_.size())};
  ParameterSpec spec{name, shape, dtype_, init};
  autograd::Variable variable(initial_data(spec), /*requires_grad=*/true);
  variable.state()->shape = shape;  // the store may start it with nothing gathered
  entries_.push_back({std::move(spec), std::move(variable)});
  index_.emplace(name, id);
  return id;
}

ParamId ParameterStore::id(const std::string& name) const {
  auto it = index_.find(name);
  T5_CHECK(it != index_.end(), "parameter store: no parameter named '", name, "'");
  return it->second;
}

std::vector<ParamId> ParameterStore::ids() const {
  std::vector<ParamId> all;
  for (int32_t i = 0; i < static_cast<int32_t>(entries_.size()); ++i) all.push_back(ParamId{i});
  return all;
}

const ParameterStore::Entry& ParameterStore::entry(ParamId id) const {
  T5_CHECK(id.index >= 0 && id.index < static_cast<int32_t>(entries_.size()),
           "parameter store: id ", id.index, " out of range [0, ", entries_.size(), ")");
  return entries_[static_cast<size_t>(id.index)];
}

Tensor ParameterStore::initial_data(const ParameterSpec& spec) const {
  return Tensor::zeros(spec.shape, dtype_, device_);
}

autograd::Variable& ParameterStore::mutable_variable(ParamId id) {
  return const_cast<Entry&>(entry(id)).variable;
}

const ParameterSpec& ParameterStore::spec(ParamId id) const {
  return entry(id).spec;
}

const autograd::Variable& ParameterStore::variable(ParamId id) const {
  return entry(id).variable;
}

int64_t ParameterStore::numel() const {
  int64_t total = 0;
  for (const Entry& e : entries_) total += shape_numel(e.spec.shape);
  return total;
}

void ParameterStore::gather(const std::vector<ParamId>&) {}

void ParameterStore::release(const std::vector<ParamId>&) {}

void ParameterStore::assign(ParamId id, const Tensor& value) {
  const Entry& e = entry(id);
  T5_CHECK(value.shape() == e.spec.shape, "parameter '", e.spec.name, "': expected shape ",
           shape_str(e.spec.shape), ", got ", shape_str(value.shape()));
  Tensor data = e.variable.data();  // shares the parameter's storage
  data.copy_(value);
}

Tensor ParameterStore::local_part(ParamId id) const {
  const Tensor& data = entry(id).variable.data();
  T5_CHECK(data.is_contiguous(), "parameter '", entry(id).spec.name,
           "': expected a contiguous tensor");
  return data.view({data.numel()});
}

int64_t ParameterStore::local_offset(ParamId) const {
  return 0;
}

void ParameterStore::local_parts_updated() {}

void ParameterStore::module_gradients_ready(const std::vector<ParamId>&) {}

void ParameterStore::flush_gradients() {
  for (size_t i = 0; i < entries_.size(); ++i) {
    autograd::Variable& v = entries_[i].variable;
    if (!v.grad().defined()) continue;
    const Tensor grad = v.grad().contiguous();
    deliver(ParamId{static_cast<int32_t>(i)}, grad.view({grad.numel()}));
    v.zero_grad();
  }
}

void ParameterStore::zero_grad() {
  for (Entry& e : entries_) e.variable.zero_grad();
}

}  // namespace t5zero::models
