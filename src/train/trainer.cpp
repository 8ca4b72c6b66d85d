#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>

#include "io/atomic_file.h"
#include "io/json_writer.h"
#include "optim/grad_clip.h"
#include "tensor/error.h"
#include "train/eval_outputs.h"
#include "train/progress_bar.h"
#include "train/stop_signal.h"

namespace t5zero {

using models::ParamId;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string format(const char* pattern, double a) {
  char text[64];
  std::snprintf(text, sizeof(text), pattern, a);
  return text;
}

EpochPlan epoch_plan_of(const TrainerSetup& setup) {
  T5_CHECK(setup.train != nullptr, "trainer: no training split");
  return EpochPlan(setup.train->rows(), setup.plan.micro_batch_size,
                   setup.plan.gradient_accumulation_steps, setup.plan.world_size);
}

}  // namespace

Trainer::Trainer(TrainerSetup setup, const models::T5ForConditionalGeneration& model,
                 MasterParameters& masters)
    : setup_(std::move(setup)),
      model_(model),
      masters_(masters),
      scheduler_(setup_.plan.schedule),
      epochs_(epoch_plan_of(setup_)) {
  T5_CHECK(setup_.args.eval_strategy == IntervalStrategy::no || setup_.eval != nullptr,
           "trainer: --eval_strategy \"", interval_strategy_name(setup_.args.eval_strategy),
           "\" needs an eval split in the dataset (prepare writes one with --eval_split or "
           "--eval_fraction), or set --eval_strategy no");
  T5_CHECK(setup_.rank >= 0 && setup_.rank < setup_.plan.world_size, "trainer: rank ", setup_.rank,
           " outside the world of ", setup_.plan.world_size);
  T5_CHECK(setup_.comm == nullptr || (setup_.comm->size() == setup_.plan.world_size &&
                                      setup_.comm->rank() == setup_.rank),
           "trainer: the communicator's world (rank ", setup_.comm ? setup_.comm->rank() : 0,
           " of ", setup_.comm ? setup_.comm->size() : 1, ") is not the plan's (rank ", setup_.rank,
           " of ", setup_.plan.world_size, ")");
  T5_CHECK(setup_.comm != nullptr || setup_.plan.world_size == 1, "trainer: a world of ",
           setup_.plan.world_size, " ranks needs a communicator");
  T5_CHECK(masters.precision() == setup_.plan.precision, "trainer: the parameters are ",
           masters.precision() == Precision::bf16 ? "bf16" : "fp32", " but the plan says ",
           setup_.plan.precision == Precision::bf16 ? "bf16" : "fp32");
  // Parameter groups as the optimizer the plan names builds them (HF: decayed, then exempt).
  const models::ParameterStore& store = model.store();
  std::vector<ParamId> decayed, exempt;
  for (ParamId id : store.ids()) {
    const bool no_decay = setup_.plan.exempt_norms_and_biases_from_decay &&
                          exempt_from_weight_decay(store.spec(id).name);
    (no_decay ? exempt : decayed).push_back(id);
  }
  optimizer_.add_param_group(setup_.plan.optimizer);
  group_params_.push_back(decayed);
  if (setup_.plan.exempt_norms_and_biases_from_decay) {
    AdamWHyperparams no_decay = setup_.plan.optimizer;
    no_decay.weight_decay = 0.0;
    optimizer_.add_param_group(no_decay);
    group_params_.push_back(exempt);
  }
}

EvalOptions Trainer::eval_options() const {
  return recipe_eval_options(model_.config(), setup_.args, setup_.pad_id,
                             setup_.tokenizer != nullptr);
}

TrainerState Trainer::state() const {
  TrainerState s;
  s.global_step = global_step_;
  s.data = position_;
  s.seed = static_cast<uint64_t>(setup_.args.seed);
  s.precision = setup_.plan.precision;
  s.world_size = setup_.plan.world_size;
  s.micro_batch_size = setup_.plan.micro_batch_size;
  s.gradient_accumulation_steps = setup_.plan.gradient_accumulation_steps;
  s.dataset_rows = setup_.train->rows();
  for (size_t g = 0; g < optimizer_.num_groups(); ++g) {
    s.optimizer_group_steps.push_back(optimizer_.step_count(g));
  }
  s.scheduler_state = scheduler_.state_json();
  s.best_metric = best_metric_;
  s.best_model_checkpoint = best_model_checkpoint_;
  s.logging_loss_sum = logging_loss_sum_;
  s.logging_steps = logging_steps_;
  s.train_loss_sum = train_loss_sum_;
  return s;
}

