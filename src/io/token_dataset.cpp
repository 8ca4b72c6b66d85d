#include "io/token_dataset.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>

#include "io/json.h"
#include "io/json_writer.h"
#include "io/mapped_file.h"
#include "io/sha256.h"
#include "tensor/error.h"

namespace t5zero {

namespace fs = std::filesystem;

// The arrays are written and mapped in the machine's byte order, which the format fixes as little.
static_assert(std::endian::native == std::endian::little, "the dataset format is little-endian");

const char* token_dtype_name(TokenDtype dtype) {
  switch (dtype) {
    case TokenDtype::uint16:
      return "uint16";
    case TokenDtype::int32:
      return "int32";
    case TokenDtype::uint32:
      return "uint32";
    case TokenDtype::uint64:
      return "uint64";
  }
  return "unknown";
}

size_t token_dtype_size(TokenDtype dtype) {
  switch (dtype) {
    case TokenDtype::uint16:
      return 2;
    case TokenDtype::int32:
      return 4;
    case TokenDtype::uint32:
      return 4;
    case TokenDtype::uint64:
      return 8;
  }
  return 0;
}

namespace {

constexpr const char* kArrayNames[] = {"input_ids", "input_offsets", "input_lengths", "labels",
                                       "label_offsets"};

std::string array_file(const std::string& split, const std::string& array) {
  return split + "/" + array + ".bin";
}

// ---- writing -------------------------------------------------------------------------------

// A file written with plain POSIX calls, its sha256 computed on the way, fsynced on close.
class ArrayFileWriter {
 public:
  explicit ArrayFileWriter(const fs::path& path) : path_(path.string()) {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(path_, ": cannot create: ", std::strerror(errno));
  }
  ~ArrayFileWriter() {
    if (fd_ >= 0) ::close(fd_);
  }
  ArrayFileWriter(const ArrayFileWriter&) = delete;
  ArrayFileWriter& operator=(const ArrayFileWriter&) = delete;

  void write(const void* data, size_t size) {
    hash_.update(data, size);
    const auto* bytes = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t written = ::write(fd_, bytes, size);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) fail(path_, ": write failed: ", std::strerror(errno));
      bytes += written;
      size -= static_cast<size_t>(written);
    }
  }

  std::string close() {
    if (::fsync(fd_) != 0) fail(path_, ": fsync failed: ", std::strerror(errno));
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(path_, ": close failed: ", std::strerror(errno));
    return hash_.hex_digest();
  }

 private:
  std::string path_;
  int fd_ = -1;
  Sha256 hash_;
};

struct WrittenArray {
  std::string name;
  TokenDtype dtype;
  int64_t count;
  std::string sha256;
};

template <typename T>
WrittenArray write_raw_array(const fs::path& folder, const std::string& split,
                             const std::string& name, const std::vector<T>& values,
                             TokenDtype dtype) {
  ArrayFileWriter out(folder / array_file(split, name));
  out.write(values.data(), values.size() * sizeof(T));
  return {name, dtype, static_cast<int64_t>(values.size()), out.close()};
}

// Token ids narrowed to uint16 chunk by chunk when they fit, else written as int32.
WrittenArray write_ids(const fs::path& folder, const std::string& split, const std::string& name,
                       const std::vector<int32_t>& ids, bool as_uint16) {
  if (!as_uint16) return write_raw_array(folder, split, name, ids, TokenDtype::int32);
  ArrayFileWriter out(folder / array_file(split, name));
  std::vector<uint16_t> chunk;
  constexpr size_t kChunk = size_t{1} << 20;
  for (size_t begin = 0; begin < ids.size(); begin += kChunk) {
    const size_t end = std::min(ids.size(), begin + kChunk);
    chunk.assign(ids.begin() + static_cast<ptrdiff_t>(begin),
                 ids.begin() + static_cast<ptrdiff_t>(end));
    out.write(chunk.data(), chunk.size() * sizeof(uint16_t));
  }
  return {name, TokenDtype::uint16, static_cast<int64_t>(ids.size()), out.close()};
}

void fsync_folder(const fs::path& folder) {
  const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(folder.string(), ": cannot open folder: ", std::strerror(errno));
  ::fsync(fd);
  ::close(fd);
}

