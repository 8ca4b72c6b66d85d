#include "models/t5_checkpoint_io.h"

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "io/atomic_file.h"
#include "io/json_writer.h"
#include "io/sharded_checkpoint.h"
#include "io/t5_config.h"
#include "models/parameter_scope.h"

namespace t5zero::models {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kEmbeddingNames = {"shared.weight", "encoder.embed_tokens.weight",
                                                  "decoder.embed_tokens.weight"};
// Held by old t5 v1.0 checkpoints, used by nothing (HF's _keys_to_ignore_on_load_unexpected).
const char* const kStrayCrossAttentionBias =
    "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight";

// The stored tensor that provides parameter `name`, or "" when none does.
std::string source_name(const ShardedCheckpointReader& files, const std::string& name) {
  if (name == "shared.weight") {
    for (const std::string& alias : kEmbeddingNames) {
      if (files.contains(alias)) return alias;
    }
    return "";
  }
  return files.contains(name) ? name : "";
}

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string read_whole_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  T5_CHECK(in.good(), path.string(), ": cannot open for reading");
  std::ostringstream contents;
  contents << in.rdbuf();
  T5_CHECK(!in.bad(), path.string(), ": read failed");
  return contents.str();
}

// generation_config.json as transformers 4.26's save_pretrained writes the one it derives from
// config.json (GenerationConfig.from_model_config): sorted keys, indent 2.
std::string generation_config_json(const GenerationConfig& generation) {
  JsonWriter json(2);
  json.begin_object();
  json.key("_from_model_config").value(true);
  json.key("decoder_start_token_id").value(generation.decoder_start_token_id);
  json.key("eos_token_id").value(generation.eos_token_id);
  json.key("pad_token_id").value(generation.pad_token_id);
  json.key("transformers_version").value("4.26.0");
  json.end_object();
  return json.text() + "\n";
}

}  // namespace

WeightsLoadReport load_t5_weights(const std::string& folder,
                                  const T5ForConditionalGeneration& model) {
  ParameterStore& store = model.store();
  const ShardedCheckpointReader files = ShardedCheckpointReader::open(folder);

  // Check everything first, so a bad folder leaves the store as it was.
  std::vector<std::string> missing, misshaped;
  std::vector<std::pair<ParamId, std::string>> plan;
  for (ParamId id : store.ids()) {
    const ParameterSpec& spec = store.spec(id);
    const std::string source = source_name(files, spec.name);
    if (source.empty()) {
      missing.push_back(spec.name == "shared.weight"
                            ? "shared.weight (or encoder.embed_tokens.weight or "
                              "decoder.embed_tokens.weight)"
                            : spec.name);
      continue;
    }
    const SafetensorsTensorInfo& info = files.info(source);
    if (info.shape != spec.shape) {
      misshaped.push_back(source + " (expected " + shape_str(spec.shape) + ", found " +
                          shape_str(info.shape) + " " + info.dtype + ")");
      continue;
    }
    plan.emplace_back(id, source);
  }
  if (!missing.empty() || !misshaped.empty()) {
    std::string message = "model folder " + folder + ": ";
    if (!missing.empty()) {
      message += std::to_string(missing.size()) + " missing tensor(s): " + join(missing);
    }
    if (!misshaped.empty()) {
      message += std::string(missing.empty() ? "" : "; ") + std::to_string(misshaped.size()) +
                 " mis-shaped tensor(s): " + join(misshaped);
    }
    fail(message);
  }

  std::set<std::string> used(kEmbeddingNames.begin(), kEmbeddingNames.end());
  used.insert(kStrayCrossAttentionBias);
  // A tied model's head is shared.weight; a stored lm_head.weight copy is not a separate weight.
  if (model.config().tie_word_embeddings) used.insert("lm_head.weight");
  for (const auto& [id, source] : plan) {
    const Tensor value = files.load(source);
    T5_CHECK(is_floating(value.dtype()), "model folder ", folder, ": tensor '", source,
             "' has dtype ", dtype_name(value.dtype()), ", expected a floating dtype");
    store.assign(id, value);
    used.insert(source);
  }
  WeightsLoadReport report;
  for (const std::string& name : files.names()) {
    if (!used.count(name)) report.unexpected.push_back(name);
  }
  return report;
}

const std::vector<std::string>& tokenizer_file_names() {
  static const std::vector<std::string> names = {
      "spiece.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
  return names;
}

void save_t5_folder(const T5ForConditionalGeneration& model, const std::string& folder,
                    const SaveFolderOptions& options) {
  ParameterStore& store = model.store();
  if (!options.write_files) {
    for (ParamId id : store.ids()) ParameterScope scope(store, {id});
    return;
  }
  const fs::path dir(folder);
  fs::create_directories(dir);
  // As save_pretrained: torch_dtype names the dtype the weights are saved in.
  T5Config config = model.config();
  config.torch_dtype = store.dtype() == DType::bf16 ? "bfloat16" : "float32";
  write_t5_config(config, (dir / "config.json").string());
  write_file_atomically((dir / "generation_config.json").string(),
                        generation_config_json(generation_config_from_model(model.config())));

  std::vector<TensorSpec> specs;
  for (ParamId id : store.ids()) {
    const ParameterSpec& spec = store.spec(id);
    specs.push_back({spec.name, spec.dtype, spec.shape});
  }
  ShardedCheckpointWriter writer(folder, specs, options.max_shard_bytes);
  for (ParamId id : store.ids()) {
    ParameterScope scope(store, {id});
    writer.write(store.spec(id).name, store.variable(id).data());
  }
  writer.commit();

  if (!options.tokenizer_folder.empty() &&
      fs::weakly_canonical(options.tokenizer_folder) != fs::weakly_canonical(dir)) {
    for (const std::string& name : tokenizer_file_names()) {
      const fs::path source = fs::path(options.tokenizer_folder) / name;
      if (fs::is_regular_file(source)) {
        write_file_atomically((dir / name).string(), read_whole_file(source));
      }
    }
  }
}

}  // namespace t5zero::models
