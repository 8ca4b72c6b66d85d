// JSON Lines files: one JSON object per line (UTF-8, LF or CRLF line ends), read with simdjson.
// Errors name the file and the line: invalid JSON, a line that is not an object, a missing
// column, a value that is not a string, invalid UTF-8 (with its byte offset in the file).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/table_rows.h"

namespace t5zero {

// Reads the file at `path` and hands each object's `columns` (string values) to `sink`. Blank
// lines are skipped. A required column that is absent or null makes the row invalid.
TableReadReport read_jsonl_file(const std::string& path, const std::vector<TableColumn>& columns,
                                const TableReadOptions& options, const TableRowSink& sink);

// The same for JSONL text in memory; `source` names it in messages.
TableReadReport read_jsonl_text(std::string_view text, const std::string& source,
                                const std::vector<TableColumn>& columns,
                                const TableReadOptions& options, const TableRowSink& sink);

}  // namespace t5zero