void write_split_info(JsonWriter& json, const TokenSplitInfo& info) {
  json.key("source_split").value(info.source_split);
  json.key("rows").value(info.rows);
  json.key("input_tokens").value(info.input_tokens);
  json.key("label_tokens").value(info.label_tokens);
  json.key("truncated_inputs").value(info.truncated_inputs);
  json.key("truncated_labels").value(info.truncated_labels);
  json.key("empty_text_rows").value(info.empty_text_rows);
  json.key("empty_summary_rows").value(info.empty_summary_rows);
}

std::string metadata_json(const TokenDatasetMetadata& m,
                          const std::vector<std::vector<WrittenArray>>& arrays) {
  JsonWriter json(2);
  json.begin_object();
  json.key("format").value(kTokenDatasetFormat);
  json.key("version").value(m.version);
  json.key("command_line").value(m.command_line);
  json.key("source").begin_object();
  json.key("dataset_path").value(m.dataset_path);
  json.key("files").begin_array();
  for (const std::string& file : m.source_files) json.value(file);
  json.end_array();
  json.key("text_column").value(m.text_column);
  json.key("summary_column").value(m.summary_column);
  json.key("eval_fraction").value(m.eval_fraction);
  json.key("seed").value(m.seed);
  json.key("invalid_rows_skipped").value(m.invalid_rows_skipped);
  json.key("oversized_fields").value(m.oversized_fields);
  json.end_object();
  json.key("tokenizer").begin_object();
  json.key("path").value(m.tokenizer_path);
  json.key("sha256").begin_object();
  for (const auto& [file, digest] : m.tokenizer_sha256) json.key(file).value(digest);
  json.end_object();
  json.key("vocab_size").value(m.vocab_size);
  json.key("pad_token_id").value(m.pad_token_id);
  json.key("eos_token_id").value(m.eos_token_id);
  json.key("model_max_length").value(m.model_max_length);
  json.end_object();
  json.key("prompt_template").value(m.prompt_template);
  json.key("prompt_length").value(m.prompt_length);
  json.key("max_input_length").value(m.max_input_length);
  json.key("max_source_length").value(m.max_source_length);
  json.key("max_source_length_rule").value(m.max_source_length_rule);
  json.key("max_target_length").value(m.max_target_length);
  json.key("max_target_length_rule").value(m.max_target_length_rule);
  json.key("input_truncation_length").value(m.input_truncation_length);
  json.key("padding").value(m.padding);
  json.key("label_pad_id").value(m.label_pad_id);
  json.key("splits").begin_array();
  for (size_t s = 0; s < m.splits.size(); ++s) {
    json.begin_object();
    json.key("name").value(m.splits[s].name);
    write_split_info(json, m.splits[s]);
    json.key("arrays").begin_object();
    for (const WrittenArray& array : arrays[s]) {
      json.key(array.name).begin_object();
      json.key("file").value(array_file(m.splits[s].name, array.name));
      json.key("dtype").value(token_dtype_name(array.dtype));
      json.key("count").value(array.count);
      json.key("sha256").value(array.sha256);
      json.end_object();
    }
    json.end_object();
    json.end_object();
  }
  json.end_array();
  json.end_object();
  return json.text() + "\n";
}

// Removes a half-written temporary folder unless the write completed.
struct TemporaryFolder {
  fs::path path;
  bool keep = false;
  ~TemporaryFolder() {
    std::error_code ignored;
    if (!keep) fs::remove_all(path, ignored);
  }
};

