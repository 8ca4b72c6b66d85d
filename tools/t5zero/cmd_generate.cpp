// t5zero generate: summaries of given texts, as transformers' generate() writes them (greedy or
// beam search, models/t5_generate.h), one per input line.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "commands.h"
#include "flags.h"
#include "io/json_writer.h"
#include "io/model_id.h"
#include "io/prepare.h"
#include "io/t5_config.h"
#include "io/tokenizer.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_generate.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "train/text_lines.h"

namespace t5zero::cli {

namespace {

// Rows [first, first + count) of `ids` right-padded with `pad` to the longest, with their mask.
std::pair<Tensor, Tensor> padded_batch(const std::vector<std::vector<int32_t>>& ids, size_t first,
                                       size_t count, int64_t pad) {
  size_t longest = 0;
  for (size_t i = first; i < first + count; ++i) longest = std::max(longest, ids[i].size());
  std::vector<int64_t> flat(count * longest, pad), mask(count * longest, 0);
  for (size_t r = 0; r < count; ++r) {
    const std::vector<int32_t>& row = ids[first + r];
    for (size_t t = 0; t < row.size(); ++t) {
      flat[r * longest + t] = row[t];
      mask[r * longest + t] = 1;
    }
  }
  const Shape shape{static_cast<int64_t>(count), static_cast<int64_t>(longest)};
  return {Tensor::from_vector(flat, shape), Tensor::from_vector(mask, shape)};
}

}  // namespace

int run_generate(int argc, char** argv) {
  FlagSet flags("generate",
                "Summaries of texts, one line per input, as transformers' generate() gives them\n"
                "(greedy, or beam search with --num_beams > 1). Each text is put into the prompt\n"
                "template, tokenized (truncated at --max_source_length) and batched.");
  flags.add_required("model_id",
                     "Hugging Face model folder, hub id in the local cache, or a built-in "
                     "architecture (random weights: for timing, needs --tokenizer)");
  flags.add_string("tokenizer", "", "folder with spiece.model etc.; default: the model folder");
  flags.add_string("text", "", "one text to summarize");
  flags.add_string("input_file", "", "file of texts, one per line (see --format)");
  flags.add_string("format", "auto",
                   "--input_file's lines: text: plain text; jsonl: one JSON string per line "
                   "(texts may hold newlines); auto: jsonl when the file starts with '\"'");
  flags.add_string("prompt_template", kDefaultPromptTemplate,
                   "the model's input, {input} standing for the text (as `t5zero prepare`); "
                   "\"{input}\": the text alone");
  flags.add_int("max_source_length", 0,
                "truncate inputs to this many ids, </s> last; 0: the tokenizer's "
                "model_max_length");
  flags.add_int("num_beams", 1, "beams; 1: greedy (default: generation_config.json's, else 1)");
  flags.add_int("max_length", 20,
                "longest output in ids, counting the decoder start token, as transformers "
                "(default: generation_config.json's, else 20)");
  flags.add_int("max_new_tokens", 0, "most ids to generate (replaces --max_length); 0: unset");
  flags.add_int("min_length", 0, "no </s> before the output (start token included) is this long");
  flags.add_double("length_penalty", 1.0,
                   "beam search: hypotheses score sum_logprobs / length^length_penalty");
  flags.add_bool("early_stopping", false,
                 "beam search: stop an input once --num_beams hypotheses are finished");
  flags.add_int("no_repeat_ngram_size", 0, "> 0: no n-gram of this size occurs twice");
  flags.add_int("batch_size", 8, "inputs generated together");
  flags.add_int("seed", 42, "random initialisation of a built-in architecture");
  flags.add_string("output_format", "text",
                   "text: one summary per line; jsonl: one JSON string per line");
  flags.add_bool("time", false, "print the generation time and throughput to stderr");
  if (!flags.parse(argc, argv, 2)) return 0;

  const bool has_text = flags.was_set("text");
  if (has_text == flags.was_set("input_file")) {
    throw UsageError("give exactly one of --text and --input_file");
  }
  if (flags.was_set("max_length") && flags.was_set("max_new_tokens")) {
    // As transformers' generate: the two limits serve the same purpose.
    throw UsageError("give --max_length or --max_new_tokens, not both");
  }
  const int64_t batch_size = flags.get_int("batch_size");
  if (batch_size < 1) throw UsageError("--batch_size must be at least 1");
  const int64_t max_source_length = flags.get_int("max_source_length");
  if (max_source_length < 0 || max_source_length == 1) {
    throw UsageError("--max_source_length must be 0 (the tokenizer's limit) or at least 2");
  }
  const std::string output_format = flags.get_string("output_format");
  if (output_format != "text" && output_format != "jsonl") {
    throw UsageError("--output_format must be text or jsonl, got '" + output_format + "'");
  }

  // The model: weights from a folder, or a built-in architecture initialised at random.
  const models::ResolvedModel resolved = models::resolve_model(flags.get_string("model_id"));
  const bool builtin = resolved.id.source == ModelSource::builtin;
  std::string tokenizer_folder = flags.get_string("tokenizer");
  if (tokenizer_folder.empty()) {
    if (builtin) {
      throw UsageError("a built-in architecture has no tokenizer files: give --tokenizer");
    }
    tokenizer_folder = resolved.id.folder;
  }
  models::ParameterStore store(DType::f32);
  models::T5ForConditionalGeneration model(resolved.config, store);
  GenerationConfig generation_config = generation_config_from_model(resolved.config);
  if (builtin) {
    models::initialize_parameters(store, static_cast<uint64_t>(flags.get_int("seed")));
    std::fprintf(stderr,
                 "t5zero generate: note: %s is a built-in architecture with random weights "
                 "(seed %lld); its summaries are noise\n",
                 flags.get_string("model_id").c_str(),
                 static_cast<long long>(flags.get_int("seed")));
  } else {
    const std::string& folder = resolved.id.folder;
    for (const std::string& name : models::load_t5_weights(folder, model).unexpected) {
      std::fprintf(stderr, "t5zero generate: note: %s: tensor '%s' is not a parameter; ignored\n",
                   folder.c_str(), name.c_str());
    }
    const std::string generation_config_path = folder + "/generation_config.json";
    if (std::FILE* f = std::fopen(generation_config_path.c_str(), "rb")) {
      std::fclose(f);
      generation_config = parse_generation_config(generation_config_path, generation_config);
    }
  }

  models::GenerationOptions options = models::generation_options(generation_config);
  if (flags.was_set("num_beams")) options.num_beams = flags.get_int("num_beams");
  if (flags.was_set("max_length")) options.max_length = flags.get_int("max_length");
  if (flags.was_set("max_new_tokens")) options.max_new_tokens = flags.get_int("max_new_tokens");
  options.min_length = flags.get_int("min_length");
  options.length_penalty = flags.get_double("length_penalty");
  options.early_stopping = flags.get_bool("early_stopping");
  options.no_repeat_ngram_size = flags.get_int("no_repeat_ngram_size");

  const T5Tokenizer tokenizer = T5Tokenizer::load(tokenizer_folder);
  std::vector<std::string> texts;
  if (has_text) {
    texts.push_back(flags.get_string("text"));
  } else {
    TextLinesFormat format;
    try {
      format = parse_text_lines_format(flags.get_string("format"));
    } catch (const Error& e) {
      throw UsageError(std::string("--format: ") + e.what());
    }
    texts = read_text_lines(flags.get_string("input_file"), format);
  }
  std::vector<std::string> prompts;
  for (const std::string& text : texts) {
    prompts.push_back(apply_prompt_template(flags.get_string("prompt_template"), text));
  }
  const std::vector<std::vector<int32_t>> ids = tokenizer.encode_batch(
      prompts, 0, max_source_length > 0 ? max_source_length : tokenizer.model_max_length());

  const auto start = std::chrono::steady_clock::now();
  int64_t new_tokens = 0;
  for (size_t first = 0; first < ids.size(); first += static_cast<size_t>(batch_size)) {
    const size_t count = std::min(ids.size() - first, static_cast<size_t>(batch_size));
    const auto [input_ids, attention_mask] = padded_batch(ids, first, count, tokenizer.pad_id());
    const Tensor sequences = models::generate(model, input_ids, attention_mask, options);
    const int64_t width = sequences.size(1);
    const std::vector<int64_t> flat = sequences.to_vector<int64_t>();
    std::string out;
    for (size_t r = 0; r < count; ++r) {
      // Every id after the start token up to the end or the first </s>, which it includes.
      std::vector<int32_t> row;
      for (int64_t t = 1; t < width; ++t) {
        const int64_t id = flat[r * static_cast<size_t>(width) + static_cast<size_t>(t)];
        row.push_back(static_cast<int32_t>(id));
        if (id == options.eos_token_id) break;
      }
      new_tokens += static_cast<int64_t>(row.size());
      const std::string summary = tokenizer.decode(row, /*skip_special_tokens=*/true);
      out.append(output_format == "jsonl" ? json_quote(summary) : summary);
      out.push_back('\n');
    }
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size() || std::fflush(stdout) != 0) {
      fail("generate: cannot write the output");
    }
  }
  if (flags.get_bool("time")) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr,
                 "generate: %zu inputs, %lld new tokens in %.3f s (%.1f tokens/s; %lld beams, "
                 "batch %lld)\n",
                 ids.size(), static_cast<long long>(new_tokens), seconds, new_tokens / seconds,
                 static_cast<long long>(options.num_beams), static_cast<long long>(batch_size));
  }
  return 0;
}

}  // namespace t5zero::cli
