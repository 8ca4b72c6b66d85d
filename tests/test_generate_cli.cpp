// `t5zero generate` end to end: the binary's summaries equal what the library computes for the
// same prompts one input at a time (generate() itself is checked against transformers in
// test_t5_generate.cpp), and bad command lines are refused with a message.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/json_writer.h"
#include "io/prepare.h"
#include "io/tokenizer.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_generate.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "temp_folder.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::TempFolder;

namespace {

const std::string kTokenizer = T5ZERO_SHARED_DIR "/data/t5-tokenizer";

// The t5zero binary of this build: <build>/tools/t5zero beside <build>/tests/<this test>.
std::string t5zero_binary() {
  const fs::path binary =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero";
  REQUIRE_MESSAGE(fs::exists(binary), "build the t5zero target first: ", binary.string());
  return binary.string();
}

struct RunResult {
  int status;
  std::string out;
  std::string err;
};

RunResult run_t5zero(const std::string& arguments, const TempFolder& tmp) {
  const std::string out = tmp.file("stdout.txt"), err = tmp.file("stderr.txt");
  const std::string command = t5zero_binary() + " " + arguments + " > " + out + " 2> " + err;
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, testing::read_file_bytes(out),
          testing::read_file_bytes(err)};
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

// The lines of a text ending in a newline.
std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    out.push_back(text.substr(start, end - start));
  }
  CHECK(start == text.size());
  return out;
}

// A random t5-tiny (the real T5 vocabulary) saved as a model folder with the T5 tokenizer files.
struct TinyModel {
  models::ParameterStore store;
  std::unique_ptr<models::T5ForConditionalGeneration> model;
  std::string folder;

  explicit TinyModel(const TempFolder& tmp) {
    model = std::make_unique<models::T5ForConditionalGeneration>(
        models::builtin_architecture("t5-tiny"), store);
    models::initialize_parameters(store, 7);
    folder = tmp.file("model");
    models::SaveFolderOptions options;
    options.tokenizer_folder = kTokenizer;
    models::save_t5_folder(*model, folder, options);
  }

  // What generate gives for each text alone (no padding), decoded.
  std::vector<std::string> summaries(const std::vector<std::string>& texts,
                                     const std::string& prompt_template,
                                     const models::GenerationOptions& options,
                                     int64_t max_source_length = 512) const {
    const T5Tokenizer tokenizer = T5Tokenizer::load(kTokenizer);
    std::vector<std::string> out;
    for (const std::string& text : texts) {
      const std::vector<int32_t> ids =
          tokenizer.encode(apply_prompt_template(prompt_template, text), max_source_length);
      const Tensor input = Tensor::from_vector(std::vector<int64_t>(ids.begin(), ids.end()),
                                               {1, static_cast<int64_t>(ids.size())});
      const std::vector<int64_t> row =
          models::generate(*model, input, Tensor(), options).to_vector<int64_t>();
      out.push_back(tokenizer.decode(std::vector<int32_t>(row.begin(), row.end())));
    }
    return out;
  }
};

const std::vector<std::string> kTexts = {
    "The city council voted on Tuesday to build a new bridge across the river.",
    "Scientists found water\non a distant planet, a first.",
    "Short one.",
};

}  // namespace

TEST_CASE("t5zero generate prints the library's summaries, batched, beams and options honoured") {
  TempFolder tmp("generate_cli");
  const TinyModel tiny(tmp);
  {
    std::ofstream file(tmp.file("texts.jsonl"));
    for (const std::string& text : kTexts) file << json_quote(text) << "\n";
  }

  models::GenerationOptions beams;
  beams.num_beams = 3;
  beams.max_new_tokens = 6;
  beams.no_repeat_ngram_size = 2;
  beams.length_penalty = 0.7;
  const RunResult beam_run =
      run_t5zero("generate --model_id " + tiny.folder + " --input_file " + tmp.file("texts.jsonl") +
                     " --num_beams 3 --max_new_tokens 6 --batch_size 2 "
                     "--no_repeat_ngram_size 2 --length_penalty 0.7",
                 tmp);
  INFO(beam_run.err);
  REQUIRE(beam_run.status == 0);
  const std::vector<std::string> expected = tiny.summaries(kTexts, kDefaultPromptTemplate, beams);
  CHECK(lines(beam_run.out) == expected);
  // Random weights say something: the summaries are not empty.
  for (const std::string& summary : expected) CHECK(summary.size() > 5);

  // Greedy, the text alone as the prompt, inputs truncated to 6 ids, JSON lines out.
  models::GenerationOptions greedy;
  greedy.max_length = 5;
  const RunResult greedy_run =
      run_t5zero("generate --model_id " + tiny.folder + " --text " + quoted(kTexts[0]) +
                     " --prompt_template '{input}' --max_source_length 6 --max_length 5 "
                     "--output_format jsonl",
                 tmp);
  REQUIRE(greedy_run.status == 0);
  const std::vector<std::string> greedy_expected =
      tiny.summaries({kTexts[0]}, "{input}", greedy, 6);
  CHECK(greedy_run.out == json_quote(greedy_expected[0]) + "\n");
  CHECK(greedy_expected[0] != tiny.summaries({kTexts[0]}, "{input}", greedy)[0]);

  // generation_config.json's num_beams and max_length are the defaults.
  std::ofstream(tiny.folder + "/generation_config.json")
      << R"({"decoder_start_token_id": 0, "eos_token_id": 1, "pad_token_id": 0,
             "num_beams": 3, "max_length": 5})";
  models::GenerationOptions configured;
  configured.num_beams = 3;
  configured.max_length = 5;
  const RunResult configured_run =
      run_t5zero("generate --model_id " + tiny.folder + " --text " + quoted(kTexts[1]), tmp);
  REQUIRE(configured_run.status == 0);
  CHECK(lines(configured_run.out) ==
        tiny.summaries({kTexts[1]}, kDefaultPromptTemplate, configured));
  CHECK(lines(configured_run.out) !=
        tiny.summaries({kTexts[1]}, kDefaultPromptTemplate, models::GenerationOptions{}));
}

TEST_CASE("t5zero generate refuses bad command lines with a message") {
  TempFolder tmp("generate_cli_errors");
  const TinyModel tiny(tmp);
  const std::string model = " --model_id " + tiny.folder;

  RunResult r = run_t5zero("generate" + model, tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("give exactly one of --text and --input_file") != std::string::npos);

  r = run_t5zero("generate" + model + " --text a --max_length 9 --max_new_tokens 4", tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("--max_length or --max_new_tokens, not both") != std::string::npos);

  r = run_t5zero("generate --model_id t5-tiny --text a", tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("give --tokenizer") != std::string::npos);

  r = run_t5zero("generate" + model + " --text a --min_length 30", tmp);
  CHECK(r.status == 1);
  CHECK(r.err.find("min_length (30) is larger than the maximum length (20)") != std::string::npos);
  CHECK(r.out.empty());

  // A built-in architecture runs with random weights and says so.
  r = run_t5zero(
      "generate --model_id t5-tiny --tokenizer " + kTokenizer + " --text a --max_new_tokens 3",
      tmp);
  CHECK(r.status == 0);
  CHECK(lines(r.out).size() == 1);
  CHECK(r.err.find("random weights") != std::string::npos);
}
