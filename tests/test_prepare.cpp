// `t5zero prepare` end to end: the recipe's printed numbers and every row's ids against the
// fixture made with transformers (tools/reference/make_prepare_fixture.py); JSONL and CSV of the
// same rows give the same bytes; other column names; byte-identical reruns; each bad input's
// message; and the reader refusing a corrupted dataset.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/percentile.h"
#include "io/prepare.h"
#include "io/raw_dataset.h"
#include "io/token_dataset.h"
#include "temp_folder.h"
#include "tensor/error.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;
namespace fs = std::filesystem;

namespace {

const std::string kShared = T5ZERO_SHARED_DIR;
const std::string kSample = kShared + "/data/cnn_dm_sample/";
const std::string kJsonl = kSample + "cnn_dm_sample.jsonl";

// FNV-1a 64 over the ids as little-endian int32, as the fixture script hashes them.
uint64_t fnv1a64(const std::vector<int32_t>& ids, uint64_t hash = 0xCBF29CE484222325ull) {
  for (int32_t id : ids) {
    const auto bits = static_cast<uint32_t>(id);
    for (int shift = 0; shift < 32; shift += 8) {
      hash ^= (bits >> shift) & 0xFF;
      hash *= 0x100000001B3ull;
    }
  }
  return hash;
}

std::string hex(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

struct FixtureRow {
  std::string split;
  int64_t input_length = 0;
  std::string input_hash, padded_input_hash;
  int64_t label_length = 0;
  std::string label_hash, padded_label_hash;
};

struct Fixture {
  std::map<std::string, std::string> values;
  std::vector<FixtureRow> rows;

  int64_t number(const std::string& key) const { return std::stoll(values.at(key)); }
};

const Fixture& fixture() {
  static const Fixture loaded = [] {
    Fixture f;
    std::ifstream in(std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/prepare/expected.txt");
    REQUIRE(in.good());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream fields(line);
      if (std::isdigit(static_cast<unsigned char>(line[0]))) {
        int64_t index = 0;
        FixtureRow row;
        fields >> index >> row.split >> row.input_length >> row.input_hash >>
            row.padded_input_hash >> row.label_length >> row.label_hash >> row.padded_label_hash;
        REQUIRE(index == static_cast<int64_t>(f.rows.size()));
        f.rows.push_back(row);
      } else {
        std::string key, value;
        fields >> key >> value;
        f.values[key] = value;
      }
    }
    REQUIRE(f.rows.size() == 1400);
    return f;
  }();
  return loaded;
}

// The six lines the recipe prints, from a fixture configuration ("jsonl", "csv", "swapped").
std::string recipe_lines(const std::string& config, const std::string& eval_name) {
  const Fixture& f = fixture();
  return "Train dataset size: " + f.values.at(config + ".train_size") + "\n" + eval_name +
         " dataset size: " + f.values.at(config + ".eval_size") + "\n" +
         "Prompt length: " + f.values.at(config + ".prompt_length") + "\n" +
         "Max input length: " + f.values.at(config + ".max_input_length") + "\n" +
         "Max source length: " + f.values.at(config + ".max_source_length") + "\n" +
         "Max target length: " + f.values.at(config + ".max_target_length") + "\n";
}

PrepareOptions options_for(const std::string& dataset, const std::string& output) {
  PrepareOptions options;
  options.dataset_path = dataset;
  options.tokenizer_dir = kShared + "/data/t5-tokenizer";
  options.output_dir = output;
  options.eval_split = "validation";
  options.num_threads = 2;
  options.command_line = "t5zero prepare (test)";
  return options;
}

// Runs prepare; returns what it printed.
std::string run(const PrepareOptions& options) {
  std::ostringstream out, progress;
  prepare_dataset(options, out, progress);
  return out.str();
}

std::string error_of(const PrepareOptions& options) {
  try {
    run(options);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

// Every file of a dataset folder, by relative path.
std::map<std::string, std::string> folder_bytes(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).string()] = read_file_bytes(entry.path().string());
    }
  }
  return files;
}

std::vector<std::string> jsonl_lines() {
  std::vector<std::string> lines;
  std::istringstream in(read_file_bytes(kJsonl));
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() == 1400);
  return lines;
}

// A JSONL file of the sample's lines [begin, end) for each range.
void write_jsonl_subset(const std::string& path,
                        const std::vector<std::pair<size_t, size_t>>& ranges) {
  const std::vector<std::string> lines = jsonl_lines();
  std::string text;
  for (const auto& [begin, end] : ranges) {
    for (size_t i = begin; i < end; ++i) text += lines[i] + "\n";
  }
  write_file_bytes(path, text);
}

// The sample's CSVs as a folder of split files (links, so nothing is copied).
void make_csv_folder(const std::string& dir) {
  fs::create_directories(dir);
  fs::create_symlink(kSample + "cnn_dailymail_subset.csv", dir + "/train.csv");
  fs::create_symlink(kSample + "cnn_dailymail_validation_subset.csv", dir + "/validation.csv");
}

