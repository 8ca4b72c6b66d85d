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
  // The store's dtype must match the precision (f32 for fp32, bf16 for bf16).
  MasterParameters(models::ParameterStore& store, Precision precision);

  Precision precision() const { return precision_; }
  models::ParameterStore& store() const { return *store_; }
  size_t size() const { return slots_.size(); }

  // Flat fp32 ranges of parameter `id`.
  std::span<float> master(models::ParamId id);
  std::span<float> gradient(models::ParamId id);
  std::span<float> exp_avg(models::ParamId id);
  std::span<float> exp_avg_sq(models::ParamId id);

  // After a micro-batch's backward: adds every parameter's gradient into its fp32 accumulator
  // and clears the parameter's own gradient. A parameter no gradient reached adds nothing.
  void accumulate_gradients();
  // Zeroes the accumulators (after an optimizer step).
  void zero_gradients();
  // Every accumulator, in store order (for the global gradient norm and clipping).
  std::vector<std::span<float>> gradients();
  std::vector<std::span<const float>> const_gradients();

  // AdamW spans of these parameters: master, accumulated gradient, moments, and in bf16 the
  // store's weight as the copy-out target.
  std::vector<AdamWSpan> adamw_spans(const std::vector<models::ParamId>& ids);

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
    int64_t numel = 0;
    std::vector<float> master;  // bf16 only
    std::vector<float> gradient;
    std::vector<float> exp_avg;
    std::vector<float> exp_avg_sq;
  };
  Slot& slot(models::ParamId id);

  models::ParameterStore* store_;
  Precision precision_;
  std::vector<Slot> slots_;
};

// Parameters Hugging Face's Trainer exempts from weight decay: biases (any name containing
// "bias", which for T5 means the relative-attention-bias tables) and layer-norm weights.
bool exempt_from_weight_decay(const std::string& name);

}  // namespace t5zero
