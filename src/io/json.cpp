#include "io/json.h"

#include <simdjson.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_set>

namespace t5zero {

namespace {

// A parser and the document it produced: simdjson elements point into the parser's buffers.
struct Document {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
};

// Typed views of an element whose type was checked first (get() cannot fail then).
simdjson::dom::object object_of(simdjson::dom::element element) {
  simdjson::dom::object object;
  T5_CHECK(!element.get(object), "JSON: element is not an object");
  return object;
}

simdjson::dom::array array_of(simdjson::dom::element element) {
  simdjson::dom::array array;
  T5_CHECK(!element.get(array), "JSON: element is not an array");
  return array;
}

std::string join_key(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string join_index(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string describe_path(const std::string& source, const std::string& path) {
  return path.empty() ? source : source + ": key '" + path + "'";
}

// Walks the whole tree once so that no lookup can silently pick one of two equal keys.
void check_no_duplicate_keys(simdjson::dom::element element, const std::string& source,
                             const std::string& path) {
  if (element.is_object()) {
    simdjson::dom::object object = object_of(element);
    std::unordered_set<std::string_view> seen;
    for (simdjson::dom::key_value_pair member : object) {
      const std::string member_path = join_key(path, member.key);
      if (!seen.insert(member.key).second) {
        fail(describe_path(source, member_path), ": appears twice");
      }
      check_no_duplicate_keys(member.value, source, member_path);
    }
  } else if (element.is_array()) {
    size_t index = 0;
    for (simdjson::dom::element item : array_of(element)) {
      check_no_duplicate_keys(item, source, join_index(path, index++));
    }
  }
}

std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open: ", std::strerror(errno));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(path, ": cannot read: ", std::strerror(errno));
  return buffer.str();
}

}  // namespace

struct JsonValue::Node {
  std::shared_ptr<const Document> document;
  simdjson::dom::element element;
};

struct JsonAccess {
  static JsonValue child(const JsonValue& parent, simdjson::dom::element element,
                         std::string path) {
    auto node = std::make_shared<JsonValue::Node>(JsonValue::Node{parent.node_->document, element});
    return JsonValue(std::move(node), parent.source_, std::move(path));
  }
  static simdjson::dom::element element(const JsonValue& value) { return value.node_->element; }
};

JsonValue::JsonValue(std::shared_ptr<const Node> node, std::string source, std::string path)
    : node_(std::move(node)), source_(std::move(source)), path_(std::move(path)) {}

JsonValue JsonValue::parse_text(std::string_view text, const std::string& source) {
  auto document = std::make_shared<Document>();
  simdjson::padded_string padded(text);
  simdjson::error_code error = document->parser.parse(padded).get(document->root);
  if (error) fail(source, ": not valid JSON (", simdjson::error_message(error), ")");
  check_no_duplicate_keys(document->root, source, "");
  simdjson::dom::element root = document->root;
  auto node = std::make_shared<Node>(Node{std::move(document), root});
  return JsonValue(std::move(node), source, "");
}

JsonValue JsonValue::parse_file(const std::string& path) {
  return parse_text(read_whole_file(path), path);
}

std::string JsonValue::where() const {
  return describe_path(source_, path_);
}

JsonValue JsonValue::relabeled(std::string source) const {
  return JsonValue(node_, std::move(source), "");
}

void JsonValue::fail_message(const std::string& message) const {
  fail(where(), ": ", message);
}

bool JsonValue::is_null() const {
  return node_->element.is_null();
}
bool JsonValue::is_bool() const {
  return node_->element.is_bool();
}
bool JsonValue::is_integer() const {
  return node_->element.is_int64() || node_->element.is_uint64();
}
bool JsonValue::is_number() const {
  return node_->element.is_number();
}
bool JsonValue::is_string() const {
  return node_->element.is_string();
}
bool JsonValue::is_array() const {
  return node_->element.is_array();
}
bool JsonValue::is_object() const {
  return node_->element.is_object();
}

const char* JsonValue::type_name() const {
  switch (node_->element.type()) {
    case simdjson::dom::element_type::ARRAY:
      return "array";
    case simdjson::dom::element_type::OBJECT:
      return "object";
    case simdjson::dom::element_type::INT64:
    case simdjson::dom::element_type::UINT64:
      return "integer";
    case simdjson::dom::element_type::DOUBLE:
      return "number";
    case simdjson::dom::element_type::STRING:
      return "string";
    case simdjson::dom::element_type::BOOL:
      return "boolean";
    case simdjson::dom::element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

void JsonValue::fail_type(const char* expected) const {
  std::ostringstream found;
  found << type_name();
  // Scalars are short: showing them makes the message self-explanatory.
  if (!is_array() && !is_object()) found << " " << simdjson::minify(node_->element);
  fail_message(detail::concat("expected ", expected, ", got ", found.str()));
}

std::string JsonValue::as_string() const {
  if (!is_string()) fail_type("a string");
  return std::string(node_->element.get_string().value_unsafe());
}

int64_t JsonValue::as_int() const {
  if (node_->element.is_int64()) return node_->element.get_int64().value_unsafe();
  if (node_->element.is_uint64()) fail_type("an integer below 2^63");
  fail_type("an integer");
}

double JsonValue::as_double() const {
  if (!is_number()) fail_type("a number");
  return node_->element.get_double().value_unsafe();
}

bool JsonValue::as_bool() const {
  if (!is_bool()) fail_type("a boolean");
  return node_->element.get_bool().value_unsafe();
}

std::vector<JsonValue> JsonValue::as_array() const {
  if (!is_array()) fail_type("an array");
  std::vector<JsonValue> items;
  size_t index = 0;
  for (simdjson::dom::element item : array_of(node_->element)) {
    items.push_back(JsonAccess::child(*this, item, join_index(path_, index++)));
  }
  return items;
}

std::vector<std::pair<std::string, JsonValue>> JsonValue::as_object() const {
  if (!is_object()) fail_type("an object");
  std::vector<std::pair<std::string, JsonValue>> members;
  for (simdjson::dom::key_value_pair member : object_of(node_->element)) {
    members.emplace_back(std::string(member.key),
                         JsonAccess::child(*this, member.value, join_key(path_, member.key)));
  }
  return members;
}

size_t JsonValue::size() const {
  if (is_array()) return array_of(node_->element).size();
  if (is_object()) return object_of(node_->element).size();
  fail_type("an array or an object");
}

std::optional<JsonValue> JsonValue::find(std::string_view key) const {
  if (!is_object()) fail_type("an object");
  simdjson::dom::element member;
  if (object_of(node_->element).at_key(key).get(member)) return std::nullopt;
  return JsonAccess::child(*this, member, join_key(path_, key));
}

bool JsonValue::contains(std::string_view key) const {
  return find(key).has_value();
}

JsonValue JsonValue::at(std::string_view key) const {
  std::optional<JsonValue> member = find(key);
  if (!member) fail(source_, ": missing key '", join_key(path_, key), "'");
  return *member;
}

std::string JsonValue::get_string_or(std::string_view key, const std::string& fallback) const {
  std::optional<JsonValue> member = find(key);
  return member ? member->as_string() : fallback;
}

int64_t JsonValue::get_int_or(std::string_view key, int64_t fallback) const {
  std::optional<JsonValue> member = find(key);
  return member ? member->as_int() : fallback;
}

double JsonValue::get_double_or(std::string_view key, double fallback) const {
  std::optional<JsonValue> member = find(key);
  return member ? member->as_double() : fallback;
}

bool JsonValue::get_bool_or(std::string_view key, bool fallback) const {
  std::optional<JsonValue> member = find(key);
  return member ? member->as_bool() : fallback;
}

}  // namespace t5zero