bool is_split_name(const std::string& name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Whether `dir` may be replaced: it is empty, or its metadata.json says this format wrote it.
bool is_replaceable(const fs::path& dir) {
  if (fs::is_directory(dir) && fs::is_empty(dir)) return true;
  const fs::path metadata = dir / "metadata.json";
  if (!fs::is_regular_file(metadata)) return false;
  try {
    return JsonValue::parse_file(metadata.string()).get_string_or("format", "") ==
           kTokenDatasetFormat;
  } catch (const Error&) {
    return false;
  }
}

// ---- reading -------------------------------------------------------------------------------

TokenDtype parse_dtype(const JsonValue& value) {
  const std::string name = value.as_string();
  for (TokenDtype dtype :
       {TokenDtype::uint16, TokenDtype::int32, TokenDtype::uint32, TokenDtype::uint64}) {
    if (name == token_dtype_name(dtype)) return dtype;
  }
  value.fail_here("expected one of uint16, int32, uint32, uint64, got '", name, "'");
}

TokenSplitInfo read_split_info(const JsonValue& split) {
  TokenSplitInfo info;
  info.name = split.get_string("name");
  info.source_split = split.get_string("source_split");
  info.rows = split.get_int("rows");
  info.input_tokens = split.get_int("input_tokens");
  info.label_tokens = split.get_int("label_tokens");
  info.truncated_inputs = split.get_int("truncated_inputs");
  info.truncated_labels = split.get_int("truncated_labels");
  info.empty_text_rows = split.get_int("empty_text_rows");
  info.empty_summary_rows = split.get_int("empty_summary_rows");
  return info;
}

TokenDatasetMetadata read_metadata(const JsonValue& root) {
  TokenDatasetMetadata m;
  const std::string format = root.get_string_or("format", "");
  if (format != kTokenDatasetFormat) {
    root.fail_here("key 'format': expected '", kTokenDatasetFormat, "', got '", format,
                   "' (not a dataset written by t5zero prepare)");
  }
  m.version = root.get_int("version");
  if (m.version > kTokenDatasetVersion) {
    root.fail_here("format version ", m.version,
                   " was written by a newer t5zero; this build reads "
                   "version ",
                   kTokenDatasetVersion, " (run t5zero prepare again or update)");
  }
  if (m.version != kTokenDatasetVersion) {
    root.fail_here("unknown format version ", m.version, ", expected ", kTokenDatasetVersion);
  }
  m.command_line = root.get_string("command_line");
  const JsonValue source = root.at("source");
  m.dataset_path = source.get_string("dataset_path");
  for (const JsonValue& file : source.at("files").as_array()) {
    m.source_files.push_back(file.as_string());
  }
  m.text_column = source.get_string("text_column");
  m.summary_column = source.get_string("summary_column");
  m.eval_fraction = source.get_double("eval_fraction");
  m.seed = source.get_int("seed");
  m.invalid_rows_skipped = source.get_int("invalid_rows_skipped");
  m.oversized_fields = source.get_int("oversized_fields");
  const JsonValue tokenizer = root.at("tokenizer");
  m.tokenizer_path = tokenizer.get_string("path");
  for (const auto& [file, digest] : tokenizer.at("sha256").as_object()) {
    m.tokenizer_sha256.emplace_back(file, digest.as_string());
  }
  m.vocab_size = tokenizer.get_int("vocab_size");
  m.pad_token_id = tokenizer.get_int("pad_token_id");
  m.eos_token_id = tokenizer.get_int("eos_token_id");
  m.model_max_length = tokenizer.get_int("model_max_length");
  m.prompt_template = root.get_string("prompt_template");
  m.prompt_length = root.get_int("prompt_length");
  m.max_input_length = root.get_int("max_input_length");
  m.max_source_length = root.get_int("max_source_length");
  m.max_source_length_rule = root.get_string("max_source_length_rule");
  m.max_target_length = root.get_int("max_target_length");
  m.max_target_length_rule = root.get_string("max_target_length_rule");
  m.input_truncation_length = root.get_int("input_truncation_length");
  m.padding = root.get_string("padding");
  m.label_pad_id = root.get_int("label_pad_id");

  if (m.vocab_size < 1 || m.vocab_size > (int64_t{1} << 31) - 1) {
    root.fail_here("tokenizer.vocab_size ", m.vocab_size, " is outside [1, 2^31)");
  }
  for (int64_t id : {m.pad_token_id, m.eos_token_id}) {
    if (id < 0 || id >= m.vocab_size) {
      root.fail_here("special token id ", id, " is outside the vocabulary [0, ", m.vocab_size, ")");
    }
  }
  if (m.padding != "longest" && m.padding != "max_length") {
    root.fail_here("key 'padding': expected 'longest' or 'max_length', got '", m.padding, "'");
  }
  if (m.label_pad_id != kLabelPadId) {
    root.fail_here("key 'label_pad_id': expected ", kLabelPadId, ", got ", m.label_pad_id);
  }
  if (m.input_truncation_length < 1 || m.max_target_length < 1) {
    root.fail_here("input_truncation_length and max_target_length must be at least 1, got ",
                   m.input_truncation_length, " and ", m.max_target_length);
  }
  return m;
}

}  // namespace

// ---- writer ----------------------------------------------------------------------------------