const TokenSplit& split_of(const TokenDataset& dataset, size_t fixture_row, size_t& row) {
  row = fixture_row < 400 ? fixture_row : fixture_row - 400;
  return dataset.split(fixture_row < 400 ? "train" : "eval");
}

std::string first_lines(const std::string& text, int count) {
  size_t end = 0;
  for (int i = 0; i < count; ++i) {
    const size_t newline = text.find('\n', end);
    if (newline == std::string::npos) return text;
    end = newline + 1;
  }
  return text.substr(0, end);
}

}  // namespace

TEST_CASE("prepare: CNN/DM JSONL gives the recipe's printed numbers and its ids, row by row") {
  TempFolder folder("prepare_jsonl");
  const std::string out = folder.file("data");
  const std::string printed = run(options_for(kJsonl, out));
  CHECK(first_lines(printed, 6) == recipe_lines("jsonl", "Validation"));

  const TokenDataset dataset = TokenDataset::open(out, /*verify_checksums=*/true);
  const Fixture& f = fixture();
  const TokenDatasetMetadata& m = dataset.metadata();
  CHECK(m.prompt_length == 12);
  CHECK(m.max_input_length == 500);
  CHECK(m.max_target_length == f.number("jsonl.max_target_length"));
  CHECK(m.input_truncation_length == f.number("model_max_length"));
  CHECK(m.padding == "longest");
  CHECK(dataset.split("train").rows() == 400);
  CHECK(dataset.split("eval").rows() == 1000);
  CHECK(dataset.split("eval").info().source_split == "validation");
  int mismatches = 0;
  for (size_t i = 0; i < f.rows.size(); ++i) {
    size_t row = 0;
    const TokenSplit& split = split_of(dataset, i, row);
    const auto r = static_cast<int64_t>(row);
    const std::vector<int32_t> input = split.input(r).to_vector();
    const std::vector<int32_t> labels = split.labels(r).to_vector();
    const bool same = static_cast<int64_t>(input.size()) == f.rows[i].input_length &&
                      split.input_length(r) == f.rows[i].input_length &&
                      hex(fnv1a64(input)) == f.rows[i].input_hash &&
                      static_cast<int64_t>(labels.size()) == f.rows[i].label_length &&
                      hex(fnv1a64(labels)) == f.rows[i].label_hash;
    if (!same) {
      ++mismatches;
      INFO("row ", i);
      CHECK(hex(fnv1a64(input)) == f.rows[i].input_hash);
      CHECK(hex(fnv1a64(labels)) == f.rows[i].label_hash);
    }
  }
  CHECK(mismatches == 0);
  // The summary's truncation counts agree with the fixture's lengths.
  int64_t truncated_train_labels = 0;
  for (size_t i = 0; i < 400; ++i) {
    truncated_train_labels += f.rows[i].label_length == f.number("jsonl.max_target_length");
  }
  CHECK(dataset.split("train").info().truncated_labels <= truncated_train_labels);
  CHECK(printed.find("  train (train): 400 rows\n") != std::string::npos);
}

TEST_CASE("prepare: max_length padding pads inputs with 0 and labels with -100 as the recipe") {
  TempFolder folder("prepare_padded");
  const std::string out = folder.file("data");
  PrepareOptions options = options_for(kJsonl, out);
  options.padding = Padding::max_length;
  CHECK(first_lines(run(options), 6) == recipe_lines("jsonl", "Validation"));
  const TokenDataset dataset = TokenDataset::open(out);
  const Fixture& f = fixture();
  int mismatches = 0;
  for (size_t i = 0; i < f.rows.size(); ++i) {
    size_t row = 0;
    const TokenSplit& split = split_of(dataset, i, row);
    const auto r = static_cast<int64_t>(row);
    const std::vector<int32_t> input = split.input(r).to_vector();
    const std::vector<int32_t> labels = split.labels(r).to_vector();
    mismatches += !(input.size() == 512 &&
                    labels.size() == static_cast<size_t>(f.number("jsonl.max_target_length")) &&
                    split.input_length(r) == f.rows[i].input_length &&
                    hex(fnv1a64(input)) == f.rows[i].padded_input_hash &&
                    hex(fnv1a64(labels)) == f.rows[i].padded_label_hash);
  }
  CHECK(mismatches == 0);
  CHECK(dataset.metadata().padding == "max_length");
}

