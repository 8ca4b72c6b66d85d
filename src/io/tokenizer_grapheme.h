// Extended grapheme clusters (UAX #29 rules GB3-GB13 of Unicode 15.0), found as the Rust
// unicode-segmentation crate finds them: the fast T5 tokenizer's Precompiled normalizer looks up
// whole clusters, so its output depends on where they end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace t5zero::tokenizer_detail {

// The Grapheme_Cluster_Break property values that UAX #29 rules name.
enum class GraphemeBreak : uint8_t {
  other,
  cr,
  lf,
  control,
  extend,
  zwj,
  regional_indicator,
  prepend,
  spacing_mark,
  l,
  v,
  t,
  lv,
  lvt,
};

struct GraphemeRange {
  char32_t first;
  char32_t last;
  GraphemeBreak kind;
  bool extended_pictographic;
};

// Sorted, disjoint ranges of code points whose property is not (other, not pictographic),
// Hangul syllables excepted (generated: tokenizer_grapheme_table.cpp).
extern const GraphemeRange kGraphemeRanges[];
extern const size_t kGraphemeRangeCount;

struct GraphemeProperties {
  GraphemeBreak kind = GraphemeBreak::other;
  bool extended_pictographic = false;
};

GraphemeProperties grapheme_properties(char32_t c);

// Byte length of the extended grapheme cluster that starts at text[start] (start < size, a
// cluster boundary). text must be valid UTF-8.
size_t grapheme_cluster_length(std::string_view text, size_t start);

}  // namespace t5zero::tokenizer_detail
