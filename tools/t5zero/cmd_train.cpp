// t5zero train: fine-tune a T5 on a prepared dataset with the reference recipe's flags
// (run_seq2seq_deepspeed.py) and the Trainer settings it uses; see src/train/train_job.h.
#include <cstdio>
#include <iostream>
#include <string>

#include "commands.h"
#include "flags.h"
#include "tensor/error.h"
#include "train/train_job.h"
#include "train/training_args.h"
#include "train/training_communicator.h"

namespace t5zero::cli {

namespace {

void add_flags(FlagSet& flags, const TrainingArgs& d) {
  // The reference script's flags, with its defaults.
  flags.add_string("model_id", d.model_id,
                   "Hugging Face model folder, hub id in the local cache, or built-in "
                   "architecture (random init)");
  flags.add_string("dataset_path", d.dataset_path, "the folder `t5zero prepare` wrote");
  flags.add_int("epochs", d.epochs, "training epochs");
  flags.add_int("per_device_train_batch_size", d.per_device_train_batch_size,
                "rows per micro-batch and rank");
  flags.add_int("per_device_eval_batch_size", d.per_device_eval_batch_size,
                "rows per evaluation batch");
  flags.add_int("generation_max_length", d.generation_max_length,
                "evaluation summaries: max decoder length (start token included)");
  flags.add_int("generation_num_beams", d.generation_num_beams, "evaluation beam width");
  flags.add_double("lr", d.lr, "peak learning rate");
  flags.add_int("seed", d.seed, "seed of the data order, dropout and random init");
  flags.add_string("deepspeed", d.deepspeed,
                   "DeepSpeed JSON config (\"auto\" filled from these flags); empty: AdamW and "
                   "the --lr_scheduler_type schedule, as the Trainer without DeepSpeed");
  flags.add_bool("gradient_checkpointing", d.gradient_checkpointing,
                 "recompute each block in backward instead of keeping its activations");
  flags.add_bool("bf16", d.bf16, "bf16 weights and activations with fp32 master weights");
  // Trainer settings.
  flags.add_string("output_dir", d.output_dir,
                   "where checkpoints, logs and the model go (default: the model name)");
  flags.add_int("max_steps", d.max_steps, "> 0: train this many optimizer steps (over epochs)");
  flags.add_int("logging_steps", d.logging_steps, "log the mean loss every N steps");
  flags.add_string("eval_strategy", interval_strategy_name(d.eval_strategy),
                   "evaluate each \"epoch\", every --eval_steps \"steps\", or \"no\"");
  flags.add_int("eval_steps", d.eval_steps, "with --eval_strategy steps (0: --logging_steps)");
  flags.add_string("save_strategy", interval_strategy_name(d.save_strategy),
                   "save a checkpoint each \"epoch\", every --save_steps \"steps\", or \"no\"");
  flags.add_int("save_steps", d.save_steps, "with --save_strategy steps");
  flags.add_int("save_total_limit", d.save_total_limit,
                "keep at most this many checkpoints, the best one included (0: all)");
  flags.add_bool("load_best_model_at_end", d.load_best_model_at_end,
                 "end with the weights of the checkpoint of lowest eval loss");
  flags.add_int("gradient_accumulation_steps", d.gradient_accumulation_steps,
                "micro-batches per optimizer step");
  flags.add_double("weight_decay", d.weight_decay, "AdamW's decoupled weight decay");
  flags.add_int("warmup_steps", d.warmup_steps, "learning-rate warmup steps");
  flags.add_double("warmup_ratio", d.warmup_ratio,
                   "warmup as a share of all steps, when --warmup_steps is 0");
  flags.add_double("adam_beta1", d.adam_beta1, "AdamW beta1");
  flags.add_double("adam_beta2", d.adam_beta2, "AdamW beta2");
  flags.add_double("adam_epsilon", d.adam_epsilon, "AdamW epsilon");
  flags.add_double("max_grad_norm", d.max_grad_norm, "clip gradients to this global norm (0: off)");
  flags.add_string("lr_scheduler_type", d.lr_scheduler_type,
                   "without a DeepSpeed \"scheduler\" block: \"linear\" or \"constant\"");
  flags.add_string("resume_from_checkpoint", d.resume_from_checkpoint,
                   "a checkpoint folder, or \"latest\" in --output_dir");
  flags.add_int("max_eval_samples", d.max_eval_samples,
                "> 0: evaluate on the first N rows of the eval split");
  flags.add_int("num_threads", d.num_threads, "CPU threads (0: OpenMP's default)");
  flags.add_string("device", d.device,
                   "auto (this rank's GPU when one is visible, else the CPU), cpu or cuda");
  flags.add_bool("progress", d.progress, "draw the progress bar even when stderr is no terminal");
  flags.add_string("zero_trace", d.zero_trace,
                   "ZeRO runs: write rank 0's gathers, releases and reduce-scatters as JSON lines "
                   "to this file");
  flags.add_int("zero_trace_steps", d.zero_trace_steps, "optimizer steps the ZeRO trace covers");
  flags.add_int("print_examples", d.print_examples,
                "at the end, summarize this many eval rows with the final model and print them");
}

TrainingArgs read_flags(const FlagSet& flags) {
  TrainingArgs a;
  a.model_id = flags.get_string("model_id");
  a.dataset_path = flags.get_string("dataset_path");
  a.epochs = flags.get_int("epochs");
  a.per_device_train_batch_size = flags.get_int("per_device_train_batch_size");
  a.per_device_eval_batch_size = flags.get_int("per_device_eval_batch_size");
  a.generation_max_length = flags.get_int("generation_max_length");
  a.generation_num_beams = flags.get_int("generation_num_beams");
  a.lr = flags.get_double("lr");
  a.seed = flags.get_int("seed");
  a.deepspeed = flags.get_string("deepspeed");
  a.gradient_checkpointing = flags.get_bool("gradient_checkpointing");
  a.bf16 = flags.get_bool("bf16");
  a.output_dir = flags.get_string("output_dir");
  a.max_steps = flags.get_int("max_steps");
  a.logging_steps = flags.get_int("logging_steps");
  a.eval_strategy = parse_interval_strategy("eval_strategy", flags.get_string("eval_strategy"));
  a.eval_steps = flags.get_int("eval_steps");
  a.save_strategy = parse_interval_strategy("save_strategy", flags.get_string("save_strategy"));
  a.save_steps = flags.get_int("save_steps");
  a.save_total_limit = flags.get_int("save_total_limit");
  a.load_best_model_at_end = flags.get_bool("load_best_model_at_end");
  a.gradient_accumulation_steps = flags.get_int("gradient_accumulation_steps");
  a.weight_decay = flags.get_double("weight_decay");
  a.warmup_steps = flags.get_int("warmup_steps");
  a.warmup_ratio = flags.get_double("warmup_ratio");
  a.adam_beta1 = flags.get_double("adam_beta1");
  a.adam_beta2 = flags.get_double("adam_beta2");
  a.adam_epsilon = flags.get_double("adam_epsilon");
  a.max_grad_norm = flags.get_double("max_grad_norm");
  a.lr_scheduler_type = flags.get_string("lr_scheduler_type");
  a.resume_from_checkpoint = flags.get_string("resume_from_checkpoint");
  a.max_eval_samples = flags.get_int("max_eval_samples");
  a.num_threads = static_cast<int>(flags.get_int("num_threads"));
  a.device = flags.get_string("device");
  a.progress = flags.get_bool("progress");
  a.print_examples = flags.get_int("print_examples");
  a.zero_trace = flags.get_string("zero_trace");
  a.zero_trace_steps = flags.get_int("zero_trace_steps");
  return a;
}

}  // namespace

int run_train(int argc, char** argv) {
  FlagSet flags("train",
                "Fine-tune a T5 for summarization on a dataset from `t5zero prepare`, with the "
                "reference recipe's flags (run_seq2seq_deepspeed.py); evaluates with ROUGE, "
                "saves checkpoints and resumes.");
  add_flags(flags, TrainingArgs());
  if (!flags.parse(argc, argv, 2)) return 0;
  TrainingArgs args;
  try {
    args = read_flags(flags);
    validate_training_args(args);
  } catch (const Error& e) {
    throw UsageError(e.what());  // a bad flag value: usage, exit 2
  }
  // Under mpirun every rank runs this together; the ZeRO store partitions over them.
  const std::unique_ptr<dist::Communicator> comm = make_training_communicator(args.device);
  const TrainJobResult job =
      run_training_job(args, std::cout, {}, comm->size() > 1 ? comm.get() : nullptr);
  if (job.train.status == TrainStatus::interrupted) {
    // The conventional status of a run ended by a signal, after a clean shutdown.
    return 128 + job.train.stop_signal;
  }
  return 0;
}

}  // namespace t5zero::cli
