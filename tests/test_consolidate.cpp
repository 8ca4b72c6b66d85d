// t5zero consolidate on checkpoints written by hand: the W rank files of a ZeRO bf16 run (flat
// parts of known fp32 masters, a rank holding none of a small parameter included), one
// process's optimizer.safetensors, an fp32 run's model.safetensors. The output must hold the
// masters exactly (or their bf16 rounding), load back, shard as save_pretrained, and every kind
// of bad checkpoint must be refused with a message naming the file and the tensor, leaving no
// output behind.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "io/safetensors_reader.h"
#include "io/safetensors_writer.h"
#include "io/sharded_checkpoint.h"
#include "io/t5_config.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "temp_folder.h"
#include "train/checkpoint.h"
#include "train/consolidate.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;
namespace fs = std::filesystem;

namespace {

const std::string kSpiece = "not a real sentencepiece model, only bytes to copy\n";
const std::string kTokenizerConfig = "{\"model_max_length\": 512}\n";

// The fp32 master weights of a fake run: t5-micro at random, every value then moved off the
// bf16 grid, so weights read from the bf16 model could not pass for them (the layer norms' 1.0
// included).
struct Masters {
  T5Config config = models::builtin_architecture("t5-micro");
  models::ParameterStore store{DType::f32};
  models::T5ForConditionalGeneration model{config, store};