void Trainer::resume_from(const std::string& folder) {
  // Check that the checkpoint continues this run before touching the weights.
  const TrainerState s = read_trainer_state(folder);
  const auto layout = [](int64_t world, int64_t micro, int64_t accumulation, int64_t rows) {
    return detail::concat("per_device_train_batch_size ", micro, " x gradient_accumulation_steps ",
                          accumulation, " x world size ", world, " over ", rows, " rows");
  };
  const std::string saved =
      layout(s.world_size, s.micro_batch_size, s.gradient_accumulation_steps, s.dataset_rows);
  const std::string now = layout(setup_.plan.world_size, setup_.plan.micro_batch_size,
                                 setup_.plan.gradient_accumulation_steps, setup_.train->rows());
  T5_CHECK(saved == now, folder, ": the checkpoint's data position counts batches of ", saved,
           "; this run has ", now, ": resume with the same batch layout and dataset");
  T5_CHECK(s.seed == static_cast<uint64_t>(setup_.args.seed), folder,
           ": the checkpoint was trained with --seed ", s.seed, "; this run has --seed ",
           setup_.args.seed, " (the data order and dropout follow the seed)");
  T5_CHECK(s.optimizer_group_steps.size() == optimizer_.num_groups(), folder, ": ",
           s.optimizer_group_steps.size(), " optimizer parameter groups saved, this run has ",
           optimizer_.num_groups(), " (the DeepSpeed optimizer block decides the grouping)");
  load_checkpoint(folder, model_, masters_, setup_.comm);
  for (size_t g = 0; g < optimizer_.num_groups(); ++g) {
    optimizer_.set_step_count(g, s.optimizer_group_steps[g]);
  }
  scheduler_.load_state_json(s.scheduler_state, folder + "/" + kTrainerStateFile);
  global_step_ = s.global_step;
  position_ = s.data;
  best_metric_ = s.best_metric;
  best_model_checkpoint_ = s.best_model_checkpoint;
  logging_loss_sum_ = s.logging_loss_sum;
  logging_steps_ = s.logging_steps;
  train_loss_sum_ = s.train_loss_sum;
  print("resumed from " + folder + " at step " + std::to_string(global_step_));
}

double Trainer::fractional_epoch() const {
  // As HF's state.epoch: epochs done plus the share of the current one.
  return static_cast<double>(position_.epoch) + static_cast<double>(position_.step_in_epoch) /
                                                    static_cast<double>(epochs_.optimizer_steps());
}

void Trainer::print(const std::string& line) {
  if (setup_.log != nullptr && is_writer()) *setup_.log << line << std::endl;
}

void Trainer::sum_over_ranks(std::span<double> values) {
  if (setup_.comm != nullptr && setup_.comm->size() > 1) setup_.comm->all_reduce_sum(values);
}

