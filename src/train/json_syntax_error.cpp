#include "train/json_syntax_error.h"

#include <cstdint>

#include "tensor/error.h"

namespace t5zero {

namespace {

// Nesting deeper than this is refused rather than recursed into (simdjson's default limit).
constexpr int kMaxDepth = 1024;

struct SyntaxError {
  size_t offset;
  std::string what;
};

// A recursive-descent recognizer: it builds nothing, it only finds the first offending byte.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  void document() {
    skip_whitespace();
    value(0);
    skip_whitespace();
    if (pos_ < text_.size()) error("expected the end of the document after the value");
  }

 private:
  [[noreturn]] void error(const std::string& expected) {
    throw SyntaxError{pos_, detail::concat(expected, ", got ", found())};
  }

  std::string found() const {
    if (pos_ >= text_.size()) return "the end of the file";
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c == '\n') return "a line break";
    if (c < 0x20 || c >= 0x7f) return detail::concat("byte 0x", std::hex, static_cast<int>(c));
    return detail::concat("'", static_cast<char>(c), "'");
  }

  bool at(char c) const { return pos_ < text_.size() && text_[pos_] == c; }

  void expect(char c, const char* what) {
    if (!at(c)) error(what);
    ++pos_;
  }

  void skip_whitespace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  void value(int depth) {
    if (depth >= kMaxDepth) error(detail::concat("nesting of at most ", kMaxDepth, " levels"));
    if (pos_ >= text_.size()) error("expected a value");
    switch (text_[pos_]) {
      case '{':
        return object(depth);
      case '[':
        return array(depth);
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        if (at('-') || (text_[pos_] >= '0' && text_[pos_] <= '9')) return number();
        // Python's json.dumps writes these for inf/NaN; they are not JSON.
        error("expected a value (object, array, string, number, true, false or null)");
    }
  }

  void object(int depth) {
    ++pos_;
    skip_whitespace();
    if (at('}')) {
      ++pos_;
      return;
    }
    while (true) {
      skip_whitespace();
      if (!at('"')) error("expected a key in double quotes");
      string();
      skip_whitespace();
      expect(':', "expected ':' after the key");
      skip_whitespace();
      value(depth + 1);
      skip_whitespace();
      if (at('}')) {
        ++pos_;
        return;
      }
      expect(',', "expected ',' or '}' after an object member");
      skip_whitespace();
      if (at('}')) error("expected another member after ',' (JSON has no trailing commas)");
    }
  }

  void array(int depth) {
    ++pos_;
    skip_whitespace();
    if (at(']')) {
      ++pos_;
      return;
    }
    while (true) {
      skip_whitespace();
      value(depth + 1);
      skip_whitespace();
      if (at(']')) {
        ++pos_;
        return;
      }
      expect(',', "expected ',' or ']' after an array element");
      skip_whitespace();
      if (at(']')) error("expected another element after ',' (JSON has no trailing commas)");
    }
  }

  void string() {
    ++pos_;
    while (true) {
      if (pos_ >= text_.size()) error("expected the closing '\"' of the string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return;
      }
      if (c < 0x20) error("expected a string character (control characters must be escaped)");
      if (c == '\\') {
        ++pos_;
        if (pos_ >= text_.size()) error("expected an escape character");
        const char e = text_[pos_];
        if (e == 'u') {
          ++pos_;
          for (int i = 0; i < 4; ++i) {
            if (!is_hex_digit()) error("expected 4 hex digits after \\u");
            ++pos_;
          }
          continue;
        }
        if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
            e != 't') {
          error("expected an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)");
        }
      }
      ++pos_;
    }
  }

  bool is_hex_digit() const {
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_];
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }

  bool is_digit() const { return pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9'; }

  void digits(const char* what) {
    if (!is_digit()) error(what);
    while (is_digit()) ++pos_;
  }

  void number() {
    if (at('-')) ++pos_;
    if (at('0')) {
      ++pos_;
      if (is_digit()) error("expected no leading zero in a number");
    } else {
      digits("expected a digit");
    }
    if (at('.')) {
      ++pos_;
      digits("expected a digit after the decimal point");
    }
    if (at('e') || at('E')) {
      ++pos_;
      if (at('+') || at('-')) ++pos_;
      digits("expected a digit in the exponent");
    }
  }

  void literal(std::string_view word) {
    for (char c : word) {
      if (!at(c)) error(detail::concat("expected '", word, "'"));
      ++pos_;
    }
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::string> find_json_syntax_error(std::string_view text) {
  try {
    Scanner(text).document();
    return std::nullopt;
  } catch (const SyntaxError& e) {
    int64_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < e.offset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    const size_t column = e.offset - line_start + 1;
    return detail::concat("line ", line, ", column ", column, ": ", e.what);
  }
}

}  // namespace t5zero
