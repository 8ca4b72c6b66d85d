// `mpirun -np 2 t5zero train ... --deepspeed <the recipe's ZeRO-3 config>` as a user runs it:
// both ranks train with partitioned parameters, rank 0 writes the model, the checkpoints (one
// optimizer shard per rank) and run_summary.json, whose "zero" block shows each rank holding
// half of the parameters and the bytes it sent; the saved model loads back. A rank that fails
// (a missing dataset) ends the job with its message instead of hanging.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "io/json.h"
#include "io/safetensors_reader.h"
#include "temp_folder.h"
#include "train_test_data.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;

namespace {

std::string t5zero_binary() {
  return (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero")
      .string();
}

// Runs `mpiexec -n ranks t5zero ARGS` with output to `log`; returns the exit status.
int run_mpirun(int ranks, const std::string& args, const std::string& log) {
  const std::string command = std::string(T5ZERO_MPIEXEC) + " -n " + std::to_string(ranks) + " " +
                              T5ZERO_MPIEXEC_FLAGS + " " + t5zero_binary() + " " + args + " > " +
                              log + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("mpirun -np 2 t5zero train: ZeRO-3 over two ranks, one writer, a loadable model") {
  TempFolder folder("mpi_cli_train");
  testing::write_rows_dataset(folder.file("data"), 256);
  const std::string args =
      "train --model_id t5-micro --dataset_path " + folder.file("data") + " --output_dir " +
      folder.file("out") + " --deepspeed " + T5ZERO_SOURCE_DIR +
      "/configs/ds_flan_t5_z3_config_bf16.json --bf16 true --per_device_train_batch_size 2"
      " --max_steps 4 --save_strategy steps --save_steps 2 --eval_strategy no"
      " --load_best_model_at_end false --logging_steps 1 --lr 1e-3 --zero_trace " +
      folder.file("trace.jsonl") + " --zero_trace_steps 1";
  const int status = run_mpirun(2, args, folder.file("log.txt"));
  const std::string log = read_file_bytes(folder.file("log.txt"));
  INFO(log);
  REQUIRE(status == 0);
  CHECK(log.find("ZeRO stage 3 over 2 ranks") != std::string::npos);
  // One writer: every log line once.
  const size_t first = log.find("step 4/4");
  REQUIRE(first != std::string::npos);
  CHECK(log.find("step 4/4", first + 1) == std::string::npos);

  const JsonValue summary = JsonValue::parse_file(folder.file("out/run_summary.json"));
  CHECK(summary.get_string("status") == "completed");
  CHECK(summary.get_int("world_size") == 2);
  const JsonValue zero = summary.at("zero");
  CHECK(zero.get_int("stage") == 3);
  const int64_t full = zero.get_int("full_parameter_bytes");
  const int64_t shard = zero.get_int("shard_bytes");
  // Half of every parameter, rounded up per parameter.
  CHECK(shard >= full / 2);
  CHECK(shard < full / 2 + 4096);
  CHECK(zero.get_int("peak_gathered_bytes") < full);
  const JsonValue comm = zero.at("communication");
  CHECK(comm.get_int("all_gather_bytes") > 0);
  CHECK(comm.get_int("reduce_scatter_bytes") > 0);

  // The trace of step 1: every gather released again, every gradient reduce-scattered once,
  // the persistent parameters refreshed once, and the step's end.
  {
    std::ifstream trace(folder.file("trace.jsonl"));
    std::map<std::string, int> events;
    std::string line;
    int lines = 0;
    while (std::getline(trace, line)) {
      const JsonValue event = JsonValue::parse_text(line, "trace.jsonl");
      ++events[event.get_string("event")];
      ++lines;
    }
    CHECK(lines > 0);
    CHECK(events["gather"] > 0);
    CHECK(events["gather"] == events["release"]);
    CHECK(events["reduce_scatter"] > 0);
    CHECK(events["refresh"] > 0);
    CHECK(events["step_end"] == 1);
  }

  // Each checkpoint has both ranks' optimizer shards; the final model is a whole HF folder.
  for (const char* step : {"checkpoint-2", "checkpoint-4"}) {
    CAPTURE(step);
    const fs::path checkpoint = fs::path(folder.file("out")) / step;
    CHECK(fs::is_regular_file(checkpoint / "zero/optimizer-rank-0-of-2.safetensors"));
    CHECK(fs::is_regular_file(checkpoint / "zero/optimizer-rank-1-of-2.safetensors"));
    CHECK(fs::is_regular_file(checkpoint / "model.safetensors"));
  }
  const SafetensorsReader model = SafetensorsReader::open(folder.file("out/model.safetensors"));
  CHECK(model.contains("shared.weight"));
  CHECK(model.load("shared.weight").shape() == Shape{256, 32});

  // `t5zero consolidate` rebuilds fp32 weights from the two ranks' master shards: their bf16
  // rounding is the checkpoint's bf16 model, bit for bit.
  {
    const std::string command =
        t5zero_binary() + " consolidate --checkpoint " + folder.file("out/checkpoint-4") +
        " --output_dir " + folder.file("fp32") + " > " + folder.file("consolidate.txt") + " 2>&1";
    const int consolidate_status = std::system(command.c_str());
    INFO(read_file_bytes(folder.file("consolidate.txt")));
    REQUIRE(WIFEXITED(consolidate_status));
    REQUIRE(WEXITSTATUS(consolidate_status) == 0);
    const SafetensorsReader fp32 = SafetensorsReader::open(folder.file("fp32/model.safetensors"));
    const SafetensorsReader bf16 =
        SafetensorsReader::open(folder.file("out/checkpoint-4/model.safetensors"));
    REQUIRE(fp32.tensors().size() == bf16.tensors().size());
    int64_t mismatches = 0, elements = 0;
    for (const SafetensorsTensorInfo& info : bf16.tensors()) {
      const Tensor weights = fp32.load(info.name);
      CHECK(weights.dtype() == DType::f32);
      const std::vector<float> rounded = weights.to(DType::bf16).to(DType::f32).to_vector<float>();
      const std::vector<float> saved = bf16.load(info.name).to(DType::f32).to_vector<float>();
      REQUIRE(rounded.size() == saved.size());
      for (size_t i = 0; i < saved.size(); ++i) mismatches += rounded[i] != saved[i];
      elements += static_cast<int64_t>(saved.size());
    }
    CHECK(elements > 0);
    CHECK(mismatches == 0);
  }

  // Resuming the 2-rank checkpoint in one process is refused with the reason, not misread.
  const std::string resume_log = folder.file("resume.txt");
  const std::string command = t5zero_binary() + " " + args +
                              " --max_steps 6 --resume_from_checkpoint latest > " + resume_log +
                              " 2>&1";
  const int resume_status = std::system(command.c_str());
  const std::string resume_text = read_file_bytes(resume_log);
  INFO(resume_text);
  CHECK(WIFEXITED(resume_status));
  CHECK(WEXITSTATUS(resume_status) == 1);
  CHECK(resume_text.find("world size 2") != std::string::npos);
}

TEST_CASE("mpirun -np 2 t5zero train with a missing dataset ends the job with the message") {
  TempFolder folder("mpi_cli_train_missing");
  const int status = run_mpirun(2,
                                "train --model_id t5-micro --dataset_path " +
                                    folder.file("nowhere") + " --output_dir " + folder.file("out"),
                                folder.file("log.txt"));
  const std::string log = read_file_bytes(folder.file("log.txt"));
  INFO(log);
  CHECK(status != 0);
  CHECK(log.find("nowhere") != std::string::npos);
}