StepRecord Trainer::train_step(const std::vector<int64_t>& order) {
  const int64_t first = epochs_.first_micro_batch(position_.step_in_epoch);
  const int64_t end = epochs_.end_micro_batch(position_.step_in_epoch);
  const int64_t micro_batches = end - first;
  StepRecord record;
  record.step = global_step_ + 1;
  double loss_sum = 0;
  for (int64_t m = first; m < end; ++m) {
    const std::vector<int64_t> rows = epochs_.micro_batch_rows(order, m, setup_.rank);
    const TrainBatch batch = collate_rows(*setup_.train, rows, setup_.pad_id);
    models::ForwardOptions options;
    options.training = true;
    options.dropout_seed = static_cast<uint64_t>(setup_.args.seed);
    options.step = static_cast<uint64_t>(global_step_);
    // Dropout keys: every row of the run has its own index (epoch, position in the epoch).
    options.first_sample = static_cast<uint64_t>(position_.epoch * epochs_.padded_rows() +
                                                 epochs_.micro_batch_first_row(m, setup_.rank));
    options.gradient_checkpointing = setup_.args.gradient_checkpointing;
    const auto forward_start = Clock::now();
    const models::T5Output out =
        model_.forward(batch.tensors.input_ids, batch.tensors.attention_mask, Tensor(),
                       batch.tensors.labels, options);
    loss_sum += out.loss.data().item();
    const auto backward_start = Clock::now();
    record.forward_seconds += std::chrono::duration<double>(backward_start - forward_start).count();
    // As loss / gradient_accumulation_steps before backward, and DeepSpeed's average over the
    // ranks: the step's gradient is the mean over its micro-batches of every rank.
    out.loss.backward(Tensor::full(
        out.loss.data().shape(), 1.0 / static_cast<double>(micro_batches * setup_.plan.world_size),
        out.loss.data().dtype()));
    masters_.accumulate_gradients();
    record.backward_seconds += seconds_since(backward_start);
    record.samples += batch.rows;
    record.tokens += batch.input_tokens + batch.label_tokens;
  }

  const auto optimizer_start = Clock::now();
  // What every rank agrees on: the mean loss, the counts, and the global gradient norm from
  // each rank's partial sum of squares over its part of the gradients.
  double totals[] = {loss_sum / static_cast<double>(micro_batches),
                     static_cast<double>(record.samples), static_cast<double>(record.tokens),
                     masters_.gradient_sum_of_squares()};
  sum_over_ranks(totals);
  record.loss = totals[0] / static_cast<double>(setup_.plan.world_size);
  record.samples = static_cast<int64_t>(totals[1]);
  record.tokens = static_cast<int64_t>(totals[2]);
  const GradClip clip = clip_decision(totals[3], setup_.plan.max_grad_norm);
  record.grad_norm = clip.total_norm;
  if (!std::isfinite(record.loss) || !clip.finite) {
    const std::string last = latest_checkpoint(setup_.output_dir);
    throw NonFiniteError(detail::concat(
        "step ", record.step, ": loss ", record.loss, ", gradient norm ", clip.total_norm,
        ": not finite, training stopped before the optimizer step; ",
        last.empty() ? std::string("no checkpoint was saved")
                     : "the last good checkpoint is " + last,
        " (a lower --lr or more warmup may help)"));
  }
  if (clip.clipped) masters_.scale_gradients(static_cast<float>(clip.coefficient));

  record.lr = scheduler_.lr();
  optimizer_.set_lr(record.lr);
  for (size_t g = 0; g < optimizer_.num_groups(); ++g) {
    optimizer_.step(g, masters_.adamw_spans(group_params_[g]));
  }
  masters_.finish_step();
  record.optimizer_seconds = seconds_since(optimizer_start);
  scheduler_.advance();
  masters_.zero_gradients();

  ++global_step_;
  ++position_.step_in_epoch;
  position_.samples_seen += record.samples;
  if (position_.step_in_epoch == epochs_.optimizer_steps()) {
    ++position_.epoch;
    position_.step_in_epoch = 0;
  }
  record.epoch = fractional_epoch();
  return record;
}

