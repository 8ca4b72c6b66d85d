// What an evaluation needs and leaves behind, shared by the trainer's per-epoch evaluation
// (Trainer::run_evaluation, train_job.cpp) and `t5zero eval`, so both evaluate alike:
// the evaluation options as Seq2SeqTrainer passes them, the tokenizer that decodes the
// summaries, and the texts written beside the metrics.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/t5_config.h"
#include "io/token_dataset.h"
#include "models/architectures.h"
#include "train/evaluation.h"
#include "train/training_args.h"

namespace t5zero {

// The model's generation config with generation_max_length and generation_num_beams from the
// flags (as Seq2SeqTrainer passes them), per_device_eval_batch_size, max_eval_samples and the
// dataset's pad id; generation only when a tokenizer can decode the summaries.
EvalOptions recipe_eval_options(const T5Config& config, const TrainingArgs& args, int64_t pad_id,
                                bool generate);

// The folder of the tokenizer that decodes summaries: the model folder's when it holds
// spiece.model, else the one `t5zero prepare` used (the dataset's tokenizer_path); "" if neither.
std::string find_tokenizer_folder(const models::ResolvedModel& model,
                                  const TokenDatasetMetadata& metadata);

// OUTPUT_DIR/eval_predictions.jsonl and eval_references.jsonl: one JSON string per line, from
// which `t5zero rouge` gives the same scores. Written atomically; nothing when the evaluation
// did not generate. Returns the paths written.
std::vector<std::string> write_eval_texts(const std::string& output_dir, const EvalResult& result);

}  // namespace t5zero
