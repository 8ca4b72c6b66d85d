// `t5zero eval` as a process, on the trainer's tiny fixture model and dataset: the metrics are
// those of the library's evaluation with the same options (what `t5zero train` runs each epoch),
// the written texts give the same ROUGE through `t5zero rouge`, any split can be evaluated, and
// bad input is refused with a message (a missing split lists the dataset's splits).
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/token_dataset.h"
#include "io/tokenizer.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_model.h"
#include "temp_folder.h"
#include "train/eval_outputs.h"
#include "train/evaluation.h"
#include "train_test_data.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::TempFolder;

namespace {

const std::string kModel = testing::kTrainFixtures + "/model";

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

int count_lines(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

}  // namespace

TEST_CASE("t5zero eval: the library's evaluation, texts that `t5zero rouge` scores the same") {
  TempFolder tmp("eval_cli");
  testing::write_rows_dataset(tmp.file("data"), 256);
  // 5 rows in batches of 2: a short last batch.
  const std::string common = "eval --model_id " + kModel + " --dataset_path " + tmp.file("data") +
                             " --per_device_eval_batch_size 2 --generation_max_length 12 "
                             "--generation_num_beams 2 --max_eval_samples 5 --num_threads 1";
  const RunResult run = run_t5zero(common + " --output_dir " + tmp.file("out"), tmp);
  CAPTURE(run.err);
  REQUIRE(run.status == 0);
  const JsonValue metrics = JsonValue::parse_file(tmp.file("out/eval_results.json"));
  CHECK(testing::read_file_bytes(tmp.file("out/eval_results.json")) == run.out);
  CHECK(metrics.get_string("split") == "eval");
  CHECK(metrics.get_int("eval_samples") == 5);

  // The same evaluation in this process, with the options the trainer passes.
  const models::ResolvedModel resolved = models::resolve_model(kModel);
  models::ParameterStore store(DType::f32);
  models::T5ForConditionalGeneration model(resolved.config, store);
  models::load_t5_weights(kModel, model);
  const TokenDataset dataset = TokenDataset::open(tmp.file("data"));
  const std::string tokenizer_folder = find_tokenizer_folder(resolved, dataset.metadata());
  REQUIRE(tokenizer_folder == dataset.metadata().tokenizer_path);
  const T5Tokenizer tokenizer = T5Tokenizer::load(tokenizer_folder);
  TrainingArgs args;
  args.per_device_eval_batch_size = 2;
  args.generation_max_length = 12;
  args.generation_num_beams = 2;
  args.max_eval_samples = 5;
  const EvalOptions options = recipe_eval_options(resolved.config, args, 0, true);
  CHECK(options.generation.num_beams == 2);
  CHECK(options.generation.max_length == 12);
  const EvalResult expected = evaluate(model, dataset.split("eval"), options, &tokenizer);
  CHECK(metrics.get_double("eval_loss") == doctest::Approx(expected.loss).epsilon(1e-6));
  CHECK(metrics.get_double("eval_rouge1") == doctest::Approx(expected.rouge.rouge1));
  CHECK(metrics.get_double("eval_rougeLsum") == doctest::Approx(expected.rouge.rougeLsum));
  CHECK(metrics.get_double("eval_gen_len") == doctest::Approx(expected.gen_len));
  // A test that ROUGE agrees means something only when there is overlap to score.
  CHECK(expected.rouge.rouge1 > 0);

  // The written texts: one JSON string per row, the same strings the library decoded.
  const std::string predictions = testing::read_file_bytes(tmp.file("out/eval_predictions.jsonl"));
  const std::string references = testing::read_file_bytes(tmp.file("out/eval_references.jsonl"));
  CHECK(count_lines(predictions) == 5);
  CHECK(count_lines(references) == 5);
  size_t start = 0;
  for (const std::string& text : expected.predictions) {
    const size_t end = predictions.find('\n', start);
    REQUIRE(end != std::string::npos);
    CHECK(JsonValue::parse_text(predictions.substr(start, end - start), "prediction").as_string() ==
          text);
    start = end + 1;
  }

  // `t5zero rouge` on the files gives the metrics' ROUGE (it prints four decimals).
  const RunResult rouge =
      run_t5zero("rouge --predictions " + tmp.file("out/eval_predictions.jsonl") +
                     " --references " + tmp.file("out/eval_references.jsonl"),
                 tmp);
  REQUIRE(rouge.status == 0);
  const JsonValue scores = JsonValue::parse_text(rouge.out, "t5zero rouge");
  for (const char* key : {"rouge1", "rouge2", "rougeL", "rougeLsum"}) {
    CAPTURE(key);
    CHECK(std::abs(scores.get_double(key) - metrics.get_double(std::string("eval_") + key)) <=
          5e-5);
  }

  // bf16, as a bf16 run evaluates: the same rows, a loss close to fp32's.
  const RunResult bf16 = run_t5zero(common + " --bf16 true", tmp);
  REQUIRE(bf16.status == 0);
  const JsonValue bf16_metrics = JsonValue::parse_text(bf16.out, "eval --bf16");
  CHECK(bf16_metrics.get_bool("bf16"));
  CHECK(bf16_metrics.get_double("eval_loss") != expected.loss);
  CHECK(bf16_metrics.get_double("eval_loss") == doctest::Approx(expected.loss).epsilon(0.02));
}

TEST_CASE("t5zero eval: another split; without --output_dir nothing is written") {
  TempFolder tmp("eval_cli_train_split");
  testing::write_rows_dataset(tmp.file("data"), 256);
  const RunResult run =
      run_t5zero("eval --model_id " + kModel + " --dataset_path " + tmp.file("data") +
                     " --split train --generation_max_length 6 --generation_num_beams 1 "
                     "--max_eval_samples 3 --num_threads 1",
                 tmp);
  CAPTURE(run.err);
  REQUIRE(run.status == 0);
  const JsonValue metrics = JsonValue::parse_text(run.out, "eval");
  CHECK(metrics.get_string("split") == "train");
  CHECK(metrics.get_int("eval_samples") == 3);
  CHECK(std::isfinite(metrics.get_double("eval_loss")));
  CHECK(tmp.entries() == std::vector<std::string>{"data", "stderr.txt", "stdout.txt"});
}

TEST_CASE("t5zero eval: bad input is refused with a message") {
  TempFolder tmp("eval_cli_bad");
  testing::write_rows_dataset(tmp.file("data"), 256);
  const std::string base = "eval --model_id " + kModel + " --dataset_path " + tmp.file("data");

  RunResult r = run_t5zero(base + " --split test", tmp);
  CHECK(r.status == 1);
  CHECK(r.err.find("no split 'test' (the dataset has: ") != std::string::npos);
  CHECK(r.err.find("train") != std::string::npos);
  CHECK(r.err.find("eval") != std::string::npos);

  r = run_t5zero(base + " --generation_num_beams 0", tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("--generation_num_beams: expected >= 1, got 0") != std::string::npos);
  r = run_t5zero(base + " --per_device_eval_batch_size x", tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("--per_device_eval_batch_size") != std::string::npos);
  r = run_t5zero(base + " --bf16 maybe", tmp);
  CHECK(r.status == 2);
  r = run_t5zero("eval --dataset_path " + tmp.file("data"), tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("--model_id") != std::string::npos);

  r = run_t5zero("eval --model_id " + kModel + " --dataset_path " + tmp.file("missing"), tmp);
  CHECK(r.status == 1);
  CHECK(r.err.find(tmp.file("missing") + ": no such dataset folder") != std::string::npos);
  // The vocabulary check: ids of the full T5 vocabulary do not fit the 256-row fixture model.
  testing::write_rows_dataset(tmp.file("wide"), 32128);
  r = run_t5zero("eval --model_id " + kModel + " --dataset_path " + tmp.file("wide"), tmp);
  CHECK(r.status == 1);
  CHECK(r.err.find("embeds only 256 rows") != std::string::npos);
}
