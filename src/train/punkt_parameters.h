// The learned parameters of a Punkt sentence splitter (Kiss & Strunk 2006, "Unsupervised
// Multilingual Sentence Boundary Detection") as NLTK stores them, and NLTK's English model.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace t5zero {

// Where a word type was seen in the training text, as NLTK's _ORTHO_* bits: first letter upper
// or lower case, at a sentence start, inside a sentence, or after a possible (unknown) break.
enum PunktOrtho : uint8_t {
  kOrthoBeginUpper = 1 << 1,
  kOrthoMiddleUpper = 1 << 2,
  kOrthoUnknownUpper = 1 << 3,
  kOrthoBeginLower = 1 << 4,
  kOrthoMiddleLower = 1 << 5,
  kOrthoUnknownLower = 1 << 6,
  kOrthoUpper = kOrthoBeginUpper | kOrthoMiddleUpper | kOrthoUnknownUpper,
  kOrthoLower = kOrthoBeginLower | kOrthoMiddleLower | kOrthoUnknownLower,
};

// Word types are lower-cased tokens; numbers read "##number##".
struct PunktParameters {
  std::unordered_set<std::string> abbreviations;      // without their final period: "u.s", "mr"
  std::unordered_set<std::string> sentence_starters;  // words that often begin a sentence
  // (type before a period, type after it) pairs that rarely straddle a sentence break.
  std::set<std::pair<std::string, std::string>> collocations;
  std::unordered_map<std::string, uint8_t> ortho_context;  // PunktOrtho bits per type

  // A type's PunktOrtho bits; 0 for a type the model never saw.
  uint8_t ortho(const std::string& type) const {
    auto it = ortho_context.find(type);
    return it == ortho_context.end() ? 0 : it->second;
  }
};

// NLTK's English model (punkt_tab/english), the one nltk.sent_tokenize uses.
const PunktParameters& punkt_english_parameters();

}  // namespace t5zero
