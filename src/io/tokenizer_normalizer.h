// The fast T5 tokenizer's normalizer, tokenizer.json's
// Sequence[Precompiled(charsmap), Replace(" {2,}", " ")]: sentencepiece's compiled nmt_nfkc
// rules (a double-array trie of source strings and a blob of replacements) applied as
// tokenizers 0.13 applies them, then every run of spaces collapsed to one.
//
// tokenizers looks up each extended grapheme cluster shorter than 6 bytes whole, and a cluster
// whose first character(s) have a rule becomes the output of the shortest such rule entirely:
// "Ａ" + U+0301 gives "A" and "①" + U+0301 gives "1" (the accent is lost). Longer clusters, and
// clusters without a rule, go character by character. sentencepiece's own normalizer takes the
// longest match instead; the fast tokenizer's ids are what we reproduce.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero::tokenizer_detail {

class T5Normalizer {
 public:
  // charsmap: NormalizerSpec.precompiled_charsmap (empty = no Precompiled step, as transformers'
  // SpmConverter then leaves it out); source names it in error messages.
  T5Normalizer(std::string_view charsmap, const std::string& source);

  // Writes the normalized text to out (cleared first). text must be valid UTF-8.
  void normalize(std::string_view text, std::string& out) const;

  // The replacement of the shortest trie key that is a prefix of chunk, as spm_precompiled's
  // transform() (results[0] of a common-prefix search); false when no key matches.
  bool transform(std::string_view chunk, std::string_view* replacement) const;

 private:
  void append_collapsing_spaces(std::string_view piece, std::string& out) const;

  std::vector<uint32_t> trie_;  // double-array units
  std::string replacements_;    // NUL-terminated replacement strings
  // Per ASCII byte: offset/length of its replacement, or length -1 when it maps to itself.
  struct AsciiRule {
    uint32_t offset = 0;
    int32_t length = -1;
  };
  std::array<AsciiRule, 128> ascii_rules_{};
};

}  // namespace t5zero::tokenizer_detail