TEST_CASE("prepare: the CSV files give the recipe's numbers for their rows and the same ids") {
  TempFolder folder("prepare_csv");
  make_csv_folder(folder.file("csv"));
  const std::string out = folder.file("data");
  CHECK(first_lines(run(options_for(folder.file("csv"), out)), 6) ==
        recipe_lines("csv", "Validation"));
  CHECK(fixture().values.at("csv.rows") == "0-299,400-1399");

  const TokenDataset dataset = TokenDataset::open(out);
  const Fixture& f = fixture();
  const int64_t max_target = f.number("csv.max_target_length");
  CHECK(dataset.metadata().max_target_length == max_target);
  int mismatches = 0;
  for (size_t i = 0; i < f.rows.size(); ++i) {
    if (i >= 300 && i < 400) continue;  // train_sample.zip's rows: only in the JSONL
    const bool is_train = i < 300;
    const int64_t r = static_cast<int64_t>(is_train ? i : i - 400);
    const TokenSplit& split = dataset.split(is_train ? "train" : "eval");
    const std::vector<int32_t> labels = split.labels(r).to_vector();
    bool same = hex(fnv1a64(split.input(r).to_vector())) == f.rows[i].input_hash;
    // Labels longer than this configuration's max target length are cut shorter than in the
    // fixture's (JSONL) configuration; the others are the same ids.
    if (f.rows[i].label_length <= max_target) {
      same = same && hex(fnv1a64(labels)) == f.rows[i].label_hash;
    } else {
      same = same && static_cast<int64_t>(labels.size()) == max_target && labels.back() == 1;
    }
    mismatches += !same;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("prepare: JSONL and CSV inputs of the same rows give identical datasets") {
  TempFolder folder("prepare_formats");
  make_csv_folder(folder.file("csv"));
  write_jsonl_subset(folder.file("same_rows.jsonl"), {{0, 300}, {400, 1400}});
  PrepareOptions from_csv = options_for(folder.file("csv"), folder.file("from_csv"));
  PrepareOptions from_jsonl =
      options_for(folder.file("same_rows.jsonl"), folder.file("from_jsonl"));
  const std::string csv_printed = run(from_csv);
  CHECK(first_lines(run(from_jsonl), 6) == first_lines(csv_printed, 6));

  std::map<std::string, std::string> csv = folder_bytes(folder.file("from_csv"));
  std::map<std::string, std::string> jsonl = folder_bytes(folder.file("from_jsonl"));
  REQUIRE(csv.size() == 11);  // metadata.json + 5 arrays in each of 2 splits
  for (const auto& [path, bytes] : csv) {
    if (path == "metadata.json") continue;
    INFO(path);
    CHECK(jsonl.at(path) == bytes);
  }
  // The metadata differs only where it names the input.
  const TokenDatasetMetadata a = TokenDataset::open(folder.file("from_csv")).metadata();
  const TokenDatasetMetadata b = TokenDataset::open(folder.file("from_jsonl")).metadata();
  CHECK(a.source_files.size() == 2);
  CHECK(b.source_files.size() == 1);
  CHECK(a.max_target_length == b.max_target_length);
  for (size_t s = 0; s < 2; ++s) {
    CHECK(a.splits[s].input_tokens == b.splits[s].input_tokens);
    CHECK(a.splits[s].truncated_labels == b.splits[s].truncated_labels);
  }
}

TEST_CASE("prepare: other column names prepare the same way when named") {
  TempFolder folder("prepare_columns");
  write_jsonl_subset(folder.file("articles.jsonl"), {{0, 60}, {400, 460}});
  // The same rows as dialogue/summary: the keys are renamed where they stand between fields.
  std::string text = read_file_bytes(folder.file("articles.jsonl"));
  for (const auto& [from, to] :
       {std::pair<std::string, std::string>{"\", \"article\": \"", "\", \"dialogue\": \""},
        {"\", \"highlights\": \"", "\", \"summary\": \""}}) {
    size_t renamed = 0;
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at)) {
      text.replace(at, from.size(), to);
      ++renamed;
    }
    CHECK(renamed == 120);
  }
  write_file_bytes(folder.file("dialogues.jsonl"), text);

  run(options_for(folder.file("articles.jsonl"), folder.file("a")));
  PrepareOptions renamed = options_for(folder.file("dialogues.jsonl"), folder.file("b"));
  CHECK(error_of(renamed).find("missing column 'article'") != std::string::npos);
  renamed.text_column = "dialogue";
  renamed.summary_column = "summary";
  run(renamed);
  std::map<std::string, std::string> a = folder_bytes(folder.file("a"));
  std::map<std::string, std::string> b = folder_bytes(folder.file("b"));
  for (const auto& [path, bytes] : a) {
    if (path != "metadata.json") CHECK(b.at(path) == bytes);
  }
  CHECK(TokenDataset::open(folder.file("b")).metadata().text_column == "dialogue");
}

