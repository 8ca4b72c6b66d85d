#include "optim/lr_schedule.h"

#include <simdjson.h>

#include <algorithm>
#include <cmath>

#include "tensor/error.h"

namespace t5zero {

namespace {

// DeepSpeed 0.8 WarmupLR.__init__: warmup_num_steps = max(2, warmup_num_steps).
int64_t clamped_warmup_steps(const WarmupParams& p) {
  return std::max<int64_t>(2, p.warmup_num_steps);
}

// The warmup part of DeepSpeed's _get_gamma; valid for it < W.
double warmup_gamma(const WarmupParams& p, int64_t it, int64_t w) {
  if (p.warmup_type == WarmupType::log) {
    const double inverse_log_warm_up = 1.0 / std::log(static_cast<double>(w));
    return inverse_log_warm_up * std::log(static_cast<double>(it + 1));
  }
  return static_cast<double>(it) / static_cast<double>(w);
}

void check_iteration(int64_t it) {
  T5_CHECK(it >= 0, "lr schedule: last_batch_iteration: expected >= 0, got ", it);
}

double scale(const WarmupParams& p, double gamma) {
  const double delta_lr = p.warmup_max_lr - p.warmup_min_lr;
  return p.warmup_min_lr + delta_lr * gamma;
}

bool is_deepspeed_schedule(LrScheduleKind kind) {
  return kind == LrScheduleKind::warmup_lr || kind == LrScheduleKind::warmup_decay_lr;
}

}  // namespace

double warmup_lr(const WarmupParams& p, int64_t last_batch_iteration) {
  check_iteration(last_batch_iteration);
  const int64_t w = clamped_warmup_steps(p);
  const double gamma = last_batch_iteration < w ? warmup_gamma(p, last_batch_iteration, w) : 1.0;
  return scale(p, gamma);
}

double warmup_decay_lr(const WarmupParams& p, int64_t total_num_steps,
                       int64_t last_batch_iteration) {
  check_iteration(last_batch_iteration);
  const int64_t w = clamped_warmup_steps(p);
  double gamma;
  if (last_batch_iteration < w) {
    gamma = warmup_gamma(p, last_batch_iteration, w);
  } else {
    const double remaining = static_cast<double>(total_num_steps - last_batch_iteration);
    const double decay_steps = std::max(1.0, static_cast<double>(total_num_steps - w));
    gamma = std::max(0.0, remaining / decay_steps);
  }
  return scale(p, gamma);
}

double linear_with_warmup_factor(int64_t num_warmup_steps, int64_t num_training_steps,
                                 int64_t current_step) {
  T5_CHECK(current_step >= 0, "lr schedule: current_step: expected >= 0, got ", current_step);
  if (current_step < num_warmup_steps) {
    return static_cast<double>(current_step) /
           static_cast<double>(std::max<int64_t>(1, num_warmup_steps));
  }
  return std::max(
      0.0, static_cast<double>(num_training_steps - current_step) /
               static_cast<double>(std::max<int64_t>(1, num_training_steps - num_warmup_steps)));
}

std::string_view lr_schedule_name(LrScheduleKind kind) {
  switch (kind) {
    case LrScheduleKind::constant:
      return "constant";
    case LrScheduleKind::warmup_lr:
      return "WarmupLR";
    case LrScheduleKind::warmup_decay_lr:
      return "WarmupDecayLR";
    case LrScheduleKind::linear_with_warmup:
      return "linear";
  }
  fail("lr schedule: unknown kind ", static_cast<int>(kind));
}

void check_lr_schedule(const LrScheduleSpec& spec) {
  const std::string_view name = lr_schedule_name(spec.kind);
  T5_CHECK(spec.base_lr >= 0.0, "lr schedule ", name, ": lr: expected >= 0, got ", spec.base_lr);
  if (is_deepspeed_schedule(spec.kind)) {
    T5_CHECK(spec.warmup.warmup_num_steps >= 0, "lr schedule ", name,
             ": warmup_num_steps: expected >= 0, got ", spec.warmup.warmup_num_steps);
  }
  if (spec.kind == LrScheduleKind::warmup_decay_lr) {
    T5_CHECK(spec.total_num_steps > 0, "lr schedule ", name,
             ": total_num_steps: expected > 0, got ", spec.total_num_steps);
  }
  if (spec.kind == LrScheduleKind::linear_with_warmup) {
    T5_CHECK(spec.warmup_steps >= 0, "lr schedule ", name,
             ": num_warmup_steps: expected >= 0, got ", spec.warmup_steps);
    T5_CHECK(spec.total_num_steps >= 0, "lr schedule ", name,
             ": num_training_steps: expected >= 0, got ", spec.total_num_steps);
  }
}

LrScheduler::LrScheduler(const LrScheduleSpec& spec) : spec_(spec) {
  check_lr_schedule(spec_);
}

double LrScheduler::lr() const {
  switch (spec_.kind) {
    case LrScheduleKind::constant:
      return spec_.base_lr;
    case LrScheduleKind::warmup_lr:
      return steps_taken_ == 0 ? spec_.base_lr : warmup_lr(spec_.warmup, steps_taken_ - 1);
    case LrScheduleKind::warmup_decay_lr:
      return steps_taken_ == 0
                 ? spec_.base_lr
                 : warmup_decay_lr(spec_.warmup, spec_.total_num_steps, steps_taken_ - 1);
    case LrScheduleKind::linear_with_warmup:
      return spec_.base_lr *
             linear_with_warmup_factor(spec_.warmup_steps, spec_.total_num_steps, steps_taken_);
  }
  fail("lr schedule: unknown kind ", static_cast<int>(spec_.kind));
}

std::string LrScheduler::state_json() const {
  return detail::concat("{\"type\":\"", lr_schedule_name(spec_.kind),
                        "\",\"steps_taken\":", steps_taken_, "}");
}

void LrScheduler::load_state_json(std::string_view json, std::string_view where) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto error = parser.parse(json.data(), json.size()).get(root)) {
    fail(where,
         ": lr schedule state: expected JSON, got a parse error: ", simdjson::error_message(error));
  }
  std::string_view type;
  if (root["type"].get_string().get(type)) {
    fail(where, ": lr schedule state: type: expected a string");
  }
  T5_CHECK(type == lr_schedule_name(spec_.kind), where, ": lr schedule state: type: expected \"",
           lr_schedule_name(spec_.kind), "\" (the configured schedule), got \"", type, "\"");
  int64_t steps = 0;
  if (root["steps_taken"].get_int64().get(steps) || steps < 0) {
    fail(where, ": lr schedule state: steps_taken: expected an integer >= 0");
  }
  steps_taken_ = steps;
}

}  // namespace t5zero
