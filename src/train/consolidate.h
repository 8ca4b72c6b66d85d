// `t5zero consolidate`: a training checkpoint (checkpoint-<step>/, see checkpoint.h) → a Hugging
// Face model folder of full fp32 (or bf16) weights, as DeepSpeed's zero_to_fp32.py does.
//
// The weights come from the run's fp32 masters, never from its bf16 model: in bf16 runs from the
// "master.<name>" tensors of optimizer.safetensors (one process) or of the W rank files
// zero/optimizer-rank-<r>-of-<W>.safetensors, where rank r holds elements [r·s, r·s + len_r) of
// the flattened parameter, s = ceil(numel / W), len_r = clamp(numel − r·s, 0, s) (a rank may hold
// none of a small parameter: shape [0]); in fp32 runs from model.safetensors, which holds the
// masters themselves. The parameter names and shapes are those of the model the checkpoint's
// config.json describes. Every file is untrusted: errors name the file and the tensor.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/sharded_checkpoint.h"
#include "tensor/dtype.h"
#include "train/deepspeed_config.h"

namespace t5zero {

struct ConsolidateOptions {
  std::string checkpoint;    // a checkpoint-<step> folder
  std::string output_dir;    // must not exist, or be an empty folder
  DType dtype = DType::f32;  // of the written weights: f32 or bf16 (rounded to nearest even)
  uint64_t max_shard_bytes = kDefaultMaxShardBytes;  // above it, shards + index (save_pretrained)
};

struct ConsolidateReport {
  int64_t global_step = 0;
  Precision run_precision = Precision::fp32;
  int64_t world_size = 1;  // as trainer_state.json records it
  // Where the fp32 weights were read, relative to the checkpoint folder.
  std::vector<std::string> master_files;
  int64_t parameters = 0;  // parameter tensors
  int64_t elements = 0;    // their elements
  DType dtype = DType::f32;
  std::vector<std::string> files;  // written into output_dir, sorted
  uint64_t bytes_written = 0;
};

// Builds the full weights, then writes config.json, generation_config.json, the weights and the
// checkpoint's tokenizer files into a temporary folder beside output_dir, renamed to output_dir
// when complete: a failed run leaves no output_dir.
ConsolidateReport consolidate_checkpoint(const ConsolidateOptions& options);

}  // namespace t5zero
