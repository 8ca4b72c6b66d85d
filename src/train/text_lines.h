// Files of texts, one text per line, as `t5zero rouge` reads predictions and references: plain
// UTF-8 text, or JSONL with one JSON string per line (so a text may hold newlines).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace t5zero {

enum class TextLinesFormat {
  automatic,  // JSONL when the file's first character is '"', plain text otherwise
  plain,
  jsonl,
};

// "auto", "text" or "jsonl"; anything else is an error naming the choices.
TextLinesFormat parse_text_lines_format(std::string_view name);

// The texts of a file's lines. A final line break ends the last line and adds no text; a
// trailing '\r' (CRLF files) is not part of a plain-text line. Errors name `source` and the
// line: invalid UTF-8, or in JSONL a line that is not one JSON string.
std::vector<std::string> parse_text_lines(std::string_view contents, const std::string& source,
                                          TextLinesFormat format);
std::vector<std::string> read_text_lines(const std::string& path, TextLinesFormat format);

// Two files whose lines pair up (predictions, references). Different counts are an error that
// names both files, their counts and the first line without a partner.
std::pair<std::vector<std::string>, std::vector<std::string>> read_aligned_text_lines(
    const std::string& first_path, const std::string& second_path, TextLinesFormat format);

}  // namespace t5zero
