#include "train/training_args.h"

#include "tensor/cuda/device_select.h"
#include "tensor/device.h"

#include <filesystem>

#include "tensor/error.h"

namespace t5zero {

IntervalStrategy parse_interval_strategy(std::string_view flag, std::string_view text) {
  if (text == "no") return IntervalStrategy::no;
  if (text == "steps") return IntervalStrategy::steps;
  if (text == "epoch") return IntervalStrategy::epoch;
  fail("--", flag, ": expected \"no\", \"steps\" or \"epoch\", got \"", text, "\"");
}

const char* interval_strategy_name(IntervalStrategy strategy) {
  switch (strategy) {
    case IntervalStrategy::no:
      return "no";
    case IntervalStrategy::steps:
      return "steps";
    case IntervalStrategy::epoch:
      return "epoch";
  }
  return "?";
}

namespace {

void check_positive(const char* flag, int64_t value) {
  T5_CHECK(value > 0, "--", flag, ": expected an integer > 0, got ", value);
}

void check_non_negative(const char* flag, double value) {
  T5_CHECK(value >= 0, "--", flag, ": expected a value >= 0, got ", value);
}

int64_t effective_eval_steps(const TrainingArgs& args) {
  return args.eval_steps > 0 ? args.eval_steps : args.logging_steps;
}

}  // namespace

void validate_training_args(const TrainingArgs& args) {
  T5_CHECK(!args.model_id.empty(), "--model_id: expected a model folder, hub id or built-in name");
  T5_CHECK(!args.dataset_path.empty(),
           "--dataset_path: expected the folder `t5zero prepare` wrote");
  if (args.max_steps <= 0) {
    T5_CHECK(args.epochs > 0, "--epochs: expected an integer > 0 (or --max_steps > 0), got ",
             args.epochs);
  }
  check_positive("per_device_train_batch_size", args.per_device_train_batch_size);
  check_positive("per_device_eval_batch_size", args.per_device_eval_batch_size);
  check_positive("generation_max_length", args.generation_max_length);
  check_positive("generation_num_beams", args.generation_num_beams);
  check_positive("gradient_accumulation_steps", args.gradient_accumulation_steps);
  check_positive("logging_steps", args.logging_steps);
  check_positive("world_size", args.world_size);
  T5_CHECK(args.lr >= 0, "--lr: expected a learning rate >= 0, got ", args.lr);
  check_non_negative("weight_decay", args.weight_decay);
  check_non_negative("max_grad_norm", args.max_grad_norm);
  check_non_negative("warmup_steps", static_cast<double>(args.warmup_steps));
  T5_CHECK(args.warmup_ratio >= 0 && args.warmup_ratio <= 1,
           "--warmup_ratio: expected a value in [0, 1], got ", args.warmup_ratio);
  check_non_negative("save_total_limit", static_cast<double>(args.save_total_limit));
  check_non_negative("max_eval_samples", static_cast<double>(args.max_eval_samples));
  check_non_negative("num_threads", args.num_threads);
  check_non_negative("zero_trace_steps", args.zero_trace_steps);
  T5_CHECK(args.device == "auto" || args.device == "cpu" || args.device == "cuda",
           "--device: expected auto, cpu or cuda, got \"", args.device, "\"");
  check_non_negative("print_examples", static_cast<double>(args.print_examples));
  T5_CHECK(args.eval_steps >= 0, "--eval_steps: expected an integer >= 0, got ", args.eval_steps);
  if (args.save_strategy == IntervalStrategy::steps) check_positive("save_steps", args.save_steps);
  T5_CHECK(args.lr_scheduler_type == "linear" || args.lr_scheduler_type == "constant",
           "--lr_scheduler_type: expected \"linear\" or \"constant\", got \"",
           args.lr_scheduler_type, "\"");
  T5_CHECK(args.resume_from_checkpoint.empty() || args.resume_from_checkpoint == "latest" ||
               std::filesystem::is_directory(args.resume_from_checkpoint),
           "--resume_from_checkpoint: expected a checkpoint folder or \"latest\", got \"",
           args.resume_from_checkpoint, "\" (no such folder)");
  if (args.load_best_model_at_end) {
    // HF TrainingArguments.__post_init__: the best model is the best saved checkpoint, so every
    // evaluation must coincide with a save.
    T5_CHECK(args.eval_strategy != IntervalStrategy::no,
             "--load_best_model_at_end needs evaluations to rank checkpoints, but "
             "--eval_strategy is \"no\" (set --load_best_model_at_end false, or evaluate)");
    T5_CHECK(args.eval_strategy == args.save_strategy,
             "--load_best_model_at_end requires the save and eval strategy to match, but found "
             "--eval_strategy \"",
             interval_strategy_name(args.eval_strategy), "\" and --save_strategy \"",
             interval_strategy_name(args.save_strategy), "\"");
    if (args.eval_strategy == IntervalStrategy::steps) {
      T5_CHECK(args.save_steps % effective_eval_steps(args) == 0,
               "--load_best_model_at_end requires the saving steps to be a round multiple of the "
               "evaluation steps, but found --save_steps ",
               args.save_steps, ", which is not a round multiple of --eval_steps ",
               effective_eval_steps(args));
    }
  }
}

std::string resolved_output_dir(const TrainingArgs& args) {
  if (!args.output_dir.empty()) return args.output_dir;
  // As the script: model_id.split('/')[-1]; a trailing slash on a folder is not a name.
  std::string id = args.model_id;
  while (id.size() > 1 && id.back() == '/') id.pop_back();
  const size_t slash = id.find_last_of('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

TrainingFlags deepspeed_flags(const TrainingArgs& args, int64_t num_training_steps) {
  TrainingFlags f;
  f.per_device_train_batch_size = args.per_device_train_batch_size;
  f.gradient_accumulation_steps = args.gradient_accumulation_steps;
  f.max_grad_norm = args.max_grad_norm;
  f.learning_rate = args.lr;
  f.adam_beta1 = args.adam_beta1;
  f.adam_beta2 = args.adam_beta2;
  f.adam_epsilon = args.adam_epsilon;
  f.weight_decay = args.weight_decay;
  f.warmup_steps = args.warmup_steps;
  f.warmup_ratio = args.warmup_ratio;
  f.lr_scheduler_type = args.lr_scheduler_type;
  f.bf16 = args.bf16;
  f.num_training_steps = num_training_steps;
  return f;
}

Device resolve_training_device(const std::string& device) {
  if (device == "cpu") return Device::cpu();
  if (device == "auto" && (!cuda_compiled() || cuda_device_count() == 0)) return Device::cpu();
  T5_CHECK(cuda_compiled(),
           "--device cuda: this t5zero was built without CUDA (configure with "
           "-DT5ZERO_CUDA=ON on a machine with nvcc)");
  return Device::cuda(cuda::select_device_for_local_rank());
}

}  // namespace t5zero
