#include "train/consolidate.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>

#include "dist/zero_partition.h"
#include "io/safetensors_reader.h"
#include "io/t5_config.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_model.h"
#include "tensor/error.h"
#include "train/checkpoint.h"

namespace t5zero {

namespace fs = std::filesystem;
using models::ParamId;

namespace {

constexpr const char* kMasterPrefix = "master.";

// "a, b, c", the first few of a long list and how many there are in all.
std::string list_names(const std::vector<std::string>& names) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += ", ... (" + std::to_string(names.size()) + " in all)";
  return out;
}

// An existing output folder would be replaced by the rename only when empty; refuse anything
// else before doing any work.
void check_output_dir(const ConsolidateOptions& options) {
  const fs::path output(options.output_dir);
  T5_CHECK(!options.output_dir.empty(), "consolidate: no output folder given");
  if (!fs::exists(output)) return;
  T5_CHECK(fs::is_directory(output), options.output_dir,
           ": exists and is not a folder; give a new folder for the consolidated model");
  T5_CHECK(fs::is_empty(output), options.output_dir,
           ": exists and is not empty; consolidate writes a new folder (remove it or choose "
           "another)");
}

// A checkpoint's tensor must be F32 of the parameter's (or its part's) shape.
void check_f32_tensor(const SafetensorsTensorInfo& info, const Shape& shape,
                      const std::string& file) {
  T5_CHECK(info.dtype == "F32" && info.shape == shape, file, ": tensor '", info.name,
           "': expected F32 of shape ", shape_str(shape), ", got ", info.dtype, " ",
           shape_str(info.shape));
}

// Every "master.<name>" tensor of `file` must name a parameter of the model: another would mean
// the checkpoint belongs to another model than its config.json describes.
void check_no_stray_masters(const SafetensorsReader& file, const models::ParameterStore& store) {
  const std::string prefix = kMasterPrefix;
  for (const SafetensorsTensorInfo& info : file.tensors()) {
    if (info.name.starts_with(prefix) && !store.contains(info.name.substr(prefix.size()))) {
      fail(file.source(), ": tensor '", info.name,
           "' names no parameter of the model config.json describes");
    }
  }
}

// The W rank files of a ZeRO checkpoint, opened. One error lists the rank files that are missing
// and those of another world size (a folder mixed from two runs).
std::vector<SafetensorsReader> open_rank_files(const fs::path& checkpoint, int64_t world) {
  std::vector<std::string> missing;
  std::set<std::string> expected;
  for (int64_t r = 0; r < world; ++r) {
    const std::string file = optimizer_state_file(static_cast<int>(r), static_cast<int>(world));
    expected.insert(fs::path(file).filename().string());
    if (!fs::is_regular_file(checkpoint / file)) missing.push_back(file);
  }
  std::vector<std::string> stray;
  static const std::regex rank_file(R"(optimizer-rank-\d+-of-\d+\.safetensors)");
  const fs::path zero = checkpoint / "zero";
  if (fs::is_directory(zero)) {
    for (const fs::directory_entry& entry : fs::directory_iterator(zero)) {
      const std::string name = entry.path().filename().string();
      if (std::regex_match(name, rank_file) && !expected.count(name)) {
        stray.push_back("zero/" + name);
      }
    }
  }
  std::sort(stray.begin(), stray.end());
  const std::string where = checkpoint.string() + ": " + kTrainerStateFile + " says the run had " +
                            std::to_string(world) + " ranks";
  if (!stray.empty()) {
    fail(where, ", but the folder holds rank files of another world size: ", list_names(stray),
         missing.empty() ? "" : "; missing: " + list_names(missing));
  }
  if (!missing.empty()) {
    fail(where, ", but ", missing.size(), " of its rank files are missing: ", list_names(missing));
  }
  std::vector<SafetensorsReader> files;
  for (int64_t r = 0; r < world; ++r) {
    files.push_back(SafetensorsReader::open(
        (checkpoint / optimizer_state_file(static_cast<int>(r), static_cast<int>(world)))
            .string()));
  }
  return files;
}

// fp32 runs: model.safetensors (or its shards) holds the masters themselves.
void read_fp32_model(const fs::path& checkpoint, models::ParameterStore& store,
                     ConsolidateReport& report) {
  const ShardedCheckpointReader files = ShardedCheckpointReader::open(checkpoint.string());
  // The reader prefers model.safetensors to an index, as transformers does.
  const std::string weights_file = fs::exists(checkpoint / kSafetensorsWeightsName)
                                       ? kSafetensorsWeightsName
                                       : kSafetensorsIndexName;
  for (ParamId id : store.ids()) {
    const models::ParameterSpec& spec = store.spec(id);
    T5_CHECK(files.contains(spec.name), (checkpoint / weights_file).string(), ": missing tensor '",
             spec.name, "' (an fp32 run's weights are its master weights)");
    check_f32_tensor(files.info(spec.name), spec.shape, files.shard(spec.name).source());
    store.assign(id, files.load(spec.name));
  }
  for (const std::string& name : files.names()) {
    T5_CHECK(store.contains(name), files.shard(name).source(), ": tensor '", name,
             "' names no parameter of the model config.json describes");
  }
  report.master_files = {weights_file};
}

// bf16 runs in one process: optimizer.safetensors holds full-shape "master.<name>" tensors.
void read_single_process_masters(const fs::path& checkpoint, models::ParameterStore& store,
                                 ConsolidateReport& report) {
  const fs::path path = checkpoint / optimizer_state_file(0, 1);
  T5_CHECK(fs::is_regular_file(path), checkpoint.string(), ": ", kTrainerStateFile,
           " says a bf16 run of one process, but its fp32 master weights, ",
           optimizer_state_file(0, 1), ", are missing");
  const SafetensorsReader file = SafetensorsReader::open(path.string());
  for (ParamId id : store.ids()) {
    const models::ParameterSpec& spec = store.spec(id);
    const std::string name = kMasterPrefix + spec.name;
    T5_CHECK(file.contains(name), file.source(), ": missing tensor '", name, "'");
    check_f32_tensor(file.info(name), spec.shape, file.source());
    store.assign(id, file.load(name));
  }
  check_no_stray_masters(file, store);
  report.master_files = {optimizer_state_file(0, 1)};
}

// bf16 runs under ZeRO: each parameter is the concatenation of the ranks' flat parts.
void read_partitioned_masters(const fs::path& checkpoint, int64_t world,
                              models::ParameterStore& store, ConsolidateReport& report) {
  const std::vector<SafetensorsReader> files = open_rank_files(checkpoint, world);
  for (ParamId id : store.ids()) {
    const models::ParameterSpec& spec = store.spec(id);
    const std::string name = kMasterPrefix + spec.name;
    const int64_t numel = shape_numel(spec.shape);
    Tensor full = Tensor::empty({numel}, DType::f32);
    for (int64_t r = 0; r < world; ++r) {
      const SafetensorsReader& file = files[static_cast<size_t>(r)];
      const dist::FlatPart part = dist::zero_flat_part(numel, r, world);
      T5_CHECK(file.contains(name), file.source(), ": missing tensor '", name, "'");
      check_f32_tensor(file.info(name), {part.numel}, file.source());
      if (part.numel > 0) full.narrow(0, part.offset, part.numel).copy_(file.load(name));
    }
    store.assign(id, full.view(spec.shape));
  }
  for (int64_t r = 0; r < world; ++r) {
    check_no_stray_masters(files[static_cast<size_t>(r)], store);
    report.master_files.push_back(
        optimizer_state_file(static_cast<int>(r), static_cast<int>(world)));
  }
}

}  // namespace

