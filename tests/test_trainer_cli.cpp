// `t5zero train` as a process: bad flags are usage errors (exit 2); SIGTERM mid-run saves a
// checkpoint and exits 128 + 15 after a clean shutdown; --resume_from_checkpoint latest then
// finishes the run.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "io/json.h"
#include "temp_folder.h"
#include "train/checkpoint.h"
#include "train_test_data.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;

namespace {

// The t5zero binary of this build: <build>/tools/t5zero beside <build>/tests/<this test>.
std::string t5zero_binary() {
  const fs::path binary =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero";
  REQUIRE_MESSAGE(fs::exists(binary), "build the t5zero target first: ", binary.string());
  return binary.string();
}

// Starts t5zero with `arguments`, stdout and stderr to `log`; returns its pid.
pid_t start_t5zero(const std::vector<std::string>& arguments, const std::string& log) {
  const std::string binary = t5zero_binary();
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv = {const_cast<char*>(binary.c_str())};
    for (const std::string& a : arguments) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(binary.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// The exit status of `pid` (-1 when it did not exit normally).
int wait_exit(pid_t pid) {
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_t5zero(const std::vector<std::string>& arguments, const std::string& log) {
  return wait_exit(start_t5zero(arguments, log));
}

int count_lines(const std::string& path) {
  std::ifstream in(path);
  int lines = 0;
  for (std::string line; std::getline(in, line);) ++lines;
  return lines;
}

}  // namespace

TEST_CASE("t5zero train: a bad flag value is a usage error naming the flag") {
  TempFolder folder("trainer_cli_usage");
  CHECK(run_t5zero({"train", "--eval_strategy", "sometimes"}, folder.file("log")) == 2);
  CHECK(read_file_bytes(folder.file("log"))
            .find("--eval_strategy: expected \"no\", \"steps\" or \"epoch\", got \"sometimes\"") !=
        std::string::npos);
  CHECK(run_t5zero({"train", "--bf16", "maybe"}, folder.file("log")) == 2);
  CHECK(run_t5zero({"train", "--model_id", "t5-micro", "--dataset_path", folder.file("none"),
                    "--output_dir", folder.file("out")},
                   folder.file("log")) == 1);
  CHECK(read_file_bytes(folder.file("log")).find("t5zero train: error: ") == 0);
}

TEST_CASE("t5zero train: SIGTERM saves a checkpoint and exits cleanly; the run then resumes") {
  TempFolder folder("trainer_cli_sigterm");
  testing::write_rows_dataset(folder.file("data"), 256);
  // clang-format off
  // Flag and value pairs.
  const std::vector<std::string> common = {
      "train",
      "--model_id", "t5-micro",
      "--dataset_path", folder.file("data"),
      "--output_dir", folder.file("out"),
      "--per_device_train_batch_size", "2",
      "--lr_scheduler_type", "constant",
      "--lr", "1e-3",
      "--logging_steps", "1",
      "--eval_strategy", "no",
      "--save_strategy", "steps",
      "--save_steps", "1000000",
      "--load_best_model_at_end", "false",
      "--gradient_checkpointing", "false",
      "--num_threads", "1",
  };
  // clang-format on
  std::vector<std::string> arguments = common;
  arguments.insert(arguments.end(), {"--max_steps", "1000000"});
  const pid_t pid = start_t5zero(arguments, folder.file("log"));
  // Signal once it has trained a few steps.
  const std::string metrics = folder.file("out/metrics.jsonl");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (count_lines(metrics) < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  REQUIRE(kill(pid, SIGTERM) == 0);
  CHECK(wait_exit(pid) == 128 + SIGTERM);
  const std::string log = read_file_bytes(folder.file("log"));
  CAPTURE(log);
  CHECK(log.find("stopped by signal 15 after step ") != std::string::npos);

  const std::string checkpoint = latest_checkpoint(folder.file("out"));
  REQUIRE(!checkpoint.empty());
  const int64_t stopped_at = read_trainer_state(checkpoint).global_step;
  CHECK(stopped_at >= 3);
  CHECK(stopped_at < 1000000);
  const JsonValue summary = JsonValue::parse_file(folder.file("out/run_summary.json"));
  CHECK(summary.get_string("status") == "interrupted");
  CHECK(summary.get_int("global_step") == stopped_at);
  CHECK(!fs::exists(folder.file("out/model.safetensors")));  // no final model for a stopped run

  arguments = common;
  arguments.insert(arguments.end(), {"--max_steps", std::to_string(stopped_at + 2),
                                     "--resume_from_checkpoint", "latest"});
  CHECK(run_t5zero(arguments, folder.file("log2")) == 0);
  const std::string resumed = read_file_bytes(folder.file("log2"));
  CAPTURE(resumed);
  CHECK(resumed.find("resumed from " + checkpoint + " at step " + std::to_string(stopped_at)) !=
        std::string::npos);
  const JsonValue done = JsonValue::parse_file(folder.file("out/run_summary.json"));
  CHECK(done.get_string("status") == "completed");
  CHECK(done.get_int("global_step") == stopped_at + 2);
  CHECK(done.get_int("train_steps") == 2);
  CHECK(fs::exists(folder.file("out/model.safetensors")));
  // metrics.jsonl continued: one line per step, none repeated.
  CHECK(count_lines(metrics) == stopped_at + 2);
}
