// The Punkt sentence splitter against nltk.sent_tokenize (English Punkt, NLTK 3.10): worked
// examples whose expected splits were printed by nltk, and every highlights text and article of
// the 1,400-row CNN/DailyMail sample (tests/fixtures/rouge/punkt_sample_splits.tsv, made by
// tools/reference/make_rouge_fixture.py).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "train/punkt_sentence_splitter.h"

using t5zero::punkt_sentence_spans;
using t5zero::punkt_sentences;
using t5zero::TextSpan;
using Sentences = std::vector<std::string>;

namespace {

// FNV-1a 64 of "begin:end," over the spans, as the fixture generator writes it.
std::string spans_signature(const std::vector<TextSpan>& spans) {
  std::string text;
  for (TextSpan s : spans) text += std::to_string(s.begin) + ":" + std::to_string(s.end) + ",";
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char b : text) h = (h ^ b) * 0x100000001B3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

std::string replace_newlines(std::string text) {
  for (char& c : text) {
    if (c == '\n') c = ' ';
  }
  return text;
}

}  // namespace

TEST_CASE("punkt: NLTK's documented examples") {
  CHECK(punkt_sentences("Punkt knows that the periods in Mr. Smith and Johann S. Bach\n"
                        "do not mark sentence boundaries.  And sometimes sentences\n"
                        "can start with non-capitalized words.  i is a good variable\nname.") ==
        Sentences{"Punkt knows that the periods in Mr. Smith and Johann S. Bach\n"
                  "do not mark sentence boundaries.",
                  "And sometimes sentences\ncan start with non-capitalized words.",
                  "i is a good variable\nname."});
  // Closing punctuation after a break stays with the sentence it closes.
  CHECK(punkt_sentences("(How does it deal with this parenthesis?)  \"It should be part of the\n"
                        "previous sentence.\" \"(And the same with this one.)\" ('And this one!')\n"
                        "\"('(And (this)) '?)\" [(and this. )]") ==
        Sentences{"(How does it deal with this parenthesis?)",
                  "\"It should be part of the\nprevious sentence.\"",
                  "\"(And the same with this one.)\"", "('And this one!')",
                  "\"('(And (this)) '?)\"", "[(and this. )]"});
  CHECK(punkt_sentences("Very bad acting!!! I promise.") ==
        Sentences{"Very bad acting!!!", "I promise."});
}

TEST_CASE("punkt: abbreviations, numbers, initials, ellipses and quotes as nltk splits them") {
  CHECK(punkt_sentences("").empty());
  CHECK(punkt_sentences("   ").empty());
  CHECK(punkt_sentences("No break here") == Sentences{"No break here"});
  CHECK(punkt_sentences("Ends with Inc.") == Sentences{"Ends with Inc."});
  // A number before a lower-case word is not a break; before a capital it is.
  CHECK(punkt_sentences("He won in 2010. the crowd cheered. Then 3. Next.") ==
        Sentences{"He won in 2010. the crowd cheered.", "Then 3.", "Next."});
  CHECK(punkt_sentences("Costs $5.99. Cheap.") == Sentences{"Costs $5.99.", "Cheap."});
  // Initials before a name, "Straße" and "Éric" read as words with and without case.
  CHECK(punkt_sentences("Wait... What is it? It is J. K. Rowling. Die Stra\xC3\x9F"
                        "e. \xC3\x89ric arrived.") == Sentences{"Wait... What is it?",
                                                                "It is J. K. Rowling.",
                                                                "Die Stra\xC3\x9F"
                                                                "e.",
                                                                "\xC3\x89ric arrived."});
  // "U.S." is an abbreviation: a break only when the next word looks like a sentence start.
  CHECK(punkt_sentences("Mr. Smith met the U.S. president. He left.") ==
        Sentences{"Mr. Smith met the U.S. president.", "He left."});
  CHECK(punkt_sentences("In the U.S. Officials agreed.") ==
        Sentences{"In the U.S. Officials agreed."});
  CHECK(punkt_sentences("A. B. C. D.") == Sentences{"A.", "B. C. D."});
  // Curly quotes close a sentence (NLTK 3.10); a quote glued to the next word does not move.
  CHECK(punkt_sentences("She said \xE2\x80\x9Cstop.\xE2\x80\x9D Then left.") ==
        Sentences{"She said \xE2\x80\x9Cstop.\xE2\x80\x9D", "Then left."});
  CHECK(punkt_sentences("He said \"no.\"Then left.") == Sentences{"He said \"no.", "\"Then left."});
  CHECK(punkt_sentences("It (the car.) was red. Yes.") ==
        Sentences{"It (the car.)", "was red.", "Yes."});
  CHECK(punkt_sentences("Foo.--Bar. Baz") == Sentences{"Foo.--Bar.", "Baz"});
  CHECK(punkt_sentences("x. . . y. Z") == Sentences{"x. .", ".", "y.", "Z"});
  // Unicode whitespace (here U+00A0) separates sentences; "\r\n" too.
  CHECK(punkt_sentences("End.\xC2\xA0Next one.") == Sentences{"End.", "Next one."});
  CHECK(punkt_sentences("One.\r\nTwo.") == Sentences{"One.", "Two."});
  // Spans are byte offsets into the text.
  std::vector<TextSpan> spans = punkt_sentence_spans("\xC3\x89t\xC3\xA9. Hiver.");
  REQUIRE(spans.size() == 2);
  CHECK(spans[0].begin == 0);
  CHECK(spans[0].end == 6);
  CHECK(spans[1].begin == 7);
  CHECK(spans[1].end == 13);
}

TEST_CASE("punkt: agrees with nltk on the 1,400 sample highlights and articles") {
  std::ifstream data(T5ZERO_SHARED_DIR "/data/cnn_dm_sample/cnn_dm_sample.jsonl");
  std::ifstream expected_file(T5ZERO_SOURCE_DIR "/tests/fixtures/rouge/punkt_sample_splits.tsv");
  REQUIRE(data);
  REQUIRE(expected_file);
  std::vector<std::pair<std::string, std::string>> rows;  // highlights, article
  std::string line;
  while (std::getline(data, line)) {
    t5zero::JsonValue row = t5zero::JsonValue::parse_text(line, "cnn_dm_sample.jsonl");
    rows.emplace_back(row.get_string("highlights"), row.get_string("article"));
  }
  REQUIRE(rows.size() == 1400);

  std::map<std::string, std::pair<size_t, size_t>> agreement;  // kind → (agree, total)
  while (std::getline(expected_file, line)) {
    std::istringstream fields(line);
    std::string kind, signature;
    size_t row = 0, count = 0;
    fields >> kind >> row >> count >> signature;
    REQUIRE(row < rows.size());
    std::string text = kind == "article"             ? rows[row].second
                       : kind == "highlights_spaced" ? replace_newlines(rows[row].first)
                                                     : rows[row].first;
    std::vector<TextSpan> spans = punkt_sentence_spans(text);
    bool same = spans.size() == count && spans_signature(spans) == signature;
    agreement[kind].first += same;
    agreement[kind].second += 1;
    if (!same) {
      INFO(kind, " row ", row, ": ", text);
      CHECK(spans.size() == count);
      CHECK(spans_signature(spans) == signature);
    }
  }
  REQUIRE(agreement.size() == 3);
  for (const auto& [kind, counts] : agreement) {
    MESSAGE(kind, ": ", counts.first, " of ", counts.second, " texts split as nltk splits them");
    CHECK(counts.second == 1400);
    CHECK(counts.first == counts.second);
  }
}