ConsolidateReport consolidate_checkpoint(const ConsolidateOptions& options) {
  T5_CHECK(options.dtype == DType::f32 || options.dtype == DType::bf16,
           "consolidate: the output dtype must be fp32 or bf16, got ", dtype_name(options.dtype));
  const fs::path checkpoint(options.checkpoint);
  T5_CHECK(fs::is_directory(checkpoint), options.checkpoint,
           ": expected a checkpoint folder, found ", fs::exists(checkpoint) ? "a file" : "nothing");
  T5_CHECK(fs::is_regular_file(checkpoint / kTrainerStateFile), options.checkpoint,
           ": not a training checkpoint (no ", kTrainerStateFile,
           "); give a checkpoint-<step> folder of a t5zero train output");
  check_output_dir(options);

  const TrainerState state = read_trainer_state(options.checkpoint);
  const std::string state_file = (checkpoint / kTrainerStateFile).string();
  // A bound that no real job reaches, so a corrupt count cannot make us stat a billion files.
  constexpr int64_t kMaxWorldSize = int64_t{1} << 20;
  T5_CHECK(state.world_size >= 1 && state.world_size <= kMaxWorldSize, state_file,
           ": key 'batch_layout.world_size': expected 1 to ", kMaxWorldSize, ", got ",
           state.world_size);

  // The parameter names and shapes are the model's, built from the checkpoint's config.
  T5Config config = parse_t5_config((checkpoint / "config.json").string());
  config.torch_dtype = options.dtype == DType::bf16 ? "bfloat16" : "float32";
  models::ParameterStore store(options.dtype);
  const models::T5ForConditionalGeneration model(config, store);

  ConsolidateReport report;
  report.global_step = state.global_step;
  report.run_precision = state.precision;
  report.world_size = state.world_size;
  report.dtype = options.dtype;
  if (state.precision == Precision::fp32) {
    read_fp32_model(checkpoint, store, report);
  } else if (state.world_size == 1) {
    read_single_process_masters(checkpoint, store, report);
  } else {
    read_partitioned_masters(checkpoint, state.world_size, store, report);
  }
  report.parameters = store.size();
  report.elements = store.numel();

  // Everything is read and checked; now write, beside the target, and rename when complete.
  // "out/" names the folder out: the temporary goes beside it, not into it.
  fs::path output = fs::path(options.output_dir).lexically_normal();
  if (!output.has_filename()) output = output.parent_path();
  const fs::path temporary(output.string() + ".tmp-" + std::to_string(::getpid()));
  fs::remove_all(temporary);
  try {
    models::SaveFolderOptions save;
    save.max_shard_bytes = options.max_shard_bytes;
    save.tokenizer_folder = options.checkpoint;
    models::save_t5_folder(model, temporary.string(), save);
    for (const fs::directory_entry& entry : fs::directory_iterator(temporary)) {
      report.files.push_back(entry.path().filename().string());
      report.bytes_written += entry.file_size();
    }
    std::sort(report.files.begin(), report.files.end());
    // rename(2) replaces an empty folder and refuses a non-empty one.
    fs::rename(temporary, output);
  } catch (...) {
    std::error_code ignored;
    fs::remove_all(temporary, ignored);
    throw;
  }
  return report;
}

}  // namespace t5zero
