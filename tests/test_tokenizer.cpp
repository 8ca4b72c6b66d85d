// T5Tokenizer against transformers' T5TokenizerFast (4.26.0 / tokenizers 0.13.3): fixtures written
// by tools/reference/make_tokenizer_fixture.py for every article and highlights text of the
// CNN/DailyMail sample and for hand-picked edge cases (ids, decodes, the normalizer alone); plus
// identities (truncation, round trips), the sentencepiece model reader against libsentencepiece,
// and `t5zero tokenize`.
#include <doctest/doctest.h>
#include <sentencepiece_processor.h>

#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/json_writer.h"
#include "io/jsonl_reader.h"
#include "io/tokenizer.h"
#include "io/tokenizer_grapheme.h"
#include "io/tokenizer_normalizer.h"
#include "io/tokenizer_sentencepiece_model.h"
#include "io/tokenizer_unigram.h"
#include "temp_folder.h"

using namespace t5zero;
namespace fs = std::filesystem;

namespace {

const fs::path kTokenizerDir = fs::path(T5ZERO_SHARED_DIR) / "data" / "t5-tokenizer";
const fs::path kSampleFile =
    fs::path(T5ZERO_SHARED_DIR) / "data" / "cnn_dm_sample" / "cnn_dm_sample.jsonl";
const fs::path kFixtureDir = fs::path(T5ZERO_SOURCE_DIR) / "tests" / "fixtures" / "tokenizer";

const T5Tokenizer& tokenizer() {
  static const T5Tokenizer tok = T5Tokenizer::load(kTokenizerDir);
  return tok;
}

std::string ids_text(const std::vector<int32_t>& ids) {
  std::string out = "[";
  for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
  return out + "]";
}

std::vector<int32_t> ids_of(const JsonValue& array) {
  std::vector<int32_t> ids;
  for (const JsonValue& v : array.as_array()) ids.push_back(static_cast<int32_t>(v.as_int()));
  return ids;
}

uint64_t fnv1a64(const void* data, size_t size) {
  uint64_t h = 0xCBF29CE484222325ull;
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    h ^= p[i];
    h *= 0x100000001B3ull;
  }
  return h;
}

// As the fixture: FNV-1a-64 of the ids as little-endian int32.
uint64_t ids_hash(const std::vector<int32_t>& ids) {
  std::vector<unsigned char> bytes;
  for (const int32_t id : ids) {
    const auto u = static_cast<uint32_t>(id);
    for (int b = 0; b < 4; ++b) bytes.push_back(static_cast<unsigned char>(u >> (8 * b)));
  }
  return fnv1a64(bytes.data(), bytes.size());
}

