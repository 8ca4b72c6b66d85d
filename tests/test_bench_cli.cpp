// `t5zero bench --model_id` end to end on the small t5-micro architecture: the parameter count,
// the model FLOP count worked out by hand for its shapes, the profile's op counts, and the usage
// errors.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "models/architectures.h"
#include "temp_folder.h"

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
}
