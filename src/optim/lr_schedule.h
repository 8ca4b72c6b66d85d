// Learning-rate schedules: DeepSpeed 0.8's WarmupLR and WarmupDecayLR, Hugging Face's linear
// schedule with warmup (what the Trainer uses without a DeepSpeed "scheduler" block), and a
// constant. The formulas are pure functions; LrScheduler adds the step bookkeeping each library
// does around them, so the lr of every optimizer step equals the reference's.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace t5zero {

enum class WarmupType { log, linear };

// DeepSpeed `WarmupLR` / `WarmupDecayLR` params, with DeepSpeed's defaults.
struct WarmupParams {
  double warmup_min_lr = 0.0;
  double warmup_max_lr = 0.001;
  int64_t warmup_num_steps = 1000;
  WarmupType warmup_type = WarmupType::log;
};

// DeepSpeed WarmupLR.get_lr() at `last_batch_iteration` (>= 0): min + (max - min)·gamma with
//   log:    gamma = ln(it + 1) / ln(W)   while it < W
//   linear: gamma = it / W               while it < W
//   gamma = 1 afterwards (constant, no decay).
// W = max(2, warmup_num_steps): DeepSpeed 0.8 clamps it so ln(W) > 0, which is why a zero
// warmup still yields one step at warmup_min_lr (gamma = ln 1 / ln 2 = 0) before the maximum.
double warmup_lr(const WarmupParams& p, int64_t last_batch_iteration);

// DeepSpeed WarmupDecayLR.get_lr(): the same warmup, then
//   gamma = max(0, (total - it) / max(1, total - W)) — a linear decay to 0 at `total_num_steps`.
double warmup_decay_lr(const WarmupParams& p, int64_t total_num_steps,
                       int64_t last_batch_iteration);

// transformers get_linear_schedule_with_warmup's multiplier at `current_step` (>= 0):
//   step / max(1, warmup) while step < warmup, then max(0, (total - step) / max(1, total -
//   warmup)).
double linear_with_warmup_factor(int64_t num_warmup_steps, int64_t num_training_steps,
                                 int64_t current_step);

enum class LrScheduleKind { constant, warmup_lr, warmup_decay_lr, linear_with_warmup };

// Name as written in a DeepSpeed config ("WarmupLR", "WarmupDecayLR") or by HF ("linear",
// "constant").
std::string_view lr_schedule_name(LrScheduleKind kind);

struct LrScheduleSpec {
  LrScheduleKind kind = LrScheduleKind::constant;
  double base_lr = 0.0;  // the optimizer's lr; scaled by the HF schedules, used by DS before step 1
  WarmupParams warmup;   // warmup_lr, warmup_decay_lr
  int64_t warmup_steps = 0;     // linear_with_warmup: num_warmup_steps
  int64_t total_num_steps = 0;  // warmup_decay_lr, linear_with_warmup
};

// Throws for a spec that no library would accept (negative steps, warmup_decay_lr without a
// positive total_num_steps, ...), naming the field.
void check_lr_schedule(const LrScheduleSpec& spec);

// The schedule's state across optimizer steps: call lr() for the step about to run, then
// advance() after the optimizer stepped. This reproduces where each library evaluates its
// schedule:
// - DeepSpeed schedulers start at last_batch_iteration = -1 and do not touch the optimizer's lr
//   at construction, so step 1 runs at the optimizer's own lr (base_lr); after each step the
//   engine calls scheduler.step(), and step k >= 2 runs at get_lr(k - 2).
// - HF LambdaLR schedules apply the multiplier of step 0 at construction: step k runs at
//   base_lr · factor(k - 1).
class LrScheduler {
 public:
  explicit LrScheduler(const LrScheduleSpec& spec);

  const LrScheduleSpec& spec() const { return spec_; }
  // Learning rate for the next optimizer step.
  double lr() const;
  // Call once after each optimizer step that was taken.
  void advance() { ++steps_taken_; }
  int64_t steps_taken() const { return steps_taken_; }

  // Resume: {"type":"WarmupLR","steps_taken":N}. Loading checks that the type matches.
  std::string state_json() const;
  void load_state_json(std::string_view json, std::string_view where);

 private:
  LrScheduleSpec spec_;
  int64_t steps_taken_ = 0;
};

}  // namespace t5zero
