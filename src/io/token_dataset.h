// The tokenized dataset on disk (docs/dataset_format.md): what `t5zero prepare` writes and what
// training reads. A folder holds metadata.json and, per split, five little-endian arrays that
// can be memory-mapped as they are (numpy.memmap reads them too):
//
//   <split>/input_ids.bin      uint16 (vocabulary <= 65536) or int32: the rows' input ids
//   <split>/input_offsets.bin  uint64 × (rows + 1): row r is ids[offsets[r], offsets[r + 1])
//   <split>/input_lengths.bin  uint32 × rows: real tokens of row r (its attention mask)
//   <split>/labels.bin         uint16, or int32 when padded with -100: the rows' label ids
//   <split>/label_offsets.bin  uint64 × (rows + 1)
//
// The writer builds the folder under a temporary name and renames it when complete. The reader
// checks the format version, every array's size against the metadata, and every offset and id
// against its bounds before anything is used, so training can trust what it reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace t5zero {

class MappedFile;

inline constexpr const char* kTokenDatasetFormat = "t5zero-tokenized-dataset";
inline constexpr int64_t kTokenDatasetVersion = 1;
inline constexpr int32_t kLabelPadId = -100;  // as the recipe: padded label positions are ignored

enum class TokenDtype { uint16, int32, uint32, uint64 };
const char* token_dtype_name(TokenDtype dtype);
size_t token_dtype_size(TokenDtype dtype);

// Per split: where its rows came from and what happened to them.
struct TokenSplitInfo {
  std::string name;          // "train" or "eval"
  std::string source_split;  // the input's split it came from ("train", "test", "validation")
  int64_t rows = 0;
  int64_t input_tokens = 0;  // real tokens, padding excluded
  int64_t label_tokens = 0;
  int64_t truncated_inputs = 0;  // rows whose input was cut to the input truncation length
  int64_t truncated_labels = 0;  // rows whose summary was cut to max_target_length
  int64_t empty_text_rows = 0;
  int64_t empty_summary_rows = 0;
};

// metadata.json, field by field (docs/dataset_format.md explains each).
struct TokenDatasetMetadata {
  int64_t version = kTokenDatasetVersion;
  std::string command_line;
  // The input.
  std::string dataset_path;
  std::vector<std::string> source_files;
  std::string text_column;
  std::string summary_column;
  double eval_fraction = 0.0;
  int64_t seed = 0;
  int64_t invalid_rows_skipped = 0;
  int64_t oversized_fields = 0;
  // The tokenizer.
  std::string tokenizer_path;
  std::vector<std::pair<std::string, std::string>> tokenizer_sha256;  // file name, hex digest
  int64_t vocab_size = 0;
  int64_t pad_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t model_max_length = 512;
  // The recipe's numbers and what was done with them.
  std::string prompt_template;
  int64_t prompt_length = 0;
  int64_t max_input_length = 0;  // model_max_length - prompt_length
  int64_t max_source_length = 0;
  std::string max_source_length_rule;  // "auto" or "fixed"
  int64_t max_target_length = 0;
  std::string max_target_length_rule;   // "p95", "auto" or "fixed"
  int64_t input_truncation_length = 0;  // inputs keep at most this many ids (</s> last)
  std::string padding;                  // "longest" (unpadded rows) or "max_length"
  int64_t label_pad_id = kLabelPadId;
  std::vector<TokenSplitInfo> splits;
};

// One split's rows as prepare builds them; row r of inputs is
// input_ids[input_offsets[r], input_offsets[r + 1]).
struct TokenSplitArrays {
  std::vector<int32_t> input_ids;
  std::vector<uint64_t> input_offsets{0};
  std::vector<uint32_t> input_lengths;
  std::vector<int32_t> labels;
  std::vector<uint64_t> label_offsets{0};
};

// Writes the dataset folder `dir`: built as a sibling "<dir>.tmp-<pid>" and renamed into place
// when complete. An existing `dir` is refused unless `overwrite`, and even then only when it is
// empty or a dataset this format wrote (so a mistyped path cannot wipe unrelated files).
// `splits[i]` holds the arrays of `metadata.splits[i]`.
void write_token_dataset(const std::string& dir, const TokenDatasetMetadata& metadata,
                         const std::vector<TokenSplitArrays>& splits, bool overwrite);

// The checks write_token_dataset makes on an existing `dir`, for callers that want to fail before
// doing the work.
void check_output_folder(const std::string& dir, bool overwrite);

// A row's ids, viewed in place in the mapped file.
class TokenIds {
 public:
  TokenIds(const void* data, int64_t size, TokenDtype dtype)
      : data_(data), size_(size), dtype_(dtype) {}
  int64_t size() const { return size_; }
  int32_t operator[](int64_t i) const {
    return dtype_ == TokenDtype::uint16 ? static_cast<const uint16_t*>(data_)[i]
                                        : static_cast<const int32_t*>(data_)[i];
  }
  std::vector<int32_t> to_vector() const;

 private:
  const void* data_;
  int64_t size_;
  TokenDtype dtype_;
};

class TokenSplit {
 public:
  const TokenSplitInfo& info() const { return info_; }
  const std::string& name() const { return info_.name; }
  int64_t rows() const { return info_.rows; }
  // Row r's input ids as stored: padded to the input truncation length under max_length padding.
  TokenIds input(int64_t row) const;
  // Real (unpadded) tokens of row r's input: its attention mask is input_length ones.
  int64_t input_length(int64_t row) const;
  // Row r's label ids as stored: under max_length padding, padded with -100.
  TokenIds labels(int64_t row) const;

 private:
  friend class TokenDataset;
  struct Array {
    std::shared_ptr<MappedFile> file;
    TokenDtype dtype = TokenDtype::int32;
    int64_t count = 0;
    const void* data() const;
  };
  void check_row(int64_t row) const;

  TokenSplitInfo info_;
  Array input_ids_, input_offsets_, input_lengths_, labels_, label_offsets_;
};

class TokenDataset {
 public:
  // Opens and validates the dataset folder `dir`; errors name the file and what is wrong.
  // verify_checksums also recomputes every array's sha256 against metadata.json.
  static TokenDataset open(const std::string& dir, bool verify_checksums = false);

  const TokenDatasetMetadata& metadata() const { return metadata_; }
  const std::vector<TokenSplit>& splits() const { return splits_; }
  bool has_split(const std::string& name) const;
  // The split `name`; an error naming the splits there are otherwise.
  const TokenSplit& split(const std::string& name) const;

 private:
  std::string dir_;
  TokenDatasetMetadata metadata_;
  std::vector<TokenSplit> splits_;
};

}  // namespace t5zero
