#include "io/csv_reader.h"

#include <simdjson.h>

#include <cstdio>
#include <cstring>

#include "io/mapped_file.h"
#include "io/tokenizer_utf8.h"
#include "tensor/error.h"

namespace t5zero {

namespace {

// A field as byte offsets into the text; a quoted field's range excludes the quotes.
struct FieldSpan {
  size_t begin = 0;
  size_t end = 0;
  bool has_doubled_quotes = false;  // "" inside a quoted field stands for one "
};

// A malformed record; the parser has moved on to the next line.
struct RecordError {
  std::string message;
};

class CsvRecordParser {
 public:
  CsvRecordParser(std::string_view text, const std::string& source) : text_(text), source_(source) {
    // A UTF-8 byte order mark is not part of the first column's name.
    if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
  }

  bool at_end() const { return pos_ >= text_.size(); }
  int64_t line() const { return line_; }
  size_t position() const { return pos_; }

  // Blank lines between records are skipped (pandas' skip_blank_lines).
  void skip_blank_lines() {
    while (pos_ < text_.size() && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
      if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
      ++pos_;
      ++line_;
    }
  }

  // Parses the record at the current position into `fields`. A malformed record throws
  // RecordError after moving past the line where the problem is; an unterminated quote is fatal.
  void parse_record(std::vector<FieldSpan>& fields) {
    fields.clear();
    const int64_t record_line = line_;
    for (;;) {
      FieldSpan field;
      if (pos_ < text_.size() && text_[pos_] == '"') {
        parse_quoted(field, record_line, fields.size() + 1);
      } else {
        field.begin = pos_;
        while (pos_ < text_.size() && text_[pos_] != ',' && text_[pos_] != '\n' &&
               text_[pos_] != '\r') {
          if (text_[pos_] == '"') {
            invalid(record_line, "a quote inside unquoted field ", fields.size() + 1,
                    " (RFC 4180: a field holding quotes must be quoted, its quotes doubled)");
          }
          ++pos_;
        }
        field.end = pos_;
      }
      fields.push_back(field);
      if (pos_ >= text_.size()) return;
      const char c = text_[pos_];
      if (c == ',') {
        ++pos_;
        continue;
      }
      if (c == '\n' || c == '\r') {
        end_line();
        return;
      }
      invalid(record_line, "unexpected character '", printable(c),
              "' after the closing quote of field ", fields.size(),
              " (expected a comma or the end of the line)");
    }
  }

  [[noreturn]] void fail_at(int64_t line, const std::string& message) const {
    fail(source_, " line ", line, ": ", message);
  }

 private:
  void parse_quoted(FieldSpan& field, int64_t record_line, size_t field_number) {
    const int64_t quote_line = line_;
    ++pos_;  // opening quote
    field.begin = pos_;
    for (;;) {
      const void* found = std::memchr(text_.data() + pos_, '"', text_.size() - pos_);
      if (found == nullptr) {
        fail_at(quote_line, detail::concat("field ", field_number, " of the record on line ",
                                           record_line, " opens a quote that never closes"));
      }
      const size_t quote = static_cast<size_t>(static_cast<const char*>(found) - text_.data());
      line_ += count_newlines(pos_, quote);
      if (quote + 1 < text_.size() && text_[quote + 1] == '"') {
        field.has_doubled_quotes = true;
        pos_ = quote + 2;
        continue;
      }
      field.end = quote;
      pos_ = quote + 1;
      return;
    }
  }

  int64_t count_newlines(size_t begin, size_t end) const {
    int64_t n = 0;
    for (size_t i = begin; i < end; ++i) n += text_[i] == '\n';
    return n;
  }

  // Moves past a LF, CRLF or lone CR line end.
  void end_line() {
    if (text_[pos_] == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }

  template <typename... Parts>
  [[noreturn]] void invalid(int64_t record_line, const Parts&... parts) {
    // Resume at the next line: the rest of this one cannot be trusted.
    while (pos_ < text_.size() && text_[pos_] != '\n' && text_[pos_] != '\r') ++pos_;
    if (pos_ < text_.size()) end_line();
    throw RecordError{detail::concat(source_, " line ", record_line, ": invalid CSV: ", parts...)};
  }

  static std::string printable(char c) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7F) return std::string(1, c);
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02X", u);
    return hex;
  }

