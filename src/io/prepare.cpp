#include "io/prepare.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <mutex>
#include <thread>

#include "io/percentile.h"
#include "io/raw_dataset.h"
#include "io/sha256.h"
#include "io/tokenizer.h"
#include "tensor/error.h"

namespace t5zero {

namespace fs = std::filesystem;

namespace {

// The template split at its {input} fields: literal, input, literal, ..., literal.
std::vector<std::string> parse_prompt_template(std::string_view prompt_template) {
  std::vector<std::string> literals(1);
  for (size_t i = 0; i < prompt_template.size(); ++i) {
    const char c = prompt_template[i];
    if ((c == '{' || c == '}') && i + 1 < prompt_template.size() && prompt_template[i + 1] == c) {
      literals.back() += c;
      ++i;
    } else if (c == '{') {
      const size_t close = prompt_template.find('}', i);
      const std::string_view field =
          prompt_template.substr(i, close == std::string_view::npos ? close : close - i + 1);
      if (field != "{input}") {
        fail(
            "--prompt_template: the only field allowed is {input} (write {{ and }} for braces), "
            "found '",
            field, "'");
      }
      literals.emplace_back();
      i = close;
    } else if (c == '}') {
      fail("--prompt_template: a single '}' at offset ", i, " (write }} for a brace)");
    } else {
      literals.back() += c;
    }
  }
  if (literals.size() < 2) {
    fail("--prompt_template: the template has no {input} field, so every input would be the same");
  }
  return literals;
}

std::string fill_template(const std::vector<std::string>& literals, std::string_view input) {
  size_t size = literals.size() * input.size();
  for (const std::string& literal : literals) size += literal.size();
  std::string out;
  out.reserve(size);
  for (size_t i = 0; i < literals.size(); ++i) {
    if (i > 0) out += input;
    out += literals[i];
  }
  return out;
}

// One output split: its rows in memory until they are tokenized.
struct PreparedSplit {
  std::string name;          // "train" or "eval"
  std::string source_split;  // the input's split
  RawSplit raw;
};

struct EncodedRow {
  std::vector<int32_t> input;  // templated text, truncated to the input truncation length
  bool input_truncated = false;
  std::vector<int32_t> summary;  // summary ids, at most summary_limit + 1 of them
};

// "done/total rows, rate, ETA" on one line, redrawn at most ten times a second.
class ProgressLine {
 public:
  ProgressLine(std::ostream& out, bool enabled, int64_t total)
      : out_(out), enabled_(enabled), total_(total), start_(Clock::now()) {}

