#include "io/tokenizer_utf8.h"

namespace t5zero::tokenizer_detail {

size_t find_invalid_utf8(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char b = s[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    size_t length;
    char32_t c;
    char32_t min_value;
    if ((b >> 5) == 0x6) {
      length = 2, c = b & 0x1F, min_value = 0x80;
    } else if ((b >> 4) == 0xE) {
      length = 3, c = b & 0x0F, min_value = 0x800;
    } else if ((b >> 3) == 0x1E) {
      length = 4, c = b & 0x07, min_value = 0x10000;
    } else {
      return i;
    }
    if (n - i < length) return i;
    for (size_t k = 1; k < length; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      c = (c << 6) | (s[i + k] & 0x3F);
    }
    if (c < min_value || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return i;
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace t5zero::tokenizer_detail