void check_output_folder(const std::string& dir, bool overwrite) {
  const fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  if (!fs::exists(target)) return;
  if (!overwrite) fail(dir, ": the output folder exists; pass --overwrite to replace it");
  if (!is_replaceable(target)) {
    fail(dir,
         ": refusing to replace a folder that is neither empty nor a dataset written by "
         "t5zero prepare (no metadata.json of format '",
         kTokenDatasetFormat, "')");
  }
}

void write_token_dataset(const std::string& dir, const TokenDatasetMetadata& metadata,
                         const std::vector<TokenSplitArrays>& splits, bool overwrite) {
  T5_CHECK(metadata.splits.size() == splits.size(), "write_token_dataset: ", metadata.splits.size(),
           " split descriptions for ", splits.size(), " splits");
  check_output_folder(dir, overwrite);
  const fs::path target = fs::absolute(fs::path(dir)).lexically_normal();
  const bool exists = fs::exists(target);
  fs::create_directories(target.parent_path());
  const std::string pid = std::to_string(::getpid());
  TemporaryFolder temporary{fs::path(target.string() + ".tmp-" + pid)};
  fs::remove_all(temporary.path);
  fs::create_directory(temporary.path);

  const bool ids_fit_uint16 = metadata.vocab_size <= 65536;
  std::vector<std::vector<WrittenArray>> arrays;
  std::set<std::string> names;
  for (size_t s = 0; s < splits.size(); ++s) {
    const std::string& name = metadata.splits[s].name;
    T5_CHECK(is_split_name(name) && names.insert(name).second,
             "write_token_dataset: bad or repeated split name '", name, "'");
    const TokenSplitArrays& split = splits[s];
    T5_CHECK(split.input_offsets.size() == split.input_lengths.size() + 1 &&
                 split.label_offsets.size() == split.input_offsets.size() &&
                 static_cast<int64_t>(split.input_lengths.size()) == metadata.splits[s].rows,
             "write_token_dataset: split '", name, "' arrays disagree on the row count");
    fs::create_directory(temporary.path / name);
    const bool labels_fit_uint16 =
        ids_fit_uint16 &&
        std::none_of(split.labels.begin(), split.labels.end(), [](int32_t id) { return id < 0; });
    std::vector<WrittenArray> written;
    written.push_back(
        write_ids(temporary.path, name, "input_ids", split.input_ids, ids_fit_uint16));
    written.push_back(write_raw_array(temporary.path, name, "input_offsets", split.input_offsets,
                                      TokenDtype::uint64));
    written.push_back(write_raw_array(temporary.path, name, "input_lengths", split.input_lengths,
                                      TokenDtype::uint32));
    written.push_back(write_ids(temporary.path, name, "labels", split.labels, labels_fit_uint16));
    written.push_back(write_raw_array(temporary.path, name, "label_offsets", split.label_offsets,
                                      TokenDtype::uint64));
    fsync_folder(temporary.path / name);
    arrays.push_back(std::move(written));
  }
  ArrayFileWriter json(temporary.path / "metadata.json");
  const std::string text = metadata_json(metadata, arrays);
  json.write(text.data(), text.size());
  json.close();
  fsync_folder(temporary.path);

  if (exists) {
    const fs::path old(target.string() + ".old-" + pid);
    fs::remove_all(old);
    fs::rename(target, old);
    fs::rename(temporary.path, target);
    temporary.keep = true;
    fs::remove_all(old);
  } else {
    fs::rename(temporary.path, target);
    temporary.keep = true;
  }
  fsync_folder(target.parent_path());
}

// ---- reader ----------------------------------------------------------------------------------

std::vector<int32_t> TokenIds::to_vector() const {
  std::vector<int32_t> out(static_cast<size_t>(size_));
  for (int64_t i = 0; i < size_; ++i) out[static_cast<size_t>(i)] = (*this)[i];
  return out;
}

const void* TokenSplit::Array::data() const {
  return file ? file->data() : nullptr;
}

void TokenSplit::check_row(int64_t row) const {
  T5_CHECK(row >= 0 && row < info_.rows, "split '", info_.name, "': row ", row, " is outside [0, ",
           info_.rows, ")");
}

TokenIds TokenSplit::input(int64_t row) const {
  check_row(row);
  const auto* offsets = static_cast<const uint64_t*>(input_offsets_.data());
  const size_t item = token_dtype_size(input_ids_.dtype);
  return TokenIds(static_cast<const char*>(input_ids_.data()) + offsets[row] * item,
                  static_cast<int64_t>(offsets[row + 1] - offsets[row]), input_ids_.dtype);
}

