// What the JSONL and CSV readers hand to the dataset loader: the values of the columns asked for,
// row by row, with the line each row starts on, so every later message can point into the file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace t5zero {

struct TableColumn {
  std::string name;
  bool required = true;  // a row (JSONL) or header (CSV) without it is an error
};

struct TableRow {
  int64_t line = 0;  // 1-based line of the file where the row starts
  // values[i] belongs to columns[i]; nullopt only for an optional column the row lacks.
  std::vector<std::optional<std::string>> values;
};

using TableRowSink = std::function<void(const TableRow&)>;

struct TableReadOptions {
  // Malformed rows (bad JSON or CSV, invalid UTF-8, a missing or non-string value) are skipped
  // and counted instead of ending the read.
  bool skip_invalid = false;
};

struct TableReadReport {
  int64_t rows = 0;                        // rows handed to the sink
  int64_t skipped = 0;                     // malformed rows skipped (skip_invalid only)
  std::vector<std::string> skip_messages;  // the first few skipped rows' errors, for the summary
};

// How many skipped rows' messages a report keeps.
inline constexpr size_t kKeptSkipMessages = 5;

// A malformed row: ends the read with `message`, or with skip_invalid counts it as skipped.
inline void reject_row(const TableReadOptions& options, TableReadReport& report,
                       std::string message) {
  if (!options.skip_invalid) fail(message);
  ++report.skipped;
  if (report.skip_messages.size() < kKeptSkipMessages) {
    report.skip_messages.push_back(std::move(message));
  }
}

}  // namespace t5zero