TEST_CASE("prepare: columns in other roles (text = highlights) match the recipe's numbers") {
  TempFolder folder("prepare_swapped");
  PrepareOptions options = options_for(kJsonl, folder.file("data"));
  options.text_column = "highlights";
  options.summary_column = "article";
  // The longest source is below the max input length here, so "auto" is the data's, not 500.
  CHECK(first_lines(run(options), 6) == recipe_lines("swapped", "Validation"));
  const TokenDataset dataset = TokenDataset::open(folder.file("data"));
  uint64_t hash = 0xCBF29CE484222325ull;
  for (const char* name : {"train", "eval"}) {
    const TokenSplit& split = dataset.split(name);
    for (int64_t r = 0; r < split.rows(); ++r) hash = fnv1a64(split.input(r).to_vector(), hash);
  }
  for (const char* name : {"train", "eval"}) {
    const TokenSplit& split = dataset.split(name);
    for (int64_t r = 0; r < split.rows(); ++r) hash = fnv1a64(split.labels(r).to_vector(), hash);
  }
  CHECK(hex(hash) == fixture().values.at("swapped.all_ids_fnv"));
}

TEST_CASE("prepare: the same inputs give byte-identical output, whatever the thread count") {
  TempFolder folder("prepare_rerun");
  write_jsonl_subset(folder.file("rows.jsonl"), {{0, 50}, {400, 450}});
  PrepareOptions options = options_for(folder.file("rows.jsonl"), folder.file("data"));
  run(options);
  const std::map<std::string, std::string> first = folder_bytes(folder.file("data"));
  options.overwrite = true;
  options.num_threads = 1;
  run(options);
  CHECK(folder_bytes(folder.file("data")) == first);
  options.num_threads = 7;
  run(options);
  CHECK(folder_bytes(folder.file("data")) == first);
  // Only the dataset is left: no temporary or old folders beside it.
  CHECK(folder.entries() == std::vector<std::string>{"data", "rows.jsonl"});
}

