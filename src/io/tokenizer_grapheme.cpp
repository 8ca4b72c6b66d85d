#include "io/tokenizer_grapheme.h"

#include <algorithm>

#include "io/tokenizer_utf8.h"

namespace t5zero::tokenizer_detail {

namespace {

constexpr char32_t kHangulFirst = 0xAC00;
constexpr char32_t kHangulLast = 0xD7A3;
constexpr char32_t kHangulTCount = 28;  // a syllable with no trailing consonant is LV

bool is_control_like(GraphemeBreak k) {
  return k == GraphemeBreak::control || k == GraphemeBreak::cr || k == GraphemeBreak::lf;
}

}  // namespace

GraphemeProperties grapheme_properties(char32_t c) {
  if (c < 0x80) {
    if (c == '\r') return {GraphemeBreak::cr, false};
    if (c == '\n') return {GraphemeBreak::lf, false};
    if (c < 0x20 || c == 0x7F) return {GraphemeBreak::control, false};
    return {};
  }
  if (c >= kHangulFirst && c <= kHangulLast) {
    return {(c - kHangulFirst) % kHangulTCount == 0 ? GraphemeBreak::lv : GraphemeBreak::lvt,
            false};
  }
  const GraphemeRange* end = kGraphemeRanges + kGraphemeRangeCount;
  const GraphemeRange* it =
      std::upper_bound(kGraphemeRanges, end, c,
                       [](char32_t value, const GraphemeRange& r) { return value < r.first; });
  if (it == kGraphemeRanges) return {};
  --it;
  if (c > it->last) return {};
  return {it->kind, it->extended_pictographic};
}

size_t grapheme_cluster_length(std::string_view text, size_t start) {
  using GB = GraphemeBreak;
  size_t length;
  const GraphemeProperties first = grapheme_properties(decode_utf8(text, start, &length));
  size_t pos = start + length;
  GB prev = first.kind;
  // GB11 state: the cluster so far ends in ExtPict Extend* (pictographic_run), or in
  // ExtPict Extend* ZWJ (after_pictographic_zwj).
  bool pictographic_run = first.extended_pictographic;
  bool after_pictographic_zwj = false;
  // GB12/GB13: regional indicators pair up from the start of the cluster.
  int regional_run = prev == GB::regional_indicator ? 1 : 0;
  while (pos < text.size()) {
    const GraphemeProperties cur = grapheme_properties(decode_utf8(text, pos, &length));
    bool join;
    if (prev == GB::cr && cur.kind == GB::lf) {
      join = true;  // GB3
    } else if (is_control_like(prev) || is_control_like(cur.kind)) {
      join = false;  // GB4, GB5
    } else if (prev == GB::l && (cur.kind == GB::l || cur.kind == GB::v || cur.kind == GB::lv ||
                                 cur.kind == GB::lvt)) {
      join = true;  // GB6
    } else if ((prev == GB::lv || prev == GB::v) && (cur.kind == GB::v || cur.kind == GB::t)) {
      join = true;  // GB7
    } else if ((prev == GB::lvt || prev == GB::t) && cur.kind == GB::t) {
      join = true;  // GB8
    } else if (cur.kind == GB::extend || cur.kind == GB::zwj || cur.kind == GB::spacing_mark) {
      join = true;  // GB9, GB9a
    } else if (prev == GB::prepend) {
      join = true;  // GB9b
    } else if (prev == GB::zwj && after_pictographic_zwj && cur.extended_pictographic) {
      join = true;  // GB11
    } else if (prev == GB::regional_indicator && cur.kind == GB::regional_indicator) {
      join = regional_run % 2 == 1;  // GB12, GB13
    } else {
      join = false;  // GB999
    }
    if (!join) break;
    after_pictographic_zwj = cur.kind == GB::zwj && pictographic_run;
    if (cur.extended_pictographic) {
      pictographic_run = true;
    } else if (cur.kind != GB::extend) {
      pictographic_run = false;
    }
    regional_run = cur.kind == GB::regional_indicator ? regional_run + 1 : 0;
    prev = cur.kind;
    pos += length;
  }
  return pos - start;
}

}  // namespace t5zero::tokenizer_detail