  void update(int64_t done) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
    char eta[32] = "--:--";
    if (rate > 0) {
      const auto left = static_cast<int64_t>(static_cast<double>(total_ - done) / rate);
      std::snprintf(eta, sizeof eta, "%lld:%02lld", static_cast<long long>(left / 60),
                    static_cast<long long>(left % 60));
    }
    char line[160];
    std::snprintf(
        line, sizeof line, "\rtokenizing %lld/%lld rows (%.0f%%)  %.0f rows/s  ETA %s   ",
        static_cast<long long>(done), static_cast<long long>(total_),
        total_ > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total_) : 100.0, rate,
        eta);
    out_ << line;
    if (done >= total_) out_ << "\n";
    out_.flush();
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::ostream& out_;
  bool enabled_;
  int64_t total_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

std::string capitalized(std::string text) {
  if (!text.empty()) text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
  return text;
}

std::string describe_found_splits(const RawDataset& raw) {
  std::string out;
  for (const auto& [name, rows] : raw.found_splits) {
    out += out.empty() ? "" : ", ";
    out += rows < 0 ? "'" + name + "'" : "'" + name + "' (" + std::to_string(rows) + " rows)";
  }
  return out.empty() ? "none" : out;
}

std::string describe_invalid_rows(const RawDataset& raw) {
  if (raw.invalid_rows == 0) return "";
  return detail::concat("; ", raw.invalid_rows,
                        " invalid rows were skipped, the first: ", raw.invalid_messages.front());
}

// The splits to tokenize, train then eval; errors say which split is missing and what there is.
std::vector<PreparedSplit> select_splits(RawDataset& raw, const PrepareOptions& options) {
  auto require_rows = [&](const RawSplit& split, const char* role, const char* hint) {
    if (!split.examples.empty()) return;
    if (raw.found_splits.empty()) {
      fail(options.dataset_path, ": the dataset has no rows", describe_invalid_rows(raw));
    }
    fail(options.dataset_path, ": the ", role, " split '", split.name,
         "' has no rows (splits found: ", describe_found_splits(raw), ")",
         describe_invalid_rows(raw), "; ", hint);
  };
  std::vector<PreparedSplit> splits;
  RawSplit& train = raw.split(options.train_split);
  require_rows(train, "training", "name it with --train_split");
  if (options.eval_fraction <= 0.0) {
    RawSplit& evaluation = raw.split(options.eval_split);
    require_rows(evaluation, "eval",
                 "name it with --eval_split, or carve one out of the training split with "
                 "--eval_fraction F");
    splits.push_back({"train", options.train_split, std::move(train)});
    splits.push_back({"eval", options.eval_split, std::move(evaluation)});
    return splits;
  }
  const std::vector<int64_t> picked = pick_eval_rows(static_cast<int64_t>(train.examples.size()),
                                                     options.eval_fraction, options.seed);
  RawSplit kept{options.train_split, {}, 0, 0};
  RawSplit carved{options.train_split, {}, 0, 0};
  size_t next = 0;
  for (size_t r = 0; r < train.examples.size(); ++r) {
    const bool is_eval = next < picked.size() && picked[next] == static_cast<int64_t>(r);
    next += is_eval;
    RawSplit& to = is_eval ? carved : kept;
    to.empty_text += train.examples[r].text.empty();
    to.empty_summary += train.examples[r].summary.empty();
    to.examples.push_back(std::move(train.examples[r]));
  }
  if (kept.examples.empty()) {
    fail(options.dataset_path, ": --eval_fraction ", options.eval_fraction, " of ",
         train.examples.size(), " rows leaves no rows for training");
  }
  splits.push_back({"train", options.train_split, std::move(kept)});
  splits.push_back({"eval", options.train_split, std::move(carved)});
  return splits;
}

// sha256 of each tokenizer file present, by file name: which tokenizer made the ids.
std::vector<std::pair<std::string, std::string>> tokenizer_digests(const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> digests;
  for (const char* name :
       {"special_tokens_map.json", "spiece.model", "tokenizer.json", "tokenizer_config.json"}) {
    const fs::path path = fs::path(dir) / name;
    if (fs::is_regular_file(path)) digests.emplace_back(name, sha256_file_hex(path.string()));
  }
  return digests;
}

std::string format_length(double value) {
  char text[32];
  if (value == std::floor(value)) {
    std::snprintf(text, sizeof text, "%.0f", value);
  } else {
    std::snprintf(text, sizeof text, "%.1f", value);
  }
  return text;
}

// "p50 60  p90 78  p95 81  p99 95  max 112" of a split's stored lengths.
std::string length_percentiles(std::vector<int64_t> lengths) {
  std::sort(lengths.begin(), lengths.end());
  std::string out;
  for (double q : {50.0, 90.0, 95.0, 99.0}) {
    out += "p" + format_length(q) + " " + format_length(numpy_percentile_sorted(lengths, q)) + "  ";
  }
  return out + "max " + std::to_string(lengths.back());
}

std::string percent(int64_t part, int64_t whole) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f%%",
                whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0);
  return text;
}

// What each row is tokenized against.
struct RowLimits {
  bool scan_sources = true;      // auto max source length: find the longest text
  int64_t max_input_length = 0;  // the scan's cap: model_max_length − prompt length
  int64_t input_limit = 0;       // inputs keep at most this many ids
  int64_t summary_limit = 0;     // summaries keep up to this many ids before the target cut
};

struct TokenizedRows {
  std::vector<EncodedRow> rows;  // the splits' rows, one after the other
  int64_t longest_source = 0;    // capped at max_input_length
  int threads = 1;
  double seconds = 0.0;
};

