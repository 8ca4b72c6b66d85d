// `t5zero prepare`: a raw summarization dataset to the tokenized dataset training reads
// (token_dataset.h), computing what the reference recipe's preprocessing computes
// (philschmid create_flan_t5_cnn_dataset.py and its notebook):
//
//   Prompt length      ids of the template with an empty input, </s> included (12 by default)
//   Max input length   model_max_length − prompt length (512 − 12 = 500)
//   Max source length  auto: min(longest tokenized text over train + eval, max input length),
//                      each text tokenized with truncation at model_max_length
//   Max target length  p95: int(numpy's 95th percentile, linear) of the tokenized summary lengths
//                      over train + eval (truncated at model_max_length); auto: the longest
//
// Inputs are the template applied to the text, tokenized and truncated at model_max_length with
// </s> kept last (the notebook; an explicit --max_source_length N truncates at N instead, as the
// recipe's .py copy does with its computed value). Labels are the summaries truncated at the max
// target length. max_length padding pads inputs with the pad id to their truncation length and
// labels with -100 to the max target length, as the recipe; longest stores rows unpadded and
// leaves padding to the batcher.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "io/token_dataset.h"

namespace t5zero {

inline constexpr const char* kDefaultPromptTemplate =
    "Summarize the following news article:\n{input}\nSummary:\n";

enum class TargetLengthRule { p95, longest, fixed };
enum class Padding { longest, max_length };

struct PrepareOptions {
  std::string dataset_path;  // a .jsonl/.csv file or a folder of them (raw_dataset.h)
  std::string tokenizer_dir;
  std::string output_dir;
  std::string text_column = "article";
  std::string summary_column = "highlights";
  std::string split_column = "split";
  std::string prompt_template = kDefaultPromptTemplate;  // Python str.format with {input}
  std::optional<int64_t> max_source_length;              // nullopt: auto
  TargetLengthRule target_rule = TargetLengthRule::p95;
  int64_t max_target_length = 0;  // TargetLengthRule::fixed only
  Padding padding = Padding::longest;
  std::string train_split = "train";
  std::string eval_split = "test";
  // > 0: the eval split is this fraction of the train split's rows (rounded up), picked by a
  // permutation seeded with `seed`, instead of a split of the input.
  double eval_fraction = 0.0;
  int64_t seed = 42;
  int num_threads = 0;  // <= 0: all hardware threads
  bool overwrite = false;
  bool skip_invalid = false;
  bool progress = false;     // a progress line on the error stream
  std::string command_line;  // recorded in metadata.json
};

// Runs the preparation: the recipe's lines and the closing summary go to `out`, the progress line
// (when enabled) to `progress_out`. Returns the metadata written.
TokenDatasetMetadata prepare_dataset(const PrepareOptions& options, std::ostream& out,
                                     std::ostream& progress_out);

// The template with every {input} replaced by `input`, as Python's str.format(input=...): "{{"
// and "}}" stand for braces; any other field is an error, as is a template without {input}.
std::string apply_prompt_template(std::string_view prompt_template, std::string_view input);

// `ids` cut to at most `max_length` ids with the last one (</s>) kept last, as transformers
// truncates an encoding whose post-processor appended </s>.
void truncate_keeping_last(std::vector<int32_t>& ids, int64_t max_length);

// Which rows of `rows` form the eval part when carving `fraction` (0 < fraction < 1) out of
// them: ceil(fraction · rows) indices, ascending, chosen by a permutation seeded with `seed`
// (a splitmix64 key per row, so the choice is the same on every platform).
std::vector<int64_t> pick_eval_rows(int64_t rows, double fraction, int64_t seed);

}  // namespace t5zero
