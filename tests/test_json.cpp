// JsonValue (typed reads with errors naming file and key path) and JsonWriter (Python's
// json.dumps layout and float repr).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "io/json.h"
#include "io/json_writer.h"
#include "temp_folder.h"

using namespace t5zero;

TEST_CASE("typed reads and defaults") {
  const JsonValue root = JsonValue::parse_text(
      R"({"n": 8, "x": 0.5, "i": 3, "s": "hi", "b": true, "z": null, "big": 18446744073709551615,
          "nested": {"list": [1, "two", {"k": false}]}})",
      "config.json");
  CHECK(root.get_int("n") == 8);
  CHECK(root.get_double("x") == 0.5);
  CHECK(root.get_double("i") == 3.0);  // integers are numbers
  CHECK(root.get_string("s") == "hi");
  CHECK(root.get_bool("b"));
  CHECK(root.at("z").is_null());
  CHECK(root.get_int_or("absent", -4) == -4);
  CHECK(root.get_string_or("absent", "d") == "d");
  CHECK(root.get_double_or("absent", 1.5) == 1.5);
  CHECK(root.get_bool_or("absent", true));
  CHECK(root.get_int_or("n", -4) == 8);
  CHECK_FALSE(root.find("absent").has_value());
  CHECK(root.contains("nested"));
  CHECK(root.size() == 8);
  const std::vector<JsonValue> list = root.at("nested").at("list").as_array();
  REQUIRE(list.size() == 3);
  CHECK(list[1].as_string() == "two");
  CHECK(list[2].key_path() == "nested.list[2]");
  CHECK_FALSE(list[2].get_bool("k"));
  std::vector<std::string> keys;
  for (const auto& [key, value] : root.as_object()) keys.push_back(key);
  CHECK(keys == std::vector<std::string>{"n", "x", "i", "s", "b", "z", "big", "nested"});
}

TEST_CASE("errors name the file, the key path, what was expected and what was found") {
  const JsonValue root = JsonValue::parse_text(
      R"({"num_heads": "8", "x": 2.5, "f": 2.0, "big": 18446744073709551615, "n": null,
          "a": {"b": [1, {"c": true}]}})",
      "config.json");
  CHECK_THROWS_WITH_AS(root.get_int("num_heads"),
                       "config.json: key 'num_heads': expected an integer, got string \"8\"",
                       Error);
  CHECK_THROWS_WITH_AS(root.get_int("x"),
                       "config.json: key 'x': expected an integer, got number 2.5", Error);
  CHECK_THROWS_WITH_AS(root.get_int("f"),
                       "config.json: key 'f': expected an integer, got number 2.0", Error);
  CHECK_THROWS_WITH_AS(root.get_int("big"), doctest::Contains("expected an integer below 2^63"),
                       Error);
  CHECK_THROWS_WITH_AS(root.get_string_or("n", "default"),
                       "config.json: key 'n': expected a string, got null null", Error);
  CHECK_THROWS_WITH_AS(root.get_int("missing"), "config.json: missing key 'missing'", Error);
  CHECK_THROWS_WITH_AS(root.at("a").at("b").as_array()[1].get_string("c"),
                       "config.json: key 'a.b[1].c': expected a string, got boolean true", Error);
  CHECK_THROWS_WITH_AS(root.at("a").at("zz"), "config.json: missing key 'a.zz'", Error);
  CHECK_THROWS_WITH_AS(root.at("a").as_array(),
                       "config.json: key 'a': expected an array, got object", Error);
  CHECK_THROWS_WITH_AS(root.at("x").at("y"),
                       "config.json: key 'x': expected an object, got number 2.5", Error);
  CHECK_THROWS_WITH_AS(root.at("a").relabeled("index.json: tensor 'q'").get_int("b"),
                       "index.json: tensor 'q': key 'b': expected an integer, got array", Error);
}

