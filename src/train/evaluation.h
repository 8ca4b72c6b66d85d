// Evaluation as the recipe's Seq2SeqTrainer runs it (predict_with_generate): the teacher-forced
// eval loss, then beam-search summaries of every evaluated row, decoded and scored with ROUGE
// against the decoded labels (postprocess_text: one sentence per line), and gen_len.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "dist/communicator.h"
#include "io/token_dataset.h"
#include "io/tokenizer.h"
#include "models/t5_generate.h"
#include "models/t5_model.h"
#include "train/rouge.h"

namespace t5zero {

struct EvalOptions {
  int64_t batch_size = 8;   // per_device_eval_batch_size
  int64_t max_samples = 0;  // > 0: only the first rows of the split
  bool generate = true;     // false: the loss only
  // The model's generation config with max_length = generation_max_length and num_beams =
  // generation_num_beams, as Seq2SeqTrainer passes them.
  models::GenerationOptions generation;
  int64_t pad_id = 0;
};

struct EvalResult {
  // HF's evaluation loop: each batch's mean loss repeated per row, then the mean over rows.
  double loss = 0;
  int64_t samples = 0;
  bool generated = false;
  RougeSummary rouge;  // mean F1 × 100 (the recipe reports the bootstrap median, see rouge.h)
  double gen_len = 0;  // mean count of generated ids other than pad
  std::vector<std::string> predictions;  // decoded, special tokens skipped
  std::vector<std::string> references;
  double seconds = 0;
};

// Rows evaluated: the split, or its first max_samples rows.
int64_t eval_rows(const TokenSplit& split, const EvalOptions& options);

// `tokenizer` decodes predictions and labels; it may be null only when !options.generate.
// With a communicator of W > 1 ranks (every rank calls this together) each rank evaluates one
// contiguous block of whole batches with the whole model gathered once beforehand, so generation
// needs no collectives per decoding step; the blocks' losses, lengths and texts are then
// combined in row order and every rank returns the same result.
EvalResult evaluate(const models::T5ForConditionalGeneration& model, const TokenSplit& split,
                    const EvalOptions& options, const T5Tokenizer* tokenizer,
                    dist::Communicator* comm = nullptr);

}  // namespace t5zero
