// t5zero consolidate: a training checkpoint (ZeRO-partitioned or not) → a Hugging Face model
// folder of full fp32 or bf16 weights (src/train/consolidate.h does the work; this file reads
// flags and prints what it did).
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "io/sharded_checkpoint.h"
#include "tensor/error.h"
#include "train/consolidate.h"

namespace t5zero::cli {

namespace {

DType parse_output_dtype(const std::string& text) {
  if (text == "fp32") return DType::f32;
  if (text == "bf16") return DType::bf16;
  throw UsageError("--dtype: expected fp32 or bf16, got '" + text + "'");
}

// "label: a b c" on one line.
void print_names(const char* label, const std::vector<std::string>& names) {
  std::printf("%s:", label);
  for (const std::string& name : names) std::printf(" %s", name.c_str());
  std::printf("\n");
}

}  // namespace

int run_consolidate(int argc, char** argv) {
  FlagSet flags(
      "consolidate",
      "Writes a Hugging Face model folder (config.json, generation_config.json, the weights,\n"
      "the tokenizer files) from a t5zero train checkpoint, as DeepSpeed's zero_to_fp32.py:\n"
      "the full fp32 weights are rebuilt from the run's fp32 master weights (the ranks' parts\n"
      "under ZeRO), not from its bf16 model. The folder is written under a temporary name and\n"
      "renamed when complete.");
  flags.add_required("checkpoint", "a checkpoint-<step> folder written by t5zero train");
  flags.add_required("output_dir", "the model folder to write (new, or an empty folder)");
  flags.add_string("dtype", "fp32", "dtype of the written weights: fp32 or bf16");
  flags.add_string("max_shard_size", "10GB",
                   "above this size the weights are split into shards with an index, as "
                   "save_pretrained (10GB = 10^10 bytes, 500MiB = 500*2^20)");
  if (!flags.parse(argc, argv, 2)) return 0;

  ConsolidateOptions options;
  options.checkpoint = flags.get_string("checkpoint");
  options.output_dir = flags.get_string("output_dir");
  options.dtype = parse_output_dtype(flags.get_string("dtype"));
  try {
    options.max_shard_bytes =
        parse_byte_size(flags.get_string("max_shard_size"), "--max_shard_size");
  } catch (const Error& e) {
    throw UsageError(e.what());
  }

  const ConsolidateReport r = consolidate_checkpoint(options);
  std::printf("checkpoint: %s (step %lld, %s run, world size %lld)\n", options.checkpoint.c_str(),
              static_cast<long long>(r.global_step),
              r.run_precision == Precision::bf16 ? "bf16" : "fp32",
              static_cast<long long>(r.world_size));
  print_names("fp32 weights from", r.master_files);
  std::printf("parameters: %lld tensors, %lld elements, written as %s\n",
              static_cast<long long>(r.parameters), static_cast<long long>(r.elements),
              r.dtype == DType::bf16 ? "bf16" : "fp32");
  std::printf("wrote %s: %llu bytes\n", options.output_dir.c_str(),
              static_cast<unsigned long long>(r.bytes_written));
  print_names("files", r.files);
  return 0;
}

}  // namespace t5zero::cli
