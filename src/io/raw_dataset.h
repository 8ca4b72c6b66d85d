// A raw summarization dataset: (text, summary) pairs per split, read from a JSONL or CSV file or
// from a folder of such files named by split. Column names are the caller's (article/highlights,
// dialogue/summary, document/summary, ...).
//
// - A file: rows go to the split named in their split column when the file has one and the value
//   is not empty, otherwise to `default_split`.
// - A folder: each file `<split>.jsonl|.json|.ndjson|.csv`, or a shard `<split>-<anything>.<ext>`,
//   holds rows of that split (shards in name order); a split column inside is ignored.
// Only the splits asked for are kept; the rows of others are counted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace t5zero {

// A text or summary longer than this is cut (at the last whitespace before it) rather than
// handed whole to the tokenizer: 1 MiB is thousands of times the 512 tokens a T5 input keeps, so
// the kept tokens do not change, and a pathological row cannot exhaust memory or time.
inline constexpr size_t kMaxFieldBytes = size_t{1} << 20;

struct RawDatasetOptions {
  std::string text_column = "article";
  std::string summary_column = "highlights";
  std::string split_column = "split";
  std::vector<std::string> splits;      // the splits to keep, e.g. {"train", "test"}
  std::string default_split = "train";  // the split of a file's rows when it has no split column
  bool skip_invalid = false;            // count malformed rows instead of failing on the first
  size_t max_field_bytes = kMaxFieldBytes;
};

struct RawExample {
  std::string text;
  std::string summary;
};

struct RawSplit {
  std::string name;
  std::vector<RawExample> examples;
  int64_t empty_text = 0;     // rows whose text is ""
  int64_t empty_summary = 0;  // rows whose summary is ""
};

struct RawDataset {
  std::vector<RawSplit> splits;  // the kept splits, in the order asked for (a split may be empty)
  // Every split found, with its row count (-1: a folder's file that was not read).
  std::map<std::string, int64_t> found_splits;
  std::vector<std::string> files;             // the files read, in reading order
  int64_t invalid_rows = 0;                   // skipped with skip_invalid
  std::vector<std::string> invalid_messages;  // the first few of them
  int64_t oversized_fields = 0;               // texts or summaries cut at max_field_bytes

  // The kept split `name`; an error if it was not asked for.
  const RawSplit& split(const std::string& name) const;
  RawSplit& split(const std::string& name);
};

// Reads `path` (a .jsonl/.json/.ndjson or .csv file, or a folder of them). Errors name the file
// and line (see jsonl_reader.h, csv_reader.h).
RawDataset load_raw_dataset(const std::string& path, const RawDatasetOptions& options);

// The split a folder's file holds: "train.jsonl" and "train-00000-of-00002.csv" → "train"; ""
// when the file is not a dataset file (another extension).
std::string split_of_file_name(const std::string& file_name);

// Cuts `text` to at most `max_bytes` at the last ASCII whitespace (or, with none, at a UTF-8
// character boundary); returns whether it cut.
bool cut_oversized_field(std::string& text, size_t max_bytes);

}  // namespace t5zero
