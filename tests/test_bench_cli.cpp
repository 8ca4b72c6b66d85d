// `t5zero bench --model_id` end to end on the small t5-micro architecture: the parameter count,
// the model FLOP count worked out by hand for its shapes, the profile's op counts, the JSON of
// the trainer's whole step in bf16 (state sizes, throughput, MFU), the batch-size search, and the
// usage errors.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "models/architectures.h"
#include "temp_folder.h"
#include "tensor/device.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::TempFolder;

namespace {

// The t5zero binary of this build: <build>/tools/t5zero beside <build>/tests/<this test>.
std::string t5zero_binary() {
  const fs::path binary =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero";
  REQUIRE_MESSAGE(fs::exists(binary), "build the t5zero target first: ", binary.string());
  return binary.string();
}

struct Run {
  int status;
  std::string output;
};

Run run_bench(const std::string& arguments, const TempFolder& tmp) {
  const std::string log = tmp.file("bench.log");
  const std::string command = t5zero_binary() + " bench " + arguments + " > " + log + " 2>&1";
  const int status = std::system(command.c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, text.str()};
}

// The first capture of `pattern` in `text`, or "" when it does not match.
std::string find(const std::string& text, const std::string& pattern) {
  std::smatch m;
  return std::regex_search(text, m, std::regex(pattern)) ? m[1].str() : "";
}

}  // namespace

TEST_CASE("bench times a t5-micro training step and counts its parameters, FLOPs and ops") {
  TempFolder tmp("bench_cli");
  const Run run = run_bench(
      "--model_id t5-micro --batch_size 2 --source_length 16 --target_length 8 --steps 2 "
      "--warmup 1 --threads 1 --profile",
      tmp);
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK(find(run.output, R"(, (\d+) parameters)") ==
        std::to_string(models::count_parameters(models::builtin_architecture("t5-micro"))));
  // t5-micro: d_model 32, inner 4·6 = 24, gated d_ff 48, vocab 256, 2 encoder and 3 decoder
  // blocks; 2 rows of 16 source (32 tokens) and 8 target tokens (16 tokens). 6·weights·tokens:
  //   encoder block: 6·(4·32·24 + 3·32·48)·32 + 3·4·32·16·24 = 1,622,016
  //   decoder block: 6·(4·32·24 + 3·32·48)·16 + 6·2·32·24·16 (cross q, o)
  //                  + 6·2·32·24·32 (cross k, v) + 3·4·16·8·24 + 3·4·16·16·24 = 1,290,240
  //   LM head: 6·32·256·16 = 786,432;   total 2·1,622,016 + 3·1,290,240 + 786,432 = 7,901,184.
  CHECK(find(run.output, R"(model FLOPs: ([0-9.e+-]+) GFLOP per step)") == "0.007901");
  CHECK(find(run.output, R"(loss at step 0: (\d+\.\d+))") != "");
  // Per step: 9 matmuls per encoder block (q, k, v, o, scores, context, wi_0, wi_1, wo), 15 per
  // decoder block (self and cross attention, FFN), and the LM head: 2·9 + 3·15 + 1 = 64.
  CHECK(find(run.output, R"(\n  matmul +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +(\d+) +\d+)") == "64");
  // One softmax per attention: 2 + 3·2 = 8; one gelu_new per FFN: 5.
  CHECK(find(run.output, R"(\n  softmax +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +(\d+))") == "8");
  CHECK(find(run.output, R"(\n  gelu_new +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+% +(\d+))") == "5");
}

TEST_CASE("bench refuses a missing or doubled target and an unknown dtype") {
  TempFolder tmp("bench_cli_errors");
  Run none = run_bench("", tmp);
  CHECK(none.status == 2);
  CHECK(none.output.find("nothing to measure: pass --ops or --model_id") != std::string::npos);
  Run both = run_bench("--ops --model_id t5-micro", tmp);
  CHECK(both.status == 2);
  CHECK(both.output.find("pass --ops or --model_id, not both") != std::string::npos);
  Run dtype = run_bench("--model_id t5-micro --dtype f16", tmp);
  CHECK(dtype.status == 2);
  CHECK(dtype.output.find("--dtype: expected f32 or bf16, got 'f16'") != std::string::npos);
  Run steps = run_bench("--model_id t5-micro --steps 0", tmp);
  CHECK(steps.status == 2);
  CHECK(steps.output.find("--steps: expected >= 1, got 0") != std::string::npos);
  Run batch = run_bench("--model_id t5-micro --batch_size 0", tmp);
  CHECK(batch.status == 2);
  CHECK(batch.output.find("--batch_size: expected a positive integer or auto, got '0'") !=
        std::string::npos);
  Run unbounded = run_bench("--model_id t5-micro --batch_size auto", tmp);
  CHECK(unbounded.status == 2);
  CHECK(unbounded.output.find("--batch_size auto on the CPU needs --max_batch_size") !=
        std::string::npos);
  Run device = run_bench("--model_id t5-micro --device tpu", tmp);
  CHECK(device.status == 2);
  CHECK(device.output.find("--device: expected cpu or cuda, got 'tpu'") != std::string::npos);
  Run disagree = run_bench("--model_id t5-micro --dtype bf16 --bf16 false", tmp);
  CHECK(disagree.status == 2);
  CHECK(disagree.output.find("--dtype bf16 and --bf16 false disagree") != std::string::npos);
  Run peak = run_bench("--model_id t5-micro --peak_tflops -1", tmp);
  CHECK(peak.status == 2);
  CHECK(peak.output.find("--peak_tflops: expected >= 0") != std::string::npos);
}