// Tokenizes every row of `splits` on `num_threads` threads (<= 0: all), updating `progress`.
// Rows land at their index, so the result does not depend on the thread count.
TokenizedRows tokenize_rows(const T5Tokenizer& tokenizer, const std::vector<PreparedSplit>& splits,
                            const std::vector<std::string>& literals, const RowLimits& limits,
                            int num_threads, ProgressLine& progress) {
  std::vector<const RawExample*> examples;
  for (const PreparedSplit& split : splits) {
    for (const RawExample& example : split.raw.examples) examples.push_back(&example);
  }
  const auto total = static_cast<int64_t>(examples.size());
  TokenizedRows result;
  result.rows.resize(examples.size());
  std::atomic<int64_t> longest_source{0};
  std::atomic<bool> source_capped{false};
  std::atomic<int64_t> next_row{0}, rows_done{0};
  std::atomic<bool> stop{false};
  std::exception_ptr error;
  std::mutex error_mutex;

  auto encode_row = [&](size_t index) {
    const RawExample& example = *examples[index];
    EncodedRow& row = result.rows[index];
    // Only the longest text counts, and only up to the max input length: once one text reaches
    // it, the rest need not be tokenized a second time.
    if (limits.scan_sources && !source_capped.load(std::memory_order_relaxed)) {
      const auto length =
          static_cast<int64_t>(tokenizer.encode(example.text, limits.max_input_length).size());
      int64_t seen = longest_source.load();
      while (length > seen && !longest_source.compare_exchange_weak(seen, length)) {
      }
      if (length >= limits.max_input_length) source_capped = true;
    }
    // One id past each limit tells whether the limit cut anything.
    row.input = tokenizer.encode(fill_template(literals, example.text), limits.input_limit + 1);
    row.input_truncated = static_cast<int64_t>(row.input.size()) > limits.input_limit;
    truncate_keeping_last(row.input, limits.input_limit);
    row.summary = tokenizer.encode(example.summary, limits.summary_limit + 1);
  };
  auto worker = [&] {
    constexpr int64_t kChunk = 16;
    while (!stop) {
      const int64_t begin = next_row.fetch_add(kChunk);
      if (begin >= total) return;
      const int64_t end = std::min(total, begin + kChunk);
      for (int64_t index = begin; index < end; ++index) {
        try {
          encode_row(static_cast<size_t>(index));
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          stop = true;
          return;
        }
      }
      rows_done += end - begin;
    }
  };

  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  result.threads = static_cast<int>(
      std::min<int64_t>(num_threads > 0 ? num_threads : hardware, std::max<int64_t>(1, total)));
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < result.threads; ++t) pool.emplace_back(worker);
  while (rows_done.load() < total && !stop) {
    progress.update(rows_done.load());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (std::thread& thread : pool) thread.join();
  if (error) std::rethrow_exception(error);
  progress.update(total);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.longest_source = std::min(longest_source.load(), limits.max_input_length);
  return result;
}

// The max target length by its rule, over every row's summary length truncated at
// model_max_length (as the recipe's tokenizer(..., truncation=True) gives it).
int64_t max_target_length_of(const std::vector<EncodedRow>& rows, const PrepareOptions& options,
                             int64_t model_max_length) {
  if (options.target_rule == TargetLengthRule::fixed) return options.max_target_length;
  std::vector<int64_t> lengths;
  lengths.reserve(rows.size());
  for (const EncodedRow& row : rows) {
    lengths.push_back(std::min(static_cast<int64_t>(row.summary.size()), model_max_length));
  }
  if (options.target_rule == TargetLengthRule::longest) {
    return *std::max_element(lengths.begin(), lengths.end());
  }
  return static_cast<int64_t>(numpy_percentile(std::move(lengths), 95.0));
}

// One split's rows concatenated (and padded under max_length), releasing each row as it goes;
// fills `info`'s token and truncation counts and returns the stored lengths in `input_lengths`
// and `label_lengths` for the summary.
TokenSplitArrays build_split_arrays(EncodedRow* rows, int64_t input_limit,
                                    int64_t max_target_length, bool pad, int32_t pad_id,
                                    TokenSplitInfo& info, std::vector<int64_t>& input_lengths,
                                    std::vector<int64_t>& label_lengths) {
  TokenSplitArrays split;
  for (int64_t r = 0; r < info.rows; ++r) {
    EncodedRow& row = rows[r];
    const auto length = static_cast<int64_t>(row.input.size());
    split.input_ids.insert(split.input_ids.end(), row.input.begin(), row.input.end());
    if (pad) split.input_ids.resize(split.input_ids.size() + (input_limit - length), pad_id);
    split.input_offsets.push_back(split.input_ids.size());
    split.input_lengths.push_back(static_cast<uint32_t>(length));
    info.truncated_inputs += row.input_truncated;
    info.input_tokens += length;
    input_lengths.push_back(length);

    info.truncated_labels += static_cast<int64_t>(row.summary.size()) > max_target_length;
    truncate_keeping_last(row.summary, max_target_length);
    const auto label_length = static_cast<int64_t>(row.summary.size());
    split.labels.insert(split.labels.end(), row.summary.begin(), row.summary.end());
    if (pad) {
      split.labels.resize(split.labels.size() + (max_target_length - label_length), kLabelPadId);
    }
    split.label_offsets.push_back(split.labels.size());
    info.label_tokens += label_length;
    label_lengths.push_back(label_length);
    row = EncodedRow{};
  }
  return split;
}

