// The settings of one training run: the reference script's flags (run_seq2seq_deepspeed.py, with
// its defaults) and the Hugging Face TrainingArguments it sets or leaves at their defaults, under
// the same names. `t5zero train` fills this from its command line; tests fill it directly.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tensor/device.h"
#include "train/deepspeed_config.h"

namespace t5zero {

// HF IntervalStrategy: when to evaluate or save.
enum class IntervalStrategy { no, steps, epoch };

// "no", "steps" or "epoch"; anything else is an error naming `flag`.
IntervalStrategy parse_interval_strategy(std::string_view flag, std::string_view text);
const char* interval_strategy_name(IntervalStrategy strategy);

struct TrainingArgs {
  // The reference script's flags and defaults.
  std::string model_id = "google/flan-t5-xl";
  std::string dataset_path = "data";
  int64_t epochs = 3;
  int64_t per_device_train_batch_size = 8;
  int64_t per_device_eval_batch_size = 8;
  int64_t generation_max_length = 140;
  int64_t generation_num_beams = 4;
  double lr = 3e-3;
  int64_t seed = 42;
  std::string deepspeed;  // a DeepSpeed JSON config; empty: AdamW + HF's schedule from the flags
  bool gradient_checkpointing = true;
  bool bf16 = false;  // the recipe's default is true only on compute capability 8.x GPUs

  // TrainingArguments the script sets (its values are the defaults here) or HF defaults.
  std::string output_dir;  // empty: the model name, as the script's model_id.split('/')[-1]
  int64_t max_steps = -1;  // > 0: overrides epochs
  int64_t logging_steps = 500;
  IntervalStrategy eval_strategy = IntervalStrategy::epoch;
  int64_t eval_steps = 0;  // 0: logging_steps, as HF
  IntervalStrategy save_strategy = IntervalStrategy::epoch;
  int64_t save_steps = 500;
  int64_t save_total_limit = 2;  // 0: keep every checkpoint
  bool load_best_model_at_end = true;
  int64_t gradient_accumulation_steps = 1;
  double weight_decay = 0.0;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;  // 0: no clipping
  std::string lr_scheduler_type = "linear";
  std::string resume_from_checkpoint;  // a checkpoint folder, "latest" (in output_dir), or ""
  int64_t max_eval_samples = 0;        // > 0: evaluate on the first N rows of the eval split
  int num_threads = 0;                 // 0: OpenMP's default

  // t5zero's own.
  bool shuffle = true;           // epoch shuffling from the seed; off: rows in dataset order
  bool progress = false;         // the progress bar even when stderr is not a terminal
  int64_t print_examples = 0;    // at the end: this many eval rows, article -> summary
  std::string zero_trace;        // ZeRO runs: rank 0's partition events as JSON lines, here
  int64_t zero_trace_steps = 1;  // ... for this many optimizer steps
  int64_t world_size = 1;        // ranks of the run (the ZeRO engine sets it)
  // Where the model computes: "auto" (this rank's GPU when the build has CUDA and a GPU is
  // visible, else the CPU), "cpu" or "cuda".
  std::string device = "auto";
};

// The device `args.device` names for this process: a GPU picked by the node-local rank, or the
// CPU. "cuda" without a usable GPU is an error saying why.
Device resolve_training_device(const std::string& device);

// Throws an Error naming the flag for values no run can use (non-positive batch sizes, negative
// steps, a best-model setup HF refuses, ...).
void validate_training_args(const TrainingArgs& args);

// output_dir, or the last component of model_id when it is empty.
std::string resolved_output_dir(const TrainingArgs& args);

// The flags DeepSpeed's "auto" values read, for a run of `num_training_steps` optimizer steps.
TrainingFlags deepspeed_flags(const TrainingArgs& args, int64_t num_training_steps);

}  // namespace t5zero
