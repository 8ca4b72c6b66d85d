// ROUGE against rouge-score 0.1.2 (RougeScorer(use_stemmer=True)) on 505 prediction/reference
// pairs (tests/fixtures/rouge/, made by tools/reference/make_rouge_fixture.py), hand-worked
// cases, the corpus means, and the text files `t5zero rouge` reads.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "temp_folder.h"
#include "train/punkt_sentence_splitter.h"
#include "train/rouge.h"
#include "train/text_lines.h"

using namespace t5zero;

namespace {

using Tokens = std::vector<std::string>;

std::string fixture_path(const std::string& name) {
  return std::string(T5ZERO_SOURCE_DIR) + "/tests/fixtures/rouge/" + name;
}

struct FixturePair {
  std::string kind, prediction, reference;
  std::vector<TextSpan> prediction_sentences, reference_sentences;
  RougeScore rouge1, rouge2, rougeL, rougeLsum, rougeLsum_newlines;
};

RougeScore score_of(const JsonValue& v) {
  std::vector<JsonValue> prf = v.as_array();
  REQUIRE(prf.size() == 3);
  return {prf[0].as_double(), prf[1].as_double(), prf[2].as_double()};
}

std::vector<TextSpan> spans_of(const JsonValue& v) {
  std::vector<TextSpan> spans;
  for (const JsonValue& span : v.as_array()) {
    std::vector<JsonValue> be = span.as_array();
    spans.push_back({static_cast<size_t>(be[0].as_int()), static_cast<size_t>(be[1].as_int())});
  }
  return spans;
}

std::vector<FixturePair> load_pairs() {
  std::ifstream in(fixture_path("rouge_pairs.jsonl"));
  REQUIRE(in);
  std::vector<FixturePair> pairs;
  std::string line;
  while (std::getline(in, line)) {
    JsonValue v = JsonValue::parse_text(line, "rouge_pairs.jsonl");
    FixturePair p;
    p.kind = v.get_string("kind");
    p.prediction = v.get_string("prediction");
    p.reference = v.get_string("reference");
    p.prediction_sentences = spans_of(v.at("prediction_sentences"));
    p.reference_sentences = spans_of(v.at("reference_sentences"));
    p.rouge1 = score_of(v.at("rouge1"));
    p.rouge2 = score_of(v.at("rouge2"));
    p.rougeL = score_of(v.at("rougeL"));
    p.rougeLsum = score_of(v.at("rougeLsum"));
    p.rougeLsum_newlines = score_of(v.at("rougeLsum_newlines"));
    pairs.push_back(std::move(p));
  }
  return pairs;
}

// The recipe's "\n".join(sentences) from the sentences nltk found (byte spans of the text).
std::string join_sentences(const std::string& text, const std::vector<TextSpan>& spans) {
  std::string out;
  for (size_t i = 0; i < spans.size(); ++i) {
    if (i > 0) out += '\n';
    out += text.substr(spans[i].begin, spans[i].end - spans[i].begin);
  }
  return out;
}

bool close(const RougeScore& got, const RougeScore& expected, double tolerance = 1e-6) {
  return std::abs(got.precision - expected.precision) <= tolerance &&
         std::abs(got.recall - expected.recall) <= tolerance &&
         std::abs(got.fmeasure - expected.fmeasure) <= tolerance;
}

void check_score(const RougeScore& got, double precision, double recall) {
  CHECK(got.precision == doctest::Approx(precision).epsilon(1e-12));
  CHECK(got.recall == doctest::Approx(recall).epsilon(1e-12));
  double f = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
  CHECK(got.fmeasure == doctest::Approx(f).epsilon(1e-12));
}

}  // namespace

TEST_CASE("rouge_tokenize: lower case, [a-z0-9] runs, stems of tokens longer than three") {
  CHECK(rouge_tokenize("The quick brown fox jumps over the lazy dogs.") ==
        Tokens{"the", "quick", "brown", "fox", "jump", "over", "the", "lazi", "dog"});
  // Apostrophes, hyphens and other punctuation separate; digits stay in tokens.
  CHECK(rouge_tokenize("It's a 3-D film, U.S.-made (2010s)!") ==
        Tokens{"it", "s", "a", "3", "d", "film", "u", "s", "made", "2010"});
  // "runs" has four characters and is stemmed; "ran" and "cat" are not looked at.
  CHECK(rouge_tokenize("runs ran cats cat") == Tokens{"run", "ran", "cat", "cat"});
  // Non-ASCII characters separate, except the two whose Python lower() is ASCII.
  CHECK(rouge_tokenize("caf\xC3\xA9 na\xC3\xAFve") == Tokens{"caf", "na", "ve"});
  CHECK(rouge_tokenize("5\xE2\x84\xAA") == Tokens{"5k"});              // U+212A
  CHECK(rouge_tokenize("\xC4\xB0stanbul") == Tokens{"i", "stanbul"});  // U+0130
  CHECK(rouge_tokenize("") == Tokens{});
  CHECK(rouge_tokenize(" \n\t... --- ") == Tokens{});
}