// Sequential little-endian reads of the binary fixture, bounds-checked.
class FixtureReader {
 public:
  explicit FixtureReader(std::string data) : data_(std::move(data)) {}
  template <typename T>
  T read() {
    REQUIRE_MESSAGE(pos_ + sizeof(T) <= data_.size(), "fixture truncated at byte ", pos_);
    T value;
    std::memcpy(&value, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return value;
  }
  std::string read_bytes(size_t n) {
    REQUIRE_MESSAGE(pos_ + n <= data_.size(), "fixture truncated at byte ", pos_);
    std::string out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::string data_;
  size_t pos_ = 0;
};

struct SampleRow {
  std::string article;
  std::string highlights;
};

std::vector<SampleRow> read_sample() {
  std::vector<SampleRow> rows;
  read_jsonl_file(kSampleFile.string(), {{"article"}, {"highlights"}}, {},
                  [&](const TableRow& row) {
                    rows.push_back({*row.values[0], *row.values[1]});
                  });
  return rows;
}

// The t5zero binary of this build: <build>/tools/t5zero beside <build>/tests/<this test>.
std::string t5zero_binary() {
  const fs::path binary =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero";
  REQUIRE_MESSAGE(fs::exists(binary), "build the t5zero target first: ", binary.string());
  return binary.string();
}

// Runs `t5zero tokenize` with the arguments, stdout to `out`; returns the exit status.
int run_tokenize(const std::string& arguments, const std::string& out) {
  const std::string command = t5zero_binary() + " tokenize --tokenizer " + kTokenizerDir.string() +
                              " " + arguments + " > " + out + " 2>&1";
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("load: T5's vocabulary, special ids and sentinels") {
  const T5Tokenizer& tok = tokenizer();
  CHECK(tok.vocab_size() == 32100);
  CHECK(tok.pad_id() == 0);
  CHECK(tok.eos_id() == 1);
  CHECK(tok.unk_id() == 2);
  CHECK(tok.model_max_length() == 512);
  CHECK(tok.id_to_piece(0) == "<pad>");
  CHECK(tok.id_to_piece(1) == "</s>");
  CHECK(tok.id_to_piece(3) == "\xE2\x96\x81");
  CHECK(tok.id_to_piece(8) == "\xE2\x96\x81the");
  CHECK(tok.id_to_piece(31999) == "\xE2\x96\x81Interna\xC8\x9Bional");
  for (int n = 0; n < 100; ++n) {
    CHECK(tok.id_to_piece(32099 - n) == "<extra_id_" + std::to_string(n) + ">");
    CHECK(tok.is_special(32099 - n));
  }
  CHECK(tok.is_special(0));
  CHECK(tok.is_special(1));
  CHECK(tok.is_special(2));
  CHECK_FALSE(tok.is_special(3));
  CHECK_FALSE(tok.is_special(31999));
  CHECK_THROWS_WITH_AS(tok.id_to_piece(32100), doctest::Contains("outside the vocabulary"), Error);
  CHECK_THROWS_AS(tok.id_to_piece(-1), Error);
}

TEST_CASE("spiece.model reader agrees with libsentencepiece") {
  const tokenizer_detail::SentencePieceModel model =
      tokenizer_detail::read_sentencepiece_model(kTokenizerDir / "spiece.model");
  sentencepiece::SentencePieceProcessor sp;
  REQUIRE(sp.Load((kTokenizerDir / "spiece.model").string()).ok());
  REQUIRE(model.pieces.size() == static_cast<size_t>(sp.GetPieceSize()));
  CHECK(model.pieces.size() == 32000);
  int mismatches = 0;
  for (int i = 0; i < sp.GetPieceSize(); ++i) {
    const auto& p = model.pieces[i];
    const bool same = p.piece == sp.IdToPiece(i) && p.score == sp.GetScore(i) &&
                      (p.type == tokenizer_detail::PieceType::control) == sp.IsControl(i) &&
                      (p.type == tokenizer_detail::PieceType::unknown) == sp.IsUnknown(i);
    if (!same && ++mismatches <= 5) {
      MESSAGE("piece ", i, ": ours '", p.piece, "' ", p.score, ", sentencepiece '", sp.IdToPiece(i),
              "' ", sp.GetScore(i));
    }
  }
  CHECK(mismatches == 0);
  CHECK(model.unk_id == 2);
  CHECK(model.model_type == 1);
  CHECK_FALSE(model.byte_fallback);
  CHECK(model.normalizer_name == "nmt_nfkc");
  CHECK(model.precompiled_charsmap.size() == 237539);  // t5_numerics.md §5.1
}

TEST_CASE("grapheme clusters follow UAX #29 (Unicode 15.0)") {
  using tokenizer_detail::grapheme_cluster_length;
  struct Case {
    const char* text;
    size_t first_cluster_bytes;
  };
  const Case cases[] = {
      {"ab", 1},
      {"e\xCC\x81x", 3},                                        // e + COMBINING ACUTE (Extend)
      {"\r\nx", 2},                                             // GB3
      {"\r\xCC\x81", 1},                                        // GB4: nothing extends CR
      {"\xF0\x9F\x87\xBA\xF0\x9F\x87\xB8\xF0\x9F\x87\xAC", 8},  // RI RI | RI
      {"\xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9x", 11},    // man ZWJ woman (GB11)
      {"a\xE2\x80\x8D\xF0\x9F\x91\xA9", 4},          // a ZWJ | woman: GB11 needs a pictograph
      {"\xE1\x84\x80\xE1\x85\xA1\xE1\x86\xA8x", 9},  // Hangul L V T
      {"\xEA\xB0\x80\xE1\x86\xA8x", 6},              // LV syllable + T
      {"\xD8\x80"
       "1",
       3},                                       // ARABIC NUMBER SIGN (Prepend) + 1
      {"\xE0\xB8\x81\xE0\xB8\xB3x", 6},          // THAI KO KAI + SARA AM (SpacingMark)
      {"\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBDx", 8},  // thumbs up + skin tone (Extend)
  };
  for (const Case& c : cases) {
    CAPTURE(json_quote(c.text));
    CHECK(grapheme_cluster_length(c.text, 0) == c.first_cluster_bytes);
  }
  CHECK(tokenizer_detail::grapheme_properties(0x1F600).extended_pictographic);
  CHECK(tokenizer_detail::grapheme_properties(0x0301).kind ==
        tokenizer_detail::GraphemeBreak::extend);
  CHECK(tokenizer_detail::grapheme_properties(U'A').kind == tokenizer_detail::GraphemeBreak::other);
}

TEST_CASE("normalizer matches the fast tokenizer's on edge cases and on every code point") {
  const tokenizer_detail::SentencePieceModel model =
      tokenizer_detail::read_sentencepiece_model(kTokenizerDir / "spiece.model");
  const tokenizer_detail::T5Normalizer normalizer(model.precompiled_charsmap, "spiece.model");
  const JsonValue fixture = JsonValue::parse_file((kFixtureDir / "edge_cases.json").string());
  std::string normalized;
  for (const JsonValue& c : fixture.at("encode").as_array()) {
    const std::string text = c.get_string("text");
    normalizer.normalize(text, normalized);
    CAPTURE(json_quote(text));
    CHECK(json_quote(normalized) == json_quote(c.get_string("normalized")));
  }
  int blocks = 0;
  for (const JsonValue& block : fixture.at("normalizer_blocks").as_array()) {
    const auto first = static_cast<char32_t>(block.get_int("first"));
    std::string text;
    for (char32_t c = first; c < first + 256; ++c) {
      // UTF-8 of c, then "|".
      if (c < 0x80) {
        text.push_back(static_cast<char>(c));
      } else if (c < 0x800) {
        text.push_back(static_cast<char>(0xC0 | (c >> 6)));
        text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      } else if (c < 0x10000) {
        text.push_back(static_cast<char>(0xE0 | (c >> 12)));
        text.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      } else {
        text.push_back(static_cast<char>(0xF0 | (c >> 18)));
        text.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
        text.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
        text.push_back(static_cast<char>(0x80 | (c & 0x3F)));
      }
      text.push_back('|');
    }
    normalizer.normalize(text, normalized);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx",
                  static_cast<unsigned long long>(fnv1a64(normalized.data(), normalized.size())));
    CAPTURE(block.get_int("first"));
    CHECK(std::string(hash) == block.get_string("hash"));
    ++blocks;
  }
  CHECK(blocks == 256 - 8 + 11);
}

TEST_CASE("Unigram: best path, first path wins ties, unknown runs fuse, caches stay per model") {
  using tokenizer_detail::UnigramModel;
  const std::string m = "\xE2\x96\x81";  // "▁"
  // Scores by hand: "▁ab" = ▁ + ab (-1 - 3 = -4) beats ▁a + b (-4.5) and ▁ + a + b (-5).
  const UnigramModel a({"<unk>", m, "a", "b", "ab", m + "a"}, {0, -1, -2, -2, -3, -2.5f}, 0);
  // "▁a" = ▁ + a (-2) ties with the piece ▁a (-2): the path found first (from position 0) wins.
  const UnigramModel b({"<unk>", m, "a", m + "a"}, {0, -1, -1, -2}, 0);
  tokenizer_detail::UnigramScratch scratch;
  auto run = [&](const UnigramModel& model, const std::string& word) {
    std::vector<int32_t> ids;
    model.encode_word(word, ids, scratch);
    return ids;
  };
  CHECK(run(a, m + "ab") == std::vector<int32_t>{1, 4});
  CHECK(run(b, m + "a") == std::vector<int32_t>{3});
  // "zz" has no piece: two unknown characters become one <unk>.
  CHECK(run(a, m + "zzb") == std::vector<int32_t>{1, 0, 3});
  CHECK(run(a, "z" + m + "z") == std::vector<int32_t>{0, 1, 0});
  // The same scratch (and word cache) across models gives each model its own answer.
  CHECK(run(b, m + "ab") == std::vector<int32_t>{3, 0});
  CHECK(run(a, m + "ab") == std::vector<int32_t>{1, 4});
  CHECK(run(a, m + "ab") == std::vector<int32_t>{1, 4});
  CHECK(run(b, m + "ab") == std::vector<int32_t>{3, 0});
}

TEST_CASE("edge cases match the fast tokenizer's ids and decodes") {
  const T5Tokenizer& tok = tokenizer();
  const JsonValue fixture = JsonValue::parse_file((kFixtureDir / "edge_cases.json").string());
  int checked = 0;
  int mismatches = 0;
  for (const JsonValue& c : fixture.at("encode").as_array()) {
    const std::string text = c.get_string("text");
    const std::vector<int32_t> expected = ids_of(c.at("ids"));
    const std::vector<int32_t> ids = tok.encode(text);
    ++checked;
    if (ids != expected) {
      ++mismatches;
      MESSAGE("text ", json_quote(text), "\n  fast tokenizer: ", ids_text(expected),
              "\n  ours:           ", ids_text(ids));
    }
    CHECK(tok.decode(expected) == c.get_string("decoded"));
    CHECK(tok.decode(expected, false) == c.get_string("decoded_keep_special"));
    CHECK(tok.decode(expected, true, false) == c.get_string("decoded_raw"));
    if (auto truncated = c.find("truncated")) {
      for (const JsonValue& t : truncated->as_array()) {
        const int64_t max_length = t.get_int("max_length");
        CAPTURE(json_quote(text));
        CAPTURE(max_length);
        CHECK(ids_text(tok.encode(text, max_length)) == ids_text(ids_of(t.at("ids"))));
      }
    }
  }
  CHECK(checked > 100);
  CHECK(mismatches == 0);
  for (const JsonValue& c : fixture.at("decode").as_array()) {
    const std::vector<int32_t> ids = ids_of(c.at("ids"));
    const bool skip = c.get_bool("skip_special_tokens");
    CAPTURE(ids_text(ids));
    CAPTURE(skip);
    CHECK(tok.decode(ids, skip) == c.get_string("decoded"));
    CHECK(tok.decode(ids, skip, false) == c.get_string("decoded_raw"));
  }
}

TEST_CASE("the summarization prompt with an empty input is 12 ids (raw sentencepiece: 11)") {
  const std::vector<int32_t> ids =
      tokenizer().encode("Summarize the following news article:\n\nSummary:\n");
  CHECK(ids == std::vector<int32_t>{12198, 1635, 1737, 8, 826, 1506, 1108, 10, 20698, 10, 3, 1});
}

TEST_CASE("CNN/DailyMail sample: every article and highlights text matches the fast tokenizer") {
  const T5Tokenizer& tok = tokenizer();
  const std::vector<SampleRow> rows = read_sample();
  REQUIRE(rows.size() == 1400);
  std::vector<std::string> texts;
  for (const SampleRow& r : rows) {
    texts.push_back(r.article);
    texts.push_back(r.highlights);
  }
  const auto all = tok.encode_batch(texts, 4);
  const auto cut = tok.encode_batch(texts, 3, 512);

  FixtureReader fixture(testing::read_file_bytes((kFixtureDir / "cnn_dm_ids.bin").string()));
  REQUIRE(fixture.read_bytes(8) == "T5TOKFX1");
  REQUIRE(fixture.read<uint32_t>() == texts.size());
  int id_mismatches = 0;
  int decode_mismatches = 0;
  int full_checked = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto row = fixture.read<uint32_t>();
    const auto field = fixture.read<uint8_t>();
    REQUIRE(row == i / 2);
    REQUIRE(field == i % 2);
    const auto length = fixture.read<uint32_t>();
    const auto hash = fixture.read<uint64_t>();
    const auto cut_length = fixture.read<uint32_t>();
    const auto cut_hash = fixture.read<uint64_t>();
    const auto decode_hash = fixture.read<uint64_t>();
    std::vector<int32_t> expected;
    if (fixture.read<uint8_t>()) {
      for (uint32_t k = 0; k < length; ++k) expected.push_back(fixture.read<uint16_t>());
      ++full_checked;
    }
    const bool ids_match = all[i].size() == length && ids_hash(all[i]) == hash &&
                           (expected.empty() || all[i] == expected);
    const bool cut_match = cut[i].size() == cut_length && ids_hash(cut[i]) == cut_hash;
    const std::string name = std::to_string(row) + (field ? " highlights" : " article");
    if (!ids_match || !cut_match) {
      ++id_mismatches;
      const std::string expected_text =
          expected.empty() ? "hash only; tools/reference/make_tokenizer_fixture.py --show " + name
                           : ids_text(expected);
      const std::string cut_text = cut_match ? "" : "\n  the max_length=512 ids differ too";
      MESSAGE("row ", name, ": ids differ\n  text: ", json_quote(texts[i]), "\n  ours (",
              all[i].size(), " ids): ", ids_text(all[i]), "\n  fast tokenizer (", length,
              " ids): ", expected_text, cut_text);
    }
    const std::string decoded = tok.decode(all[i]);
    if (fnv1a64(decoded.data(), decoded.size()) != decode_hash) {
      ++decode_mismatches;
      MESSAGE("row ", name, ": decode differs\n  text: ", json_quote(texts[i]),
              "\n  our decode: ", json_quote(decoded));
    }
  }
  CHECK(fixture.done());
  CHECK(full_checked > 1400);
  CHECK(id_mismatches == 0);
  CHECK(decode_mismatches == 0);
}

TEST_CASE("encode_batch equals encode, whatever the thread count") {
  const T5Tokenizer& tok = tokenizer();
  const std::vector<SampleRow> rows = read_sample();
  std::vector<std::string> texts;
  for (size_t i = 0; i < 60; ++i) texts.push_back(rows[i].article);
  texts.push_back("");
  texts.push_back("<extra_id_0>");
  const auto one = tok.encode_batch(texts, 1);
  const auto many = tok.encode_batch(texts, 7);
  REQUIRE(one.size() == texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    CHECK(one[i] == tok.encode(texts[i]));
    CHECK(many[i] == one[i]);
  }
  CHECK(tok.encode_batch(std::vector<std::string>{}, 4).empty());
  // An error names the text it came from.
  texts[33] = std::string("bad \xC3 byte");
  CHECK_THROWS_WITH_AS(tok.encode_batch(texts, 3), doctest::Contains("text 33: "), Error);
}

TEST_CASE("truncation keeps </s> last and the ids before it") {
  const T5Tokenizer& tok = tokenizer();
  const std::string article = read_sample()[5].article;
  const std::vector<int32_t> full = tok.encode(article);
  REQUIRE(full.size() > 600);
  for (const int64_t max_length : {1, 2, 3, 17, 500, 512, 599}) {
    const std::vector<int32_t> ids = tok.encode(article, max_length);
    CAPTURE(max_length);
    REQUIRE(ids.size() == static_cast<size_t>(max_length));
    CHECK(ids.back() == tok.eos_id());
    CHECK(std::equal(ids.begin(), ids.end() - 1, full.begin()));
  }
  CHECK(tok.encode(article, static_cast<int64_t>(full.size() + 10)) == full);
  CHECK(tok.encode(article, static_cast<int64_t>(full.size())) == full);
  CHECK(tok.encode("a b", 100) == tok.encode("a b"));
  // An added token right at the cut: the id before </s> is the sentinel.
  CHECK(tok.encode("hello <extra_id_0> world", 4) == std::vector<int32_t>{21820, 3, 32099, 1});
  CHECK_THROWS_WITH_AS(tok.encode("x", 0), doctest::Contains("max_length"), Error);
}

TEST_CASE("decode round trips plain text, skips special tokens, cleans up spaces") {
  const T5Tokenizer& tok = tokenizer();
  // Highlights without unknown pieces decode (raw) to their text with whitespace runs as one
  // space and the leading space gone: the Metaspace decoder's inverse of the pipeline.
  int round_trips = 0;
  for (const SampleRow& row : read_sample()) {
    const std::string& text = row.highlights;
    bool ascii = true;
    for (const char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (!ascii) continue;
    const std::vector<int32_t> ids = tok.encode(text);
    if (std::find(ids.begin(), ids.end(), tok.unk_id()) != ids.end()) continue;
    std::string expected;
    for (const char c : text) {
      const bool space = c == ' ' || c == '\n' || c == '\t';
      if (space && (expected.empty() || expected.back() == ' ')) continue;
      expected.push_back(space ? ' ' : c);
    }
    CHECK(tok.decode(ids, true, false) == expected);
    // And the decoded text encodes to the same ids.
    CHECK(tok.encode(tok.decode(ids, true, false)) == ids);
    ++round_trips;
  }
  CHECK(round_trips > 1000);

  const std::vector<int32_t> with_special = {0, 32099, 8, 1782, 32098, 1};
  CHECK(tok.decode(with_special) == "the dog");
  CHECK(tok.decode(with_special, false) == "<pad><extra_id_0> the dog<extra_id_1></s>");

  const std::vector<int32_t> ids = tok.encode("Hello , world ! I do n't ' see ' it 's");
  CHECK(tok.decode(ids, true, false) == "Hello , world ! I do n't ' see ' it 's");
  CHECK(tok.decode(ids) == "Hello, world! I don't'see'it's");
}

TEST_CASE("a folder without tokenizer.json gives the same tokenizer (built from spiece.model)") {
  testing::TempFolder dir("tokenizer_spm_only");
  fs::copy_file(kTokenizerDir / "spiece.model", dir.path / "spiece.model");
  fs::copy_file(kTokenizerDir / "tokenizer_config.json", dir.path / "tokenizer_config.json");
  const T5Tokenizer spm_only = T5Tokenizer::load(dir.path);
  const T5Tokenizer& tok = tokenizer();
  CHECK(spm_only.vocab_size() == tok.vocab_size());
  for (int32_t id = 0; id < tok.vocab_size(); ++id) {
    if (spm_only.id_to_piece(id) != tok.id_to_piece(id) ||
        spm_only.is_special(id) != tok.is_special(id)) {
      FAIL("id ", id, ": '", spm_only.id_to_piece(id), "' vs '", tok.id_to_piece(id), "'");
    }
  }
  const JsonValue fixture = JsonValue::parse_file((kFixtureDir / "edge_cases.json").string());
  for (const JsonValue& c : fixture.at("encode").as_array()) {
    CAPTURE(json_quote(c.get_string("text")));
    CHECK(ids_text(spm_only.encode(c.get_string("text"))) == ids_text(ids_of(c.at("ids"))));
  }
}

TEST_CASE("bad input: invalid UTF-8, missing or corrupt files, unsupported tokenizer.json") {
  const T5Tokenizer& tok = tokenizer();
  CHECK_THROWS_WITH_AS(tok.encode("ok \xFF"), doctest::Contains("not valid UTF-8 (byte 3"), Error);
  CHECK_THROWS_WITH_AS(tok.encode("\xED\xA0\x80"), doctest::Contains("UTF-8"), Error);  // surrogate
  CHECK_THROWS_WITH_AS(tok.encode("\xC0\x80"), doctest::Contains("UTF-8"), Error);      // overlong

  testing::TempFolder dir("tokenizer_bad");
  CHECK_THROWS_WITH_AS(T5Tokenizer::load(dir.path), doctest::Contains("no spiece.model"), Error);

  const std::string model = testing::read_file_bytes((kTokenizerDir / "spiece.model").string());
  testing::write_file_bytes(dir.file("spiece.model"), model.substr(0, 5000));
  CHECK_THROWS_WITH_AS(T5Tokenizer::load(dir.path), doctest::Contains("spiece.model"), Error);
  testing::write_file_bytes(dir.file("spiece.model"), "not a model");
  CHECK_THROWS_AS(T5Tokenizer::load(dir.path), Error);

  testing::write_file_bytes(dir.file("spiece.model"), model);
  std::string json = testing::read_file_bytes((kTokenizerDir / "tokenizer.json").string());
  const std::string metaspace = "\"type\": \"Metaspace\"";
  const size_t at = json.find(metaspace);
  REQUIRE(at != std::string::npos);
  json.replace(at, metaspace.size(), "\"type\": \"Whitespace\"");
  testing::write_file_bytes(dir.file("tokenizer.json"), json);
  CHECK_THROWS_WITH_AS(T5Tokenizer::load(dir.path), doctest::Contains("Metaspace"), Error);
}

TEST_CASE("t5zero tokenize prints the fast tokenizer's ids per line, and decodes them") {
  const JsonValue fixture = JsonValue::parse_file((kFixtureDir / "edge_cases.json").string());
  const std::vector<JsonValue> cases = fixture.at("encode").as_array();
  testing::TempFolder dir("tokenize_cli");
  std::string texts, id_lines, expected_ids, expected_decoded, expected_truncated;
  for (const JsonValue& c : cases) {
    const std::vector<int32_t> ids = ids_of(c.at("ids"));
    texts += json_quote(c.get_string("text")) + "\n";
    id_lines += ids_text(ids) + "\n";
    expected_ids += ids_text(ids) + "\n";
    expected_decoded += c.get_string("decoded") + "\n";
    expected_truncated += ids_text(tokenizer().encode(c.get_string("text"), 4)) + "\n";
  }
  testing::write_file_bytes(dir.file("texts.jsonl"), texts);
  testing::write_file_bytes(dir.file("ids.txt"), id_lines);

  REQUIRE(run_tokenize("--input_file " + dir.file("texts.jsonl") + " --threads 3",
                       dir.file("out.txt")) == 0);
  const std::vector<std::string> got = lines_of(testing::read_file_bytes(dir.file("out.txt")));
  const std::vector<std::string> want = lines_of(expected_ids);
  REQUIRE(got.size() == want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CAPTURE(json_quote(cases[i].get_string("text")));
    CHECK(got[i] == want[i]);
  }
  REQUIRE(run_tokenize("--input_file " + dir.file("texts.jsonl") + " --max_length 4",
                       dir.file("cut.txt")) == 0);
  CHECK(testing::read_file_bytes(dir.file("cut.txt")) == expected_truncated);
  REQUIRE(run_tokenize("--decode --input_file " + dir.file("ids.txt"), dir.file("text.txt")) == 0);
  CHECK(testing::read_file_bytes(dir.file("text.txt")) == expected_decoded);

  REQUIRE(run_tokenize("--text 'Hello world'", dir.file("one.txt")) == 0);
  CHECK(testing::read_file_bytes(dir.file("one.txt")) == "[8774, 296, 1]\n");
  // Usage errors exit 2, bad input 1, with a message.
  CHECK(run_tokenize("", dir.file("usage.txt")) == 2);
  CHECK(testing::read_file_bytes(dir.file("usage.txt")).find("--text") != std::string::npos);
  CHECK(run_tokenize("--decode --text '[1, \"x\"]'", dir.file("bad.txt")) == 1);
}
