#include "train/eval_outputs.h"

#include <filesystem>

#include "io/atomic_file.h"
#include "io/json_writer.h"
#include "models/t5_generate.h"

namespace t5zero {

namespace fs = std::filesystem;

EvalOptions recipe_eval_options(const T5Config& config, const TrainingArgs& args, int64_t pad_id,
                                bool generate) {
  EvalOptions o;
  o.batch_size = args.per_device_eval_batch_size;
  o.max_samples = args.max_eval_samples;
  o.generate = generate;
  o.generation = models::generation_options(generation_config_from_model(config));
  o.generation.max_length = args.generation_max_length;
  o.generation.num_beams = args.generation_num_beams;
  o.pad_id = pad_id;
  return o;
}

namespace {

bool has_tokenizer(const std::string& folder) {
  return !folder.empty() && fs::is_regular_file(fs::path(folder) / "spiece.model");
}

}  // namespace

std::string find_tokenizer_folder(const models::ResolvedModel& model,
                                  const TokenDatasetMetadata& metadata) {
  if (model.id.source != ModelSource::builtin && has_tokenizer(model.id.folder)) {
    return model.id.folder;
  }
  if (has_tokenizer(metadata.tokenizer_path)) return metadata.tokenizer_path;
  return "";
}

std::vector<std::string> write_eval_texts(const std::string& output_dir, const EvalResult& result) {
  if (!result.generated) return {};
  std::vector<std::string> written;
  const auto write_texts = [&](const char* name, const std::vector<std::string>& texts) {
    std::string lines;
    for (const std::string& text : texts) lines += json_quote(text) + "\n";
    written.push_back((fs::path(output_dir) / name).string());
    write_file_atomically(written.back(), lines);
  };
  write_texts("eval_predictions.jsonl", result.predictions);
  write_texts("eval_references.jsonl", result.references);
  return written;
}

}  // namespace t5zero
