// What a run will do, resolved before it starts: precision, batch layout, optimizer, schedule
// and clipping — from a DeepSpeed config with its "auto" values filled as Hugging Face fills
// them, or, without one, from the flags as the HF Trainer builds its own AdamW and schedule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "io/json_writer.h"
#include "optim/adamw.h"
#include "optim/lr_schedule.h"
#include "train/deepspeed_config.h"
#include "train/training_args.h"

namespace t5zero {

struct TrainingPlan {
  Precision precision = Precision::fp32;
  int64_t world_size = 1;
  int64_t micro_batch_size = 0;
  int64_t gradient_accumulation_steps = 1;
  int64_t num_training_steps = 0;  // optimizer steps of the whole run
  int64_t num_epochs = 0;          // epochs the loop will enter
  double max_grad_norm = 0;        // 0: no clipping
  AdamWHyperparams optimizer;
  // HF's own optimizer (no "optimizer" block) exempts biases and layer norms from weight decay
  // with a second parameter group; DeepSpeed's optimizer decays every parameter.
  bool exempt_norms_and_biases_from_decay = true;
  LrScheduleSpec schedule;
  std::optional<ResolvedDeepSpeedConfig> deepspeed;
};

// `steps_per_epoch` is the optimizer steps of one epoch (EpochPlan), `d_model` the model's (for
// the ZeRO bucket "auto" values). Throws for bad flags or a bad config, naming them.
TrainingPlan plan_training(const TrainingArgs& args, int64_t steps_per_epoch, int64_t d_model);

// The plan as one JSON object value (run_summary.json's "resolved_config").
void write_training_plan(JsonWriter& json, const TrainingPlan& plan);

}  // namespace t5zero