TEST_CASE("prepare: --eval_fraction carves a seeded share of the training rows out as eval") {
  TempFolder folder("prepare_fraction");
  PrepareOptions options = options_for(kJsonl, folder.file("data"));
  options.train_split = "validation";
  options.eval_fraction = 0.1;
  const std::string printed = run(options);
  CHECK(first_lines(printed, 2) == "Validation dataset size: 900\nEval dataset size: 100\n");
  const std::vector<int64_t> picked = pick_eval_rows(1000, 0.1, 42);
  REQUIRE(picked.size() == 100);
  const TokenDataset dataset = TokenDataset::open(folder.file("data"));
  const Fixture& f = fixture();
  int mismatches = 0;
  size_t next = 0;
  int64_t train_row = 0;
  for (int64_t r = 0; r < 1000; ++r) {
    const bool is_eval = next < picked.size() && picked[next] == r;
    const TokenSplit& split = dataset.split(is_eval ? "eval" : "train");
    const int64_t row = is_eval ? static_cast<int64_t>(next++) : train_row++;
    mismatches += hex(fnv1a64(split.input(row).to_vector())) !=
                  f.rows[static_cast<size_t>(400 + r)].input_hash;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("prepare: fixed lengths and the auto target rule cut rows as transformers would") {
  TempFolder folder("prepare_lengths");
  write_jsonl_subset(folder.file("rows.jsonl"), {{0, 40}, {400, 440}});
  PrepareOptions options = options_for(folder.file("rows.jsonl"), folder.file("long"));
  options.target_rule = TargetLengthRule::fixed;
  options.max_target_length = 512;  // nothing is cut: the summaries' own lengths
  run(options);
  const TokenDataset whole = TokenDataset::open(folder.file("long"));
  int64_t longest_summary = 0;
  for (const char* name : {"train", "eval"}) {
    const TokenSplit& split = whole.split(name);
    CHECK(split.info().truncated_labels == 0);
    for (int64_t r = 0; r < split.rows(); ++r) {
      longest_summary = std::max(longest_summary, split.labels(r).size());
    }
  }

  options.output_dir = folder.file("auto");
  options.target_rule = TargetLengthRule::longest;
  const std::string printed = run(options);
  CHECK(printed.find("Max target length: " + std::to_string(longest_summary) + "\n") !=
        std::string::npos);

  options.output_dir = folder.file("short");
  options.max_source_length = 100;
  options.target_rule = TargetLengthRule::fixed;
  options.max_target_length = 20;
  CHECK(run(options).find("Max source length: 100\nMax target length: 20\n") != std::string::npos);
  const TokenDataset cut = TokenDataset::open(folder.file("short"));
  CHECK(cut.metadata().input_truncation_length == 100);
  CHECK(cut.metadata().max_source_length_rule == "fixed");
  int mismatches = 0;
  int64_t truncated = 0;
  for (const char* name : {"train", "eval"}) {
    for (int64_t r = 0; r < 40; ++r) {
      // Truncating at N keeps the first N - 1 ids of the longer encoding and </s>.
      std::vector<int32_t> input = whole.split(name).input(r).to_vector();
      std::vector<int32_t> labels = whole.split(name).labels(r).to_vector();
      truncated += labels.size() > 20;
      truncate_keeping_last(input, 100);
      truncate_keeping_last(labels, 20);
      mismatches += cut.split(name).input(r).to_vector() != input;
      mismatches += cut.split(name).labels(r).to_vector() != labels;
    }
  }
  CHECK(mismatches == 0);
  CHECK(cut.split("train").info().truncated_labels + cut.split("eval").info().truncated_labels ==
        truncated);
  CHECK(truncated > 0);
}

TEST_CASE("pick_eval_rows: ceil(fraction · rows) distinct rows, ascending, fixed by the seed") {
  const std::vector<int64_t> a = pick_eval_rows(1001, 0.1, 42);
  CHECK(a.size() == 101);
  CHECK(std::is_sorted(a.begin(), a.end()));
  CHECK(std::adjacent_find(a.begin(), a.end()) == a.end());
  CHECK(a.front() >= 0);
  CHECK(a.back() < 1001);
  CHECK(pick_eval_rows(1001, 0.1, 42) == a);
  CHECK(pick_eval_rows(1001, 0.1, 43) != a);
  CHECK(pick_eval_rows(3, 0.01, 1).size() == 1);
  // Spread over the rows, not a block at one end.
  CHECK(a.front() < 100);
  CHECK(a.back() > 900);
}

TEST_CASE("apply_prompt_template: Python str.format with {input}") {
  CHECK(apply_prompt_template(kDefaultPromptTemplate, "text") ==
        "Summarize the following news article:\ntext\nSummary:\n");
  CHECK(apply_prompt_template("{{x}} {input}|{input}", "a}b") == "{x} a}b|a}b");
  CHECK_THROWS_WITH(apply_prompt_template("{text}", "a"),
                    "--prompt_template: the only field allowed is {input} (write {{ and }} for "
                    "braces), found '{text}'");
  CHECK_THROWS_WITH(apply_prompt_template("no field", "a"),
                    "--prompt_template: the template has no {input} field, so every input would "
                    "be the same");
  CHECK_THROWS_WITH(apply_prompt_template("{input} }", "a"),
                    "--prompt_template: a single '}' at offset 8 (write }} for a brace)");
}

TEST_CASE("truncate_keeping_last: keeps </s> last as transformers' truncation") {
  std::vector<int32_t> ids = {5, 6, 7, 8, 1};
  truncate_keeping_last(ids, 5);
  CHECK(ids == std::vector<int32_t>{5, 6, 7, 8, 1});
  truncate_keeping_last(ids, 3);
  CHECK(ids == std::vector<int32_t>{5, 6, 1});
  truncate_keeping_last(ids, 1);
  CHECK(ids == std::vector<int32_t>{1});
}

TEST_CASE("numpy_percentile: numpy's linear method, values worked by hand") {
  // virtual index 0.95 · 3 = 2.85 between 3 and 4: 3.85, so int() gives 3.
  CHECK(numpy_percentile({4, 1, 3, 2}, 95) == doctest::Approx(3.85));
  CHECK(static_cast<int64_t>(numpy_percentile({4, 1, 3, 2}, 95)) == 3);
  CHECK(numpy_percentile({1, 100}, 50) == 50.5);
  CHECK(numpy_percentile({7}, 95) == 7);
  CHECK(numpy_percentile({3, 9, 5}, 0) == 3);
  CHECK(numpy_percentile({3, 9, 5}, 100) == 9);
  // 21 values 0..20: the 95th percentile sits exactly on index 19.
  std::vector<int64_t> values;
  for (int64_t v = 20; v >= 0; --v) values.push_back(v * 10);
  CHECK(numpy_percentile(values, 95) == 190);
}

TEST_CASE("raw dataset: folders of split files and shards, split columns, blank split cells") {
  TempFolder folder("prepare_raw");
  fs::create_directories(folder.file("in"));
  write_file_bytes(folder.file("in/train-00001-of-00002.jsonl"), "{\"t\": \"c\", \"s\": \"3\"}\n");
  write_file_bytes(
      folder.file("in/train-00000-of-00002.jsonl"),
      "{\"t\": \"a\", \"s\": \"1\"}\n{\"t\": \"b\", \"s\": \"2\", \"split\": \"x\"}\n");
  write_file_bytes(folder.file("in/test.csv"), "s,t\n4,d\n");
  write_file_bytes(folder.file("in/validation.csv"), "not read\"");
  write_file_bytes(folder.file("in/notes.txt"), "ignored");
  RawDatasetOptions options;
  options.text_column = "t";
  options.summary_column = "s";
  options.splits = {"train", "test"};
  RawDataset raw = load_raw_dataset(folder.file("in"), options);
  const RawSplit& train = raw.split("train");
  REQUIRE(train.examples.size() == 3);  // shards in name order; a split column inside is ignored
  CHECK(train.examples[0].text == "a");
  CHECK(train.examples[1].summary == "2");
  CHECK(train.examples[2].text == "c");
  REQUIRE(raw.split("test").examples.size() == 1);
  CHECK(raw.split("test").examples[0].text == "d");
  CHECK(raw.found_splits ==
        std::map<std::string, int64_t>{{"test", 1}, {"train", 3}, {"validation", -1}});
  CHECK(raw.files.size() == 3);

  write_file_bytes(folder.file("one.csv"), "t,s,split\na,1,test\nb,2,\nc,3,other\n");
  raw = load_raw_dataset(folder.file("one.csv"), options);
  CHECK(raw.split("train").examples.size() == 1);  // the blank cell: the default split
  CHECK(raw.split("train").examples[0].text == "b");
  CHECK(raw.split("test").examples.size() == 1);
  CHECK(raw.found_splits.at("other") == 1);

  CHECK(split_of_file_name("validation.ndjson") == "validation");
  CHECK(split_of_file_name("train-00000-of-00003.csv") == "train");
  CHECK(split_of_file_name("README.md") == "");
  CHECK_THROWS_WITH(load_raw_dataset(folder.file("one.txt"), options),
                    (folder.file("one.txt") + ": no such file or folder (--dataset_path)").c_str());
}

TEST_CASE("cut_oversized_field: cuts at the last whitespace, else at a character boundary") {
  std::string text = "alpha beta gamma";
  CHECK(!cut_oversized_field(text, 16));
  CHECK(cut_oversized_field(text, 13));
  CHECK(text == "alpha beta");
  std::string word = "\xC3\xA9\xC3\xA9\xC3\xA9";  // "ééé": 6 bytes, no whitespace
  CHECK(cut_oversized_field(word, 3));
  CHECK(word == "\xC3\xA9");  // not half a character
}

// ---- bad input ---------------------------------------------------------------------------------

TEST_CASE("prepare: a missing column names the column, the file and the line") {
  TempFolder folder("prepare_missing");
  PrepareOptions options = options_for(kJsonl, folder.file("data"));
  options.text_column = "articel";
  CHECK(error_of(options) ==
        kJsonl +
            " line 1: missing column 'articel' (the row has 'id', 'article', 'highlights', "
            "'split')");
  make_csv_folder(folder.file("csv"));
  options.dataset_path = folder.file("csv");
  CHECK(error_of(options) == folder.file("csv") +
                                 "/train.csv line 1: missing column 'articel' (the header has: "
                                 "'article', 'highlights')");
  CHECK(!fs::exists(folder.file("data")));
}

TEST_CASE("prepare: invalid JSON and CSV are errors with line numbers, or skipped and counted") {
  TempFolder folder("prepare_invalid");
  const std::vector<std::string> lines = jsonl_lines();
  write_file_bytes(folder.file("bad.jsonl"),
                   lines[0] + "\n" + lines[1] + "\n{\"article\": oops}\n" + lines[400] + "\n");
  PrepareOptions options = options_for(folder.file("bad.jsonl"), folder.file("data"));
  CHECK(error_of(options).rfind(folder.file("bad.jsonl") + " line 3: invalid JSON: ", 0) == 0);
  options.skip_invalid = true;
  const std::string printed = run(options);
  CHECK(printed.find("invalid rows skipped 1,") != std::string::npos);
  CHECK(printed.find("    skipped: " + folder.file("bad.jsonl") + " line 3: invalid JSON: ") !=
        std::string::npos);
  CHECK(TokenDataset::open(folder.file("data")).metadata().invalid_rows_skipped == 1);
  CHECK(TokenDataset::open(folder.file("data")).split("train").rows() == 2);

  fs::create_directories(folder.file("csv"));
  write_file_bytes(folder.file("csv/train.csv"), "article,highlights\na,b\n\"c\"d,e\nf,g\n");
  write_file_bytes(folder.file("csv/test.csv"), "article,highlights\nh,i\n");
  options = options_for(folder.file("csv"), folder.file("data_csv"));
  options.eval_split = "test";
  CHECK(error_of(options) ==
        folder.file("csv/train.csv") +
            " line 3: invalid CSV: unexpected character 'd' after the closing quote of field 1 "
            "(expected a comma or the end of the line)");
  options.skip_invalid = true;
  run(options);
  CHECK(TokenDataset::open(folder.file("data_csv")).split("train").rows() == 2);
}

TEST_CASE("prepare: invalid UTF-8 is an error with the byte offset, or skipped") {
  TempFolder folder("prepare_utf8");
  const std::vector<std::string> lines = jsonl_lines();
  const std::string first = lines[0] + "\n";
  write_file_bytes(
      folder.file("bad.jsonl"),
      first + "{\"article\": \"caf\xE9\", \"highlights\": \"x\"}\n" + lines[400] + "\n");
  PrepareOptions options = options_for(folder.file("bad.jsonl"), folder.file("data"));
  // "{\"article\": \"caf" is 16 bytes: the Latin-1 é sits 16 bytes into the second line.
  CHECK(error_of(options) == folder.file("bad.jsonl") + " line 2: invalid UTF-8 at byte offset " +
                                 std::to_string(first.size() + 16));
  options.skip_invalid = true;
  CHECK(run(options).find("invalid rows skipped 1,") != std::string::npos);
}

TEST_CASE("prepare: empty texts and summaries are counted and kept, as the recipe keeps them") {
  TempFolder folder("prepare_empty_rows");
  const std::vector<std::string> lines = jsonl_lines();
  write_file_bytes(folder.file("rows.jsonl"),
                   lines[0] +
                       "\n{\"article\": \"\", \"highlights\": \"\", \"split\": \"train\"}\n" +
                       lines[400] +
                       "\n{\"article\": \"x\", \"highlights\": \"\", \"split\": "
                       "\"validation\"}\n");
  const std::string printed = run(options_for(folder.file("rows.jsonl"), folder.file("data")));
  CHECK(printed.find("empty texts 1, empty summaries 1\n") != std::string::npos);
  const TokenDataset dataset = TokenDataset::open(folder.file("data"));
  CHECK(dataset.split("train").info().empty_text_rows == 1);
  CHECK(dataset.split("eval").info().empty_summary_rows == 1);
  // An empty article is the bare prompt (12 ids); an empty summary is </s> alone.
  CHECK(dataset.split("train").input(1).size() == 12);
  CHECK(dataset.split("train").labels(1).to_vector() == std::vector<int32_t>{1});
}

TEST_CASE("prepare: an empty dataset and a split without rows are clear errors") {
  TempFolder folder("prepare_empty");
  write_file_bytes(folder.file("empty.jsonl"), "\n\n");
  PrepareOptions options = options_for(folder.file("empty.jsonl"), folder.file("data"));
  CHECK(error_of(options) == folder.file("empty.jsonl") + ": the dataset has no rows");
  write_file_bytes(folder.file("invalid.jsonl"), "nope\n[]\n");
  options.dataset_path = folder.file("invalid.jsonl");
  options.skip_invalid = true;
  CHECK(error_of(options).rfind(folder.file("invalid.jsonl") +
                                    ": the dataset has no rows; 2 invalid rows were skipped, the "
                                    "first: " +
                                    folder.file("invalid.jsonl") + " line 1: invalid JSON",
                                0) == 0);

  options = options_for(kJsonl, folder.file("data"));
  options.eval_split = "test";
  CHECK(error_of(options) ==
        kJsonl +
            ": the eval split 'test' has no rows (splits found: 'train' (400 rows), "
            "'validation' (1000 rows)); name it with --eval_split, or carve one out of the "
            "training split with --eval_fraction F");
  options.train_split = "training";
  CHECK(error_of(options).find("the training split 'training' has no rows") != std::string::npos);
  options.eval_split = "training";
  CHECK(error_of(options) ==
        "--eval_split and --train_split both name 'training'; pass "
        "--eval_fraction F to carve an eval split out of the training rows");
  CHECK(!fs::exists(folder.file("data")));
}

TEST_CASE(
    "prepare: an existing output folder is refused unless --overwrite, and only replaced "
    "when it is a dataset") {
  TempFolder folder("prepare_existing");
  write_jsonl_subset(folder.file("rows.jsonl"), {{0, 5}, {400, 405}});
  fs::create_directories(folder.file("data"));
  write_file_bytes(folder.file("data/notes.txt"), "keep me");
  PrepareOptions options = options_for(folder.file("rows.jsonl"), folder.file("data"));
  CHECK(error_of(options) ==
        folder.file("data") + ": the output folder exists; pass --overwrite to replace it");
  options.overwrite = true;
  CHECK(error_of(options) ==
        folder.file("data") +
            ": refusing to replace a folder that is neither empty nor a dataset written by t5zero "
            "prepare (no metadata.json of format 't5zero-tokenized-dataset')");
  CHECK(read_file_bytes(folder.file("data/notes.txt")) == "keep me");
  fs::remove(folder.file("data/notes.txt"));
  run(options);  // an empty folder may be replaced
  run(options);  // and so may a dataset
  CHECK(TokenDataset::open(folder.file("data")).split("eval").rows() == 5);
}

TEST_CASE("prepare: a row far longer than any sane limit is cut, not a crash") {
  TempFolder folder("prepare_huge");
  std::string article;
  while (article.size() < 3 * kMaxFieldBytes) article += "word ";
  write_file_bytes(folder.file("rows.jsonl"),
                   "{\"article\": \"" + article + "\", \"highlights\": \"" + article +
                       "\", \"split\": \"train\"}\n{\"article\": \"a\", \"highlights\": \"b\", "
                       "\"split\": \"validation\"}\n");
  const std::string printed = run(options_for(folder.file("rows.jsonl"), folder.file("data")));
  CHECK(printed.find("oversized fields cut 2\n") != std::string::npos);
  const TokenDataset dataset = TokenDataset::open(folder.file("data"));
  CHECK(dataset.metadata().oversized_fields == 2);
  const std::vector<int32_t> input = dataset.split("train").input(0).to_vector();
  CHECK(input.size() == 512);
  CHECK(input.back() == 1);
  CHECK(dataset.split("train").info().truncated_inputs == 1);
}

// ---- the reader refuses what it cannot trust
// -----------------------------------------------------

TEST_CASE("token dataset reader: version, sizes, bounds and checksums are validated") {
  TempFolder folder("prepare_corrupt");
  write_jsonl_subset(folder.file("rows.jsonl"), {{0, 4}, {400, 404}});
  const std::string good = folder.file("good");
  run(options_for(folder.file("rows.jsonl"), good));
  const TokenDataset dataset = TokenDataset::open(good, true);
  CHECK(dataset.split("train").rows() == 4);
  CHECK_THROWS_WITH(dataset.split("test"), (good + ": no split 'test' (the dataset has: train, "
                                                   "eval)")
                                               .c_str());
  CHECK_THROWS_WITH(dataset.split("train").input(4), "split 'train': row 4 is outside [0, 4)");

  // Each case: a fresh copy, one change, the message expected.
  auto corrupted = [&](const std::string& name, auto&& change) {
    const std::string dir = folder.file(name);
    fs::copy(good, dir, fs::copy_options::recursive);
    change(dir);
    return dir;
  };
  auto open_error = [](const std::string& dir, bool verify = false) {
    try {
      TokenDataset::open(dir, verify);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };

  const std::string newer = corrupted("newer", [](const std::string& dir) {
    std::string json = read_file_bytes(dir + "/metadata.json");
    json.replace(json.find("\"version\": 1"), 12, "\"version\": 2");
    write_file_bytes(dir + "/metadata.json", json);
  });
  CHECK(open_error(newer) == newer +
                                 "/metadata.json: format version 2 was written by a newer t5zero; "
                                 "this build reads version 1 (run t5zero prepare again or update)");

  const std::string short_file = corrupted("short", [](const std::string& dir) {
    const std::string ids = read_file_bytes(dir + "/train/input_ids.bin");
    write_file_bytes(dir + "/train/input_ids.bin", ids.substr(0, ids.size() - 2));
  });
  const int64_t count =
      static_cast<int64_t>(read_file_bytes(good + "/train/input_ids.bin").size()) / 2;
  CHECK(open_error(short_file) ==
        short_file + "/train/input_ids.bin: expected " + std::to_string(2 * count) + " bytes (" +
            std::to_string(count) + " × uint16 per metadata.json), found " +
            std::to_string(2 * count - 2));

  const std::string out_of_range = corrupted("range", [](const std::string& dir) {
    std::string ids = read_file_bytes(dir + "/eval/input_ids.bin");
    ids[6] = '\xFF';  // the fourth id of row 0 becomes >= 0xFF00, beyond the 32100 ids
    ids[7] = '\xFF';
    write_file_bytes(dir + "/eval/input_ids.bin", ids);
  });
  CHECK(open_error(out_of_range) ==
        out_of_range + "/eval row 0: input id 65535 at position 3 is out of bounds");

  const std::string swapped = corrupted("swapped", [](const std::string& dir) {
    std::string ids = read_file_bytes(dir + "/train/labels.bin");
    std::swap(ids[0], ids[2]);  // two in-range ids trade places: only the checksum notices
    std::swap(ids[1], ids[3]);
    write_file_bytes(dir + "/train/labels.bin", ids);
  });
  CHECK(open_error(swapped) == "no error");
  CHECK(open_error(swapped, true).rfind(swapped + "/train/labels.bin: sha256 ", 0) == 0);

  const std::string offsets = corrupted("offsets", [](const std::string& dir) {
    std::string bytes = read_file_bytes(dir + "/train/label_offsets.bin");
    bytes[8] = '\xFF';  // offset 1 far beyond the labels
    bytes[9] = '\x7F';
    write_file_bytes(dir + "/train/label_offsets.bin", bytes);
  });
  CHECK(open_error(offsets) ==
        offsets + "/train row 0: offsets decrease or run past the end of the ids");

  const std::string unfinished =
      corrupted("unfinished", [](const std::string& dir) { fs::remove(dir + "/metadata.json"); });
  CHECK(open_error(unfinished) ==
        unfinished +
            ": no metadata.json (not a dataset written by t5zero prepare, or an "
            "unfinished one)");

  const std::string foreign = corrupted("foreign", [](const std::string& dir) {
    write_file_bytes(dir + "/metadata.json", "{\"format\": \"arrow\"}");
  });
  CHECK(open_error(foreign) == foreign +
                                   "/metadata.json: key 'format': expected "
                                   "'t5zero-tokenized-dataset', got 'arrow' (not a dataset "
                                   "written by t5zero prepare)");
}
