// The training loop, as the Hugging Face Trainer runs the reference recipe: epochs of shuffled
// micro-batches, gradient accumulation, clipping by the global norm, AdamW on the fp32 masters,
// the learning-rate schedule; logging, evaluation and checkpoints by their strategies; the best
// checkpoint by eval loss; exact resume; a clean stop on SIGINT/SIGTERM; a hard stop on a NaN or
// infinite loss or gradient norm.
//
// The loop never touches parameter storage itself: the model asks its store for weights, and
// the optimizer and clipping work on the flat fp32 ranges of MasterParameters, so a ZeRO store
// that holds one shard per rank slots in underneath.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "io/token_dataset.h"
#include "io/tokenizer.h"
#include "models/t5_model.h"
#include "optim/adamw.h"
#include "optim/lr_schedule.h"
#include "train/batcher.h"
#include "train/checkpoint.h"
#include "train/evaluation.h"
#include "train/metrics_log.h"
#include "train/mixed_precision.h"
#include "train/training_args.h"
#include "train/training_plan.h"

namespace t5zero {

// One optimizer step, as the loop saw it.
struct StepRecord {
  int64_t step = 0;  // 1-based global step
  double epoch = 0;  // fractional, after the step
  double loss = 0;   // mean of the micro-batch losses
  double lr = 0;
  double grad_norm = 0;  // before clipping
  int64_t samples = 0;
  int64_t tokens = 0;  // real input + label tokens
  // Where this process's step time went (host clock: on a GPU, reading the loss waits for the
  // forward; the rest is queued work until the next wait).
  double forward_seconds = 0;    // forward and loss of every micro-batch
  double backward_seconds = 0;   // backward, with ZeRO's gathers and reduce-scatters in it
  double optimizer_seconds = 0;  // agreeing on the norm, clipping, AdamW, updating the weights
};

enum class TrainStatus { completed, interrupted };

struct TrainResult {
  TrainStatus status = TrainStatus::completed;
  int stop_signal = 0;  // the signal that interrupted the run
  int64_t global_step = 0;
  int64_t first_step = 0;      // the step this process started from (a resume's checkpoint step)
  double train_loss = 0;       // mean step loss over the whole run (resumed steps included)
  double train_seconds = 0;    // this process's training time, evaluations excluded
  double forward_seconds = 0;  // of which: see StepRecord
  double backward_seconds = 0;
  double optimizer_seconds = 0;
  int64_t train_samples = 0;  // this process's
  int64_t train_tokens = 0;
  std::optional<EvalResult> last_eval;
  std::optional<double> best_metric;
  std::string best_model_checkpoint;
  std::string last_checkpoint;
  std::vector<StepRecord> steps;  // this process's
};

// Thrown when the loss or the gradient norm is not finite; the message names the step.
class NonFiniteError : public Error {
 public:
  using Error::Error;
};

struct TrainerSetup {
  TrainingArgs args;
  TrainingPlan plan;
  std::string output_dir;
  const TokenSplit* train = nullptr;
  const TokenSplit* eval = nullptr;        // needed unless eval_strategy is "no"
  const T5Tokenizer* tokenizer = nullptr;  // for generation in evaluations; null: loss only
  std::string tokenizer_folder;            // copied into checkpoints; "" for none
  int64_t pad_id = 0;
  int64_t rank = 0;             // this process's rank in plan.world_size (its slice of each batch)
  std::ostream* log = nullptr;  // the printed log lines; null: none
  // The ranks of a multi-process run (plan.world_size of them, this one is `rank`): losses,
  // gradient norms and stop requests are agreed through it, rank 0 logs and writes. Null: one
  // process.
  dist::Communicator* comm = nullptr;
};

class Trainer {
 public:
  Trainer(TrainerSetup setup, const models::T5ForConditionalGeneration& model,
          MasterParameters& masters);

  // Continues from a checkpoint folder: weights, masters, moments, schedule, data position.
  void resume_from(const std::string& checkpoint_folder);

  // Runs to the planned step count, or until a stop signal. Throws NonFiniteError on a
  // non-finite loss or norm (after the last good checkpoint, which is left as it was).
  TrainResult train();

  // Called after every optimizer step (tests use it to interrupt a run at a chosen step).
  std::function<void(const StepRecord&)> on_step;

  // The evaluation options of this run.
  EvalOptions eval_options() const;

 private:
  StepRecord train_step(const std::vector<int64_t>& order);
  double fractional_epoch() const;
  void maybe_log(const StepRecord& record, bool force);
  EvalResult run_evaluation();
  std::string save(const std::optional<EvalResult>& eval);
  TrainerState state() const;
  void print(const std::string& line);
  bool is_writer() const { return setup_.rank == 0; }
  // Σ over ranks (in place); nothing in one process.
  void sum_over_ranks(std::span<double> values);

  TrainerSetup setup_;
  const models::T5ForConditionalGeneration& model_;
  MasterParameters& masters_;
  AdamW optimizer_;
  std::vector<std::vector<models::ParamId>> group_params_;
  LrScheduler scheduler_;
  EpochPlan epochs_;

  int64_t global_step_ = 0;
  DataPosition position_;
  std::optional<double> best_metric_;
  std::string best_model_checkpoint_;
  double logging_loss_sum_ = 0;
  int64_t logging_steps_ = 0;
  double train_loss_sum_ = 0;
  // The logging window's throughput counters (not checkpointed: wall-clock figures).
  int64_t window_samples_ = 0;
  int64_t window_tokens_ = 0;
  double window_seconds_ = 0;
  double window_forward_ = 0, window_backward_ = 0, window_optimizer_ = 0;
  std::unique_ptr<MetricsLog> metrics_;
};

}  // namespace t5zero
