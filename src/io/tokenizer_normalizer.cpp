#include "io/tokenizer_normalizer.h"

#include "io/tokenizer_grapheme.h"
#include "io/tokenizer_utf8.h"
#include "tensor/error.h"

namespace t5zero::tokenizer_detail {

namespace {

// Unit layout of sentencepiece's darts-clone double array.
inline uint32_t unit_offset(uint32_t u) {
  return (u >> 10) << ((u & (1u << 9)) >> 6);
}
inline uint32_t unit_label(uint32_t u) {
  return u & ((1u << 31) | 0xFFu);
}
inline bool unit_has_leaf(uint32_t u) {
  return ((u >> 8) & 1u) != 0;
}
inline uint32_t unit_value(uint32_t u) {
  return u & ((1u << 31) - 1);
}

// tokenizers 0.13's Precompiled looks up a whole cluster only when it is shorter than this.
constexpr size_t kWholeClusterMaxBytes = 6;

}  // namespace

T5Normalizer::T5Normalizer(std::string_view charsmap, const std::string& source) {
  if (!charsmap.empty()) {
    // Layout: u32 trie size in bytes (little-endian), the trie's u32 units, then the replacements.
    T5_CHECK(charsmap.size() >= 4, source, ": precompiled_charsmap of ", charsmap.size(),
             " bytes is shorter than its 4-byte header");
    uint32_t trie_bytes = 0;
    for (int i = 0; i < 4; ++i) {
      trie_bytes |= uint32_t(static_cast<unsigned char>(charsmap[i])) << (8 * i);
    }
    T5_CHECK(trie_bytes % 4 == 0 && trie_bytes >= 4 && trie_bytes <= charsmap.size() - 4, source,
             ": precompiled_charsmap trie size ", trie_bytes, " does not fit its ", charsmap.size(),
             " bytes (expected a positive multiple of 4)");
    trie_.resize(trie_bytes / 4);
    for (size_t i = 0; i < trie_.size(); ++i) {
      uint32_t u = 0;
      for (int b = 0; b < 4; ++b) {
        u |= uint32_t(static_cast<unsigned char>(charsmap[4 + 4 * i + b])) << (8 * b);
      }
      trie_[i] = u;
    }
    replacements_ = std::string(charsmap.substr(4 + trie_bytes));
    const size_t bad = find_invalid_utf8(replacements_);
    T5_CHECK(bad == std::string_view::npos, source,
             ": precompiled_charsmap replacements are not UTF-8 (byte ", bad, ")");
  }
  for (int c = 1; c < 128; ++c) {
    const char ch = static_cast<char>(c);
    std::string_view replacement;
    if (transform(std::string_view(&ch, 1), &replacement)) {
      ascii_rules_[c].offset = static_cast<uint32_t>(replacement.data() - replacements_.data());
      ascii_rules_[c].length = static_cast<int32_t>(replacement.size());
    }
  }
}

bool T5Normalizer::transform(std::string_view chunk, std::string_view* replacement) const {
  if (trie_.empty()) return false;
  size_t node = unit_offset(trie_[0]);
  for (const char ch : chunk) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return false;  // darts-clone keys end at NUL
    node ^= c;
    if (node >= trie_.size()) return false;
    const uint32_t unit = trie_[node];
    if (unit_label(unit) != c) return false;
    node ^= unit_offset(unit);
    if (node >= trie_.size()) return false;
    if (unit_has_leaf(unit)) {
      const size_t begin = unit_value(trie_[node]);
      T5_CHECK(begin <= replacements_.size(), "precompiled_charsmap: replacement offset ", begin,
               " is beyond the ", replacements_.size(), "-byte replacement blob");
      size_t end = begin;
      while (end < replacements_.size() && replacements_[end] != '\0') ++end;
      *replacement = std::string_view(replacements_).substr(begin, end - begin);
      return true;
    }
  }
  return false;
}

void T5Normalizer::append_collapsing_spaces(std::string_view piece, std::string& out) const {
  for (const char c : piece) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
}

void T5Normalizer::normalize(std::string_view text, std::string& out) const {
  out.clear();
  const size_t n = text.size();
  size_t pos = 0;
  while (pos < n) {
    const auto b = static_cast<unsigned char>(text[pos]);
    // An ASCII character other than CR is a whole cluster when the next one is ASCII too: no
    // ASCII character extends, prepends to or joins with another (UAX #29).
    if (b < 0x80 && b != '\r' &&
        (pos + 1 == n || static_cast<unsigned char>(text[pos + 1]) < 0x80)) {
      const AsciiRule& rule = ascii_rules_[b];
      if (rule.length < 0) {
        if (!(b == ' ' && !out.empty() && out.back() == ' ')) out.push_back(static_cast<char>(b));
      } else {
        append_collapsing_spaces(
            std::string_view(replacements_).substr(rule.offset, static_cast<size_t>(rule.length)),
            out);
      }
      ++pos;
      continue;
    }
    const size_t cluster_length = grapheme_cluster_length(text, pos);
    const std::string_view cluster = text.substr(pos, cluster_length);
    pos += cluster_length;
    std::string_view replacement;
    if (cluster_length < kWholeClusterMaxBytes && transform(cluster, &replacement)) {
      append_collapsing_spaces(replacement, out);
      continue;
    }
    size_t i = 0;
    while (i < cluster.size()) {
      const size_t char_length = utf8_sequence_length(static_cast<unsigned char>(cluster[i]));
      const std::string_view ch = cluster.substr(i, char_length);
      append_collapsing_spaces(transform(ch, &replacement) ? replacement : ch, out);
      i += char_length;
    }
  }
}

}  // namespace t5zero::tokenizer_detail
