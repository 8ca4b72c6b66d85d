#include "io/jsonl_reader.h"

#include <simdjson.h>

#include <cstring>

#include "io/mapped_file.h"
#include "io/tokenizer_utf8.h"
#include "tensor/error.h"

namespace t5zero {

namespace {

const char* json_type_name(simdjson::dom::element_type type) {
  switch (type) {
    case simdjson::dom::element_type::ARRAY:
      return "an array";
    case simdjson::dom::element_type::OBJECT:
      return "an object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
    case simdjson::dom::element_type::DOUBLE:
      return "a number";
    case simdjson::dom::element_type::STRING:
      return "a string";
    case simdjson::dom::element_type::BOOL:
      return "a boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "an unknown value";
}

std::string member_names(simdjson::dom::object object) {
  std::string out;
  for (simdjson::dom::key_value_pair member : object) {
    out += (out.empty() ? "'" : ", '") + std::string(member.key) + "'";
  }
  return out.empty() ? "no keys" : out;
}

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

}  // namespace

TableReadReport read_jsonl_text(std::string_view text, const std::string& source,
                                const std::vector<TableColumn>& columns,
                                const TableReadOptions& options, const TableRowSink& sink) {
  TableReadReport report;
  const bool valid_utf8 = simdjson::validate_utf8(text.data(), text.size());
  simdjson::dom::parser parser;
  TableRow row;
  row.values.resize(columns.size());

  size_t begin = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;  // a UTF-8 byte order mark
  for (int64_t line = 1; begin < text.size(); ++line) {
    const void* newline = std::memchr(text.data() + begin, '\n', text.size() - begin);
    const size_t end = newline == nullptr
                           ? text.size()
                           : static_cast<size_t>(static_cast<const char*>(newline) - text.data());
    const size_t line_begin = begin;
    std::string_view content = text.substr(begin, end - begin);
    begin = end + 1;
    if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
    if (is_blank(content)) continue;
    auto where = [&] { return detail::concat(source, " line ", line, ": "); };

    if (!valid_utf8) {
      if (size_t bad = tokenizer_detail::find_invalid_utf8(content);
          bad != std::string_view::npos) {
        reject_row(options, report,
                   where() + detail::concat("invalid UTF-8 at byte offset ", line_begin + bad));
        continue;
      }
    }
    // parse() copies the line into the parser's padded buffer (realloc_if_needed).
    simdjson::dom::element document;
    if (auto error = parser.parse(content.data(), content.size(), true).get(document); error) {
      reject_row(options, report, where() + "invalid JSON: " + simdjson::error_message(error));
      continue;
    }
    simdjson::dom::object object;
    if (document.get_object().get(object) != simdjson::SUCCESS) {
      reject_row(options, report,
                 where() + "expected a JSON object, found " + json_type_name(document.type()));
      continue;
    }
    std::string problem;
    for (size_t c = 0; c < columns.size() && problem.empty(); ++c) {
      const TableColumn& column = columns[c];
      simdjson::dom::element value;
      const bool present = object.at_key(column.name).get(value) == simdjson::SUCCESS;
      if (!present || value.is_null()) {
        row.values[c].reset();
        if (column.required) {
          problem = present ? "column '" + column.name + "' is null, expected a string"
                            : "missing column '" + column.name + "' (the row has " +
                                  member_names(object) + ")";
        }
        continue;
      }
      std::string_view string;
      if (value.get_string().get(string) != simdjson::SUCCESS) {
        problem = "column '" + column.name + "': expected a string, found " +
                  json_type_name(value.type());
        continue;
      }
      row.values[c] = std::string(string);
    }
    if (!problem.empty()) {
      reject_row(options, report, where() + problem);
      continue;
    }
    row.line = line;
    sink(row);
    ++report.rows;
  }
  return report;
}

TableReadReport read_jsonl_file(const std::string& path, const std::vector<TableColumn>& columns,
                                const TableReadOptions& options, const TableRowSink& sink) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  std::string_view text(reinterpret_cast<const char*>(file->data()), file->size());
  return read_jsonl_text(text, path, columns, options, sink);
}

}  // namespace t5zero
