// CSV files as RFC 4180 defines them and pandas' to_csv writes them: a header row, fields
// separated by commas, records ended by LF or CRLF, and quoted fields that may hold commas, line
// breaks and doubled quotes ("" for "). Anything else — a quote inside an unquoted field,
// characters after a closing quote, a record with the wrong number of fields, invalid UTF-8 — is
// an error naming the file and the line where the record starts.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "io/table_rows.h"

namespace t5zero {

// Reads the file at `path` and hands each record's `columns` to `sink`. A required column missing
// from the header is an error naming the column, the file and line 1 (even with skip_invalid);
// blank lines are skipped, as pandas does.
TableReadReport read_csv_file(const std::string& path, const std::vector<TableColumn>& columns,
                              const TableReadOptions& options, const TableRowSink& sink);

// The same for CSV text in memory; `source` names it in messages.
TableReadReport read_csv_text(std::string_view text, const std::string& source,
                              const std::vector<TableColumn>& columns,
                              const TableReadOptions& options, const TableRowSink& sink);

}  // namespace t5zero
