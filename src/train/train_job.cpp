#include "train/train_job.h"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "dist/zero_parameter_store.h"
#include "io/json_writer.h"
#include "io/token_dataset.h"
#include "io/tokenizer.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "tensor/error.h"
#include "train/eval_outputs.h"
#include "train/mixed_precision.h"

namespace t5zero {

namespace fs = std::filesystem;

namespace {

std::string model_source_name(ModelSource source) {
  switch (source) {
    case ModelSource::local_folder:
      return "folder";
    case ModelSource::hub_cache:
      return "hub cache";
    case ModelSource::builtin:
      return "built-in architecture, random init";
  }
  return "?";
}

EvalLogRecord eval_record(const EvalResult& eval, int64_t step, double epoch) {
  EvalLogRecord r;
  r.step = step;
  r.epoch = epoch;
  r.eval_loss = eval.loss;
  if (eval.generated) {
    r.rouge1 = eval.rouge.rouge1;
    r.rouge2 = eval.rouge.rouge2;
    r.rougeL = eval.rouge.rougeL;
    r.rougeLsum = eval.rouge.rougeLsum;
    r.gen_len = eval.gen_len;
  }
  r.samples = eval.samples;
  r.seconds = eval.seconds;
  return r;
}

// The first `count` eval rows summarized by the final model: article (as the model read it),
// reference and generated summary.
void print_examples(const models::T5ForConditionalGeneration& model, const TokenSplit& split,
                    EvalOptions options, const T5Tokenizer& tokenizer, int64_t count,
                    dist::Communicator* comm, std::ostream& out) {
  options.max_samples = count;
  const EvalResult examples = evaluate(model, split, options, &tokenizer, comm);
  constexpr size_t kArticleChars = 400;
  for (size_t i = 0; i < examples.predictions.size(); ++i) {
    std::string article = tokenizer.decode(split.input(static_cast<int64_t>(i)).to_vector());
    if (article.size() > kArticleChars) {
      article.resize(kArticleChars);
      // Do not cut a UTF-8 sequence in half.
      while (!article.empty() && (static_cast<unsigned char>(article.back()) & 0xC0) == 0x80) {
        article.pop_back();
      }
      if (!article.empty() && static_cast<unsigned char>(article.back()) >= 0xC0) {
        article.pop_back();
      }
      article += " ...";
    }
    out << "\nexample " << i + 1 << " (eval row " << i << ")\n  article:   " << article
        << "\n  reference: " << examples.references[i]
        << "\n  generated: " << examples.predictions[i] << "\n";
  }
  out << "\n";
}

// What this rank held and sent under ZeRO (run_summary.json's "zero"): the numbers a
// researcher compares with the theory — shards are 1/W of the parameters, an all-gather of a
// parameter sends (W−1)/W of it from each rank.
void write_zero_report(JsonWriter& json, const dist::ZeroParameterStore& store,
                       const dist::CommStats& at_start) {
  const dist::Communicator& comm = store.communicator();
  // This run's traffic: the communicator may have served earlier runs of the process.
  dist::CommStats c = comm.stats();
  c.all_gather_bytes -= at_start.all_gather_bytes;
  c.all_gather_calls -= at_start.all_gather_calls;
  c.reduce_scatter_bytes -= at_start.reduce_scatter_bytes;
  c.reduce_scatter_calls -= at_start.reduce_scatter_calls;
  c.all_reduce_bytes -= at_start.all_reduce_bytes;
  c.all_reduce_calls -= at_start.all_reduce_calls;
  c.broadcast_bytes -= at_start.broadcast_bytes;
  c.broadcast_calls -= at_start.broadcast_calls;
  json.begin_object();
  json.key("stage").value(static_cast<int64_t>(store.options().stage));
  json.key("world_size").value(static_cast<int64_t>(comm.size()));
  json.key("rank").value(static_cast<int64_t>(comm.rank()));
  json.key("persistence_threshold").value(store.options().persistence_threshold);
  json.key("shard_bytes").value(store.shard_bytes());
  json.key("shard_device").value(store.local_device().str());
  json.key("full_parameter_bytes")
      .value(store.numel() * static_cast<int64_t>(dtype_size(store.dtype())));
  json.key("peak_gathered_bytes").value(store.peak_gathered_bytes());
  json.key("communication_seconds").value(store.communication_seconds());
  json.key("communication").begin_object();
  json.key("all_gather_bytes").value(c.all_gather_bytes);
  json.key("all_gather_calls").value(c.all_gather_calls);
  json.key("reduce_scatter_bytes").value(c.reduce_scatter_bytes);
  json.key("reduce_scatter_calls").value(c.reduce_scatter_calls);
  json.key("all_reduce_bytes").value(c.all_reduce_bytes);
  json.key("all_reduce_calls").value(c.all_reduce_calls);
  json.key("broadcast_bytes").value(c.broadcast_bytes);
  json.key("broadcast_calls").value(c.broadcast_calls);
  json.end_object();
  json.end_object();
}

}  // namespace

TrainJobResult run_training_job(const TrainingArgs& job_args, std::ostream& rank0_out,
                                const std::function<void(const StepRecord&)>& on_step,
                                dist::Communicator* comm) {
  TrainingArgs args = job_args;
  const dist::CommStats comm_at_start = comm ? comm->stats() : dist::CommStats{};
  const int world = comm ? comm->size() : 1;
  const int rank = comm ? comm->rank() : 0;
  args.world_size = world;
  // Only rank 0 prints; the others' lines go nowhere.
  std::ostringstream discarded;
  std::ostream& out = rank == 0 ? rank0_out : discarded;
  validate_training_args(args);
  // BLAS runs single-threaded inside each OpenMP thread (tensor/cpu/matmul.cpp), so OpenMP's
  // thread count is the only one to set.
  if (args.num_threads > 0) omp_set_num_threads(args.num_threads);
  TrainJobResult job;
  job.output_dir = resolved_output_dir(args);

  // The model and the data, checked against each other before anything is allocated.
  const models::ResolvedModel resolved = models::resolve_model(args.model_id);
  const T5Config& config = resolved.config;
  const TokenDataset dataset = TokenDataset::open(args.dataset_path);
  const TokenDatasetMetadata& metadata = dataset.metadata();
  T5_CHECK(metadata.vocab_size <= config.vocab_size, args.dataset_path,
           ": token ids reach the tokenizer's vocabulary of ", metadata.vocab_size,
           " but the model '", args.model_id, "' embeds only ", config.vocab_size, " rows");
  const TokenSplit& train_split = dataset.split("train");
  const TokenSplit* eval_split = dataset.has_split("eval") ? &dataset.split("eval") : nullptr;

  const EpochPlan epochs(train_split.rows(), args.per_device_train_batch_size,
                         args.gradient_accumulation_steps, args.world_size);
  job.plan = plan_training(args, epochs.optimizer_steps(), config.d_model);
  const TrainingPlan& plan = job.plan;
  fs::create_directories(job.output_dir);
  if (plan.deepspeed && rank == 0) {
    out << format_resolution_report(*plan.deepspeed);
    out << "resolved DeepSpeed config saved to "
        << save_resolved_config(*plan.deepspeed, job.output_dir) << "\n";
  }

  // The model in the run's precision: bf16 weights (fp32 masters in MasterParameters) or fp32;
  // partitioned over the ranks by the ZeRO store when there are several.
  const DType param_dtype = plan.precision == Precision::bf16 ? DType::bf16 : DType::f32;
  const Device device = resolve_training_device(args.device);
  std::unique_ptr<models::ParameterStore> store_owner;
  dist::ZeroParameterStore* zero_store = nullptr;
  // One GPU with offload_param: a ZeRO store over a world of one keeps the weights on the host.
  const bool one_process_offload = world == 1 && device.is_cuda() && plan.deepspeed &&
                                   plan.deepspeed->zero.stage == 3 &&
                                   plan.deepspeed->zero.offload_param.device == OffloadDevice::cpu;
  std::unique_ptr<dist::Communicator> one_process;
  dist::Communicator* store_comm = comm;
  if (one_process_offload) {
    one_process = dist::make_single_process_communicator();
    store_comm = one_process.get();
  }
  if (world > 1 || one_process_offload) {
    dist::ZeroOptions zero;
    zero.stage = 3;
    zero.persistence_threshold = 10 * config.d_model;  // HF's "auto" for the threshold
    if (plan.deepspeed) {
      const ZeroConfig& z = plan.deepspeed->zero;
      if (z.stage == 0) {
        out << "note: zero_optimization.stage 0 runs as stage 1 (the same numbers; the "
               "optimizer state is partitioned)\n";
      }
      zero.stage = static_cast<int>(std::max<int64_t>(1, z.stage));
      zero.persistence_threshold = z.stage3_param_persistence_threshold;
      zero.offload_param = z.offload_param.device == OffloadDevice::cpu;
      zero.pin_memory = z.offload_param.pin_memory;
      T5_CHECK(!zero.offload_param || zero.stage == 3, args.deepspeed,
               ": zero_optimization.offload_param needs stage 3 (as DeepSpeed), got stage ",
               zero.stage);
    }
    auto owned = std::make_unique<dist::ZeroParameterStore>(param_dtype, device, *store_comm, zero);
    zero_store = owned.get();
    store_owner = std::move(owned);
    out << "ZeRO stage " << zero.stage << " over " << world << " ranks";
    if (zero.stage == 3)
      out << ", parameters of <= " << zero.persistence_threshold << " elements kept whole";
    out << "\n";
  } else {
    store_owner = std::make_unique<models::ParameterStore>(param_dtype, device);
  }
  models::ParameterStore& store = *store_owner;
  models::T5ForConditionalGeneration model(config, store);
  if (resolved.id.source == ModelSource::builtin) {
    models::initialize_parameters(store, static_cast<uint64_t>(args.seed));
  } else {
    const models::WeightsLoadReport report = models::load_t5_weights(resolved.id.folder, model);
    for (const std::string& name : report.unexpected) {
      out << "note: " << resolved.id.folder << ": tensor '" << name
          << "' is not a parameter; ignored\n";
    }
  }
  // DeepSpeed's offload_optimizer: the fp32 state and AdamW on the host, the weights on the GPU.
  const bool offload_optimizer =
      plan.deepspeed && plan.deepspeed->zero.offload_optimizer.device == OffloadDevice::cpu;
  // With offload_param the shards are on the host, and so is the optimizer working on them.
  const Device optimizer_device = offload_optimizer ? Device::cpu() : store.local_device();
  const bool pin_optimizer =
      plan.deepspeed && (offload_optimizer ? plan.deepspeed->zero.offload_optimizer.pin_memory
                                           : plan.deepspeed->zero.offload_param.pin_memory);
  MasterParameters masters(store, plan.precision, optimizer_device,
                           pin_optimizer ? HostMemory::pinned : HostMemory::aligned);
  if (offload_optimizer && !device.is_cpu()) {
    out << "optimizer state and AdamW on the host (offload_optimizer), weights on " << device.str()
        << "\n";
  }

  const std::string tokenizer_folder = find_tokenizer_folder(resolved, metadata);
  std::optional<T5Tokenizer> tokenizer;
  if (!tokenizer_folder.empty()) tokenizer = T5Tokenizer::load(tokenizer_folder);
  if (args.eval_strategy != IntervalStrategy::no && !tokenizer) {
    out << "note: no tokenizer in the model folder or at the dataset's tokenizer_path ("
        << metadata.tokenizer_path << "): evaluations report the loss without ROUGE\n";
  }

  std::string resume_folder;
  if (args.resume_from_checkpoint == "latest") {
    resume_folder = latest_checkpoint(job.output_dir);
    T5_CHECK(!resume_folder.empty(), "--resume_from_checkpoint latest: no checkpoint-<step> ",
             "folder with a ", kTrainerStateFile, " in ", job.output_dir);
  } else if (!args.resume_from_checkpoint.empty()) {
    resume_folder = args.resume_from_checkpoint;
  }
  if (resume_folder.empty()) {
    // A fresh run starts its own metrics; checkpoints of an earlier run stay and rotate along.
    if (rank == 0) fs::remove(fs::path(job.output_dir) / "metrics.jsonl");
    if (const std::string old = latest_checkpoint(job.output_dir); !old.empty()) {
      out << "note: " << job.output_dir << " holds checkpoints of an earlier run (" << old
          << "); --resume_from_checkpoint latest would continue it\n";
    }
  }

  out << "model " << args.model_id << " (" << model_source_name(resolved.id.source)
      << "): " << models::count_parameters(config) << " parameters, d_model " << config.d_model
      << ", " << (plan.precision == Precision::bf16 ? "bf16 weights with fp32 masters" : "fp32")
      << " on " << device.str() << "\n"
      << "data " << args.dataset_path << ": " << train_split.rows() << " train rows"
      << (eval_split ? ", " + std::to_string(eval_split->rows()) + " eval rows" : "") << "\n"
      << "plan: " << plan.num_training_steps << " optimizer steps (" << epochs.optimizer_steps()
      << " per epoch, " << plan.num_epochs << " epochs) of " << plan.micro_batch_size << " x "
      << plan.gradient_accumulation_steps << " x " << plan.world_size << " rows; "
      << lr_schedule_name(plan.schedule.kind) << " lr " << plan.optimizer.lr << "\n";

  TrainerSetup setup;
  setup.args = args;
  setup.plan = plan;
  setup.output_dir = job.output_dir;
  setup.train = &train_split;
  setup.eval = eval_split;
  setup.tokenizer = tokenizer ? &*tokenizer : nullptr;
  setup.tokenizer_folder = tokenizer_folder;
  setup.pad_id = metadata.pad_token_id;
  setup.log = &out;
  setup.rank = rank;
  setup.comm = comm;
  Trainer trainer(setup, model, masters);
  trainer.on_step = on_step;
  // The ZeRO trace: rank 0's partition events of the first zero_trace_steps steps.
  std::ofstream trace_file;
  if (!args.zero_trace.empty() && zero_store != nullptr && rank == 0) {
    trace_file.open(args.zero_trace);
    T5_CHECK(trace_file.good(), "--zero_trace: cannot write ", args.zero_trace);
    zero_store->set_trace(&trace_file);
    trainer.on_step = [&, zero_store, traced = int64_t{0}](const StepRecord& record) mutable {
      if (traced < args.zero_trace_steps) {
        trace_file << "{\"event\": \"step_end\", \"step\": " << record.step << "}\n";
        if (++traced == args.zero_trace_steps) zero_store->set_trace(nullptr);
      }
      if (on_step) on_step(record);
    };
  } else if (!args.zero_trace.empty() && zero_store == nullptr) {
    out << "note: --zero_trace traces a ZeRO run (mpirun with several ranks); nothing to trace\n";
  }
  if (!resume_folder.empty()) trainer.resume_from(resume_folder);

  RunSummary summary;
  summary.model_id = args.model_id;
  summary.model_parameters = models::count_parameters(config);
  summary.dataset_path = args.dataset_path;
  summary.train_rows = train_split.rows();
  summary.eval_rows = eval_split ? eval_split->rows() : 0;
  summary.world_size = plan.world_size;
  summary.num_training_steps = plan.num_training_steps;
  summary.write_resolved_config = [&plan](JsonWriter& json) { write_training_plan(json, plan); };
  if (zero_store != nullptr) {
    summary.write_zero_report = [zero_store, comm_at_start](JsonWriter& json) {
      write_zero_report(json, *zero_store, comm_at_start);
    };
  }
  const int64_t full_parameter_bytes =
      store.numel() * static_cast<int64_t>(dtype_size(store.dtype()));
  const auto fill_memory = [&] {
    // Under ZeRO: this rank's shards plus the most it held gathered at once.
    const int64_t parameter_bytes =
        zero_store ? zero_store->shard_bytes() + zero_store->peak_gathered_bytes()
                   : full_parameter_bytes;
    summary.parameter_bytes = parameter_bytes;
    // The fp32 accumulators of this rank's part, plus the store-dtype gradients of one backward:
    // all of them at once in one process, at most the gathered ones under ZeRO.
    summary.gradient_bytes =
        masters.gradient_bytes() +
        (zero_store ? zero_store->peak_gathered_bytes() : full_parameter_bytes);
    summary.optimizer_state_bytes = masters.optimizer_bytes() + masters.master_bytes();
    summary.process_peak_rss_bytes = process_peak_rss_bytes();
  };

  try {
    job.train = trainer.train();
  } catch (const NonFiniteError& e) {
    summary.status = "non_finite";
    summary.message = e.what();
    summary.last_checkpoint = latest_checkpoint(job.output_dir);
    fill_memory();
    if (rank == 0) write_run_summary(job.output_dir, summary);
    throw;
  }
  const TrainResult& result = job.train;

  if (result.status == TrainStatus::completed) {
    if (args.load_best_model_at_end && !result.best_model_checkpoint.empty()) {
      // As HF: the best checkpoint's weights (its masters too, so the saved model is exact).
      T5_CHECK(fs::is_directory(result.best_model_checkpoint),
               "--load_best_model_at_end: the best checkpoint ", result.best_model_checkpoint,
               " is gone");
      load_checkpoint(result.best_model_checkpoint, model, masters, comm);
      out << "loaded the best model from " << result.best_model_checkpoint << " (eval loss "
          << *result.best_metric << ")\n";
    }
    models::SaveFolderOptions save_options;
    save_options.tokenizer_folder = tokenizer_folder;
    save_options.write_files = rank == 0;
    models::save_t5_folder(model, job.output_dir, save_options);
    if (comm) comm->barrier();
    job.final_model_dir = job.output_dir;
    out << "saved the model to " << job.output_dir << "\n";
    if (args.print_examples > 0 && eval_split != nullptr && tokenizer) {
      print_examples(model, *eval_split, trainer.eval_options(), *tokenizer, args.print_examples,
                     comm, out);
    }
    summary.status = "completed";
    summary.message = "trained " + std::to_string(result.global_step) + " steps";
  } else {
    summary.status = "interrupted";
    summary.message = "stopped by signal " + std::to_string(result.stop_signal) + " after step " +
                      std::to_string(result.global_step) +
                      (result.last_checkpoint.empty()
                           ? std::string(" (no checkpoint: saving is off)")
                           : "; resume with --resume_from_checkpoint " + result.last_checkpoint);
  }

  summary.global_step = result.global_step;
  summary.epoch =
      static_cast<double>(result.global_step) / static_cast<double>(epochs.optimizer_steps());
  summary.train_loss = result.train_loss;
  summary.train_seconds = result.train_seconds;
  summary.forward_seconds = result.forward_seconds;
  summary.backward_seconds = result.backward_seconds;
  summary.optimizer_seconds = result.optimizer_seconds;
  summary.train_samples = result.train_samples;
  summary.train_tokens = result.train_tokens;
  summary.train_steps = result.global_step - result.first_step;
  if (result.last_eval) {
    summary.final_eval = eval_record(*result.last_eval, result.global_step, summary.epoch);
  }
  summary.best_metric = result.best_metric;
  summary.best_model_checkpoint = result.best_model_checkpoint;
  summary.last_checkpoint = result.last_checkpoint;
  summary.final_model_dir = job.final_model_dir;
  fill_memory();
  if (rank == 0) {
    job.summary_path = write_run_summary(job.output_dir, summary);
    out << "run summary: " << job.summary_path << "\n";
  }
  return job;
}

}  // namespace t5zero
