// Test data for the trainer: the rows of tests/fixtures/train/rows.json (made by
// tools/reference/make_train_fixture.py) written as a tokenized dataset, and the run settings
// the fixture was made with.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/token_dataset.h"
#include "train/training_args.h"

namespace t5zero::testing {

inline const std::string kTrainFixtures = std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/train";

// Writes `rows_json`'s splits ("train", "eval") as an unpadded dataset folder `dir`. The ids are
// T5 ids, so the dataset names the shared T5 tokenizer (evaluations decode with it).
inline void write_rows_dataset(const std::string& dir, int64_t vocab_size,
                               const std::string& rows_json = kTrainFixtures + "/rows.json") {
  const JsonValue root = JsonValue::parse_file(rows_json);
  TokenDatasetMetadata metadata;
  metadata.dataset_path = rows_json;
  metadata.tokenizer_path = std::string(T5ZERO_SHARED_DIR) + "/data/t5-tokenizer";
  metadata.vocab_size = vocab_size;
  metadata.pad_token_id = 0;
  metadata.eos_token_id = 1;
  metadata.prompt_template = "{input}";
  metadata.max_source_length = 64;
  metadata.max_source_length_rule = "fixed";
  metadata.max_target_length = 64;
  metadata.max_target_length_rule = "fixed";
  metadata.input_truncation_length = 64;
  metadata.padding = "longest";
  std::vector<TokenSplitArrays> arrays;
  for (const auto& [name, split] : root.as_object()) {
    TokenSplitInfo info;
    info.name = name;
    info.source_split = name;
    TokenSplitArrays a;
    const std::vector<JsonValue> inputs = split.at("input_ids").as_array();
    const std::vector<JsonValue> labels = split.at("labels").as_array();
    for (size_t r = 0; r < inputs.size(); ++r) {
      for (const JsonValue& id : inputs[r].as_array())
        a.input_ids.push_back(static_cast<int32_t>(id.as_int()));
      a.input_offsets.push_back(a.input_ids.size());
      a.input_lengths.push_back(static_cast<uint32_t>(inputs[r].size()));
      for (const JsonValue& id : labels[r].as_array())
        a.labels.push_back(static_cast<int32_t>(id.as_int()));
      a.label_offsets.push_back(a.labels.size());
      info.input_tokens += static_cast<int64_t>(inputs[r].size());
      info.label_tokens += static_cast<int64_t>(labels[r].size());
    }
    info.rows = static_cast<int64_t>(inputs.size());
    metadata.splits.push_back(info);
    arrays.push_back(std::move(a));
  }
  write_token_dataset(dir, metadata, arrays, /*overwrite=*/false);
}

// The fixture's run: tools/reference/make_train_fixture.py's SETTINGS, nothing saved or evaluated.
inline TrainingArgs fixture_training_args(const std::string& dataset, const std::string& output) {
  TrainingArgs a;
  a.model_id = kTrainFixtures + "/model";
  a.dataset_path = dataset;
  a.output_dir = output;
  a.per_device_train_batch_size = 2;
  a.gradient_accumulation_steps = 2;
  a.max_steps = 10;
  a.lr = 2e-3;
  a.warmup_steps = 2;
  a.weight_decay = 0.01;
  a.max_grad_norm = 1.0;
  a.shuffle = false;
  a.gradient_checkpointing = false;
  a.logging_steps = 1;
  a.eval_strategy = IntervalStrategy::no;
  a.save_strategy = IntervalStrategy::no;
  a.load_best_model_at_end = false;
  return a;
}

}  // namespace t5zero::testing
