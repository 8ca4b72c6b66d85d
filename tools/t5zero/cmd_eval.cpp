// t5zero eval: the evaluation `t5zero train` runs each epoch (eval loss, beam-search summaries,
// ROUGE, gen_len; src/train/evaluation.h), on any split of a prepared dataset, for a model
// folder: prints the metrics, writes them with the predictions and references.
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "commands.h"
#include "flags.h"
#include "io/atomic_file.h"
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
#include "train/evaluation.h"
#include "train/training_args.h"

namespace t5zero::cli {

namespace {

// JSON has no NaN or infinity: such a value is written as null.
void number(JsonWriter& json, const char* key, double value) {
  json.key(key);
  if (std::isfinite(value)) {
    json.value(value);
  } else {
    json.null();
  }
}

// The metrics under the names HF's Trainer.evaluate() gives them (metric_key_prefix "eval").
std::string metrics_json(const EvalResult& r, const TrainingArgs& args, const std::string& split,
                         bool bf16) {
  JsonWriter json(2);
  json.begin_object();
  json.key("model_id").value(args.model_id);
  json.key("dataset_path").value(args.dataset_path);
  json.key("split").value(split);
  json.key("bf16").value(bf16);
  json.key("generation_max_length").value(args.generation_max_length);
  json.key("generation_num_beams").value(args.generation_num_beams);
  number(json, "eval_loss", r.loss);
  if (r.generated) {
    number(json, "eval_rouge1", r.rouge.rouge1);
    number(json, "eval_rouge2", r.rouge.rouge2);
    number(json, "eval_rougeL", r.rouge.rougeL);
    number(json, "eval_rougeLsum", r.rouge.rougeLsum);
    number(json, "eval_gen_len", r.gen_len);
  }
  json.key("eval_samples").value(r.samples);
  number(json, "eval_runtime", r.seconds);
  number(json, "eval_samples_per_second",
         r.seconds > 0 ? static_cast<double>(r.samples) / r.seconds : 0.0);
  json.end_object();
  return json.text() + "\n";
}

}  // namespace

int run_eval(int argc, char** argv) {
  const TrainingArgs d;
  FlagSet flags(
      "eval",
      "The evaluation `t5zero train` runs each epoch, on a split of a prepared dataset: eval\n"
      "loss, beam-search summaries scored with ROUGE-1/2/L/Lsum (mean F1 x100, sentence per\n"
      "line as the recipe), gen_len. Prints the metrics as JSON on stdout; with --output_dir\n"
      "also writes eval_results.json, eval_predictions.jsonl and eval_references.jsonl there\n"
      "(`t5zero rouge` on the two .jsonl files gives the same ROUGE).");
  flags.add_required("model_id",
                     "Hugging Face model folder (a `t5zero train` output or checkpoint), hub id "
                     "in the local cache, or built-in architecture (random init: noise)");
  flags.add_string("dataset_path", d.dataset_path, "the folder `t5zero prepare` wrote");
  flags.add_string("split", "eval", "the dataset's split to evaluate (eval, train, ...)");
  flags.add_int("per_device_eval_batch_size", d.per_device_eval_batch_size,
                "rows per evaluation batch");
  flags.add_int("generation_max_length", d.generation_max_length,
                "summaries: max decoder length (start token included)");
  flags.add_int("generation_num_beams", d.generation_num_beams, "beam width (1: greedy)");
  flags.add_int("max_eval_samples", d.max_eval_samples, "> 0: only the split's first N rows");
  flags.add_string("output_dir", "", "where the metrics and texts go; empty: print only");
  flags.add_bool("bf16", d.bf16, "evaluate in bf16, as a bf16 training run does");
  flags.add_int("seed", d.seed, "random initialisation of a built-in architecture");
  flags.add_int("num_threads", d.num_threads, "CPU threads (0: OpenMP's default)");
  if (!flags.parse(argc, argv, 2)) return 0;

  TrainingArgs args;
  args.model_id = flags.get_string("model_id");
  args.dataset_path = flags.get_string("dataset_path");
  args.per_device_eval_batch_size = flags.get_int("per_device_eval_batch_size");
  args.generation_max_length = flags.get_int("generation_max_length");
  args.generation_num_beams = flags.get_int("generation_num_beams");
  args.max_eval_samples = flags.get_int("max_eval_samples");
  args.seed = flags.get_int("seed");
  const std::string split_name = flags.get_string("split");
  const std::string output_dir = flags.get_string("output_dir");
  const bool bf16 = flags.get_bool("bf16");
  if (args.per_device_eval_batch_size < 1) {
    throw UsageError("--per_device_eval_batch_size: expected >= 1, got " +
                     std::to_string(args.per_device_eval_batch_size));
  }
  if (args.generation_max_length < 1) {
    throw UsageError("--generation_max_length: expected >= 1, got " +
                     std::to_string(args.generation_max_length));
  }
  if (args.generation_num_beams < 1) {
    throw UsageError("--generation_num_beams: expected >= 1, got " +
                     std::to_string(args.generation_num_beams));
  }
  if (args.max_eval_samples < 0) {
    throw UsageError("--max_eval_samples: expected >= 0 (0: every row), got " +
                     std::to_string(args.max_eval_samples));
  }
  if (flags.get_int("num_threads") < 0) throw UsageError("--num_threads: expected >= 0");
  if (flags.get_int("num_threads") > 0) {
    omp_set_num_threads(static_cast<int>(flags.get_int("num_threads")));
  }

  // The model and the data, checked against each other before anything is allocated.
  const models::ResolvedModel resolved = models::resolve_model(args.model_id);
  const TokenDataset dataset = TokenDataset::open(args.dataset_path);
  const TokenDatasetMetadata& metadata = dataset.metadata();
  T5_CHECK(metadata.vocab_size <= resolved.config.vocab_size, args.dataset_path,
           ": token ids reach the tokenizer's vocabulary of ", metadata.vocab_size,
           " but the model '", args.model_id, "' embeds only ", resolved.config.vocab_size,
           " rows");
  const TokenSplit& split = dataset.split(split_name);  // the error lists the splits

  models::ParameterStore store(bf16 ? DType::bf16 : DType::f32);
  models::T5ForConditionalGeneration model(resolved.config, store);
  if (resolved.id.source == ModelSource::builtin) {
    models::initialize_parameters(store, static_cast<uint64_t>(args.seed));
    std::fprintf(stderr,
                 "t5zero eval: note: %s is a built-in architecture with random weights (seed "
                 "%lld); its summaries are noise\n",
                 args.model_id.c_str(), static_cast<long long>(args.seed));
  } else {
    for (const std::string& name : models::load_t5_weights(resolved.id.folder, model).unexpected) {
      std::fprintf(stderr, "t5zero eval: note: %s: tensor '%s' is not a parameter; ignored\n",
                   resolved.id.folder.c_str(), name.c_str());
    }
  }
  const std::string tokenizer_folder = find_tokenizer_folder(resolved, metadata);
  std::optional<T5Tokenizer> tokenizer;
  if (!tokenizer_folder.empty()) {
    tokenizer = T5Tokenizer::load(tokenizer_folder);
  } else {
    std::fprintf(stderr,
                 "t5zero eval: note: no tokenizer in the model folder or at the dataset's "
                 "tokenizer_path (%s): the loss only, no summaries or ROUGE\n",
                 metadata.tokenizer_path.c_str());
  }

  const EvalOptions options =
      recipe_eval_options(resolved.config, args, metadata.pad_token_id, tokenizer.has_value());
  const EvalResult result = evaluate(model, split, options, tokenizer ? &*tokenizer : nullptr);

  char loss[32];
  std::snprintf(loss, sizeof(loss), "%.4f", result.loss);
  std::string line = "eval of " + args.model_id + " on " + args.dataset_path + " split '" +
                     split_name + "' (" + std::to_string(result.samples) + " rows): loss " + loss;
  if (result.generated) {
    char scores[160];
    std::snprintf(scores, sizeof(scores),
                  ", rouge1 %.4f, rouge2 %.4f, rougeL %.4f, rougeLsum %.4f, gen_len %.2f",
                  result.rouge.rouge1, result.rouge.rouge2, result.rouge.rougeL,
                  result.rouge.rougeLsum, result.gen_len);
    line += scores;
  }
  std::fprintf(stderr, "%s\n", line.c_str());

  const std::string metrics = metrics_json(result, args, split_name, bf16);
  if (!output_dir.empty()) {
    std::filesystem::create_directories(output_dir);
    const std::string results_path =
        (std::filesystem::path(output_dir) / "eval_results.json").string();
    write_file_atomically(results_path, metrics);
    std::fprintf(stderr, "wrote %s", results_path.c_str());
    for (const std::string& path : write_eval_texts(output_dir, result)) {
      std::fprintf(stderr, ", %s", path.c_str());
    }
    std::fprintf(stderr, "\n");
  }
  if (std::fwrite(metrics.data(), 1, metrics.size(), stdout) != metrics.size() ||
      std::fflush(stdout) != 0) {
    fail("eval: cannot write the output");
  }
  return 0;
}

}  // namespace t5zero::cli
