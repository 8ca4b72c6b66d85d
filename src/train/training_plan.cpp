#include "train/training_plan.h"

#include <cmath>

#include "io/json_writer.h"
#include "tensor/error.h"

namespace t5zero {

TrainingPlan plan_training(const TrainingArgs& args, int64_t steps_per_epoch, int64_t d_model) {
  validate_training_args(args);
  T5_CHECK(steps_per_epoch > 0, "training plan: an epoch of no optimizer steps");
  TrainingPlan plan;
  plan.world_size = args.world_size;
  // HF: max_steps wins over epochs; the loop then runs as many epochs as those steps need.
  if (args.max_steps > 0) {
    plan.num_training_steps = args.max_steps;
    plan.num_epochs = (args.max_steps + steps_per_epoch - 1) / steps_per_epoch;
  } else {
    plan.num_training_steps = args.epochs * steps_per_epoch;
    plan.num_epochs = args.epochs;
  }
  const TrainingFlags flags = deepspeed_flags(args, plan.num_training_steps);

  if (!args.deepspeed.empty()) {
    const ResolvedDeepSpeedConfig ds =
        resolve_auto(load_deepspeed_config(args.deepspeed), flags, args.world_size, d_model);
    plan.precision = ds.precision;
    plan.micro_batch_size = ds.train_micro_batch_size_per_gpu;
    plan.gradient_accumulation_steps = ds.gradient_accumulation_steps;
    plan.max_grad_norm = ds.gradient_clipping;
    plan.optimizer = ds.optimizer;
    plan.exempt_norms_and_biases_from_decay = !ds.optimizer_from_config;
    plan.schedule = ds.scheduler;
    plan.deepspeed = ds;
    return plan;
  }

  // The HF Trainer on its own: AdamW from the flags, get_scheduler(lr_scheduler_type), clipping
  // by max_grad_norm, bf16 by --bf16.
  plan.precision = args.bf16 ? Precision::bf16 : Precision::fp32;
  plan.micro_batch_size = args.per_device_train_batch_size;
  plan.gradient_accumulation_steps = args.gradient_accumulation_steps;
  plan.max_grad_norm = args.max_grad_norm;
  plan.optimizer.lr = args.lr;
  plan.optimizer.beta1 = args.adam_beta1;
  plan.optimizer.beta2 = args.adam_beta2;
  plan.optimizer.eps = args.adam_epsilon;
  plan.optimizer.weight_decay = args.weight_decay;
  check_adamw_hyperparams(plan.optimizer);
  plan.schedule.base_lr = args.lr;
  if (args.lr_scheduler_type == "constant") {
    plan.schedule.kind = LrScheduleKind::constant;
  } else {
    plan.schedule.kind = LrScheduleKind::linear_with_warmup;
    // TrainingArguments.get_warmup_steps.
    plan.schedule.warmup_steps =
        args.warmup_steps > 0
            ? args.warmup_steps
            : static_cast<int64_t>(
                  std::ceil(static_cast<double>(plan.num_training_steps) * args.warmup_ratio));
    plan.schedule.total_num_steps = plan.num_training_steps;
  }
  check_lr_schedule(plan.schedule);
  return plan;
}

void write_training_plan(JsonWriter& json, const TrainingPlan& plan) {
  json.begin_object();
  json.key("precision").value(plan.precision == Precision::bf16 ? "bf16" : "fp32");
  json.key("world_size").value(plan.world_size);
  json.key("train_micro_batch_size_per_gpu").value(plan.micro_batch_size);
  json.key("gradient_accumulation_steps").value(plan.gradient_accumulation_steps);
  json.key("train_batch_size")
      .value(plan.world_size * plan.micro_batch_size * plan.gradient_accumulation_steps);
  json.key("num_training_steps").value(plan.num_training_steps);
  json.key("gradient_clipping").value(plan.max_grad_norm);
  json.key("optimizer").begin_object();
  json.key("type").value("AdamW");
  json.key("lr").value(plan.optimizer.lr);
  json.key("betas").begin_array().value(plan.optimizer.beta1).value(plan.optimizer.beta2);
  json.end_array();
  json.key("eps").value(plan.optimizer.eps);
  json.key("weight_decay").value(plan.optimizer.weight_decay);
  json.key("decay_exempts_norms_and_biases").value(plan.exempt_norms_and_biases_from_decay);
  json.end_object();
  json.key("scheduler").begin_object();
  json.key("type").value(lr_schedule_name(plan.schedule.kind));
  switch (plan.schedule.kind) {
    case LrScheduleKind::warmup_lr:
    case LrScheduleKind::warmup_decay_lr:
      json.key("warmup_min_lr").value(plan.schedule.warmup.warmup_min_lr);
      json.key("warmup_max_lr").value(plan.schedule.warmup.warmup_max_lr);
      json.key("warmup_num_steps").value(plan.schedule.warmup.warmup_num_steps);
      json.key("warmup_type")
          .value(plan.schedule.warmup.warmup_type == WarmupType::log ? "log" : "linear");
      if (plan.schedule.kind == LrScheduleKind::warmup_decay_lr) {
        json.key("total_num_steps").value(plan.schedule.total_num_steps);
      }
      break;
    case LrScheduleKind::linear_with_warmup:
      json.key("lr").value(plan.schedule.base_lr);
      json.key("num_warmup_steps").value(plan.schedule.warmup_steps);
      json.key("num_training_steps").value(plan.schedule.total_num_steps);
      break;
    case LrScheduleKind::constant:
      json.key("lr").value(plan.schedule.base_lr);
      break;
  }
  json.end_object();
  json.key("deepspeed_config").value(plan.deepspeed ? plan.deepspeed->source : "");
  // What the config asks for that this run does not do yet (ZeRO, offload): never silent.
  json.key("deepspeed_not_yet_honoured").begin_object();
  if (plan.deepspeed) {
    for (const NotYetHonoured& key : plan.deepspeed->not_yet_honoured) {
      json.key(key.key).value(key.value);
    }
  }
  json.end_object();
  json.end_object();
}

}  // namespace t5zero
