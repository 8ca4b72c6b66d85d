// What a training run reports as it goes: OUTPUT_DIR/metrics.jsonl, one JSON object per logged
// step or evaluation, and the same scalars as TensorBoard events under OUTPUT_DIR/logs (tags as
// HF's TensorBoardCallback names them: "train/loss", "eval/rouge1", ...).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "io/json_writer.h"
#include "train/tensorboard_writer.h"

namespace t5zero {

struct TrainLogRecord {
  int64_t step = 0;
  double epoch = 0;          // fractional: epochs completed plus the share of the current one
  double loss = 0;           // mean of the step losses since the previous record
  double lr = 0;             // of the last step
  double grad_norm = 0;      // of the last step, before clipping
  double tokens_per_s = 0;   // real (unpadded) input + label tokens since the previous record
  double samples_per_s = 0;  // rows since the previous record
};

struct EvalLogRecord {
  int64_t step = 0;
  double epoch = 0;
  double eval_loss = 0;
  // Absent when the evaluation did not generate.
  std::optional<double> rouge1, rouge2, rougeL, rougeLsum, gen_len;
  int64_t samples = 0;
  double seconds = 0;
};

class MetricsLog {
 public:
  // Appends to OUTPUT_DIR/metrics.jsonl (a resumed run continues the file) and opens a new
  // TensorBoard event file in OUTPUT_DIR/logs.
  explicit MetricsLog(const std::string& output_dir);

  void log_train(const TrainLogRecord& record);
  void log_eval(const EvalLogRecord& record);

  const std::string& metrics_path() const { return metrics_path_; }
  const std::string& tensorboard_path() const { return tensorboard_.path(); }

 private:
  void append_line(const std::string& json);

  std::string metrics_path_;
  TensorBoardWriter tensorboard_;
};

// Seconds since the Unix epoch (TensorBoard's wall_time).
double wall_time_now();

// OUTPUT_DIR/run_summary.json, written when a run ends (completed, interrupted or stopped).
struct RunSummary {
  std::string status;   // "completed", "interrupted" or "non_finite"
  std::string message;  // why it ended, in words
  std::string model_id;
  int64_t model_parameters = 0;
  std::string dataset_path;
  int64_t train_rows = 0;
  int64_t eval_rows = 0;
  int64_t world_size = 1;
  int64_t global_step = 0;
  int64_t num_training_steps = 0;
  double epoch = 0;
  double train_loss = 0;
  double train_seconds = 0;    // this process's steps, evaluations excluded
  double forward_seconds = 0;  // of which forward and loss, backward, optimizer (StepRecord)
  double backward_seconds = 0;
  double optimizer_seconds = 0;
  int64_t train_samples = 0;
  int64_t train_tokens = 0;
  int64_t train_steps = 0;
  // Peak bytes by category: the model's weights, gradients (the fp32 accumulators plus the
  // store-dtype gradients of one backward), optimizer state (moments, and fp32 masters in bf16
  // runs), and the process's peak resident set; activations and workspace are the rest of it.
  int64_t parameter_bytes = 0;
  int64_t gradient_bytes = 0;
  int64_t optimizer_state_bytes = 0;
  int64_t process_peak_rss_bytes = 0;
  std::optional<EvalLogRecord> final_eval;
  std::optional<double> best_metric;
  std::string best_model_checkpoint;
  std::string last_checkpoint;
  std::string final_model_dir;  // the saved Hugging Face folder; "" when none was written
  // Writes the resolved configuration as one JSON value (write_training_plan).
  std::function<void(JsonWriter&)> write_resolved_config;
  // Writes the ZeRO report (partition sizes, bytes communicated) as one JSON value; unset: null.
  std::function<void(JsonWriter&)> write_zero_report;
};

// Writes output_dir/run_summary.json atomically; returns its path.
std::string write_run_summary(const std::string& output_dir, const RunSummary& summary);

// The process's peak resident set size in bytes (getrusage).
int64_t process_peak_rss_bytes();

}  // namespace t5zero
