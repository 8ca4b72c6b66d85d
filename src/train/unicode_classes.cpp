#include "train/unicode_classes.h"

namespace t5zero::unicode {

namespace {

bool in(char32_t c, char32_t first, char32_t last) {
  return c >= first && c <= last;
}

// In blocks where capitals and small letters alternate: +1 for a capital, -1 for a small letter,
// 0 outside them. Most blocks start with a capital on an even code point, a few on an odd one.
int alternating_case(char32_t c) {
  if (in(c, 0x100, 0x137) || in(c, 0x14A, 0x177) || in(c, 0x460, 0x481) || in(c, 0x48A, 0x4BF) ||
      in(c, 0x4D0, 0x52F) || in(c, 0x1E00, 0x1E95) || in(c, 0x1EA0, 0x1EFF)) {
    return c % 2 == 0 ? 1 : -1;
  }
  if (in(c, 0x139, 0x148) || in(c, 0x179, 0x17E) || in(c, 0x4C1, 0x4CE)) return c % 2 == 1 ? 1 : -1;
  return 0;
}

bool is_letter(char32_t c) {
  if (c < 0x80) return in(c, 'a', 'z') || in(c, 'A', 'Z');
  return c == 0xAA || c == 0xB5 || c == 0xBA || in(c, 0xC0, 0xD6) || in(c, 0xD8, 0xF6) ||
         in(c, 0xF8, 0x2C1) || in(c, 0x370, 0x373) || in(c, 0x376, 0x377) || in(c, 0x37B, 0x37D) ||
         c == 0x37F || c == 0x386 || in(c, 0x388, 0x3F5) || in(c, 0x3F7, 0x481) ||
         in(c, 0x48A, 0x52F) || in(c, 0x531, 0x556) || in(c, 0x561, 0x587) || in(c, 0x5D0, 0x5EA) ||
         in(c, 0x620, 0x64A) || in(c, 0x1E00, 0x1FBC) || in(c, 0x3041, 0x3096) ||
         in(c, 0x30A1, 0x30FA) || in(c, 0x4E00, 0x9FFF) || in(c, 0xAC00, 0xD7A3) ||
         in(c, 0xFF21, 0xFF3A) || in(c, 0xFF41, 0xFF5A) || c == 0x212A || in(c, 0x24B6, 0x24E9);
}

// Combining marks (general category M), which regex's \w takes and re's does not.
bool is_mark(char32_t c) {
  return in(c, 0x300, 0x36F) || in(c, 0x483, 0x489) || in(c, 0x591, 0x5BD) || in(c, 0x610, 0x61A) ||
         in(c, 0x64B, 0x65F) || in(c, 0x1AB0, 0x1AFF) || in(c, 0x1DC0, 0x1DFF) ||
         in(c, 0x20D0, 0x20F0) || in(c, 0xFE20, 0xFE2F);
}

// Connector punctuation ('_', '‿', ...), Roman numerals (letter numbers, alphabetic) and the
// zero-width joiners, the rest of regex's \w.
bool is_other_word(char32_t c) {
  return c == '_' || c == 0x203F || c == 0x2040 || c == 0x2054 || c == 0xFE33 || c == 0xFE34 ||
         in(c, 0xFE4D, 0xFE4F) || c == 0xFF3F || in(c, 0x2160, 0x2188) || c == 0x200C ||
         c == 0x200D;
}

}  // namespace

DecodedText decode_utf8(std::string_view text) {
  DecodedText out;
  out.chars.reserve(text.size());
  out.byte_offsets.reserve(text.size() + 1);
  size_t i = 0;
  while (i < text.size()) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char b = byte(i);
    size_t length = b < 0x80           ? 1
                    : (b >> 5) == 0x6  ? 2
                    : (b >> 4) == 0xE  ? 3
                    : (b >> 3) == 0x1E ? 4
                                       : 0;
    char32_t c = 0xFFFD;
    if (length == 1) {
      c = b;
    } else if (length > 1 && i + length <= text.size()) {
      char32_t value = b & (0x7F >> length);
      bool valid = true;
      for (size_t k = 1; k < length; ++k) {
        valid = valid && (byte(i + k) & 0xC0) == 0x80;
        value = (value << 6) | (byte(i + k) & 0x3F);
      }
      // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
      static constexpr char32_t kSmallest[5] = {0, 0, 0x80, 0x800, 0x10000};
      valid =
          valid && value >= kSmallest[length] && value <= 0x10FFFF && !in(value, 0xD800, 0xDFFF);
      if (valid) c = value;
      if (!valid) length = 1;
    } else {
      length = 1;
    }
    out.chars.push_back(c);
    out.byte_offsets.push_back(i);
    i += length;
  }
  out.byte_offsets.push_back(text.size());
  return out;
}

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string encode_utf8(std::u32string_view chars) {
  std::string out;
  out.reserve(chars.size());
  for (char32_t c : chars) append_utf8(out, c);
  return out;
}

