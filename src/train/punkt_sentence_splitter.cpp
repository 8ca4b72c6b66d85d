#include "train/punkt_sentence_splitter.h"

#include <algorithm>
#include <optional>

#include "train/unicode_classes.h"

namespace t5zero {

namespace {

using unicode::is_white_space;

bool one_of(std::u32string_view set, char32_t c) {
  return set.find(c) != set.npos;
}

bool is_sentence_end(char32_t c) {
  return one_of(U".?!", c);
}

// Punctuation that ends a word and may follow a sentence end (NLTK's _re_non_word_chars: the
// sentence ends other than '.', brackets, quotes, curly quotes and guillemets, * : ; @).
bool is_non_word(char32_t c) {
  return one_of(U")\";}]*:@'({[\u2018\u2019\u201C\u201D\u00AB\u00BB?!", c);
}

// Characters a word token may not start with (NLTK's _re_word_start excludes them).
bool cannot_start_word(char32_t c) {
  return one_of(U"(\"`{[:;&#*@)}]-,", c);
}

// Closing punctuation that belongs to the sentence before a break (re_boundary_realignment).
bool is_closing(char32_t c) {
  return one_of(U"\"')]}\u2018\u2019\u201C\u201D\u00AB\u00BB", c);
}

// Length of NLTK's multi-character punctuation at line[p]: "--…", "..…" or ". . ." (a period
// and one whitespace character, twice or more, then a period); 0 when there is none.
size_t multi_char_punctuation(std::u32string_view line, size_t p) {
  size_t n = line.size();
  if (p + 1 >= n) return 0;
  if ((line[p] == '-' || line[p] == '.') && line[p + 1] == line[p]) {
    size_t q = p;
    while (q < n && line[q] == line[p]) ++q;
    return q - p;
  }
  if (line[p] != '.') return 0;
  size_t pairs = 0, q = p;
  while (q + 1 < n && line[q] == '.' && is_white_space(line[q + 1])) {
    ++pairs;
    q += 2;
  }
  // The greedy repetition backs off one pair when no period follows the last one; the period
  // that began that pair then closes the match.
  if (pairs >= 2 && q < n && line[q] == '.') return 2 * pairs + 1;
  if (pairs >= 3) return 2 * pairs - 1;
  return 0;
}

// Whether a word token that has taken line[begin, j) ends at j: whitespace, the end of the line,
// punctuation, or a comma followed by one of those.
bool word_ends_at(std::u32string_view line, size_t j) {
  size_t n = line.size();
  if (j >= n || is_white_space(line[j]) || is_non_word(line[j]) ||
      multi_char_punctuation(line, j) > 0) {
    return true;
  }
  if (line[j] != ',') return false;
  return j + 1 >= n || is_white_space(line[j + 1]) || is_non_word(line[j + 1]) ||
         multi_char_punctuation(line, j + 1) > 0;
}

// NLTK's Punkt word tokenizer on one line: multi-character punctuation, words (which keep a
// final period: "U.S.", "Smith."), or single other characters.
void tokenize_line(std::u32string_view line, std::vector<std::u32string_view>& tokens) {
  size_t p = 0;
  while (p < line.size()) {
    if (is_white_space(line[p])) {
      ++p;
      continue;
    }
    size_t length = multi_char_punctuation(line, p);
    if (length == 0 && !cannot_start_word(line[p])) {
      size_t j = p + 1;
      while (!word_ends_at(line, j)) ++j;
      length = j - p;
    }
    if (length == 0) length = 1;
    tokens.push_back(line.substr(p, length));
    p += length;
  }
}

// NLTK's _RE_NUMERIC, ^-?[\.,]?\d[\d,\.-]*\.?$, on a lower-cased token.
bool is_numeric(std::u32string_view s) {
  size_t p = 0;
  if (p < s.size() && s[p] == '-') ++p;
  if (p < s.size() && (s[p] == '.' || s[p] == ',')) ++p;
  if (p >= s.size() || !unicode::is_decimal(s[p])) return false;
  for (++p; p < s.size(); ++p) {
    char32_t c = s[p];
    if (!unicode::is_decimal(c) && c != ',' && c != '.' && c != '-') return false;
  }
  return true;
}

enum class Starter { no, yes, unknown };

struct Token {
  explicit Token(std::u32string_view t) : text(t) {
    std::u32string lower = unicode::to_lower(t);
    type = is_numeric(lower) ? "##number##" : unicode::encode_utf8(lower);
    lower_without_last =
        unicode::encode_utf8(std::u32string_view(lower).substr(0, lower.size() - 1));
  }

  bool period_final() const { return text.back() == '.'; }
  bool first_upper() const { return unicode::is_upper(text.front()); }
  bool first_lower() const { return unicode::is_lower(text.front()); }
  // Two or more periods and nothing else.
  bool is_ellipsis() const { return text.size() >= 2 && text.find_first_not_of(U'.') == text.npos; }
  // One letter and a period: "J.".
  bool is_initial() const {
    return text.size() == 2 && text[1] == '.' && unicode::is_word(text[0]) &&
           !unicode::is_decimal(text[0]);
  }
  std::string type_no_period() const {
    if (type.size() > 1 && type.back() == '.') return type.substr(0, type.size() - 1);
    return type;
  }
  std::string type_no_sentence_period() const { return sentence_break ? type_no_period() : type; }

