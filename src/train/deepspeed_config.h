// A DeepSpeed JSON config with its "auto" values resolved as the Hugging Face Trainer resolves
// them (transformers 4.26 deepspeed.py, HfTrainerDeepSpeedConfig), then read with DeepSpeed
// 0.8's defaults and derivations. The reference recipe's four configs work unchanged.
//
// HF's rules, reproduced here:
// - "auto" is replaced by the flag's value; a key that is absent stays absent (DeepSpeed's
//   default applies), and a block that is absent is not created.
// - An explicit value that differs from the flag is a mismatch; all mismatches are reported in
//   one error, in HF's words. warmup_min_lr and the ZeRO bucket sizes are filled, never checked.
// t5zero's own rules on top: fp16 (and apex amp) is refused, every key t5zero does not know is
// warned about by name, and known keys that the trainer does not act on yet are listed.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "io/json.h"
#include "optim/adamw.h"
#include "optim/lr_schedule.h"

namespace t5zero {

// The training flags that "auto" reads: HF TrainingArguments' names and defaults, except those
// the reference script sets (per_device_train_batch_size 8, lr 3e-3).
struct TrainingFlags {
  int64_t per_device_train_batch_size = 8;
  int64_t gradient_accumulation_steps = 1;
  double max_grad_norm = 1.0;
  double learning_rate = 3e-3;  // --lr
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double weight_decay = 0.0;
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;  // used when warmup_steps is 0: ceil(num_training_steps · ratio)
  std::string lr_scheduler_type = "linear";  // without a "scheduler" block: "linear" or "constant"
  bool bf16 = false;
  // Optimizer steps of the whole run (HF's max_steps or epochs × steps per epoch); fills
  // scheduler total_num_steps and the warmup_ratio warmup.
  int64_t num_training_steps = 0;
};

enum class Precision { fp32, bf16 };

enum class OffloadDevice { none, cpu, nvme };

// DeepSpeed 0.8 offload_optimizer / offload_param, with its defaults.
struct OffloadConfig {
  OffloadDevice device = OffloadDevice::none;
  bool pin_memory = false;
  int64_t buffer_count = 4;  // 5 for offload_param
  int64_t buffer_size = 100000000;
  int64_t max_in_cpu = 1000000000;
  bool fast_init = false;
  std::string nvme_path;
};

// DeepSpeed 0.8 zero_optimization, with its defaults (deepspeed/runtime/zero/config.py).
struct ZeroConfig {
  int64_t stage = 0;
  bool contiguous_gradients = true;
  bool reduce_scatter = true;
  bool overlap_comm = false;  // DeepSpeed: unset means true for stage 3
  int64_t reduce_bucket_size = 500000000;
  int64_t allgather_bucket_size = 500000000;
  int64_t stage3_prefetch_bucket_size = 50000000;
  int64_t stage3_param_persistence_threshold = 100000;
  int64_t stage3_model_persistence_threshold = std::numeric_limits<int64_t>::max();
  int64_t stage3_max_live_parameters = 1000000000;
  int64_t stage3_max_reuse_distance = 1000000000;
  int64_t sub_group_size = 1000000000;
  bool stage3_gather_16bit_weights_on_model_save = false;
  OffloadConfig offload_optimizer;
  OffloadConfig offload_param;
};

// A known key present in the file that the trainer does not act on yet, with its resolved value.
struct NotYetHonoured {
  std::string key;    // "zero_optimization.stage"
  std::string value;  // compact JSON: "3", "true", "16777216"
};

struct ResolvedDeepSpeedConfig {
  std::string source;  // the config's path
  int64_t world_size = 1;
  int64_t train_batch_size = 0;
  int64_t train_micro_batch_size_per_gpu = 0;
  int64_t gradient_accumulation_steps = 0;
  double gradient_clipping = 0.0;  // 0: no clipping (DeepSpeed's default when the key is absent)
  Precision precision = Precision::fp32;
  bool optimizer_from_config = false;  // false: no "optimizer" block, AdamW from the flags
  AdamWHyperparams optimizer;
  bool scheduler_from_config = false;  // false: no "scheduler" block, HF's lr_scheduler_type
  LrScheduleSpec scheduler;
  ZeroConfig zero;
  int64_t steps_per_print = 10;
  bool wall_clock_breakdown = false;

  std::vector<std::string> warnings;  // unknown keys and surprising-but-valid resolutions
  std::vector<NotYetHonoured> not_yet_honoured;
  std::string resolved_json;  // the file with every "auto" filled, as HF hands it to DeepSpeed
};

// The parsed file, before resolution.
struct DeepSpeedConfigFile {
  std::string source;
  JsonValue root;
};

// Reads and parses a config. Bad JSON is reported with its line and column; the root must be
// an object.
DeepSpeedConfigFile load_deepspeed_config(const std::string& path);
DeepSpeedConfigFile parse_deepspeed_config(std::string_view text, const std::string& source);

// Fills "auto" from the flags and the model's d_model, checks explicit values against the
// flags, applies DeepSpeed's defaults and batch-size derivation. Errors name the file and the
// key path; mismatches list each key with its config value and flag value.
ResolvedDeepSpeedConfig resolve_auto(const DeepSpeedConfigFile& config, const TrainingFlags& flags,
                                     int64_t world_size, int64_t d_model);

// What the trainer prints: the warnings, the keys not yet honoured, and the resolved JSON.
std::string format_resolution_report(const ResolvedDeepSpeedConfig& config);

// Writes resolved_json to <output_dir>/ds_config_resolved.json (atomically); returns the path.
std::string save_resolved_config(const ResolvedDeepSpeedConfig& config,
                                 const std::string& output_dir);

}  // namespace t5zero
