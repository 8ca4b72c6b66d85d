// `t5zero prepare` as a process: the recipe's printout and a dataset the trainer opens, an
// existing output refused without --overwrite, a missing column named (exit 1), and bad flag
// values as usage errors (exit 2).
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/token_dataset.h"
#include "temp_folder.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;

namespace {

const std::string kShared = T5ZERO_SHARED_DIR;

std::string t5zero_binary() {
  return (fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero")
      .string();
}

// Runs `t5zero prepare ARGS`, output to `log`; returns the exit status (-1: no normal exit).
int run_prepare(const std::string& args, const std::string& log) {
  const std::string command = t5zero_binary() + " prepare " + args + " > " + log + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The first `count` rows of the shared sample (train rows first) as a JSONL file.
void write_sample_rows(const std::string& path, int count) {
  std::ifstream in(kShared + "/data/cnn_dm_sample/cnn_dm_sample.jsonl");
  std::ofstream out(path);
  std::string line;
  for (int n = 0; n < count && std::getline(in, line); ++n) out << line << "\n";
}

}  // namespace

TEST_CASE("t5zero prepare writes the dataset the trainer reads, with the recipe's printout") {
  TempFolder folder("prepare_cli");
  write_sample_rows(folder.file("rows.jsonl"), 12);
  const std::string args = "--dataset_path " + folder.file("rows.jsonl") + " --tokenizer " +
                           kShared + "/data/t5-tokenizer --eval_fraction 0.25 --output_dir " +
                           folder.file("data");
  REQUIRE(run_prepare(args, folder.file("log.txt")) == 0);
  const std::string log = read_file_bytes(folder.file("log.txt"));
  INFO(log);
  CHECK(log.find("Prompt length: 12") != std::string::npos);
  const TokenDataset dataset = TokenDataset::open(folder.file("data"));
  CHECK(dataset.split("train").rows() + dataset.split("eval").rows() == 12);
  CHECK(dataset.split("eval").rows() == 3);

  // Again: the folder exists, and is replaced only when asked.
  CHECK(run_prepare(args, folder.file("again.txt")) == 1);
  CHECK(read_file_bytes(folder.file("again.txt")).find("pass --overwrite") != std::string::npos);
  CHECK(run_prepare(args + " --overwrite", folder.file("overwrite.txt")) == 0);
}

TEST_CASE("t5zero prepare names a missing column and refuses bad flag values") {
  TempFolder folder("prepare_cli_bad");
  write_sample_rows(folder.file("rows.jsonl"), 4);
  const std::string base = "--dataset_path " + folder.file("rows.jsonl") + " --tokenizer " +
                           kShared + "/data/t5-tokenizer --output_dir " + folder.file("data");
  CHECK(run_prepare(base + " --text_column body", folder.file("column.txt")) == 1);
  const std::string column = read_file_bytes(folder.file("column.txt"));
  INFO(column);
  CHECK(column.find("body") != std::string::npos);
  CHECK(!fs::exists(folder.file("data")));  // nothing partial left behind

  CHECK(run_prepare(base + " --max_source_length -5", folder.file("length.txt")) == 2);
  CHECK(read_file_bytes(folder.file("length.txt")).find("--max_source_length") !=
        std::string::npos);
  CHECK(run_prepare(base + " --no_such_flag 1", folder.file("flag.txt")) == 2);
}
