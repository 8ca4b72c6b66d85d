// The Porter stemmer against NLTK's PorterStemmer() on words of the sample articles
// (tests/fixtures/rouge/porter_stems.tsv, made by tools/reference/make_rouge_fixture.py) and
// against the worked examples of Porter's paper.
#include <doctest/doctest.h>

#include <fstream>
#include <string>

#include "train/porter_stemmer.h"

using t5zero::porter_stem;

TEST_CASE("porter_stem: examples from Porter (1980), steps 1a to 5b") {
  // Step 1a.
  CHECK(porter_stem("caresses") == "caress");
  CHECK(porter_stem("ponies") == "poni");
  CHECK(porter_stem("caress") == "caress");
  CHECK(porter_stem("cats") == "cat");
  // Step 1b, with the e restored or the double consonant undone.
  CHECK(porter_stem("feed") == "feed");
  CHECK(porter_stem("agreed") == "agre");  // agreed → agree (1b), then step 5a drops the e
  CHECK(porter_stem("plastered") == "plaster");
  CHECK(porter_stem("bled") == "bled");
  CHECK(porter_stem("motoring") == "motor");
  CHECK(porter_stem("sing") == "sing");
  CHECK(porter_stem("conflated") == "conflat");
  CHECK(porter_stem("hopping") == "hop");
  CHECK(porter_stem("falling") == "fall");
  CHECK(porter_stem("filing") == "file");
  // Steps 2 to 4.
  CHECK(porter_stem("relational") == "relat");
  CHECK(porter_stem("conditional") == "condit");
  CHECK(porter_stem("triplicate") == "triplic");
  CHECK(porter_stem("hopefulness") == "hope");
  CHECK(porter_stem("adjustment") == "adjust");
  CHECK(porter_stem("adoption") == "adopt");
  CHECK(porter_stem("effective") == "effect");
  // Step 5.
  CHECK(porter_stem("probate") == "probat");
  CHECK(porter_stem("cease") == "ceas");
  CHECK(porter_stem("controlling") == "control");
  CHECK(porter_stem("roll") == "roll");
}

TEST_CASE("porter_stem: NLTK's extensions") {
  // The pool of irregular forms.
  CHECK(porter_stem("skies") == "sky");
  CHECK(porter_stem("dying") == "die");
  CHECK(porter_stem("news") == "news");
  CHECK(porter_stem("innings") == "inning");
  // Four-letter -ies/-ied keep "ie"; y → i only after a consonant that is not the whole stem.
  CHECK(porter_stem("ties") == "tie");
  CHECK(porter_stem("tied") == "tie");
  CHECK(porter_stem("cried") == "cri");
  CHECK(porter_stem("happy") == "happi");
  CHECK(porter_stem("enjoy") == "enjoy");
  CHECK(porter_stem("by") == "by");
  // "alli" → "al" first, "logi" → "log", "fulli" → "ful", and two letters stay as they are.
  CHECK(porter_stem("generously") == "gener");
  CHECK(porter_stem("archaeology") == "archaeolog");
  CHECK(porter_stem("is") == "is");
  // Upper case is lowered first.
  CHECK(porter_stem("Running") == "run");
  // A run of y's alternates consonant and vowel; a long one must not exhaust the stack (NLTK:
  // the last y becomes i).
  CHECK(porter_stem(std::string(10000, 'y')) == std::string(9999, 'y') + "i");
}

TEST_CASE("porter_stem: equals NLTK on words of the sample articles") {
  std::ifstream in(T5ZERO_SOURCE_DIR "/tests/fixtures/rouge/porter_stems.tsv");
  REQUIRE(in);
  std::string line;
  size_t words = 0, mismatches = 0;
  while (std::getline(in, line)) {
    size_t tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    std::string word = line.substr(0, tab), expected = line.substr(tab + 1);
    std::string got = porter_stem(word);
    if (got != expected) {
      ++mismatches;
      INFO(word, " -> ", got, " (NLTK: ", expected, ")");
      CHECK(got == expected);
    }
    ++words;
  }
  CHECK(words >= 3000);
  CHECK(mismatches == 0);
}