void Trainer::maybe_log(const StepRecord& record, bool force) {
  logging_loss_sum_ += record.loss;
  ++logging_steps_;
  if (!force && record.step % setup_.args.logging_steps != 0) return;
  TrainLogRecord log;
  log.step = record.step;
  log.epoch = record.epoch;
  log.loss = logging_loss_sum_ / static_cast<double>(logging_steps_);
  log.lr = record.lr;
  log.grad_norm = record.grad_norm;
  log.tokens_per_s =
      window_seconds_ > 0 ? static_cast<double>(window_tokens_) / window_seconds_ : 0.0;
  log.samples_per_s =
      window_seconds_ > 0 ? static_cast<double>(window_samples_) / window_seconds_ : 0.0;
  if (is_writer()) metrics_->log_train(log);
  print(detail::concat("step ", log.step, "/", setup_.plan.num_training_steps, " epoch ",
                       format("%.2f", log.epoch), ": loss ", format("%.4f", log.loss), ", lr ",
                       format("%.3e", log.lr), ", grad_norm ", format("%.4f", log.grad_norm), ", ",
                       format("%.0f", log.tokens_per_s), " tokens/s, ",
                       format("%.2f", log.samples_per_s), " samples/s"));
  if (setup_.plan.deepspeed && setup_.plan.deepspeed->wall_clock_breakdown) {
    // DeepSpeed's wall_clock_breakdown: where the window's time went.
    print(detail::concat(
        "  time since the last record: forward ", format("%.3f", window_forward_), " s, backward ",
        format("%.3f", window_backward_), " s, optimizer ", format("%.3f", window_optimizer_),
        " s, other ",
        format("%.3f", window_seconds_ - window_forward_ - window_backward_ - window_optimizer_),
        " s"));
  }
  window_forward_ = window_backward_ = window_optimizer_ = 0;
  logging_loss_sum_ = 0;
  logging_steps_ = 0;
  window_samples_ = 0;
  window_tokens_ = 0;
  window_seconds_ = 0;
}

EvalResult Trainer::run_evaluation() {
  const EvalResult result =
      evaluate(model_, *setup_.eval, eval_options(), setup_.tokenizer, setup_.comm);
  EvalLogRecord log;
  log.step = global_step_;
  log.epoch = fractional_epoch();
  log.eval_loss = result.loss;
  if (result.generated) {
    log.rouge1 = result.rouge.rouge1;
    log.rouge2 = result.rouge.rouge2;
    log.rougeL = result.rouge.rougeL;
    log.rougeLsum = result.rouge.rougeLsum;
    log.gen_len = result.gen_len;
  }
  log.samples = result.samples;
  log.seconds = result.seconds;
  if (is_writer()) metrics_->log_eval(log);
  std::string line =
      detail::concat("eval at step ", global_step_, " (epoch ", format("%.2f", log.epoch),
                     "): loss ", format("%.4f", result.loss));
  if (result.generated) {
    line += detail::concat(", rouge1 ", format("%.4f", result.rouge.rouge1), ", rouge2 ",
                           format("%.4f", result.rouge.rouge2), ", rougeL ",
                           format("%.4f", result.rouge.rougeL), ", rougeLsum ",
                           format("%.4f", result.rouge.rougeLsum), ", gen_len ",
                           format("%.2f", result.gen_len));
  }
  line += detail::concat(" (", result.samples, " samples, ", format("%.1f", result.seconds), " s)");
  print(line);
  // The texts, one JSON string per line: `t5zero rouge` recomputes the scores from them.
  if (result.generated && is_writer()) write_eval_texts(setup_.output_dir, result);
  return result;
}

std::string Trainer::save(const std::optional<EvalResult>& eval) {
  // As HF's _save_checkpoint: the latest evaluation decides whether this checkpoint is the best.
  const std::string folder =
      (std::filesystem::path(setup_.output_dir) / checkpoint_folder_name(global_step_)).string();
  if (eval && (!best_metric_ || eval->loss < *best_metric_)) {
    best_metric_ = eval->loss;
    best_model_checkpoint_ = folder;
  }
  CheckpointOptions options;
  options.tokenizer_folder = setup_.tokenizer_folder;
  options.comm = setup_.comm;
  const std::string saved = save_checkpoint(setup_.output_dir, model_, masters_, state(), options);
  std::vector<std::string> deleted;
  if (is_writer()) {
    deleted =
        rotate_checkpoints(setup_.output_dir, setup_.args.save_total_limit, best_model_checkpoint_);
  }
  if (setup_.comm != nullptr) setup_.comm->barrier();
  std::string line = "saved " + saved;
  for (const std::string& d : deleted) line += "; removed " + d;
  print(line);
  return saved;
}

