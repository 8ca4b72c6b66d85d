// Hugging Face model folders in and out: the weights of a T5ForConditionalGeneration from
// model.safetensors (or a sharded model-0000k-of-0000n.safetensors set with its
// model.safetensors.index.json), and a folder transformers can load.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/sharded_checkpoint.h"
#include "models/t5_model.h"

namespace t5zero::models {

struct WeightsLoadReport {
  std::vector<std::string> unexpected;  // tensors in the files that name no parameter
};

// Loads every parameter of `model` from the folder's safetensors, converting to the store's dtype.
// As transformers: the embedding may be stored as shared.weight, encoder.embed_tokens.weight or
// decoder.embed_tokens.weight; tied models need no lm_head.weight; t5 v1.0's unused
// decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight is ignored. Missing or
// mis-shaped tensors are one error listing all of them.
WeightsLoadReport load_t5_weights(const std::string& folder,
                                  const T5ForConditionalGeneration& model);

struct SaveFolderOptions {
  // Above this many bytes of tensors the weights are split into shards, as save_pretrained.
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;
  // A folder whose tokenizer files (spiece.model, tokenizer.json, tokenizer_config.json,
  // special_tokens_map.json) are copied over; empty: none.
  std::string tokenizer_folder;
  // False: gather every parameter as a writer would, but write nothing. The ranks of a ZeRO-3
  // job all take part in the gathers; one of them writes.
  bool write_files = true;
};

// Writes config.json, generation_config.json and the weights (shared.weight, lm_head.weight
// only when untied) in the store's dtype, in state-dict order (io/sharded_checkpoint.h). Every
// file is written under a temporary name and renamed when complete.
void save_t5_folder(const T5ForConditionalGeneration& model, const std::string& folder,
                    const SaveFolderOptions& options = {});

// The names of the tokenizer files a model folder may hold, in the order they are copied.
const std::vector<std::string>& tokenizer_file_names();

}  // namespace t5zero::models