  std::u32string_view text;
  std::string type;                // lower-cased; numbers read "##number##"
  std::string lower_without_last;  // the lower-cased token less its last character
  bool sentence_break = false;
  bool abbreviation = false;
  bool ellipsis = false;
};

class Splitter {
 public:
  explicit Splitter(const PunktParameters& parameters) : p_(parameters) {}

  // NLTK's text_contains_sentbreak: some token other than the last one ends a sentence.
  bool contains_sentence_break(std::u32string_view context) const {
    std::vector<std::u32string_view> words;
    size_t line_begin = 0;
    while (line_begin <= context.size()) {
      size_t line_end = context.find(U'\n', line_begin);
      if (line_end == context.npos) line_end = context.size();
      std::u32string_view line = context.substr(line_begin, line_end - line_begin);
      // NLTK skips lines that str.strip() empties; str.isspace() is wider than regex's \s.
      if (!std::all_of(line.begin(), line.end(), unicode::is_space)) tokenize_line(line, words);
      line_begin = line_end + 1;
    }
    std::vector<Token> tokens(words.begin(), words.end());
    for (Token& token : tokens) first_pass(token);
    for (size_t i = 0; i + 1 < tokens.size(); ++i) {
      second_pass(tokens[i], tokens[i + 1]);
      if (tokens[i].sentence_break) return true;
    }
    return false;
  }

 private:
  // Decisions from the token alone: sentence-end marks break, ellipses are marked, and a word
  // ending in one period is an abbreviation when the model lists it (or its part after the last
  // hyphen: "R-Ariz."), else a sentence break.
  void first_pass(Token& t) const {
    if (t.text.size() == 1 && is_sentence_end(t.text[0])) {
      t.sentence_break = true;
    } else if (t.is_ellipsis()) {
      t.ellipsis = true;
    } else if (t.period_final() && !t.text.ends_with(U"..")) {
      const std::string& word = t.lower_without_last;
      size_t hyphen = word.rfind('-');
      std::string after_hyphen = hyphen == word.npos ? word : word.substr(hyphen + 1);
      if (p_.abbreviations.contains(word) || p_.abbreviations.contains(after_hyphen)) {
        t.abbreviation = true;
      } else {
        t.sentence_break = true;
      }
    }
  }

  // Kiss & Strunk's token-based reclassification of a period-final token from the next token.
  void second_pass(Token& t, const Token& next) const {
    if (!t.period_final()) return;
    std::string type = t.type_no_period();
    std::string next_type = next.type_no_sentence_period();
    bool initial = t.is_initial();
    // Collocation heuristic: a known pair straddling the period is not a break.
    if (p_.collocations.contains({type, next_type})) {
      t.sentence_break = false;
      t.abbreviation = true;
      return;
    }
    // An abbreviation or ellipsis also ends a sentence when the next word looks like a sentence
    // start, orthographically or as a frequent sentence starter.
    if ((t.abbreviation || t.ellipsis) && !initial) {
      if (orthographic_heuristic(next) == Starter::yes) {
        t.sentence_break = true;
        return;
      }
      if (next.first_upper() && p_.sentence_starters.contains(next_type)) {
        t.sentence_break = true;
        return;
      }
    }
    // Initials and ordinals are abbreviations unless the next word looks like a sentence start.
    if (initial || type == "##number##") {
      Starter starter = orthographic_heuristic(next);
      if (starter == Starter::no) {
        t.sentence_break = false;
        t.abbreviation = true;
        return;
      }
      // An initial before a word never seen in lower case: a name, as in "J. Bach".
      if (starter == Starter::unknown && initial && next.first_upper() &&
          !(p_.ortho(next_type) & kOrthoLower)) {
        t.sentence_break = false;
        t.abbreviation = true;
      }
    }
  }

  // Does `t` start a sentence, judged by the cases the model saw its type in?
  Starter orthographic_heuristic(const Token& t) const {
    if (t.text.size() == 1 && one_of(U";:,.!?", t.text[0])) {
      return Starter::no;
    }
    uint8_t seen = p_.ortho(t.type_no_sentence_period());
    // Capitalised here, seen lower case, never capitalised inside a sentence: a sentence start.
    if (t.first_upper() && (seen & kOrthoLower) && !(seen & kOrthoMiddleUpper)) return Starter::yes;
    // Lower case here, and seen capitalised or never seen lower case at a sentence start.
    if (t.first_lower() && ((seen & kOrthoUpper) || !(seen & kOrthoBeginLower))) return Starter::no;
    return Starter::unknown;
  }

