// UTF-8 decoding for the tokenizer: it walks text one code point (and one grapheme cluster) at a
// time, and checks its input once up front so the walks can trust it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace t5zero::tokenizer_detail {

// Byte length of the UTF-8 sequence that starts with lead byte `b` (1 for stray bytes).
inline size_t utf8_sequence_length(unsigned char b) {
  if (b < 0x80) return 1;
  if ((b >> 5) == 0x6) return 2;
  if ((b >> 4) == 0xE) return 3;
  if ((b >> 3) == 0x1E) return 4;
  return 1;
}

// The code point at text[pos] and its byte length; text must be valid UTF-8 there.
inline char32_t decode_utf8(std::string_view text, size_t pos, size_t* length) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t n = utf8_sequence_length(s[0]);
  *length = n;
  switch (n) {
    case 1:
      return s[0];
    case 2:
      return (char32_t(s[0] & 0x1F) << 6) | (s[1] & 0x3F);
    case 3:
      return (char32_t(s[0] & 0x0F) << 12) | (char32_t(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
    default:
      return (char32_t(s[0] & 0x07) << 18) | (char32_t(s[1] & 0x3F) << 12) |
             (char32_t(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
  }
}

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points above
// U+10FFFF included, as Rust's str refuses them), or std::string_view::npos when valid.
size_t find_invalid_utf8(std::string_view text);

}  // namespace t5zero::tokenizer_detail
