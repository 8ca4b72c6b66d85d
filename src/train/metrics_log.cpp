#include "train/metrics_log.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "io/atomic_file.h"
#include "io/json_writer.h"
#include "tensor/error.h"

namespace t5zero {

namespace {

// JSON has no NaN or infinity; such a value is written as null.
void number(JsonWriter& json, const char* key, double value) {
  json.key(key);
  if (std::isfinite(value)) {
    json.value(value);
  } else {
    json.null();
  }
}

void eval_object(JsonWriter& json, const EvalLogRecord& r) {
  json.begin_object();
  json.key("step").value(r.step);
  number(json, "epoch", r.epoch);
  number(json, "eval_loss", r.eval_loss);
  if (r.rouge1) number(json, "eval_rouge1", *r.rouge1);
  if (r.rouge2) number(json, "eval_rouge2", *r.rouge2);
  if (r.rougeL) number(json, "eval_rougeL", *r.rougeL);
  if (r.rougeLsum) number(json, "eval_rougeLsum", *r.rougeLsum);
  if (r.gen_len) number(json, "eval_gen_len", *r.gen_len);
  json.key("eval_samples").value(r.samples);
  number(json, "eval_runtime", r.seconds);
  json.end_object();
}

}  // namespace

double wall_time_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

MetricsLog::MetricsLog(const std::string& output_dir)
    : metrics_path_((std::filesystem::path(output_dir) / "metrics.jsonl").string()),
      tensorboard_((std::filesystem::path(output_dir) / "logs").string()) {}

void MetricsLog::append_line(const std::string& json) {
  // One write per line, flushed: a reader (or a crash) sees whole lines only.
  std::ofstream out(metrics_path_, std::ios::app | std::ios::binary);
  T5_CHECK(out.good(), metrics_path_, ": cannot open for appending");
  out << json << '\n';
  out.flush();
  T5_CHECK(out.good(), metrics_path_, ": write failed");
}

void MetricsLog::log_train(const TrainLogRecord& r) {
  JsonWriter json;
  json.begin_object();
  json.key("step").value(r.step);
  number(json, "epoch", r.epoch);
  number(json, "loss", r.loss);
  number(json, "lr", r.lr);
  number(json, "grad_norm", r.grad_norm);
  number(json, "tokens_per_s", r.tokens_per_s);
  number(json, "samples_per_s", r.samples_per_s);
  json.end_object();
  append_line(json.text());

  const double now = wall_time_now();
  tensorboard_.add_scalar("train/loss", r.loss, r.step, now);
  tensorboard_.add_scalar("train/learning_rate", r.lr, r.step, now);
  tensorboard_.add_scalar("train/grad_norm", r.grad_norm, r.step, now);
  tensorboard_.add_scalar("train/epoch", r.epoch, r.step, now);
  tensorboard_.add_scalar("train/tokens_per_s", r.tokens_per_s, r.step, now);
  tensorboard_.add_scalar("train/samples_per_s", r.samples_per_s, r.step, now);
}

void MetricsLog::log_eval(const EvalLogRecord& r) {
  JsonWriter json;
  eval_object(json, r);
  append_line(json.text());

  const std::pair<const char*, const std::optional<double>*> generated[] = {
      {"rouge1", &r.rouge1},
      {"rouge2", &r.rouge2},
      {"rougeL", &r.rougeL},
      {"rougeLsum", &r.rougeLsum},
      {"gen_len", &r.gen_len}};
  const double now = wall_time_now();
  tensorboard_.add_scalar("eval/loss", r.eval_loss, r.step, now);
  for (const auto& [name, value] : generated) {
    if (*value) tensorboard_.add_scalar(std::string("eval/") + name, **value, r.step, now);
  }
}

int64_t process_peak_rss_bytes() {
  struct rusage usage = {};
  if (::getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports kilobytes
}

namespace {

double per_second(double count, double seconds) {
  return seconds > 0 ? count / seconds : 0.0;
}

}  // namespace

std::string write_run_summary(const std::string& output_dir, const RunSummary& s) {
  JsonWriter json(2);
  json.begin_object();
  json.key("status").value(s.status);
  json.key("message").value(s.message);
  json.key("model_id").value(s.model_id);
  json.key("model_parameters").value(s.model_parameters);
  json.key("dataset_path").value(s.dataset_path);
  json.key("train_rows").value(s.train_rows);
  json.key("eval_rows").value(s.eval_rows);
  json.key("world_size").value(s.world_size);
  json.key("global_step").value(s.global_step);
  json.key("num_training_steps").value(s.num_training_steps);
  number(json, "epoch", s.epoch);
  number(json, "train_loss", s.train_loss);
  number(json, "train_runtime_s", s.train_seconds);
  json.key("train_steps").value(s.train_steps);
  json.key("train_time_breakdown_s").begin_object();
  number(json, "forward", s.forward_seconds);
  number(json, "backward", s.backward_seconds);
  number(json, "optimizer", s.optimizer_seconds);
  number(json, "other",
         s.train_seconds - s.forward_seconds - s.backward_seconds - s.optimizer_seconds);
  json.end_object();
  json.key("train_samples").value(s.train_samples);
  json.key("train_tokens").value(s.train_tokens);
  number(json, "train_steps_per_s",
         per_second(static_cast<double>(s.train_steps), s.train_seconds));
  number(json, "train_samples_per_s",
         per_second(static_cast<double>(s.train_samples), s.train_seconds));
  number(json, "train_tokens_per_s",
         per_second(static_cast<double>(s.train_tokens), s.train_seconds));
  json.key("peak_memory_bytes").begin_object();
  json.key("parameters").value(s.parameter_bytes);
  json.key("gradients").value(s.gradient_bytes);
  json.key("optimizer_state").value(s.optimizer_state_bytes);
  json.key("activations_and_other")
      .value(std::max<int64_t>(0, s.process_peak_rss_bytes - s.parameter_bytes - s.gradient_bytes -
                                      s.optimizer_state_bytes));
  json.key("process_peak_rss").value(s.process_peak_rss_bytes);
  json.end_object();
  json.key("final_eval");
  if (s.final_eval) {
    eval_object(json, *s.final_eval);
  } else {
    json.null();
  }
  json.key("best_metric");
  if (s.best_metric && std::isfinite(*s.best_metric)) {
    json.value(*s.best_metric);
  } else {
    json.null();
  }
  json.key("best_model_checkpoint").value(s.best_model_checkpoint);
  json.key("last_checkpoint").value(s.last_checkpoint);
  json.key("final_model_dir").value(s.final_model_dir);
  json.key("zero");
  if (s.write_zero_report) {
    s.write_zero_report(json);
  } else {
    json.null();
  }
  json.key("resolved_config");
  if (s.write_resolved_config) {
    s.write_resolved_config(json);
  } else {
    json.null();
  }
  json.end_object();
  const std::string path = (std::filesystem::path(output_dir) / "run_summary.json").string();
  write_file_atomically(path, json.text() + "\n");
  return path;
}

}  // namespace t5zero
