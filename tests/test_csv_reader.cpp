// The RFC 4180 CSV reader: quoting, line numbers, column selection and every malformed-input
// message; a round trip through a minimal independent writer over random fields; and the real
// pandas-written CNN/DailyMail CSVs, whose rows must equal the JSONL copy read by simdjson.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "io/csv_reader.h"
#include "io/jsonl_reader.h"
#include "temp_folder.h"
#include "tensor/error.h"

using namespace t5zero;

namespace {

const std::string kSample = std::string(T5ZERO_SHARED_DIR) + "/data/cnn_dm_sample/";

std::vector<TableRow> read_all(const std::string& text, const std::vector<TableColumn>& columns,
                               bool skip_invalid = false, TableReadReport* report = nullptr) {
  std::vector<TableRow> rows;
  TableReadReport r = read_csv_text(text, "data.csv", columns, TableReadOptions{skip_invalid},
                                    [&](const TableRow& row) { rows.push_back(row); });
  if (report != nullptr) *report = r;
  return rows;
}

std::string error_of(const std::string& text, const std::vector<TableColumn>& columns) {
  try {
    read_all(text, columns);
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

const std::vector<TableColumn> kAB = {{"a", true}, {"b", true}};

// RFC 4180 quoting, written independently of the reader: quote every field that needs it.
std::string csv_field(const std::string& value) {
  if (value.find_first_of(",\"\r\n") == std::string::npos) return value;
  std::string out = "\"";
  for (char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

TEST_CASE("csv: quoted fields hold commas, doubled quotes and line breaks") {
  const std::string text =
      "a,b,c\n"
      "1,\"x, y\",z\n"
      "\"say \"\"hi\"\"\",\"two\nlines\",\n"
      "\"\",plain,\"\"\"\"\n";
  const std::vector<TableRow> rows = read_all(text, {{"a", true}, {"b", true}, {"c", true}});
  REQUIRE(rows.size() == 3);
  CHECK(*rows[0].values[0] == "1");
  CHECK(*rows[0].values[1] == "x, y");
  CHECK(*rows[0].values[2] == "z");
  CHECK(*rows[1].values[0] == "say \"hi\"");
  CHECK(*rows[1].values[1] == "two\nlines");
  CHECK(*rows[1].values[2] == "");
  CHECK(*rows[2].values[0] == "");
  CHECK(*rows[2].values[2] == "\"");
  // Line numbers are where each record starts: the second record's line break moves the third.
  CHECK(rows[0].line == 2);
  CHECK(rows[1].line == 3);
  CHECK(rows[2].line == 5);
}

TEST_CASE("csv: CRLF line ends, a byte order mark, blank lines, no final line end") {
  const std::string text =
      "\xEF\xBB\xBF"
      "b,a\r\nB1,A1\r\n\r\nB2,\"A\r\n2\"\r\nB3,A3";
  const std::vector<TableRow> rows = read_all(text, kAB);
  REQUIRE(rows.size() == 3);
  CHECK(*rows[0].values[0] == "A1");  // columns come in the order asked for, not the file's
  CHECK(*rows[0].values[1] == "B1");
  CHECK(*rows[1].values[0] == "A\r\n2");  // a quoted line break is kept as it is
  CHECK(rows[1].line == 4);
  CHECK(*rows[2].values[0] == "A3");
  CHECK(rows[2].line == 6);
}

TEST_CASE("csv: an optional column the header lacks is nullopt; extra columns are ignored") {
  const std::vector<TableRow> rows =
      read_all(",a,b,other\n0,x,y,z\n", {{"a", true}, {"b", true}, {"split", false}});
  REQUIRE(rows.size() == 1);
  CHECK(*rows[0].values[0] == "x");
  CHECK(!rows[0].values[2].has_value());
}

TEST_CASE("csv: a missing column names the column, the file and the header line") {
  CHECK(error_of("a,highlights\n1,2\n", {{"a", true}, {"article", true}}) ==
        "data.csv line 1: missing column 'article' (the header has: 'a', 'highlights')");
  CHECK(error_of("a,a,b\n1,2,3\n", kAB) ==
        "data.csv line 1: column 'a' appears twice in the header");
  CHECK(error_of("", kAB) == "data.csv: empty file: expected a CSV header row naming the columns");
}

TEST_CASE("csv: malformed records are errors with the line where the record starts") {
  CHECK(error_of("a,b\n1,2\nx\"y,2\n", kAB) ==
        "data.csv line 3: invalid CSV: a quote inside unquoted field 1 (RFC 4180: a field holding "
        "quotes must be quoted, its quotes doubled)");
  CHECK(error_of("a,b\n1,2\n3,\"4\"x\n", kAB) ==
        "data.csv line 3: invalid CSV: unexpected character 'x' after the closing quote of field 2 "
        "(expected a comma or the end of the line)");
  CHECK(error_of("a,b\n\"multi\nline\",2\n1,2,3\n", kAB) ==
        "data.csv line 4: invalid CSV: expected 2 fields as in the header, found 3");
  CHECK(error_of("a,b\n1,2\n3,\"never\ncloses\n", kAB) ==
        "data.csv line 3: field 2 of the record on line 3 opens a quote that never closes");
}

TEST_CASE("csv: invalid UTF-8 is an error with its byte offset in the file") {
  // "a,b\n" is bytes 0-3, "1,2\n" 4-7, "3," 8-9: the lone lead byte 0xC3 is byte 10.
  const std::string text = "a,b\n1,2\n3,\xC3(\n";
  CHECK(error_of(text, kAB) == "data.csv line 3: invalid UTF-8 at byte offset 10");
}

TEST_CASE("csv: skip_invalid skips malformed records, counts them and keeps reading") {
  TableReadReport report;
  const std::vector<TableRow> rows =
      read_all("a,b\n1,2\nbad\"quote,2\n3,4\n5\n6,\xFF\n7,8\n", kAB, true, &report);
  REQUIRE(rows.size() == 3);
  CHECK(*rows[0].values[0] == "1");
  CHECK(*rows[1].values[0] == "3");
  CHECK(*rows[2].values[0] == "7");
  CHECK(rows[2].line == 7);
  CHECK(report.rows == 3);
  CHECK(report.skipped == 3);
  REQUIRE(report.skip_messages.size() == 3);
  CHECK(report.skip_messages[0].rfind("data.csv line 3: invalid CSV: a quote", 0) == 0);
  CHECK(report.skip_messages[1] ==
        "data.csv line 5: invalid CSV: expected 2 fields as in the header, found 1");
  CHECK(report.skip_messages[2] == "data.csv line 6: invalid UTF-8 at byte offset 28");
}

TEST_CASE("csv: random fields survive a round trip through an independent RFC 4180 writer") {
  const std::string alphabet[] = {"a", "Z", " ", ",", "\"", "\n", "\r\n", "é", "漢", "''", "0"};
  uint64_t state = 12345;
  auto next = [&] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<size_t>(state >> 33);
  };
  std::vector<std::vector<std::string>> expected;
  std::string text = "a,b\n";
  for (int r = 0; r < 300; ++r) {
    std::vector<std::string> row(2);
    for (std::string& field : row) {
      const size_t length = next() % 12;
      for (size_t i = 0; i < length; ++i) field += alphabet[next() % std::size(alphabet)];
    }
    if (row[0].empty() && row[1].empty()) row[0] = "x";  // "," alone is a record, not blank
    text += csv_field(row[0]) + "," + csv_field(row[1]) + (r % 2 ? "\r\n" : "\n");
    expected.push_back(row);
  }
  const std::vector<TableRow> rows = read_all(text, kAB);
  REQUIRE(rows.size() == expected.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    CHECK(*rows[r].values[0] == expected[r][0]);
    CHECK(*rows[r].values[1] == expected[r][1]);
  }
}

TEST_CASE("csv: the pandas-written CNN/DailyMail CSVs equal their JSONL copy") {
  std::vector<TableRow> jsonl;
  read_jsonl_file(kSample + "cnn_dm_sample.jsonl",
                  {{"article", true}, {"highlights", true}, {"id", true}}, {},
                  [&](const TableRow& row) { jsonl.push_back(row); });
  REQUIRE(jsonl.size() == 1400);

  std::vector<TableRow> train;
  const TableReadReport report =
      read_csv_file(kSample + "cnn_dailymail_subset.csv", {{"article", true}, {"highlights", true}},
                    {}, [&](const TableRow& row) { train.push_back(row); });
  CHECK(report.rows == 300);
  REQUIRE(train.size() == 300);
  CHECK(train[0].values[0]->rfind("LONDON, England (Reuters) -- Harry Potter star Daniel", 0) == 0);
  for (size_t r = 0; r < train.size(); ++r) {
    CHECK(*train[r].values[0] == *jsonl[r].values[0]);
    CHECK(*train[r].values[1] == *jsonl[r].values[1]);
  }

  std::vector<TableRow> validation;
  read_csv_file(kSample + "cnn_dailymail_validation_subset.csv",
                {{"article", true}, {"highlights", true}, {"id", true}}, {},
                [&](const TableRow& row) { validation.push_back(row); });
  REQUIRE(validation.size() == 1000);
  CHECK(*validation[0].values[2] == "a4942dd663020ca54575471657a0af38d82897d6");
  CHECK(*validation[999].values[2] == "c88b9f2d5dcb291ef3f68b95d527703a9ba9fb35");
  for (size_t r = 0; r < validation.size(); ++r) {
    CHECK(*validation[r].values[0] == *jsonl[400 + r].values[0]);
    CHECK(*validation[r].values[1] == *jsonl[400 + r].values[1]);
    CHECK(*validation[r].values[2] == *jsonl[400 + r].values[2]);
  }
  // Highlights hold line breaks inside quoted fields, so records start further down each time.
  CHECK(validation[1].line > 3);
}

TEST_CASE("csv: a file that does not exist is an error naming it") {
  testing::TempFolder folder("csv_reader");
  try {
    read_csv_file(folder.file("absent.csv"), kAB, {}, [](const TableRow&) {});
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("absent.csv: cannot open") != std::string::npos);
  }
}
