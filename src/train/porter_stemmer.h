// The Porter stemmer as NLTK's PorterStemmer() computes it in its default NLTK_EXTENSIONS mode,
// which is the stemmer rouge-score's tokenizer uses (rouge_score/tokenizers.py constructs
// porter.PorterStemmer() with no mode). The NLTK mode differs from Porter's 1980 paper in:
// a pool of irregular forms (skies → sky, dying → die, news → news, ...); words of at most two
// letters unchanged; "ies"/"ied" on four-letter words → "ie"; "ied" → "i"; *o also true for a
// two-letter vowel-consonant stem; y → i only after a consonant that is not the whole stem;
// "bli" → "ble" (not "abli" → "able"); "alli" → "al" applied first and re-run through step 2;
// "fulli" → "ful"; "logi" → "log".
#pragma once

#include <string>
#include <string_view>

namespace t5zero {

// The stem of one word. ASCII letters are lower-cased first (as stem(to_lowercase=True)); any
// other byte counts as a consonant, as in NLTK, where only a, e, i, o, u and some y are vowels.
// ROUGE passes [a-z0-9]+ tokens longer than three characters.
std::string porter_stem(std::string_view word);

}  // namespace t5zero