TrainResult Trainer::train() {
  namespace fs = std::filesystem;
  if (is_writer()) {
    fs::create_directories(setup_.output_dir);
    metrics_ = std::make_unique<MetricsLog>(setup_.output_dir);
  }
  if (setup_.comm != nullptr) setup_.comm->barrier();
  StopSignalGuard signals;
  ProgressBar bar(is_writer() && (setup_.args.progress || is_terminal(stderr)));

  const int64_t total = setup_.plan.num_training_steps;
  TrainResult result;
  result.first_step = global_step_;
  const auto run_start = Clock::now();
  std::optional<EvalResult> last_eval;
  std::string last_checkpoint;

  while (global_step_ < total && result.status == TrainStatus::completed) {
    const std::vector<int64_t> order =
        epoch_row_order(setup_.train->rows(), static_cast<uint64_t>(setup_.args.seed),
                        position_.epoch, setup_.args.shuffle);
    const int64_t epoch = position_.epoch;
    while (position_.epoch == epoch && global_step_ < total) {
      const auto step_start = Clock::now();
      const StepRecord record = train_step(order);
      const double step_seconds = seconds_since(step_start);
      window_seconds_ += step_seconds;
      window_forward_ += record.forward_seconds;
      window_backward_ += record.backward_seconds;
      window_optimizer_ += record.optimizer_seconds;
      result.forward_seconds += record.forward_seconds;
      result.backward_seconds += record.backward_seconds;
      result.optimizer_seconds += record.optimizer_seconds;
      window_samples_ += record.samples;
      window_tokens_ += record.tokens;
      result.train_seconds += step_seconds;
      result.train_samples += record.samples;
      result.train_tokens += record.tokens;
      train_loss_sum_ += record.loss;
      result.steps.push_back(record);
      if (on_step) on_step(record);

      const bool last_step = global_step_ == total;
      const bool epoch_end = position_.step_in_epoch == 0;
      int stop = stop_requested();
      if (setup_.plan.world_size > 1) {
        // Every rank stops after the same step (mpirun forwards a signal to all, but not at the
        // same instant).
        double requested[] = {static_cast<double>(stop != 0)};
        sum_over_ranks(requested);
        if (requested[0] > 0 && stop == 0) stop = SIGTERM;
      }
      bar.clear();
      maybe_log(record, last_step);
      const auto due = [&](IntervalStrategy strategy, int64_t every) {
        return (strategy == IntervalStrategy::steps && global_step_ % every == 0) ||
               (strategy == IntervalStrategy::epoch && (epoch_end || last_step));
      };
      const int64_t eval_every =
          setup_.args.eval_steps > 0 ? setup_.args.eval_steps : setup_.args.logging_steps;
      std::optional<EvalResult> eval;
      if (stop == 0 && due(setup_.args.eval_strategy, eval_every)) {
        eval = run_evaluation();
        last_eval = eval;
      }
      const bool saving = setup_.args.save_strategy != IntervalStrategy::no;
      if ((saving && due(setup_.args.save_strategy, setup_.args.save_steps)) ||
          (saving && stop != 0)) {
        last_checkpoint = save(eval);
      }
      const double elapsed = seconds_since(run_start);
      const int64_t done = global_step_ - result.first_step;
      ProgressState progress;
      progress.step = global_step_;
      progress.total_steps = total;
      progress.loss = record.loss;
      progress.lr = record.lr;
      progress.tokens_per_s =
          step_seconds > 0 ? static_cast<double>(record.tokens) / step_seconds : 0.0;
      progress.eta_s =
          done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total - global_step_)
                   : -1.0;
      bar.update(progress);
      if (stop != 0) {
        bar.finish();
        print(detail::concat("stopped by signal ", stop, " after step ", global_step_,
                             saving ? "" : " (saving is off: no checkpoint written)"));
        clear_stop_request();
        result.status = TrainStatus::interrupted;
        result.stop_signal = stop;
        break;
      }
    }
  }
  bar.finish();
  result.global_step = global_step_;
  result.train_loss = global_step_ > 0 ? train_loss_sum_ / static_cast<double>(global_step_) : 0;
  result.last_eval = last_eval;
  result.best_metric = best_metric_;
  result.best_model_checkpoint = best_model_checkpoint_;
  result.last_checkpoint = last_checkpoint;
  return result;
}

}  // namespace t5zero