bool is_space(char32_t c) {
  return in(c, 0x09, 0x0D) || in(c, 0x1C, 0x20) || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         in(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool is_white_space(char32_t c) {
  return c != 0x1C && c != 0x1D && c != 0x1E && c != 0x1F && is_space(c);
}

bool is_ascii_space(char32_t c) {
  return c == ' ' || in(c, 0x09, 0x0D);
}

bool is_decimal(char32_t c) {
  return in(c, '0', '9') || in(c, 0x660, 0x669) || in(c, 0x6F0, 0x6F9) || in(c, 0x966, 0x96F) ||
         in(c, 0x9E6, 0x9EF) || in(c, 0xE50, 0xE59) || in(c, 0xFF10, 0xFF19);
}

bool is_word(char32_t c) {
  return is_letter(c) || is_mark(c) || is_decimal(c) || is_other_word(c);
}

bool is_upper(char32_t c) {
  if (c < 0x80) return in(c, 'A', 'Z');
  return in(c, 0xC0, 0xD6) || in(c, 0xD8, 0xDE) || c == 0x178 || alternating_case(c) > 0 ||
         c == 0x386 || in(c, 0x388, 0x38A) || c == 0x38C || in(c, 0x38E, 0x38F) ||
         in(c, 0x391, 0x3A1) || in(c, 0x3A3, 0x3AB) || in(c, 0x400, 0x42F) || c == 0x4C0 ||
         c == 0x1E9E || in(c, 0xFF21, 0xFF3A) || c == 0x212A || in(c, 0x2160, 0x216F) ||
         in(c, 0x24B6, 0x24CF);
}

bool is_lower(char32_t c) {
  if (c < 0x80) return in(c, 'a', 'z');
  return c == 0xAA || c == 0xB5 || c == 0xBA || in(c, 0xDF, 0xF6) || in(c, 0xF8, 0xFF) ||
         c == 0x138 || c == 0x149 || c == 0x17F || alternating_case(c) < 0 || in(c, 0x3AC, 0x3CE) ||
         in(c, 0x430, 0x45F) || c == 0x4CF || in(c, 0x1E96, 0x1E9D) || c == 0x1E9F ||
         in(c, 0xFF41, 0xFF5A) || in(c, 0x2170, 0x217F) || in(c, 0x24D0, 0x24E9);
}

std::u32string to_lower(std::u32string_view chars) {
  std::u32string out;
  out.reserve(chars.size());
  for (char32_t c : chars) {
    if (in(c, 'A', 'Z') || (in(c, 0xC0, 0xDE) && c != 0xD7) || in(c, 0x391, 0x3AB) ||
        in(c, 0x410, 0x42F)) {
      out += c + 0x20;
    } else if (in(c, 0x400, 0x40F)) {
      out += c + 0x50;
    } else if (in(c, 0x2160, 0x216F)) {  // Roman numerals
      out += c + 0x10;
    } else if (in(c, 0x24B6, 0x24CF)) {  // circled letters
      out += c + 0x1A;
    } else if (c == 0x212A) {
      out += U'k';
    } else if (c == 0x130) {
      out += U"i\u0307";
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view strip(std::string_view text) {
  DecodedText decoded = decode_utf8(text);
  size_t first = 0, last = decoded.chars.size();
  while (first < last && is_space(decoded.chars[first])) ++first;
  while (last > first && is_space(decoded.chars[last - 1])) --last;
  return text.substr(decoded.byte_offsets[first],
                     decoded.byte_offsets[last] - decoded.byte_offsets[first]);
}

}  // namespace t5zero::unicode