  Masters() {
    models::initialize_parameters(store, 7);
    for (models::ParamId id : store.ids()) {
      Tensor flat = store.local_part(id);
      float* values = flat.data<float>();
      for (int64_t i = 0; i < flat.numel(); ++i) values[i] += 1e-5f * static_cast<float>(i % 7 + 1);
    }
  }
  Tensor value(const std::string& name) const { return store.variable(store.id(name)).data(); }
};

// Rank r of W holds elements [r·s, r·s + len) of the flattened parameter, s = ceil(numel / W):
// the layout the brief of zero/optimizer-rank-*.safetensors states, computed here on its own.
Tensor flat_part(const Tensor& full, int rank, int world) {
  const int64_t numel = full.numel();
  const int64_t s = (numel + world - 1) / world;
  const int64_t begin = std::min<int64_t>(numel, rank * s);
  const int64_t end = std::min<int64_t>(numel, begin + s);
  return full.contiguous().view({numel}).narrow(0, begin, end - begin).clone();
}

// What t5zero train saves in one rank's optimizer file: moments (any values will do), and the
// masters in bf16 runs; full shapes in one process, flat parts otherwise.
std::vector<std::pair<std::string, Tensor>> optimizer_tensors(const Masters& m, Precision precision,
                                                              int rank, int world) {
  std::vector<std::pair<std::string, Tensor>> tensors;
  for (models::ParamId id : m.store.ids()) {
    const std::string& name = m.store.spec(id).name;
    const Tensor master =
        world == 1 ? m.value(name).clone() : flat_part(m.value(name), rank, world);
    tensors.emplace_back("exp_avg." + name, Tensor::full(master.shape(), 0.25));
    tensors.emplace_back("exp_avg_sq." + name, Tensor::full(master.shape(), 0.5));
    if (precision == Precision::bf16) tensors.emplace_back("master." + name, master);
  }
  return tensors;
}

void write_trainer_state(const fs::path& folder, Precision precision, int64_t world) {
  TrainerState state;
  state.global_step = 12;
  state.precision = precision;
  state.world_size = world;
  state.micro_batch_size = 2;
  state.gradient_accumulation_steps = 1;
  write_file_bytes((folder / kTrainerStateFile).string(), trainer_state_json(state));
}

// checkpoint-12 as t5zero train writes it: the model in the run's dtype (bf16: the masters'
// rounding), tokenizer files, the optimizer state of `world` ranks and trainer_state.json.
std::string write_checkpoint(const fs::path& parent, const Masters& m, Precision precision,
                             int world) {
  const fs::path folder = parent / "checkpoint-12";
  fs::create_directories(folder / "zero");
  write_file_bytes((folder / "spiece.model").string(), kSpiece);
  write_file_bytes((folder / "tokenizer_config.json").string(), kTokenizerConfig);
  if (precision == Precision::bf16) {
    models::ParameterStore bf16_store(DType::bf16);
    const models::T5ForConditionalGeneration bf16_model(m.config, bf16_store);
    for (models::ParamId id : m.store.ids()) bf16_store.assign(id, m.value(m.store.spec(id).name));
    models::save_t5_folder(bf16_model, folder.string());
  } else {
    models::save_t5_folder(m.model, folder.string());
  }
  for (int r = 0; r < world; ++r) {
    save_safetensors((folder / optimizer_state_file(r, world)).string(),
                     optimizer_tensors(m, precision, r, world));
  }
  if (world == 1) fs::remove(folder / "zero");
  write_trainer_state(folder, precision, world);
  return folder.string();
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Every output tensor equals the master (rounded to the output dtype), bit for bit, and the
// folder loads back into a fresh model with nothing unexpected.
void check_output(const std::string& output, const Masters& m, DType dtype) {
  const ShardedCheckpointReader files = ShardedCheckpointReader::open(output);
  CHECK(files.names().size() == static_cast<size_t>(m.store.size()));
  int64_t exact = 0;
  for (models::ParamId id : m.store.ids()) {
    const models::ParameterSpec& spec = m.store.spec(id);
    CAPTURE(spec.name);
    REQUIRE(files.contains(spec.name));
    const Tensor written = files.load(spec.name);
    CHECK(written.dtype() == dtype);
    CHECK(written.shape() == spec.shape);
    const Tensor expected = m.value(spec.name).to(dtype);
    exact += same_bits(written.to_vector<float>(), expected.to_vector<float>());
  }
  CHECK(exact == m.store.size());

  models::ParameterStore loaded_store(DType::f32);
  const models::T5ForConditionalGeneration loaded(m.config, loaded_store);
  CHECK(models::load_t5_weights(output, loaded).unexpected.empty());
  int64_t loaded_exact = 0;
  for (models::ParamId id : loaded_store.ids()) {
    const std::string& name = loaded_store.spec(id).name;
    loaded_exact += same_bits(loaded_store.variable(id).data().to_vector<float>(),
                              m.value(name).to(dtype).to_vector<float>());
  }
  CHECK(loaded_exact == m.store.size());

  // config.json as the checkpoint's, with torch_dtype naming the weights' dtype.
  T5Config config = m.config;
  config.torch_dtype = dtype == DType::bf16 ? "bfloat16" : "float32";
  CHECK(read_file_bytes(output + "/config.json") == t5_config_json(config));
  CHECK(fs::is_regular_file(output + "/generation_config.json"));
  CHECK(read_file_bytes(output + "/spiece.model") == kSpiece);
  CHECK(read_file_bytes(output + "/tokenizer_config.json") == kTokenizerConfig);
}

uint64_t folder_bytes(const std::string& folder) {
  uint64_t total = 0;
  for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
    total += entry.file_size();
  }
  return total;
}

// The message consolidate fails with; "" when it succeeds.
std::string consolidate_error(const ConsolidateOptions& options) {
  try {
    consolidate_checkpoint(options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("a bf16 ZeRO checkpoint of 3 ranks gives the fp32 masters exactly") {
  TempFolder tmp("consolidate_w3");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
  options.output_dir = tmp.file("hf");
  const ConsolidateReport report = consolidate_checkpoint(options);

  CHECK(report.global_step == 12);
  CHECK(report.run_precision == Precision::bf16);
  CHECK(report.world_size == 3);
  CHECK(report.master_files == std::vector<std::string>{"zero/optimizer-rank-0-of-3.safetensors",
                                                        "zero/optimizer-rank-1-of-3.safetensors",
                                                        "zero/optimizer-rank-2-of-3.safetensors"});
  CHECK(report.parameters == m.store.size());
  CHECK(report.elements == m.store.numel());
  CHECK(report.dtype == DType::f32);
  CHECK(report.files == std::vector<std::string>{"config.json", "generation_config.json",
                                                 "model.safetensors", "spiece.model",
                                                 "tokenizer_config.json"});
  CHECK(report.bytes_written == folder_bytes(options.output_dir));
  check_output(options.output_dir, m, DType::f32);
  // Nothing but the checkpoint and the output: no temporary left beside them.
  CHECK(tmp.entries() == std::vector<std::string>{"checkpoint-12", "hf"});
}

TEST_CASE("ranks that hold none of a small parameter (shape [0]) are read too") {
  // W = 12: a layer norm of 32 elements gives s = 3, so rank 11 holds [33, 33): nothing.
  TempFolder tmp("consolidate_w12");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 12);
  options.output_dir = tmp.file("hf");
  const SafetensorsReader last =
      SafetensorsReader::open(options.checkpoint + "/zero/optimizer-rank-11-of-12.safetensors");
  REQUIRE(last.info("master.encoder.final_layer_norm.weight").shape == Shape{0});
  CHECK(consolidate_checkpoint(options).world_size == 12);
  check_output(options.output_dir, m, DType::f32);
}

TEST_CASE("one process's optimizer.safetensors gives the fp32 masters exactly") {
  TempFolder tmp("consolidate_w1");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 1);
  options.output_dir = tmp.file("hf");
  const ConsolidateReport report = consolidate_checkpoint(options);
  CHECK(report.world_size == 1);
  CHECK(report.master_files == std::vector<std::string>{"optimizer.safetensors"});
  check_output(options.output_dir, m, DType::f32);
}

TEST_CASE("an fp32 run's model.safetensors holds the masters: read from it, whatever W") {
  TempFolder tmp("consolidate_fp32");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::fp32, 2);
  options.output_dir = tmp.file("hf");
  const ConsolidateReport report = consolidate_checkpoint(options);
  CHECK(report.run_precision == Precision::fp32);
  CHECK(report.world_size == 2);
  CHECK(report.master_files == std::vector<std::string>{"model.safetensors"});
  check_output(options.output_dir, m, DType::f32);
  // The same weights, so the same bytes as the checkpoint's model.
  CHECK(read_file_bytes(options.output_dir + "/model.safetensors") ==
        read_file_bytes(options.checkpoint + "/model.safetensors"));
}

TEST_CASE("--dtype bf16 writes the masters rounded to nearest even") {
  TempFolder tmp("consolidate_bf16");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
  options.output_dir = tmp.file("hf");
  options.dtype = DType::bf16;
  CHECK(consolidate_checkpoint(options).dtype == DType::bf16);
  check_output(options.output_dir, m, DType::bf16);
  // Here that is the run's own bf16 model, byte for byte.
  CHECK(read_file_bytes(options.output_dir + "/model.safetensors") ==
        read_file_bytes(options.checkpoint + "/model.safetensors"));
}

TEST_CASE("above --max_shard_size the weights are shards with an index, as save_pretrained") {
  TempFolder tmp("consolidate_shards");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
  options.output_dir = tmp.file("hf");
  options.max_shard_bytes = 40'000;  // t5-micro's fp32 weights are about 260 kB
  const ConsolidateReport report = consolidate_checkpoint(options);
  CHECK(ShardedCheckpointReader::open(options.output_dir).shard_count() > 2);
  CHECK(!fs::exists(options.output_dir + "/model.safetensors"));
  CHECK(std::count(report.files.begin(), report.files.end(), "model.safetensors.index.json") == 1);
  CHECK(report.bytes_written == folder_bytes(options.output_dir));
  check_output(options.output_dir, m, DType::f32);
}

TEST_CASE("an empty output folder is filled; a non-empty one is refused and left alone") {
  TempFolder tmp("consolidate_output");
  const Masters m;
  ConsolidateOptions options;
  options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
  options.output_dir = tmp.file("hf") + "/";  // a trailing slash names the same folder
  fs::create_directories(options.output_dir);
  consolidate_checkpoint(options);
  check_output(options.output_dir, m, DType::f32);
  CHECK(tmp.entries() == std::vector<std::string>{"checkpoint-12", "hf"});

  const std::string error = consolidate_error(options);
  CHECK(contains(error, options.output_dir + ": exists and is not empty"));
  CHECK(tmp.entries() == std::vector<std::string>{"checkpoint-12", "hf"});
  check_output(options.output_dir, m, DType::f32);
}

TEST_CASE("bad checkpoints are refused, naming the file and the tensor, and leave no output") {
  TempFolder tmp("consolidate_errors");
  const Masters m;
  ConsolidateOptions options;
  options.output_dir = tmp.file("hf");
  const std::string rank_1 = "zero/optimizer-rank-1-of-3.safetensors";
  const std::string bias =
      "master.encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight";
  // Rewrites rank 1's file of a fresh W=3 bf16 checkpoint through `edit`.
  const auto checkpoint_with_rank_1 = [&](auto edit) {
    fs::remove_all(tmp.path / "checkpoint-12");
    const std::string folder = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    std::vector<std::pair<std::string, Tensor>> tensors =
        optimizer_tensors(m, Precision::bf16, 1, 3);
    edit(tensors);
    save_safetensors(folder + "/" + rank_1, tensors);
    return folder;
  };
  std::string error;

  SUBCASE("a missing rank file is named") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    fs::remove(options.checkpoint + "/" + rank_1);
    error = consolidate_error(options);
    CHECK(contains(error,
                   "trainer_state.json says the run had 3 ranks, but 1 of its rank files "
                   "are missing: " +
                       rank_1));
  }
  SUBCASE("rank files of another world size are named") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 2);
    write_trainer_state(options.checkpoint, Precision::bf16, 3);
    error = consolidate_error(options);
    CHECK(contains(error,
                   "says the run had 3 ranks, but the folder holds rank files of another "
                   "world size: zero/optimizer-rank-0-of-2.safetensors, "
                   "zero/optimizer-rank-1-of-2.safetensors; missing: "
                   "zero/optimizer-rank-0-of-3.safetensors"));
  }
  SUBCASE("a stray rank file beside a complete set is named") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    fs::copy_file(options.checkpoint + "/" + rank_1,
                  options.checkpoint + "/zero/optimizer-rank-1-of-4.safetensors");
    error = consolidate_error(options);
    CHECK(contains(error, "another world size: zero/optimizer-rank-1-of-4.safetensors"));
    CHECK(!contains(error, "missing"));
  }
  SUBCASE("a missing master tensor is named with its file") {
    options.checkpoint = checkpoint_with_rank_1([&](auto& tensors) {
      std::erase_if(tensors, [&](const auto& t) { return t.first == bias; });
    });
    error = consolidate_error(options);
    CHECK(contains(error, rank_1 + ": missing tensor '" + bias + "'"));
  }
  SUBCASE("a master of the wrong dtype is named with its file") {
    options.checkpoint = checkpoint_with_rank_1([&](auto& tensors) {
      for (auto& [name, tensor] : tensors) {
        if (name == bias) tensor = tensor.to(DType::bf16);
      }
    });
    error = consolidate_error(options);
    // 32 buckets × 4 heads = 128 elements, 43 per rank.
    CHECK(contains(error, rank_1 + ": tensor '" + bias +
                              "': expected F32 of shape [43], got "
                              "BF16 [43]"));
  }
  SUBCASE("a part of the wrong length is named with its file") {
    options.checkpoint = checkpoint_with_rank_1([&](auto& tensors) {
      for (auto& [name, tensor] : tensors) {
        if (name == bias) tensor = tensor.narrow(0, 0, 40).clone();
      }
    });
    error = consolidate_error(options);
    CHECK(contains(error, rank_1 + ": tensor '" + bias +
                              "': expected F32 of shape [43], got "
                              "F32 [40]"));
  }
  SUBCASE("rank files of a model other than config.json's: shapes disagree") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    T5Config wider = m.config;
    wider.d_ff = 64;
    write_t5_config(wider, options.checkpoint + "/config.json");
    error = consolidate_error(options);
    // wi_0 of [64, 32] has 2048 elements, 683 per rank; the files hold parts of [48, 32].
    CHECK(contains(error,
                   "zero/optimizer-rank-0-of-3.safetensors: tensor "
                   "'master.encoder.block.0.layer.1.DenseReluDense.wi_0.weight': expected "
                   "F32 of shape [683], got F32 [512]"));
  }
  SUBCASE("rank files of a model other than config.json's: tensors left over") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    T5Config shallower = m.config;
    shallower.num_decoder_layers = 2;
    write_t5_config(shallower, options.checkpoint + "/config.json");
    error = consolidate_error(options);
    CHECK(
        contains(error, "zero/optimizer-rank-0-of-3.safetensors: tensor 'master.decoder.block.2."));
    CHECK(contains(error, "names no parameter of the model config.json describes"));
  }
  SUBCASE("one process: a full-shape master of the wrong shape") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 1);
    T5Config wider = m.config;
    wider.d_ff = 64;
    write_t5_config(wider, options.checkpoint + "/config.json");
    error = consolidate_error(options);
    CHECK(contains(error,
                   "optimizer.safetensors: tensor "
                   "'master.encoder.block.0.layer.1.DenseReluDense.wi_0.weight': expected "
                   "F32 of shape [64, 32], got F32 [48, 32]"));
  }
  SUBCASE("one process: a missing optimizer.safetensors") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 1);
    fs::remove(options.checkpoint + "/optimizer.safetensors");
    error = consolidate_error(options);
    CHECK(contains(error,
                   "trainer_state.json says a bf16 run of one process, but its fp32 "
                   "master weights, optimizer.safetensors, are missing"));
  }
  SUBCASE("an fp32 run whose model is not fp32") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 1);
    write_trainer_state(options.checkpoint, Precision::fp32, 1);
    error = consolidate_error(options);
    CHECK(contains(error,
                   "model.safetensors: tensor 'shared.weight': expected F32 of shape "
                   "[256, 32], got BF16 [256, 32]"));
  }
  SUBCASE("an fp32 run whose model lacks a tensor") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::fp32, 1);
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (models::ParamId id : m.store.ids()) {
      const std::string& name = m.store.spec(id).name;
      if (name != "decoder.final_layer_norm.weight") tensors.emplace_back(name, m.value(name));
    }
    save_safetensors(options.checkpoint + "/model.safetensors", tensors);
    error = consolidate_error(options);
    CHECK(contains(error, options.checkpoint + "/model.safetensors: missing tensor "
                                               "'decoder.final_layer_norm.weight'"));
  }
  SUBCASE("an fp32 run whose model has a tensor config.json's model lacks") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::fp32, 1);
    T5Config tied = m.config;
    tied.tie_word_embeddings = true;  // no lm_head.weight parameter; the checkpoint has one
    write_t5_config(tied, options.checkpoint + "/config.json");
    error = consolidate_error(options);
    CHECK(contains(error, "model.safetensors: tensor 'lm_head.weight' names no parameter"));
  }
  SUBCASE("a folder without trainer_state.json") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    fs::remove(options.checkpoint + "/trainer_state.json");
    error = consolidate_error(options);
    CHECK(contains(error, options.checkpoint + ": not a training checkpoint (no "
                                               "trainer_state.json)"));
  }
  SUBCASE("a world size below 1") {
    options.checkpoint = write_checkpoint(tmp.path, m, Precision::bf16, 3);
    write_trainer_state(options.checkpoint, Precision::bf16, 0);
    error = consolidate_error(options);
    CHECK(contains(error, "trainer_state.json: key 'batch_layout.world_size': expected 1 to "));
  }
  MESSAGE(error);
  CHECK(!error.empty());
  // No output, finished or not.
  CHECK(tmp.entries() == std::vector<std::string>{"checkpoint-12"});
}