TEST_CASE("bench --json: the trainer's bf16 step on t5-micro, its state sizes, throughput, MFU") {
  TempFolder tmp("bench_cli_json");
  const std::string json = tmp.file("step.json");
  const Run run = run_bench(
      "--model_id t5-micro --bf16 true --batch_size 2 --source_length 16 --target_length 8 "
      "--steps 3 --warmup 1 --threads 1 --peak_tflops 0.5 --json " +
          json,
      tmp);
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK(run.output.find("step (forward + loss + backward + clip + AdamW): median") !=
        std::string::npos);
  const JsonValue r = JsonValue::parse_file(json);
  const int64_t n = models::count_parameters(models::builtin_architecture("t5-micro"));
  CHECK(r.get_string("kind") == "training_step");
  CHECK(r.get_string("implementation") == "t5zero");
  CHECK(r.get_string("device") == "cpu");
  CHECK(r.get_string("dtype") == "bf16");
  CHECK(r.get_bool("optimizer_step"));
  CHECK(r.get_int("parameters") == n);
  CHECK(r.get_int("batch_size") == 2);
  CHECK(r.get_string("batch_size_mode") == "fixed");
  CHECK(r.at("step_seconds").size() == 3);
  // The same count as the hand computation in the test above (and test_flop_count).
  CHECK(r.get_double("model_flops_per_step") == 7901184.0);
  const double seconds = r.get_double("step_seconds_median");
  REQUIRE(seconds > 0);
  // 2 rows of 16 + 8 tokens.
  CHECK(r.get_double("tokens_per_s") * seconds == doctest::Approx(48.0));
  CHECK(r.get_double("mfu") == doctest::Approx(7901184.0 / (seconds * 0.5e12)));
  CHECK(std::isfinite(r.get_double("loss_first")));
  // bf16 weights, fp32 masters, fp32 gradient accumulators, two fp32 moments.
  const JsonValue memory = r.at("memory");
  CHECK(memory.get_int("parameter_bytes") == 2 * n);
  CHECK(memory.get_int("master_bytes") == 4 * n);
  CHECK(memory.get_int("gradient_accumulator_bytes") == 4 * n);
  CHECK(memory.get_int("optimizer_moment_bytes") == 8 * n);
  CHECK(memory.get_int("peak_rss_bytes") > 0);
}

TEST_CASE("bench --batch_size auto tries 1, 2, 4, ... up to the cap and keeps the largest") {
  TempFolder tmp("bench_cli_auto");
  const std::string json = tmp.file("step.json");
  const Run run = run_bench(
      "--model_id t5-micro --batch_size auto --max_batch_size 5 --source_length 8 "
      "--target_length 4 --steps 1 --warmup 0 --threads 1 --json " +
          json,
      tmp);
  INFO(run.output);
  REQUIRE(run.status == 0);
  CHECK(run.output.find("batch 4: fits") != std::string::npos);
  CHECK(run.output.find("batch 8") == std::string::npos);  // above the cap: not tried
  CHECK(run.output.find("batch 4 x source 8 / target 4 tokens") != std::string::npos);
  const JsonValue r = JsonValue::parse_file(json);
  CHECK(r.get_int("batch_size") == 4);
  CHECK(r.get_string("batch_size_mode") == "auto");
  const std::vector<JsonValue> probes = r.at("batch_probe").as_array();
  REQUIRE(probes.size() == 3);
  for (size_t i = 0; i < probes.size(); ++i) {
    CHECK(probes[i].get_int("batch") == (int64_t{1} << i));
    CHECK(probes[i].get_bool("fits"));
  }
}

TEST_CASE("bench --device cuda: skipped without a GPU, refused by a build without CUDA") {
  if (cuda_device_count() > 0) return;  // the GPU kit runs it for real
  TempFolder tmp("bench_cli_cuda");
  const Run run = run_bench("--model_id t5-micro --device cuda --batch_size auto", tmp);
  INFO(run.output);
  if (cuda_compiled()) {
    CHECK(run.status == 77);
    CHECK(run.output.find("skipped: no CUDA device") != std::string::npos);
  } else {
    CHECK(run.status == 1);
    CHECK(run.output.find("this t5zero was built without CUDA") != std::string::npos);
  }
}
