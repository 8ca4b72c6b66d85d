// Sentence splitting as nltk.sent_tokenize(text) does it (NLTK 3.10's PunktSentenceTokenizer
// with the English Punkt model), which the reference recipe runs on every prediction and
// reference before ROUGE-Lsum.
//
// The procedure is NLTK's, step for step: candidate breaks are '.', '?' and '!' followed by
// other punctuation or by whitespace and a token; each candidate is judged on a short context
// (the word before it, the mark, what follows) cut into Punkt word tokens; a first pass marks
// abbreviations (the model's list), ellipses and sentence breaks, a second pass revisits
// period-final tokens with the collocation, orthographic and frequent-sentence-starter heuristics
// of Kiss & Strunk (2006); closing quotes and brackets after a break move onto the sentence
// before it.
//
// With NLTK's English model (punkt_english_parameters.cpp) it splits all 1,400 CNN/DailyMail
// sample highlights (as stored, and with their newlines made spaces as in decoded labels) and
// all 1,400 articles exactly as nltk does (tests/test_punkt_sentence_splitter.cpp).
//
// Limits: character classes outside the ranges unicode_classes.h covers (letters and case of
// scripts other than Latin, Greek and Cyrillic) can make an initial or an upper/lower-case word
// read differently than in Python. Older NLTK (3.8 was current when the recipe was published)
// did not treat curly quotes and guillemets as punctuation in Punkt and matched with `re`, not
// `regex` (U+001C..1F as whitespace, "²" as a letter); there our splits follow NLTK 3.10.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "train/punkt_parameters.h"

namespace t5zero {

// A piece of a text as byte offsets [begin, end).
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

// The sentences of `text` as PunktSentenceTokenizer.span_tokenize gives them, in bytes.
std::vector<TextSpan> punkt_sentence_spans(
    std::string_view text, const PunktParameters& parameters = punkt_english_parameters());

// nltk.sent_tokenize(text): the sentence texts (whitespace between sentences dropped).
std::vector<std::string> punkt_sentences(std::string_view text);

}  // namespace t5zero
