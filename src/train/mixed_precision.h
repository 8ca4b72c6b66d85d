// The optimizer's side of the parameters: flat fp32 ranges per parameter — master weights,
// accumulated gradients, AdamW moments — that the optimizer, gradient clipping and checkpoints
// work on, while the model computes with the store's weights.
//
//   fp32: the master weights are the store's own f32 tensors; AdamW updates them in place.
//   bf16: the store holds bf16 weights (what forward and backward read and produce); the fp32
//         masters live here, start as the bf16 weights widened (as DeepSpeed's fp32 partition is
//         a clone of the 16-bit one), and after each step AdamW writes the rounded bf16 copy back
//         into the store in the same pass.
// Gradients of every micro-batch are added into fp32 accumulators, so accumulation never rounds
// to bf16. In one process each range is a whole parameter; a ZeRO store hands out its shard.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "models/parameter_store.h"
#include "optim/adamw.h"
#include "train/deepspeed_config.h"

namespace t5zero {

class MasterParameters {
 public:
  // The store's dtype must match the precision (f32 for fp32, bf16 for bf16). Installs itself
  // as the store's gradient sink. The ranges live on `optimizer_device`: the store's device by
  // default, or the host with the store on a GPU (DeepSpeed's offload_optimizer: gradients
  // come to the host, AdamW runs there, updated weights go back).
  MasterParameters(models::ParameterStore& store, Precision precision);
  // `host_memory` pinned: offloaded ranges in page-locked memory (DeepSpeed's pin_memory), for
  // faster copies to and from the GPU.
  MasterParameters(models::ParameterStore& store, Precision precision, Device optimizer_device,
                   HostMemory host_memory = HostMemory::aligned);
  ~MasterParameters();
  MasterParameters(const MasterParameters&) = delete;
  MasterParameters& operator=(const MasterParameters&) = delete;

  Precision precision() const { return precision_; }
  Device optimizer_device() const { return optimizer_device_; }
  // True when the fp32 masters are the store's own tensors (fp32, optimizer beside the weights).
  bool masters_are_parameters() const { return masters_are_parameters_; }
  models::ParameterStore& store() const { return *store_; }
  size_t size() const { return slots_.size(); }

  // Flat fp32 ranges of parameter `id` (this rank's part of it), on the store's device.
  Tensor master_tensor(models::ParamId id);
  Tensor gradient_tensor(models::ParamId id);
  Tensor exp_avg_tensor(models::ParamId id);
  Tensor exp_avg_sq_tensor(models::ParamId id);
  // The same ranges as host spans (CPU stores only).
  std::span<float> master(models::ParamId id);
  std::span<float> gradient(models::ParamId id);
  std::span<float> exp_avg(models::ParamId id);
  std::span<float> exp_avg_sq(models::ParamId id);

  // After a micro-batch's backward: has the store hand over the gradients still pending (every
  // one in one process; under ZeRO most arrived already, reduce-scattered during backward),
  // which are added into the fp32 accumulators. A parameter no gradient reached adds nothing.
  void accumulate_gradients();
  // Zeroes the accumulators (after an optimizer step).
  void zero_gradients();
  // Sum of squares of this rank's accumulators, in store order (for the global gradient norm).
  double gradient_sum_of_squares();
  // Multiplies every accumulator by `coefficient` (clipping).
  void scale_gradients(float coefficient);

  // AdamW spans of these parameters: master, accumulated gradient, moments, and in bf16 (with
  // the optimizer beside the weights) the store's weight as the copy-out target. After the
  // optimizer ran on every group, call finish_step().
  std::vector<AdamWSpan> adamw_spans(const std::vector<models::ParamId>& ids);
  // Brings the model's weights up to date with the masters AdamW just updated: copies them over
  // when the optimizer is offloaded, then store().local_parts_updated().
  void finish_step();

  // After the masters were overwritten (a checkpoint loaded): the model's weights from them.
  void copy_masters_to_model();
  // After the model's weights were overwritten (a best model loaded): the masters from them.
  void copy_model_to_masters();

  // Bytes held here, by what they are (run_summary.json).
  int64_t master_bytes() const;     // 0 in fp32: the masters are the parameters
  int64_t gradient_bytes() const;   // the fp32 accumulators
  int64_t optimizer_bytes() const;  // the two moments

 private:
  struct Slot {
    models::ParamId id;
    int64_t numel = 0;  // this rank's part
    Tensor master;      // unless the masters are the parameters
    Tensor gradient;
    Tensor exp_avg;
    Tensor exp_avg_sq;
  };
  Slot& slot(models::ParamId id);
  void add_gradient(models::ParamId id, const Tensor& local_gradient);

  models::ParameterStore* store_;
  Precision precision_;
  Device optimizer_device_;
  bool masters_are_parameters_ = false;
  std::vector<Slot> slots_;
};

// Parameters Hugging Face's Trainer exempts from weight decay: biases (any name containing
// "bias", which for T5 means the relative-attention-bias tables) and layer-norm weights.
bool exempt_from_weight_decay(const std::string& name);

}  // namespace t5zero
