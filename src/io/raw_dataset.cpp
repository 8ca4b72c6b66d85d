#include "io/raw_dataset.h"

#include <algorithm>
#include <filesystem>

#include "io/csv_reader.h"
#include "io/jsonl_reader.h"
#include "tensor/error.h"

namespace t5zero {

namespace fs = std::filesystem;

namespace {

enum class FileFormat { none, jsonl, csv };

FileFormat format_of(const fs::path& path) {
  const std::string ext = path.extension().string();
  if (ext == ".jsonl" || ext == ".json" || ext == ".ndjson") return FileFormat::jsonl;
  if (ext == ".csv") return FileFormat::csv;
  return FileFormat::none;
}

// Reads one file's rows; `fixed_split` set: every row belongs to it (a folder's file).
void read_file(const fs::path& path, const std::string* fixed_split,
               const RawDatasetOptions& options, RawDataset& dataset) {
  std::vector<TableColumn> columns = {{options.text_column, true}, {options.summary_column, true}};
  if (fixed_split == nullptr) columns.push_back({options.split_column, false});
  const std::string file = path.string();

  auto sink = [&](const TableRow& row) {
    // An empty split value (a blank CSV cell) means none, as pandas reads it as missing.
    const bool has_split = fixed_split == nullptr && row.values[2] && !row.values[2]->empty();
    const std::string& split_name = fixed_split != nullptr ? *fixed_split
                                    : has_split            ? *row.values[2]
                                                           : options.default_split;
    ++dataset.found_splits[split_name];
    auto kept = std::find_if(dataset.splits.begin(), dataset.splits.end(),
                             [&](const RawSplit& s) { return s.name == split_name; });
    if (kept == dataset.splits.end()) return;
    RawExample example{*row.values[0], *row.values[1]};
    dataset.oversized_fields += cut_oversized_field(example.text, options.max_field_bytes);
    dataset.oversized_fields += cut_oversized_field(example.summary, options.max_field_bytes);
    kept->empty_text += example.text.empty();
    kept->empty_summary += example.summary.empty();
    kept->examples.push_back(std::move(example));
  };
  const TableReadOptions read_options{options.skip_invalid};
  const TableReadReport report = format_of(path) == FileFormat::csv
                                     ? read_csv_file(file, columns, read_options, sink)
                                     : read_jsonl_file(file, columns, read_options, sink);
  dataset.files.push_back(file);
  dataset.invalid_rows += report.skipped;
  for (const std::string& message : report.skip_messages) {
    if (dataset.invalid_messages.size() < kKeptSkipMessages) {
      dataset.invalid_messages.push_back(message);
    }
  }
}

}  // namespace

const RawSplit& RawDataset::split(const std::string& name) const {
  for (const RawSplit& s : splits) {
    if (s.name == name) return s;
  }
  fail("raw dataset: split '", name, "' was not asked for when reading");
}

RawSplit& RawDataset::split(const std::string& name) {
  return const_cast<RawSplit&>(static_cast<const RawDataset&>(*this).split(name));
}

std::string split_of_file_name(const std::string& file_name) {
  const fs::path path(file_name);
  if (format_of(path) == FileFormat::none) return "";
  const std::string stem = path.stem().string();
  return stem.substr(0, stem.find('-'));
}

bool cut_oversized_field(std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return false;
  size_t cut = max_bytes;
  size_t space = text.find_last_of(" \t\n\r", max_bytes);
  if (space != std::string::npos && space > 0) {
    cut = space;
  } else {
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  }
  text.resize(cut);
  return true;
}

RawDataset load_raw_dataset(const std::string& path, const RawDatasetOptions& options) {
  RawDataset dataset;
  for (const std::string& name : options.splits) dataset.splits.push_back(RawSplit{name, {}, 0, 0});

  std::error_code error;
  const fs::file_status status = fs::status(path, error);
  if (error || !fs::exists(status)) fail(path, ": no such file or folder (--dataset_path)");

  if (fs::is_regular_file(status)) {
    if (format_of(path) == FileFormat::none) {
      fail(path, ": expected a .jsonl (.json, .ndjson) or .csv file, or a folder of them");
    }
    read_file(path, nullptr, options, dataset);
    return dataset;
  }
  if (!fs::is_directory(status)) fail(path, ": expected a file or a folder");

  // A folder: files named by split, read in name order so that shards keep their order.
  std::vector<fs::path> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(path)) {
    if (entry.is_regular_file() && !split_of_file_name(entry.path().filename().string()).empty()) {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    fail(path,
         ": the folder holds no .jsonl, .json, .ndjson or .csv files named by split "
         "(train.jsonl, test.csv, ...)");
  }
  for (const fs::path& file : files) {
    const std::string split_name = split_of_file_name(file.filename().string());
    const bool wanted =
        std::find(options.splits.begin(), options.splits.end(), split_name) != options.splits.end();
    if (!wanted) {
      dataset.found_splits.emplace(split_name, -1);
      continue;
    }
    dataset.found_splits.emplace(split_name, 0);
    read_file(file, &split_name, options, dataset);
  }
  return dataset;
}

}  // namespace t5zero