std::string split_summary(const TokenSplitInfo& info, const std::vector<int64_t>& input_lengths,
                          const std::vector<int64_t>& label_lengths) {
  return detail::concat("  ", info.name, " (", info.source_split, "): ", info.rows, " rows\n",
                        "    input tokens  ", length_percentiles(input_lengths), "  truncated ",
                        info.truncated_inputs, " (", percent(info.truncated_inputs, info.rows),
                        ")\n", "    label tokens  ", length_percentiles(label_lengths),
                        "  truncated ", info.truncated_labels, " (",
                        percent(info.truncated_labels, info.rows), ")\n", "    empty texts ",
                        info.empty_text_rows, ", empty summaries ", info.empty_summary_rows, "\n");
}

}  // namespace

std::string apply_prompt_template(std::string_view prompt_template, std::string_view input) {
  return fill_template(parse_prompt_template(prompt_template), input);
}

void truncate_keeping_last(std::vector<int32_t>& ids, int64_t max_length) {
  T5_CHECK(max_length >= 1, "truncation length must be at least 1, got ", max_length);
  if (static_cast<int64_t>(ids.size()) <= max_length) return;
  const int32_t last = ids.back();
  ids.resize(static_cast<size_t>(max_length));
  ids.back() = last;
}

std::vector<int64_t> pick_eval_rows(int64_t rows, double fraction, int64_t seed) {
  T5_CHECK(fraction > 0.0 && fraction < 1.0, "--eval_fraction must lie in (0, 1), got ", fraction);
  const auto count = static_cast<int64_t>(std::ceil(fraction * static_cast<double>(rows)));
  auto splitmix64 = [](uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
  };
  std::vector<std::pair<uint64_t, int64_t>> keyed(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    keyed[static_cast<size_t>(r)] = {
        splitmix64(splitmix64(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(r)), r};
  }
  std::sort(keyed.begin(), keyed.end());
  std::vector<int64_t> picked;
  for (int64_t i = 0; i < count; ++i) picked.push_back(keyed[static_cast<size_t>(i)].second);
  std::sort(picked.begin(), picked.end());
  return picked;
}

TokenDatasetMetadata prepare_dataset(const PrepareOptions& options, std::ostream& out,
                                     std::ostream& progress_out) {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<std::string> literals = parse_prompt_template(options.prompt_template);
  if (options.max_source_length && *options.max_source_length < 1) {
    fail("--max_source_length must be at least 1, got ", *options.max_source_length);
  }
  if (options.target_rule == TargetLengthRule::fixed && options.max_target_length < 1) {
    fail("--max_target_length must be at least 1, got ", options.max_target_length);
  }
  if (options.eval_fraction < 0.0 || options.eval_fraction >= 1.0) {
    fail("--eval_fraction must lie in (0, 1), got ", options.eval_fraction);
  }
  if (options.eval_fraction <= 0.0 && options.eval_split == options.train_split) {
    fail("--eval_split and --train_split both name '", options.train_split,
         "'; pass --eval_fraction F to carve an eval split out of the training rows");
  }
  check_output_folder(options.output_dir, options.overwrite);
  const T5Tokenizer tokenizer = T5Tokenizer::load(options.tokenizer_dir);

  RawDatasetOptions raw_options;
  raw_options.text_column = options.text_column;
  raw_options.summary_column = options.summary_column;
  raw_options.split_column = options.split_column;
  raw_options.splits = {options.train_split};
  if (options.eval_fraction <= 0.0) raw_options.splits.push_back(options.eval_split);
  raw_options.default_split = options.train_split;
  raw_options.skip_invalid = options.skip_invalid;
  RawDataset raw = load_raw_dataset(options.dataset_path, raw_options);
  std::vector<PreparedSplit> splits = select_splits(raw, options);

  // The recipe's numbers that do not need the data.
  const int64_t model_max_length = tokenizer.model_max_length();
  const int64_t prompt_length =
      static_cast<int64_t>(tokenizer.encode(fill_template(literals, "")).size());
  RowLimits limits;
  limits.scan_sources = !options.max_source_length.has_value();
  limits.max_input_length = model_max_length - prompt_length;
  if (limits.max_input_length < 1) {
    fail("--prompt_template: the template alone has ", prompt_length,
         " tokens, leaving no room for the input within model_max_length ", model_max_length);
  }
  limits.input_limit = options.max_source_length.value_or(model_max_length);
  limits.summary_limit = std::max(model_max_length, options.max_target_length);

  TokenizedRows tokenized = [&] {
    ProgressLine progress(
        progress_out, options.progress,
        static_cast<int64_t>(splits[0].raw.examples.size() + splits[1].raw.examples.size()));
    return tokenize_rows(tokenizer, splits, literals, limits, options.num_threads, progress);
  }();

  // The recipe's data-dependent numbers, over train + eval, printed as the recipe prints them.
  const int64_t max_source_length = options.max_source_length.value_or(tokenized.longest_source);
  const int64_t max_target_length = max_target_length_of(tokenized.rows, options, model_max_length);
  out << capitalized(options.train_split) << " dataset size: " << splits[0].raw.examples.size()
      << "\n";
  out << (options.eval_fraction > 0.0 ? std::string("Eval") : capitalized(options.eval_split))
      << " dataset size: " << splits[1].raw.examples.size() << "\n";
  out << "Prompt length: " << prompt_length << "\n";
  out << "Max input length: " << limits.max_input_length << "\n";
  out << "Max source length: " << max_source_length << "\n";
  out << "Max target length: " << max_target_length << "\n";

  TokenDatasetMetadata metadata;
  metadata.command_line = options.command_line;
  metadata.dataset_path = options.dataset_path;
  metadata.source_files = raw.files;
  metadata.text_column = options.text_column;
  metadata.summary_column = options.summary_column;
  metadata.eval_fraction = options.eval_fraction;
  metadata.seed = options.seed;
  metadata.invalid_rows_skipped = raw.invalid_rows;
  metadata.oversized_fields = raw.oversized_fields;
  metadata.tokenizer_path = options.tokenizer_dir;
  metadata.tokenizer_sha256 = tokenizer_digests(options.tokenizer_dir);
  metadata.vocab_size = tokenizer.vocab_size();
  metadata.pad_token_id = tokenizer.pad_id();
  metadata.eos_token_id = tokenizer.eos_id();
  metadata.model_max_length = model_max_length;
  metadata.prompt_template = options.prompt_template;
  metadata.prompt_length = prompt_length;
  metadata.max_input_length = limits.max_input_length;
  metadata.max_source_length = max_source_length;
  metadata.max_source_length_rule = limits.scan_sources ? "auto" : "fixed";
  metadata.max_target_length = max_target_length;
  metadata.max_target_length_rule = options.target_rule == TargetLengthRule::p95       ? "p95"
                                    : options.target_rule == TargetLengthRule::longest ? "auto"
                                                                                       : "fixed";
  metadata.input_truncation_length = limits.input_limit;
  const bool pad = options.padding == Padding::max_length;
  metadata.padding = pad ? "max_length" : "longest";

  std::vector<TokenSplitArrays> arrays;
  std::string summary;
  EncodedRow* next_rows = tokenized.rows.data();
  for (const PreparedSplit& split : splits) {
    TokenSplitInfo info;
    info.name = split.name;
    info.source_split = split.source_split;
    info.rows = static_cast<int64_t>(split.raw.examples.size());
    info.empty_text_rows = split.raw.empty_text;
    info.empty_summary_rows = split.raw.empty_summary;
    std::vector<int64_t> input_lengths, label_lengths;
    arrays.push_back(build_split_arrays(next_rows, limits.input_limit, max_target_length, pad,
                                        tokenizer.pad_id(), info, input_lengths, label_lengths));
    next_rows += info.rows;
    summary += split_summary(info, input_lengths, label_lengths);
    metadata.splits.push_back(info);
  }
  write_token_dataset(options.output_dir, metadata, arrays, options.overwrite);

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char timing[200];
  std::snprintf(
      timing, sizeof timing,
      "Tokenized %lld rows in %.2f s (%.0f rows/s, %d threads); %.2f s in all\n",
      static_cast<long long>(tokenized.rows.size()), tokenized.seconds,
      tokenized.seconds > 0 ? static_cast<double>(tokenized.rows.size()) / tokenized.seconds : 0.0,
      tokenized.threads, seconds);
  out << "Wrote " << options.output_dir << " (format version " << kTokenDatasetVersion
      << ", padding " << metadata.padding << ", inputs cut at " << limits.input_limit
      << " ids, labels at " << max_target_length << ")\n";
  out << summary;
  out << "  invalid rows skipped " << raw.invalid_rows << ", oversized fields cut "
      << raw.oversized_fields << "\n";
  for (const std::string& message : raw.invalid_messages) out << "    skipped: " << message << "\n";
  out << timing;
  return metadata;
}

}  // namespace t5zero
