// ParameterStore: owns every model parameter, keyed by its Hugging Face name. Modules hold
// ParamIds (handles), never tensors, and ask the store to make their parameters present while
// they compute (see parameter_scope.h).
//
// In one process every parameter is always present, so gather and release do nothing. A ZeRO-3
// store keeps only this rank's shard between uses: it overrides gather (all-gather the full
// tensors into each parameter's Variable) and release (drop them again). Because a parameter's
// Variable is the same object before and after a gather, autograd nodes that captured it read
// the gathered data at backward time, once the backward scope has gathered it again.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "autograd/variable.h"
#include "tensor/tensor.h"

namespace t5zero::models {

// Index of a parameter in its store.
struct ParamId {
  int32_t index = -1;
  bool valid() const { return index >= 0; }
  bool operator==(const ParamId&) const = default;
};

// How random initialisation fills a parameter: N(0, std²) or a constant.
struct InitRecipe {
  enum class Kind { normal, constant };
  Kind kind = Kind::normal;
  double value = 0;  // the standard deviation (normal) or the value (constant)

  static InitRecipe normal(double std) { return {Kind::normal, std}; }
  static InitRecipe constant(double value) { return {Kind::constant, value}; }
};

struct ParameterSpec {
  std::string name;  // the Hugging Face state-dict name, e.g.
                     // "encoder.block.0.layer.0.SelfAttention.q.weight"
  Shape shape;
  DType dtype = DType::f32;
  InitRecipe init;
};

class ParameterStore {
 public:
  explicit ParameterStore(DType dtype = DType::f32) : dtype_(dtype) {}
  virtual ~ParameterStore() = default;
  ParameterStore(const ParameterStore&) = delete;
  ParameterStore& operator=(const ParameterStore&) = delete;

  // Registers a zero-filled parameter that requires grad; names are unique.
  ParamId add(const std::string& name, const Shape& shape, InitRecipe init);

  DType dtype() const { return dtype_; }
  int64_t size() const { return static_cast<int64_t>(entries_.size()); }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // The id of a registered name; an error names it when unknown.
  ParamId id(const std::string& name) const;
  std::vector<ParamId> ids() const;
  const ParameterSpec& spec(ParamId id) const;
  // The parameter's autograd leaf. Its data is the full tensor only between gather and release.
  const autograd::Variable& variable(ParamId id) const;
  // Total number of elements of all parameters.
  int64_t numel() const;

  // Makes the full data of these parameters present / gives it back (no-ops in one process).
  virtual void gather(const std::vector<ParamId>& ids);
  virtual void release(const std::vector<ParamId>& ids);
  // Overwrites a parameter's value (loading, initialisation); the shape must match.
  virtual void assign(ParamId id, const Tensor& value);

  void zero_grad();

 private:
  struct Entry {
    ParameterSpec spec;
    autograd::Variable variable;
  };
  const Entry& entry(ParamId id) const;

  DType dtype_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, ParamId> index_;
};

}  // namespace t5zero::models
