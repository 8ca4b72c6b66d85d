// `t5zero grads` end to end: run the binary on each reference fixture folder and compare its
// output file with what transformers computed (tests/fixtures/t5, make_t5_fixtures.py).
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors_reader.h"
#include "temp_folder.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::TempFolder;

namespace {

const std::string kFixtures = T5ZERO_SOURCE_DIR "/tests/fixtures/t5/";

// The t5zero binary of this build: <build>/tools/t5zero beside <build>/tests/<this test>.
std::string t5zero_binary() {
  const fs::path binary =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero";
  REQUIRE_MESSAGE(fs::exists(binary), "build the t5zero target first: ", binary.string());
  return binary.string();
}

// Runs t5zero with the arguments; stdout and stderr go to `log`. Returns the exit status.
int run_t5zero(const std::string& arguments, const std::string& log) {
  const std::string command = t5zero_binary() + " " + arguments + " > " + log + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

double relative_error(const Tensor& ours, const Tensor& theirs) {
  REQUIRE(ours.shape() == theirs.shape());
  const std::vector<double> a = ours.to_vector<double>(), b = theirs.to_vector<double>();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!std::isfinite(a[i])) return INFINITY;
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

}  // namespace

TEST_CASE("t5zero grads writes transformers' loss and every gradient, for each fixture config") {
  TempFolder tmp("t5_grads_cli");
  for (const std::string name : {"flan_gated", "t5v1_relu_tied", "uneven_layers", "inner_dim"}) {
    for (const std::string checkpointing : {"false", "true"}) {
      CAPTURE(name);
      CAPTURE(checkpointing);
      const std::string folder = kFixtures + name;
      const std::string out = tmp.file(name + ".safetensors");
      const int status =
          run_t5zero("grads --model_id " + folder + " --batch " + folder + "/batch.json --out " +
                         out + " --gradient_checkpointing " + checkpointing,
                     tmp.file("log.txt"));
      INFO(testing::read_file_bytes(tmp.file("log.txt")));
      REQUIRE(status == 0);

      const SafetensorsReader ours = SafetensorsReader::open(out);
      const SafetensorsReader expected = SafetensorsReader::open(folder + "/expected.safetensors");
      REQUIRE(ours.contains("loss"));
      CHECK(ours.info("loss").dtype == "F32");
      CHECK(ours.info("loss").shape == Shape{1});
      CHECK(relative_error(ours.load("loss"), expected.load("loss")) < 1e-5);

      // One tensor per parameter of transformers' model (tied heads appear once, as
      // shared.weight), f32, each within 1e-4 of transformers' gradient.
      std::set<std::string> expected_names, our_names;
      for (const SafetensorsTensorInfo& info : expected.tensors()) {
        if (info.name.rfind("grad/", 0) == 0) expected_names.insert(info.name.substr(5));
      }
      for (const SafetensorsTensorInfo& info : ours.tensors()) {
        if (info.name != "loss") our_names.insert(info.name);
      }
      CHECK(our_names == expected_names);
      for (const std::string& param : expected_names) {
        CAPTURE(param);
        if (!ours.contains(param)) continue;
        CHECK(ours.info(param).dtype == "F32");
        CHECK(relative_error(ours.load(param), expected.load("grad/" + param)) < 1e-4);
      }
    }
  }
}

TEST_CASE("t5zero grads refuses bad input with a message") {
  TempFolder tmp("t5_grads_cli_errors");
  const std::string log = tmp.file("log.txt");
  const std::string folder = kFixtures + "flan_gated";

  CHECK(run_t5zero("grads --model_id " + folder + " --out " + tmp.file("x.safetensors"), log) == 2);
  CHECK(testing::read_file_bytes(log).find("batch") != std::string::npos);

  testing::write_file_bytes(tmp.file("ragged.json"),
                            R"({"input_ids": [[5, 6, 1], [7, 1]], "labels": [[3, 1], [4, 1]]})");
  CHECK(run_t5zero("grads --model_id " + folder + " --batch " + tmp.file("ragged.json") +
                       " --out " + tmp.file("x.safetensors"),
                   log) == 1);
  CHECK(testing::read_file_bytes(log).find("ragged.json") != std::string::npos);
  CHECK(testing::read_file_bytes(log).find("rows must have equal lengths") != std::string::npos);

  testing::write_file_bytes(tmp.file("big_id.json"),
                            R"({"input_ids": [[5, 600, 1]], "labels": [[3, 1]]})");
  CHECK(run_t5zero("grads --model_id " + folder + " --batch " + tmp.file("big_id.json") +
                       " --out " + tmp.file("x.safetensors"),
                   log) == 1);
  CHECK_FALSE(fs::exists(tmp.file("x.safetensors")));  // no output that looks complete
}
