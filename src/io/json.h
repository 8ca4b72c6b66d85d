// JsonValue: typed reads of a parsed JSON document (simdjson DOM underneath) whose errors name the
// file and the key path, e.g. "config.json: key 'num_heads': expected an integer, got string".
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace t5zero {

class JsonValue {
 public:
  // Parses a whole document. Errors name `source` (the path for files). Objects with a repeated
  // key are refused: Python's json keeps the last value, simdjson the first, so the file is
  // ambiguous.
  static JsonValue parse_file(const std::string& path);
  static JsonValue parse_text(std::string_view text, const std::string& source);

  const std::string& source() const { return source_; }
  // Where the value sits: "" for the root, "metadata.total_size", "shape[1]".
  const std::string& key_path() const { return path_; }
  // "<source>: key '<key path>'", or "<source>" for the root: the prefix of this value's errors.
  std::string where() const;
  // The same value, reported from now on as the root of `source`: lets a reader name things in
  // its own words ("model.safetensors: tensor 'shared.weight'") rather than by key path.
  JsonValue relabeled(std::string source) const;

  bool is_null() const;
  bool is_bool() const;
  bool is_integer() const;
  bool is_number() const;  // integer or not
  bool is_string() const;
  bool is_array() const;
  bool is_object() const;
  // "object", "array", "string", "integer", "number", "boolean" or "null".
  const char* type_name() const;

  // Typed reads; a value of another type is an error naming where() and what was found.
  std::string as_string() const;
  int64_t as_int() const;    // integers only: 2.0 is a number, not an integer
  double as_double() const;  // any number
  bool as_bool() const;
  std::vector<JsonValue> as_array() const;
  std::vector<std::pair<std::string, JsonValue>> as_object() const;  // in file order
  // Elements of an array, or members of an object.
  size_t size() const;

  // Object members (this must be an object).
  bool contains(std::string_view key) const;
  std::optional<JsonValue> find(std::string_view key) const;  // nullopt when absent
  JsonValue at(std::string_view key) const;  // absent: "<source>: missing key '<path>'"
  std::string get_string(std::string_view key) const { return at(key).as_string(); }
  int64_t get_int(std::string_view key) const { return at(key).as_int(); }
  double get_double(std::string_view key) const { return at(key).as_double(); }
  bool get_bool(std::string_view key) const { return at(key).as_bool(); }
  // Absent → `fallback`; present with another type (null included) → error.
  std::string get_string_or(std::string_view key, const std::string& fallback) const;
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_double_or(std::string_view key, double fallback) const;
  bool get_bool_or(std::string_view key, bool fallback) const;

  // Throws Error "<where()>: <message parts>".
  template <typename... Parts>
  [[noreturn]] void fail_here(const Parts&... parts) const;

 private:
  struct Node;
  friend struct JsonAccess;
  JsonValue(std::shared_ptr<const Node> node, std::string source, std::string path);
  [[noreturn]] void fail_type(const char* expected) const;
  [[noreturn]] void fail_message(const std::string& message) const;

  std::shared_ptr<const Node> node_;
  std::string source_;
  std::string path_;
};

}  // namespace t5zero

#include "tensor/error.h"

template <typename... Parts>
void t5zero::JsonValue::fail_here(const Parts&... parts) const {
  fail_message(detail::concat(parts...));
}
