// JsonWriter: writes JSON text the way Python's json.dumps does (indent=2 as transformers writes
// config.json and shard indexes; compact as the safetensors header), so files we write compare
// byte for byte with the reference's. Keys are written in the order given: callers sort them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero {

class JsonWriter {
 public:
  // indent 0: compact, separators "," and ":" (serde_json, the safetensors header);
  // indent n > 0: one member per line, separators "," and ": " (json.dumps(indent=n)).
  explicit JsonWriter(int indent = 0) : indent_(indent) {}

  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(int64_t number);
  JsonWriter& value(uint64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(double number);
  JsonWriter& value(bool flag);
  JsonWriter& null();

  // The text written so far; every container must be closed.
  const std::string& text() const;

 private:
  void before_value();
  void close(char bracket, bool is_object);
  void newline_and_indent();

  struct Level {
    bool is_object;
    size_t count;
  };
  int indent_;
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

// A JSON string literal as json.dumps writes it (ensure_ascii: non-ASCII as \uXXXX escapes).
std::string json_quote(std::string_view text);
// Python's repr(float): shortest round-trip digits, "1e-06", "0.1", "1.0", "1e+16".
std::string python_float_repr(double number);

}  // namespace t5zero
