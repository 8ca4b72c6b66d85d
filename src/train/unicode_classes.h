// Character classes as NLTK 3.10's Punkt and the recipe's str.strip() see them, for UTF-8 text:
// Python's str methods (isspace, isupper, islower, lower) and the third-party `regex` engine that
// NLTK 3.10 runs its patterns on (nltk/redos.py), whose \s is Unicode White_Space and whose \w
// is alphabetic characters, marks, decimal digits and connector punctuation (unlike `re`, where
// \s is str.isspace() and \w takes every numeral). Whitespace is exact; letters, marks, case and
// digits cover Latin (ASCII, Latin-1, Extended-A/B, Extended Additional), Greek and Cyrillic, and
// letters without case of Armenian, Hebrew, Arabic, kana, CJK and Hangul. Outside those ranges a
// character counts as neither letter nor digit nor cased.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero::unicode {

// Code points of a UTF-8 text and where each starts; byte_offsets has one more entry, the text's
// size. A byte that does not start a valid UTF-8 sequence decodes to U+FFFD on its own.
struct DecodedText {
  std::u32string chars;
  std::vector<size_t> byte_offsets;
};
DecodedText decode_utf8(std::string_view text);
void append_utf8(std::string& out, char32_t c);
std::string encode_utf8(std::u32string_view chars);

bool is_space(char32_t c);        // str.isspace(): White_Space and U+001C..U+001F
bool is_white_space(char32_t c);  // regex's \s: the Unicode White_Space property
bool is_ascii_space(char32_t c);  // string.whitespace: " \t\n\r\v\f"
bool is_decimal(char32_t c);      // regex's \d: Unicode decimal digits
bool is_word(char32_t c);         // regex's \w: letters, marks, decimal digits, '_' and kin
bool is_upper(char32_t c);        // str.isupper() of one character
bool is_lower(char32_t c);        // str.islower() of one character
// str.lower() where its result matters to us: ASCII letters, U+212A KELVIN SIGN → 'k', U+0130
// → "i\u0307", Latin-1, Greek and Cyrillic capitals; every other character is kept.
std::u32string to_lower(std::u32string_view chars);

// str.strip(): the text without leading and trailing Unicode whitespace.
std::string_view strip(std::string_view text);

}  // namespace t5zero::unicode