TEST_CASE("parse errors, repeated keys and files") {
  CHECK_THROWS_WITH_AS(JsonValue::parse_text("{\"a\": 1,}", "bad.json"),
                       doctest::Contains("bad.json: not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(JsonValue::parse_text("", "empty.json"),
                       doctest::Contains("empty.json: not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(JsonValue::parse_text(R"({"a": {"b": 1, "b": 2}})", "dup.json"),
                       "dup.json: key 'a.b': appears twice", Error);
  CHECK_THROWS_WITH_AS(JsonValue::parse_text(R"([{"x": 1}, {"x": 1, "x": 1}])", "dup.json"),
                       "dup.json: key '[1].x': appears twice", Error);
  CHECK_THROWS_WITH_AS(JsonValue::parse_text("{\"a\": \"\xff\"}", "utf8.json"),
                       doctest::Contains("utf8.json: not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(JsonValue::parse_file("/no/such/file.json"),
                       doctest::Contains("/no/such/file.json: cannot open"), Error);
  t5zero::testing::TempFolder folder("json");
  t5zero::testing::write_file_bytes(folder.file("c.json"), R"({"k": [1, 2, 3]})");
  const JsonValue file = JsonValue::parse_file(folder.file("c.json"));
  CHECK(file.source() == folder.file("c.json"));
  CHECK(file.at("k").size() == 3);
  CHECK(file.at("k").as_array()[2].as_int() == 3);
}

TEST_CASE("python_float_repr matches Python's repr(float)") {
  // Expected strings are what CPython 3 prints for repr(x).
  CHECK(python_float_repr(1e-6) == "1e-06");
  CHECK(python_float_repr(0.1) == "0.1");
  CHECK(python_float_repr(1.0) == "1.0");
  CHECK(python_float_repr(0.0) == "0.0");
  CHECK(python_float_repr(-0.0) == "-0.0");
  CHECK(python_float_repr(2.0) == "2.0");
  CHECK(python_float_repr(1e-5) == "1e-05");
  CHECK(python_float_repr(0.0001) == "0.0001");
  CHECK(python_float_repr(0.00015) == "0.00015");
  CHECK(python_float_repr(1.5e-05) == "1.5e-05");
  CHECK(python_float_repr(123456789.0) == "123456789.0");
  CHECK(python_float_repr(1e15) == "1000000000000000.0");
  CHECK(python_float_repr(1e16) == "1e+16");
  CHECK(python_float_repr(1.2345e20) == "1.2345e+20");
  CHECK(python_float_repr(-3.25) == "-3.25");
  CHECK(python_float_repr(1.0 / 3.0) == "0.3333333333333333");
  CHECK(python_float_repr(5e-324) == "5e-324");
  CHECK(python_float_repr(1.7976931348623157e308) == "1.7976931348623157e+308");
  CHECK(python_float_repr(3e-5) == "3e-05");
  CHECK(python_float_repr(12.5) == "12.5");
  CHECK_THROWS_AS(python_float_repr(std::numeric_limits<double>::quiet_NaN()), Error);
}

TEST_CASE("JsonWriter lays out as json.dumps, escapes as ensure_ascii") {
  JsonWriter indented(2);
  indented.begin_object()
      .key("a")
      .begin_array()
      .value("x")
      .value(int64_t{1})
      .end_array()
      .key("e")
      .begin_object()
      .end_object()
      .key("l")
      .begin_array()
      .end_array()
      .key("n")
      .null()
      .key("t")
      .value(true)
      .key("f")
      .value(0.5)
      .end_object();
  CHECK(indented.text() ==
        "{\n  \"a\": [\n    \"x\",\n    1\n  ],\n  \"e\": {},\n  \"l\": [],\n  \"n\": null,\n"
        "  \"t\": true,\n  \"f\": 0.5\n}");
  JsonWriter compact;
  compact.begin_object()
      .key("k")
      .begin_array()
      .value(uint64_t{18446744073709551615ull})
      .value(-2)
      .end_array()
      .end_object();
  CHECK(compact.text() == R"({"k":[18446744073709551615,-2]})");

  CHECK(json_quote("plain") == "\"plain\"");
  CHECK(json_quote("q\"b\\n\n\t\x01") == "\"q\\\"b\\\\n\\n\\t\\u0001\"");
  CHECK(json_quote("caf\xc3\xa9") == "\"caf\\u00e9\"");
  CHECK(json_quote("\xe2\x96\x81") == "\"\\u2581\"");             // ▁, sentencepiece's space
  CHECK(json_quote("\xf0\x9f\x98\x80") == "\"\\ud83d\\ude00\"");  // beyond the BMP
  CHECK(json_quote("\x7f") == "\"\\u007f\"");

  JsonWriter unbalanced;
  unbalanced.begin_object();
  CHECK_THROWS_AS(unbalanced.text(), Error);
  CHECK_THROWS_AS(unbalanced.value(1), Error);  // a value in an object needs a key
}
