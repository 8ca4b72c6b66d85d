#include "train/text_lines.h"

#include <simdjson.h>

#include <algorithm>

#include "io/json.h"
#include "io/mapped_file.h"
#include "tensor/error.h"

namespace t5zero {

TextLinesFormat parse_text_lines_format(std::string_view name) {
  if (name == "auto") return TextLinesFormat::automatic;
  if (name == "text") return TextLinesFormat::plain;
  if (name == "jsonl") return TextLinesFormat::jsonl;
  fail("text format: expected auto, text or jsonl, got '", name, "'");
}

std::vector<std::string> parse_text_lines(std::string_view contents, const std::string& source,
                                          TextLinesFormat format) {
  bool automatic = format == TextLinesFormat::automatic;
  if (automatic) {
    format =
        !contents.empty() && contents[0] == '"' ? TextLinesFormat::jsonl : TextLinesFormat::plain;
  }
  std::vector<std::string> texts;
  size_t begin = 0, line_number = 0;
  while (begin < contents.size()) {
    size_t end = std::min(contents.find('\n', begin), contents.size());
    std::string_view line = contents.substr(begin, end - begin);
    begin = end + 1;
    ++line_number;
    std::string where = source + ": line " + std::to_string(line_number);
    if (format == TextLinesFormat::plain) {
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      T5_CHECK(simdjson::validate_utf8(line.data(), line.size()), where, ": not valid UTF-8");
      texts.emplace_back(line);
      continue;
    }
    try {
      if (line.empty() || line == "\r")
        fail(where, ": expected one JSON string, got an empty line");
      JsonValue value = JsonValue::parse_text(line, where);
      if (!value.is_string()) fail(where, ": expected one JSON string, got ", value.type_name());
      texts.push_back(value.as_string());
    } catch (const Error& e) {
      // Auto-detection took a leading quote for JSONL; a plain-text file may start with one too.
      if (automatic) {
        fail(e.what(), " (read as JSONL because the file starts with '\"'; --format text reads it",
             " as plain text)");
      }
      throw;
    }
  }
  return texts;
}

std::vector<std::string> read_text_lines(const std::string& path, TextLinesFormat format) {
  std::shared_ptr<MappedFile> file = MappedFile::open(path);
  std::string_view contents(reinterpret_cast<const char*>(file->data()), file->size());
  return parse_text_lines(contents, path, format);
}

std::pair<std::vector<std::string>, std::vector<std::string>> read_aligned_text_lines(
    const std::string& first_path, const std::string& second_path, TextLinesFormat format) {
  std::vector<std::string> first = read_text_lines(first_path, format);
  std::vector<std::string> second = read_text_lines(second_path, format);
  if (first.size() != second.size()) {
    bool first_longer = first.size() > second.size();
    fail(first_path, " has ", first.size(), " texts but ", second_path, " has ", second.size(),
         ": line ", std::min(first.size(), second.size()) + 1, " of ",
         first_longer ? first_path : second_path, " has no partner in ",
         first_longer ? second_path : first_path);
  }
  return {std::move(first), std::move(second)};
}

}  // namespace t5zero