int64_t TokenSplit::input_length(int64_t row) const {
  check_row(row);
  return static_cast<const uint32_t*>(input_lengths_.data())[row];
}

TokenIds TokenSplit::labels(int64_t row) const {
  check_row(row);
  const auto* offsets = static_cast<const uint64_t*>(label_offsets_.data());
  const size_t item = token_dtype_size(labels_.dtype);
  return TokenIds(static_cast<const char*>(labels_.data()) + offsets[row] * item,
                  static_cast<int64_t>(offsets[row + 1] - offsets[row]), labels_.dtype);
}

bool TokenDataset::has_split(const std::string& name) const {
  return std::any_of(splits_.begin(), splits_.end(),
                     [&](const TokenSplit& s) { return s.name() == name; });
}

const TokenSplit& TokenDataset::split(const std::string& name) const {
  std::string names;
  for (const TokenSplit& s : splits_) {
    if (s.name() == name) return s;
    names += (names.empty() ? "" : ", ") + s.name();
  }
  fail(dir_, ": no split '", name, "' (the dataset has: ", names, ")");
}

TokenDataset TokenDataset::open(const std::string& dir, bool verify_checksums) {
  TokenDataset dataset;
  dataset.dir_ = dir;
  const fs::path root(dir);
  if (!fs::is_directory(root)) fail(dir, ": no such dataset folder");
  const std::string metadata_path = (root / "metadata.json").string();
  if (!fs::is_regular_file(metadata_path)) {
    fail(dir, ": no metadata.json (not a dataset written by t5zero prepare, or an unfinished one)");
  }
  const JsonValue json = JsonValue::parse_file(metadata_path);
  dataset.metadata_ = read_metadata(json);
  const TokenDatasetMetadata& m = dataset.metadata_;
  const bool max_length = m.padding == "max_length";

  const std::vector<JsonValue> split_values = json.at("splits").as_array();
  if (split_values.empty()) json.fail_here("key 'splits': no splits");
  for (const JsonValue& split_value : split_values) {
    TokenSplit split;
    split.info_ = read_split_info(split_value);
    const std::string& name = split.info_.name;
    if (!is_split_name(name) || dataset.has_split(name)) {
      split_value.fail_here("bad or repeated split name '", name, "'");
    }
    if (split.info_.rows < 1) split_value.fail_here("split '", name, "' has no rows");
    const JsonValue arrays = split_value.at("arrays");
    TokenSplit::Array* targets[] = {&split.input_ids_, &split.input_offsets_, &split.input_lengths_,
                                    &split.labels_, &split.label_offsets_};
    for (size_t a = 0; a < 5; ++a) {
      const JsonValue array = arrays.at(kArrayNames[a]);
      const std::string expected_file = array_file(name, kArrayNames[a]);
      if (array.get_string("file") != expected_file) {
        array.fail_here("expected file '", expected_file, "', got '", array.get_string("file"),
                        "'");
      }
      TokenSplit::Array& target = *targets[a];
      target.dtype = parse_dtype(array.at("dtype"));
      target.count = array.get_int("count");
      const bool is_ids = a == 0 || a == 3;
      const TokenDtype required = a == 2 ? TokenDtype::uint32 : TokenDtype::uint64;
      if (is_ids ? (target.dtype != TokenDtype::uint16 && target.dtype != TokenDtype::int32)
                 : target.dtype != required) {
        array.fail_here("dtype ", token_dtype_name(target.dtype), " is not allowed for ",
                        kArrayNames[a]);
      }
      const std::string path = (root / expected_file).string();
      target.file = MappedFile::open(path);
      const uint64_t expected_bytes =
          static_cast<uint64_t>(target.count) * token_dtype_size(target.dtype);
      if (target.count < 0 || target.file->size() != expected_bytes) {
        fail(path, ": expected ", expected_bytes, " bytes (", target.count, " × ",
             token_dtype_name(target.dtype), " per metadata.json), found ", target.file->size());
      }
      if (verify_checksums) {
        Sha256 hash;
        hash.update(target.file->data(), target.file->size());
        const std::string digest = hash.hex_digest();
        if (digest != array.get_string("sha256")) {
          fail(path, ": sha256 ", digest, " differs from metadata.json's ",
               array.get_string("sha256"), " (the file changed after it was written)");
        }
      }
    }
    const int64_t rows = split.info_.rows;
    const std::string where = dir + "/" + name;
    if (split.input_offsets_.count != rows + 1 || split.label_offsets_.count != rows + 1 ||
        split.input_lengths_.count != rows) {
      fail(where, ": ", rows, " rows need ", rows + 1, " offsets and ", rows,
           " lengths; metadata.json lists ", split.input_offsets_.count, " input offsets, ",
           split.label_offsets_.count, " label offsets and ", split.input_lengths_.count,
           " lengths");
    }

    // Offsets, lengths and ids, row by row: after this every row accessor is in bounds.
    const auto* input_offsets = static_cast<const uint64_t*>(split.input_offsets_.data());
    const auto* label_offsets = static_cast<const uint64_t*>(split.label_offsets_.data());
    const auto* lengths = static_cast<const uint32_t*>(split.input_lengths_.data());
    for (const auto& [offsets, total, what] :
         {std::tuple{input_offsets, split.input_ids_.count, "input_offsets"},
          std::tuple{label_offsets, split.labels_.count, "label_offsets"}}) {
      if (offsets[0] != 0 || offsets[rows] != static_cast<uint64_t>(total)) {
        fail(where, "/", what, ".bin: offsets must run from 0 to ", total, ", found ", offsets[0],
             " to ", offsets[rows]);
      }
    }
    int64_t input_tokens = 0, label_tokens = 0;
    for (int64_t r = 0; r < rows; ++r) {
      auto row_error = [&](const auto&... parts) { fail(where, " row ", r, ": ", parts...); };
      if (input_offsets[r + 1] < input_offsets[r] || label_offsets[r + 1] < label_offsets[r] ||
          input_offsets[r + 1] > static_cast<uint64_t>(split.input_ids_.count) ||
          label_offsets[r + 1] > static_cast<uint64_t>(split.labels_.count)) {
        row_error("offsets decrease or run past the end of the ids");
      }
      const TokenIds input = split.input(r);
      const TokenIds labels = split.labels(r);
      const int64_t length = lengths[r];
      if (input.size() > m.input_truncation_length || labels.size() > m.max_target_length) {
        row_error("stored widths ", input.size(), " (input) and ", labels.size(),
                  " (labels) exceed the limits ", m.input_truncation_length, " and ",
                  m.max_target_length);
      }
      if (max_length &&
          (input.size() != m.input_truncation_length || labels.size() != m.max_target_length)) {
        row_error("max_length padding needs widths ", m.input_truncation_length, " and ",
                  m.max_target_length, ", found ", input.size(), " and ", labels.size());
      }
      if (length < 1 || length > input.size() || (!max_length && length != input.size())) {
        row_error("input length ", length, " does not fit the stored width ", input.size());
      }
      for (int64_t i = 0; i < input.size(); ++i) {
        const int32_t id = input[i];
        const bool ok = i < length ? id >= 0 && id < m.vocab_size : id == m.pad_token_id;
        if (!ok) row_error("input id ", id, " at position ", i, " is out of bounds");
      }
      if (input[length - 1] != m.eos_token_id) row_error("the input does not end with </s>");
      int64_t label_length = 0;
      while (label_length < labels.size() && labels[label_length] != kLabelPadId) {
        const int32_t id = labels[label_length];
        if (id < 0 || id >= m.vocab_size) {
          row_error("label id ", id, " at position ", label_length, " is out of bounds");
        }
        ++label_length;
      }
      for (int64_t i = label_length; i < labels.size(); ++i) {
        if (labels[i] != kLabelPadId) row_error("label id ", labels[i], " after the -100 padding");
      }
      if (label_length < 1 || labels[label_length - 1] != m.eos_token_id ||
          (!max_length && label_length != labels.size())) {
        row_error("the labels do not end with </s> before any padding");
      }
      input_tokens += length;
      label_tokens += label_length;
    }
    if (input_tokens != split.info_.input_tokens || label_tokens != split.info_.label_tokens) {
      fail(where, ": metadata.json counts ", split.info_.input_tokens, " input and ",
           split.info_.label_tokens, " label tokens, the arrays hold ", input_tokens, " and ",
           label_tokens);
    }
    dataset.splits_.push_back(std::move(split));
  }
  for (const TokenSplit& split : dataset.splits_) dataset.metadata_.splits.push_back(split.info());
  return dataset;
}

}  // namespace t5zero