  std::string_view text_;
  const std::string& source_;
  size_t pos_ = 0;
  int64_t line_ = 1;
};

std::string field_text(std::string_view text, const FieldSpan& field) {
  std::string_view raw = text.substr(field.begin, field.end - field.begin);
  if (!field.has_doubled_quotes) return std::string(raw);
  std::string out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    out.push_back(raw[i]);
    if (raw[i] == '"') ++i;  // the second quote of a doubled pair
  }
  return out;
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "'" : ", '") + name + "'";
  return out;
}

}  // namespace

TableReadReport read_csv_text(std::string_view text, const std::string& source,
                              const std::vector<TableColumn>& columns,
                              const TableReadOptions& options, const TableRowSink& sink) {
  TableReadReport report;
  const bool valid_utf8 = simdjson::validate_utf8(text.data(), text.size());
  CsvRecordParser parser(text, source);
  std::vector<FieldSpan> fields;

  parser.skip_blank_lines();
  if (parser.at_end()) fail(source, ": empty file: expected a CSV header row naming the columns");
  const int64_t header_line = parser.line();
  const size_t header_begin = parser.position();
  try {
    parser.parse_record(fields);
  } catch (const RecordError& e) {
    fail(e.message, " (in the header row)");
  }
  if (!valid_utf8) {
    std::string_view header = text.substr(header_begin, parser.position() - header_begin);
    if (size_t bad = tokenizer_detail::find_invalid_utf8(header); bad != std::string_view::npos) {
      parser.fail_at(header_line, detail::concat("invalid UTF-8 in the header row at byte offset ",
                                                 header_begin + bad));
    }
  }
  std::vector<std::string> names;
  for (const FieldSpan& field : fields) names.push_back(field_text(text, field));

  // Where each requested column sits in a record.
  std::vector<std::optional<size_t>> column_index(columns.size());
  for (size_t c = 0; c < columns.size(); ++c) {
    for (size_t i = 0; i < names.size(); ++i) {
      if (names[i] != columns[c].name) continue;
      if (column_index[c]) {
        parser.fail_at(header_line, "column '" + columns[c].name + "' appears twice in the header");
      }
      column_index[c] = i;
    }
    if (!column_index[c] && columns[c].required) {
      parser.fail_at(header_line, "missing column '" + columns[c].name +
                                      "' (the header has: " + join_names(names) + ")");
    }
  }

  TableRow row;
  row.values.resize(columns.size());
  for (;;) {
    parser.skip_blank_lines();
    if (parser.at_end()) break;
    row.line = parser.line();
    const size_t record_begin = parser.position();
    try {
      parser.parse_record(fields);
    } catch (const RecordError& e) {
      reject_row(options, report, e.message);
      continue;
    }
    if (fields.size() != names.size()) {
      reject_row(options, report,
                 detail::concat(source, " line ", row.line, ": invalid CSV: expected ",
                                names.size(), " fields as in the header, found ", fields.size()));
      continue;
    }
    if (!valid_utf8) {
      std::string_view record = text.substr(record_begin, parser.position() - record_begin);
      if (size_t bad = tokenizer_detail::find_invalid_utf8(record); bad != std::string_view::npos) {
        reject_row(options, report,
                   detail::concat(source, " line ", row.line, ": invalid UTF-8 at byte offset ",
                                  record_begin + bad));
        continue;
      }
    }
    for (size_t c = 0; c < columns.size(); ++c) {
      if (column_index[c]) {
        row.values[c] = field_text(text, fields[*column_index[c]]);
      } else {
        row.values[c].reset();
      }
    }
    sink(row);
    ++report.rows;
  }
  return report;
}

TableReadReport read_csv_file(const std::string& path, const std::vector<TableColumn>& columns,
                              const TableReadOptions& options, const TableRowSink& sink) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  return read_csv_text(text, path, columns, options, sink);
}

}  // namespace t5zero