TEST_CASE("rouge_n and rouge_l: hand-worked scores") {
  Tokens target{"the", "cat", "sat", "on", "the", "mat"};
  Tokens prediction{"the", "cat", "on", "the", "mat"};
  // Unigrams: the×2, cat, on, mat match (5 of 5 predicted, 5 of 6 reference).
  check_score(rouge_n(target, prediction, 1), 5.0 / 5, 5.0 / 6);
  // Bigrams: "the cat", "on the", "the mat" match; 4 predicted, 5 in the reference.
  check_score(rouge_n(target, prediction, 2), 3.0 / 4, 3.0 / 5);
  check_score(rouge_l(target, prediction), 5.0 / 5, 5.0 / 6);
  // Counts are clipped: "the the the" against one... two "the"s.
  check_score(rouge_n(target, Tokens{"the", "the", "the"}, 1), 2.0 / 3, 2.0 / 6);
  // Reversed order: every unigram matches, but the longest common subsequence is "the on the".
  Tokens reversed{"mat", "the", "on", "sat", "cat", "the"};
  check_score(rouge_n(target, reversed, 1), 1.0, 1.0);
  check_score(rouge_l(target, reversed), 3.0 / 6, 3.0 / 6);
  // Empty sides score zero (n-gram totals are floored at 1, LCS returns zero outright).
  check_score(rouge_n(target, Tokens{}, 1), 0, 0);
  check_score(rouge_n(Tokens{}, Tokens{}, 2), 0, 0);
  check_score(rouge_l(Tokens{}, prediction), 0, 0);
  // Fewer tokens than n: no n-grams, zero.
  check_score(rouge_n(Tokens{"a"}, Tokens{"a"}, 2), 0, 0);
}

TEST_CASE("rouge_lsum: union LCS over sentences, tokens counted at most once") {
  using Sentences = std::vector<Tokens>;
  // Reference "a b c / d e" against prediction "a c d / b e": sentence 1's LCS with the
  // prediction sentences covers a, c and b; sentence 2's covers d and e: all five tokens hit,
  // though the LCS of the joined texts (a c d e) has only four.
  Sentences reference{{"a", "b", "c"}, {"d", "e"}};
  Sentences prediction{{"a", "c", "d"}, {"b", "e"}};
  check_score(rouge_lsum(reference, prediction), 1.0, 1.0);
  check_score(rouge_l({"a", "b", "c", "d", "e"}, {"a", "c", "d", "b", "e"}), 0.8, 0.8);
  // One "a" in the reference sentence hit by two prediction sentences counts once.
  check_score(rouge_lsum(Sentences{{"a", "a"}}, Sentences{{"a"}, {"a"}}), 0.5, 0.5);
  // On a tie the LCS walk drops the reference token ("b"), so "b a" covers "a" only: with the
  // second sentence "a" the union is {a}, one hit of three predicted and two reference tokens.
  check_score(rouge_lsum(Sentences{{"a", "b"}}, Sentences{{"b", "a"}, {"a"}}), 1.0 / 3, 1.0 / 2);
  // No sentences, or sentences without tokens, score zero.
  check_score(rouge_lsum(Sentences{}, prediction), 0, 0);
  check_score(rouge_lsum(reference, Sentences{{}}), 0, 0);
}

TEST_CASE("rouge_score_pair: Lsum reads the texts' lines") {
  RougeScores s = rouge_score_pair("a b c\nd e", "a c d\nb e");
  check_score(s.rouge1, 1.0, 1.0);
  check_score(s.rouge2, 0.25, 0.25);  // only "c d", which spans the line break
  check_score(s.rougeL, 0.8, 0.8);
  check_score(s.rougeLsum, 1.0, 1.0);
  // Empty lines are dropped; a line of punctuation is a sentence without tokens.
  check_score(rouge_score_pair("a b c\n\n...\nd e", "a c d\n\nb e").rougeLsum, 1.0, 1.0);
  RougeScores empty = rouge_score_pair("", "Some prediction.");
  check_score(empty.rouge1, 0, 0);
  check_score(empty.rougeLsum, 0, 0);
}

