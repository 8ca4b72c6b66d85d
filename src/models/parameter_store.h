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
#include <functional>
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

// Receives this rank's part of a parameter's gradient: a flat tensor of local_numel(id)
// elements (f32 or the store's dtype) to add into the optimizer's accumulator. A parameter can
// receive several contributions in one backward pass (a weight used by several modules).
using GradientSink = std::function<void(ParamId id, const Tensor& local_gradient)>;

class ParameterStore {
 public:
  explicit ParameterStore(DType dtype = DType::f32, Device device = Device::cpu())
      : dtype_(dtype), device_(device) {}
  virtual ~ParameterStore() = default;
  ParameterStore(const ParameterStore&) = delete;
  ParameterStore& operator=(const ParameterStore&) = delete;

  // Registers a zero-filled parameter that requires grad; names are unique.
  ParamId add(const std::string& name, const Shape& shape, InitRecipe init);

  DType dtype() const { return dtype_; }
  // Where the parameters (and the computation that reads them) live.
  Device device() const { return device_; }
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
  // Overwrites a parameter's value (loading, initialisation) from its full value, on any
  // device; the shape must match. A ZeRO store keeps only its part.
  virtual void assign(ParamId id, const Tensor& value);

  // ---- what the optimizer sees: this rank's part of each parameter ----------------------------
  // A flat contiguous view (sharing storage) of the elements this rank updates: the whole
  // parameter in one process, the shard [local_offset, local_offset + local_numel) under ZeRO.
  virtual Tensor local_part(ParamId id) const;
  // Where the local parts live: the parameters' device, or the host when a ZeRO store offloads
  // its shards (offload_param).
  virtual Device local_device() const { return device_; }
  virtual int64_t local_offset(ParamId id) const;
  int64_t local_numel(ParamId id) const { return local_part(id).numel(); }
  // After the optimizer wrote new local parts: makes the full copies current where a store keeps
  // them (ZeRO's persistent parameters). Nothing in one process.
  virtual void local_parts_updated();

  // ---- gradients ------------------------------------------------------------------------------
  // Where gradients go (MasterParameters installs itself). Without a sink gradients stay in the
  // Variables' grad.
  void set_gradient_sink(GradientSink sink) { sink_ = std::move(sink); }
  // Called by a module scope's backward once the module's backward nodes have run, before its
  // parameters are released: a ZeRO store reduce-scatters their gradients into the sink here,
  // so full gradients never pile up. Nothing in one process (flush_gradients hands them over).
  virtual void module_gradients_ready(const std::vector<ParamId>& ids);
  // After a backward pass: hands every gradient still held by a Variable to the sink (reduced
  // across ranks under ZeRO) and clears it.
  virtual void flush_gradients();

  void zero_grad();

 protected:
  // The data a new parameter's Variable starts with: zeros of its shape here; a ZeRO store
  // starts with nothing gathered.
  virtual Tensor initial_data(const ParameterSpec& spec) const;
  // The leaf itself, for stores that swap its data in and out.
  autograd::Variable& mutable_variable(ParamId id);

  // The sink, or a no-op when none is set.
  void deliver(ParamId id, const Tensor& local_gradient) const {
    if (sink_) sink_(id, local_gradient);
  }

 private:
  struct Entry {
    ParameterSpec spec;
    autograd::Variable variable;
  };
  const Entry& entry(ParamId id) const;

  DType dtype_;
  Device device_;
  GradientSink sink_;
  std::vector<Entry> entries_;
  std::unordered_map<std::string, ParamId> index_;
};

}  // namespace t5zero::models