  const PunktParameters& p_;
};

// A candidate break: a sentence-end mark at `mark`, followed either by punctuation or by
// whitespace and a token starting at `next_token`; the lookahead ends at `after_end`.
struct Candidate {
  size_t mark = 0;
  size_t after_end = 0;
  std::optional<size_t> next_token;
};

std::vector<Candidate> find_candidates(std::u32string_view t) {
  std::vector<Candidate> candidates;
  for (size_t i = 0; i + 1 < t.size(); ++i) {
    if (!is_sentence_end(t[i])) continue;
    if (is_non_word(t[i + 1])) {
      candidates.push_back({i, i + 2, std::nullopt});
    } else if (is_white_space(t[i + 1])) {
      size_t j = i + 1;
      while (j < t.size() && is_white_space(t[j])) ++j;
      if (j == t.size()) continue;
      size_t k = j;
      while (k < t.size() && !is_white_space(t[k])) ++k;
      candidates.push_back({i, k, j});
    }
  }
  return candidates;
}

struct Range {
  size_t begin = 0;
  size_t end = 0;
};

// Sentence ranges before realignment (NLTK's _match_potential_end_contexts and
// _slices_from_text). The word before a mark reaches back to the last ASCII whitespace since the
// previous mark; with none (or one only right after that mark, which NLTK's index-0 test misses)
// it reaches back to the start of the previous word, and that previous candidate is dropped: a
// run like "acting!!!" is judged once, at its last mark.
std::vector<Range> unaligned_sentences(std::u32string_view t, const Splitter& splitter) {
  std::vector<Range> sentences;
  size_t last_break = 0;
  auto judge = [&](const Candidate& c, Range word) {
    std::u32string context(t.substr(word.begin, word.end - word.begin));
    context += t.substr(c.mark, c.after_end - c.mark);
    if (!splitter.contains_sentence_break(context)) return;
    sentences.push_back({last_break, c.mark + 1});
    last_break = c.next_token ? *c.next_token : c.mark + 1;
  };
  std::optional<Candidate> previous;
  Range previous_word;
  for (const Candidate& c : find_candidates(t)) {
    size_t last_space = 0;
    for (size_t k = c.mark; k > previous_word.end; --k) {
      if (unicode::is_ascii_space(t[k - 1])) {
        last_space = k - 1 - previous_word.end;
        break;
      }
    }
    Range word{last_space ? previous_word.end + last_space + 1 : previous_word.begin, c.mark};
    if (previous && previous_word.end <= word.begin) judge(*previous, previous_word);
    previous = c;
    previous_word = word;
  }
  if (previous) judge(*previous, previous_word);
  size_t end = t.size();
  while (end > 0 && unicode::is_space(t[end - 1])) --end;
  sentences.push_back({last_break, end});
  return sentences;
}

// Closing punctuation at the start of `s` (then whitespace, "--" or the end of `s`) moves onto
// the sentence before: returns (characters moved, characters skipped including whitespace).
std::optional<std::pair<size_t, size_t>> closing_prefix(std::u32string_view t, Range s) {
  size_t p = s.begin;
  while (p < s.end && is_closing(t[p])) {
    ++p;
    size_t closing = p - s.begin;
    if (p < s.end && is_white_space(t[p])) {
      size_t q = p;
      while (q < s.end && is_white_space(t[q])) ++q;
      return std::pair{closing, q - s.begin};
    }
    if ((p + 1 < s.end && t[p] == '-' && t[p + 1] == '-') || p == s.end) {
      return std::pair{closing, closing};
    }
  }
  return std::nullopt;
}

// NLTK's _realign_boundaries.
std::vector<Range> realign(std::u32string_view t, const std::vector<Range>& sentences) {
  std::vector<Range> out;
  size_t shift = 0;
  for (size_t i = 0; i < sentences.size(); ++i) {
    Range s{sentences[i].begin + shift, sentences[i].end};
    if (i + 1 == sentences.size()) {
      if (s.begin < s.end) out.push_back(s);
      continue;
    }
    const Range& next = sentences[i + 1];
    if (auto moved = closing_prefix(t, next)) {
      out.push_back({s.begin, next.begin + moved->first});
      shift = moved->second;
    } else {
      shift = 0;
      if (s.begin < s.end) out.push_back(s);
    }
  }
  return out;
}

}  // namespace

std::vector<TextSpan> punkt_sentence_spans(std::string_view text,
                                           const PunktParameters& parameters) {
  unicode::DecodedText decoded = unicode::decode_utf8(text);
  Splitter splitter(parameters);
  std::vector<TextSpan> spans;
  for (Range r : realign(decoded.chars, unaligned_sentences(decoded.chars, splitter))) {
    size_t begin = decoded.byte_offsets[std::min(r.begin, decoded.chars.size())];
    size_t end = decoded.byte_offsets[std::min(std::max(r.begin, r.end), decoded.chars.size())];
    spans.push_back({begin, end});
  }
  return spans;
}

std::vector<std::string> punkt_sentences(std::string_view text) {
  std::vector<std::string> sentences;
  for (TextSpan span : punkt_sentence_spans(text)) {
    sentences.emplace_back(text.substr(span.begin, span.end - span.begin));
  }
  return sentences;
}

}  // namespace t5zero