TEST_CASE("rouge: equals rouge-score on 505 pairs, Lsum on nltk's sentence splits") {
  std::vector<FixturePair> pairs = load_pairs();
  REQUIRE(pairs.size() >= 500);
  size_t mismatches = 0, split_disagreements = 0;
  for (const FixturePair& p : pairs) {
    RougeScores raw = rouge_score_pair(p.reference, p.prediction);
    RougeScore lsum = rouge_score_pair(join_sentences(p.reference, p.reference_sentences),
                                       join_sentences(p.prediction, p.prediction_sentences))
                          .rougeLsum;
    bool ok = close(raw.rouge1, p.rouge1) && close(raw.rouge2, p.rouge2) &&
              close(raw.rougeL, p.rougeL) && close(raw.rougeLsum, p.rougeLsum_newlines) &&
              close(lsum, p.rougeLsum);
    if (!ok) {
      ++mismatches;
      INFO("kind ", p.kind, "\nprediction: ", p.prediction, "\nreference: ", p.reference);
      CHECK(close(raw.rouge1, p.rouge1));
      CHECK(close(raw.rouge2, p.rouge2));
      CHECK(close(raw.rougeL, p.rougeL));
      CHECK(close(raw.rougeLsum, p.rougeLsum_newlines));
      CHECK(close(lsum, p.rougeLsum));
    }
    // Our splitter finds the same sentences as nltk.sent_tokenize(text.strip()).
    for (const auto& [text, spans] : {std::pair{&p.prediction, &p.prediction_sentences},
                                      std::pair{&p.reference, &p.reference_sentences}}) {
      std::string expected = join_sentences(*text, *spans);
      if (sentence_per_line(*text) != expected) {
        ++split_disagreements;
        INFO("text: ", *text, "\nnltk: ", expected);
        CHECK(sentence_per_line(*text) == expected);
      }
    }
  }
  CHECK(mismatches == 0);
  CHECK(split_disagreements == 0);
}

TEST_CASE("corpus_rouge: mean F1 x100 as numpy's mean of rouge-score's F1s") {
  std::vector<FixturePair> pairs = load_pairs();
  std::vector<std::string> predictions, references;
  for (const FixturePair& p : pairs) {
    predictions.push_back(p.prediction);
    references.push_back(p.reference);
  }
  JsonValue corpus = JsonValue::parse_file(fixture_path("rouge_corpus.json"));
  JsonValue mean = corpus.at("mean_f1_x100");
  REQUIRE(corpus.get_int("pairs") == static_cast<int64_t>(pairs.size()));

  RougeSummary recipe = corpus_rouge(predictions, references, LsumSentences::punkt);
  CHECK(recipe.pairs == pairs.size());
  CHECK(recipe.rouge1 == doctest::Approx(mean.get_double("rouge1")).epsilon(1e-9));
  CHECK(recipe.rouge2 == doctest::Approx(mean.get_double("rouge2")).epsilon(1e-9));
  CHECK(recipe.rougeL == doctest::Approx(mean.get_double("rougeL")).epsilon(1e-9));
  CHECK(recipe.rougeLsum == doctest::Approx(mean.get_double("rougeLsum")).epsilon(1e-9));

  RougeSummary plain = corpus_rouge(predictions, references, LsumSentences::newlines);
  CHECK(plain.rouge1 == doctest::Approx(mean.get_double("rouge1")).epsilon(1e-9));
  CHECK(plain.rougeL == doctest::Approx(mean.get_double("rougeL")).epsilon(1e-9));
  CHECK(plain.rougeLsum == doctest::Approx(mean.get_double("rougeLsum_newlines")).epsilon(1e-9));

  // The recipe's bootstrap median lands near, not on, the mean.
  JsonValue mid = corpus.at("bootstrap_mid_f1_x100_numpy_seed0");
  CHECK(std::abs(recipe.rouge1 - mid.get_double("rouge1")) < 0.5);

  CHECK_THROWS_WITH_AS(corpus_rouge({"a"}, {"a", "b"}),
                       "corpus_rouge: 1 predictions but 2 references", Error);
  CHECK_THROWS_AS(corpus_rouge({}, {}), Error);
}

