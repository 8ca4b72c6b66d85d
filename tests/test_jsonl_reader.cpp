// The JSON Lines reader: values and escapes, line numbers, column selection, every
// malformed-line message with its line (and byte offset for invalid UTF-8), skip_invalid, and the
// real CNN/DailyMail sample.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "io/jsonl_reader.h"
#include "tensor/error.h"

using namespace t5zero;

namespace {

const std::vector<TableColumn> kColumns = {
    {"article", true}, {"highlights", true}, {"split", false}};

std::vector<TableRow> read_all(const std::string& text, bool skip_invalid = false,
                               TableReadReport* report = nullptr) {
  std::vector<TableRow> rows;
  TableReadReport r = read_jsonl_text(text, "data.jsonl", kColumns, TableReadOptions{skip_invalid},
                                      [&](const TableRow& row) { rows.push_back(row); });
  if (report != nullptr) *report = r;
  return rows;
}

std::string error_of(const std::string& text) {
  try {
    read_all(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("jsonl: string values with escapes, optional columns, line numbers") {
  const std::string text =
      "{\"article\": \"a \\\"quoted\\\"\\nline\", \"highlights\": \"h\\u00e9\", \"split\": "
      "\"train\"}\n"
      "\n"
      "{\"highlights\": \"\", \"id\": 7, \"article\": \"\\ud83d\\ude00 caf\xC3\xA9\"}\r\n";
  const std::vector<TableRow> rows = read_all(text);
  REQUIRE(rows.size() == 2);
  CHECK(*rows[0].values[0] == "a \"quoted\"\nline");
  CHECK(*rows[0].values[1] == "h\xC3\xA9");
  CHECK(*rows[0].values[2] == "train");
  CHECK(rows[0].line == 1);
  CHECK(*rows[1].values[0] == "\xF0\x9F\x98\x80 caf\xC3\xA9");  // surrogate pair → U+1F600
  CHECK(*rows[1].values[1] == "");
  CHECK(!rows[1].values[2].has_value());
  CHECK(rows[1].line == 3);  // the blank line still counts
}

TEST_CASE("jsonl: a byte order mark and a missing final newline are accepted") {
  const std::vector<TableRow> rows =
      read_all("\xEF\xBB\xBF{\"article\":\"x\",\"highlights\":\"y\"}");
  REQUIRE(rows.size() == 1);
  CHECK(*rows[0].values[0] == "x");
}

TEST_CASE("jsonl: a missing column names the column, the file, the line and the keys there are") {
  CHECK(error_of(
            "{\"article\":\"x\",\"highlights\":\"y\"}\n{\"article\":\"x\",\"summary\":\"y\"}\n") ==
        "data.jsonl line 2: missing column 'highlights' (the row has 'article', 'summary')");
  CHECK(error_of("{\"article\":\"x\",\"highlights\":null}\n") ==
        "data.jsonl line 1: column 'highlights' is null, expected a string");
  CHECK(error_of("{\"article\":\"x\",\"highlights\":[\"y\"]}\n") ==
        "data.jsonl line 1: column 'highlights': expected a string, found an array");
  CHECK(error_of("{\"article\":\"x\",\"highlights\":\"y\",\"split\":3}\n") ==
        "data.jsonl line 1: column 'split': expected a string, found a number");
}

TEST_CASE("jsonl: invalid JSON and non-objects are errors with the line number") {
  const std::string good = "{\"article\":\"x\",\"highlights\":\"y\"}\n";
  const std::string broken = error_of(good + good + "{\"article\": \"x\", \"highlights\": }\n");
  CHECK(broken.rfind("data.jsonl line 3: invalid JSON: ", 0) == 0);
  CHECK(error_of(good + "[1, 2]\n") == "data.jsonl line 2: expected a JSON object, found an array");
  CHECK(error_of(good + "{\"article\":\"x\",\"highlights\":\"y\"} trailing\n")
            .rfind("data.jsonl line 2: invalid JSON: ", 0) == 0);
}

TEST_CASE("jsonl: invalid UTF-8 is an error with its byte offset in the file") {
  const std::string good = "{\"article\":\"x\",\"highlights\":\"y\"}\n";  // 33 bytes
  REQUIRE(good.size() == 33);
  CHECK(error_of(good + "{\"article\":\"\xFF\",\"highlights\":\"y\"}\n") ==
        "data.jsonl line 2: invalid UTF-8 at byte offset 45");
}

TEST_CASE("jsonl: skip_invalid skips malformed lines, counts them and keeps the first messages") {
  const std::string good = "{\"article\":\"x\",\"highlights\":\"y\"}\n";
  std::string text = good;
  for (int i = 0; i < 7; ++i) text += "not json\n";
  text += "{\"article\":\"\xC0\xAF\",\"highlights\":\"y\"}\n" + good;
  TableReadReport report;
  const std::vector<TableRow> rows = read_all(text, true, &report);
  CHECK(rows.size() == 2);
  CHECK(rows[1].line == 10);
  CHECK(report.rows == 2);
  CHECK(report.skipped == 8);
  CHECK(report.skip_messages.size() == kKeptSkipMessages);
  CHECK(report.skip_messages[0].rfind("data.jsonl line 2: invalid JSON: ", 0) == 0);
}

TEST_CASE("jsonl: the CNN/DailyMail sample has 1400 rows, 400 train and 1000 validation") {
  std::map<std::string, int> per_split;
  std::vector<TableRow> rows;
  const TableReadReport report = read_jsonl_file(
      std::string(T5ZERO_SHARED_DIR) + "/data/cnn_dm_sample/cnn_dm_sample.jsonl",
      {{"id", true}, {"article", true}, {"split", true}}, {}, [&](const TableRow& row) {
        ++per_split[*row.values[2]];
        rows.push_back(row);
      });
  CHECK(report.rows == 1400);
  CHECK(report.skipped == 0);
  CHECK(per_split["train"] == 400);
  CHECK(per_split["validation"] == 1000);
  CHECK(*rows[0].values[0] == "train-idx-000000");
  CHECK(*rows[400].values[0] == "a4942dd663020ca54575471657a0af38d82897d6");
  CHECK(rows[1399].line == 1400);
  // "£20 million": the JSONL holds UTF-8, not \u escapes, and it arrives unchanged.
  CHECK(rows[0].values[1]->find("reported \xC2\xA3"
                                "20 million") != std::string::npos);
}