TEST_CASE("sentence_per_line: strip, then one Punkt sentence per line") {
  CHECK(sentence_per_line("  Mr. Smith left. He came back at 5 p.m. The end.  ") ==
        "Mr. Smith left.\nHe came back at 5 p.m.\nThe end.");
  // After an abbreviation, "Then" (seen capitalised mid-sentence, not a frequent starter) does
  // not start a sentence for Punkt, nor for nltk.
  CHECK(sentence_per_line("He came back at 5 p.m. Then he slept.") ==
        "He came back at 5 p.m. Then he slept.");
  CHECK(sentence_per_line("") == "");
  CHECK(sentence_per_line(" \n ") == "");
}

TEST_CASE("mean_generated_length: ids other than pad, averaged over sequences") {
  // Generated sequences start with the decoder start id (pad) and are padded after </s> (1).
  CHECK(mean_generated_length({{0, 71, 19, 1, 0, 0}, {0, 5, 1, 0, 0, 0}}, 0) ==
        doctest::Approx(2.5));
  CHECK(mean_generated_length({{0, 0, 0}}, 0) == 0.0);
  CHECK(mean_generated_length({{-100, 3, 1}}, -100) == 2.0);
  CHECK_THROWS_AS(mean_generated_length({}, 0), Error);
}

TEST_CASE("text lines: plain text and JSONL, errors name the file and line") {
  using F = TextLinesFormat;
  CHECK(parse_text_lines("one\ntwo\r\n\nfour\n", "p.txt", F::automatic) ==
        std::vector<std::string>{"one", "two", "", "four"});
  CHECK(parse_text_lines("", "p.txt", F::automatic).empty());
  CHECK(parse_text_lines("\"a\\nb\"\n\"\\u00e9\"\r\n", "p.jsonl", F::automatic) ==
        std::vector<std::string>{"a\nb", "\xC3\xA9"});
  // A plain-text file whose first text starts with a quote needs --format text.
  CHECK(parse_text_lines("\"Hi,\" he said.\n", "p.txt", F::plain) ==
        std::vector<std::string>{"\"Hi,\" he said."});
  CHECK_THROWS_WITH_AS(parse_text_lines("\"Hi,\" he said.\n", "p.txt", F::automatic),
                       doctest::Contains("p.txt: line 1: not valid JSON"), Error);
  CHECK_THROWS_WITH_AS(parse_text_lines("\"Hi,\" he said.\n", "p.txt", F::automatic),
                       doctest::Contains("--format text"), Error);
  CHECK_THROWS_WITH_AS(parse_text_lines("\"a\"\n{\"text\": \"b\"}\n", "p.jsonl", F::jsonl),
                       "p.jsonl: line 2: expected one JSON string, got object", Error);
  CHECK_THROWS_WITH_AS(parse_text_lines("\"a\"\n\n\"c\"\n", "p.jsonl", F::jsonl),
                       "p.jsonl: line 2: expected one JSON string, got an empty line", Error);
  CHECK_THROWS_WITH_AS(parse_text_lines("ok\nbad \xFF byte\n", "p.txt", F::plain),
                       "p.txt: line 2: not valid UTF-8", Error);
  CHECK(parse_text_lines_format("jsonl") == F::jsonl);
  CHECK_THROWS_AS(parse_text_lines_format("csv"), Error);
}

TEST_CASE("read_aligned_text_lines: line counts must agree") {
  testing::TempFolder folder("rouge_text_lines");
  std::string predictions = folder.file("predictions.txt");
  std::string references = folder.file("references.txt");
  testing::write_file_bytes(predictions, "a b\nc d\ne f\n");
  testing::write_file_bytes(references, "\"a b\"\n\"c d\"\n");
  auto [p, r] = read_aligned_text_lines(predictions, predictions, TextLinesFormat::automatic);
  CHECK(p == std::vector<std::string>{"a b", "c d", "e f"});
  CHECK_THROWS_WITH_AS(read_aligned_text_lines(predictions, references, TextLinesFormat::automatic),
                       (predictions + " has 3 texts but " + references + " has 2: line 3 of " +
                        predictions + " has no partner in " + references)
                           .c_str(),
                       Error);
  CHECK_THROWS_AS(
      read_aligned_text_lines(folder.file("missing.txt"), references, TextLinesFormat::automatic),
      Error);
}
