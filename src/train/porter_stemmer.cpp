#include "train/porter_stemmer.h"

#include <array>
#include <span>
#include <utility>

namespace t5zero {

namespace {

bool is_vowel_letter(char c) {
  return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u';
}

// Porter's consonant: not a vowel letter, and a 'y' only when it follows a vowel or starts the
// word: in "toy" the y is a consonant, in "syzygy" the first y is a vowel. Along a run of y's the
// class alternates, so it is read from the letter before the run (no walk per y).
bool is_consonant(std::string_view w, size_t i) {
  if (is_vowel_letter(w[i])) return false;
  if (w[i] != 'y') return true;
  size_t run_start = i;
  while (run_start > 0 && w[run_start - 1] == 'y') --run_start;
  bool first_is_consonant = run_start == 0 || is_vowel_letter(w[run_start - 1]);
  return first_is_consonant != ((i - run_start) % 2 == 1);
}

// m in [C](VC)^m[V]: the number of vowel-to-consonant transitions.
int measure(std::string_view stem) {
  int m = 0;
  bool previous_vowel = false;
  for (size_t i = 0; i < stem.size(); ++i) {
    // Left to right, so a 'y' reads the class just computed rather than walking back.
    bool consonant = !is_vowel_letter(stem[i]) && (stem[i] != 'y' || i == 0 || previous_vowel);
    if (consonant && previous_vowel) ++m;
    previous_vowel = !consonant;
  }
  return m;
}

bool contains_vowel(std::string_view stem) {
  for (size_t i = 0; i < stem.size(); ++i) {
    if (!is_consonant(stem, i)) return true;
  }
  return false;
}

// *d: ends with a double consonant.
bool ends_double_consonant(std::string_view w) {
  return w.size() >= 2 && w[w.size() - 1] == w[w.size() - 2] && is_consonant(w, w.size() - 1);
}

// *o: ends consonant-vowel-consonant with the last not w, x or y; NLTK also counts a two-letter
// vowel-consonant word.
bool ends_cvc(std::string_view w) {
  size_t n = w.size();
  if (n >= 3 && is_consonant(w, n - 3) && !is_consonant(w, n - 2) && is_consonant(w, n - 1) &&
      w[n - 1] != 'w' && w[n - 1] != 'x' && w[n - 1] != 'y') {
    return true;
  }
  return n == 2 && !is_consonant(w, 0) && is_consonant(w, 1);
}

bool ends_with(std::string_view w, std::string_view suffix) {
  return w.size() >= suffix.size() && w.substr(w.size() - suffix.size()) == suffix;
}

std::string_view drop_suffix(std::string_view w, size_t n) {
  return w.substr(0, w.size() - n);
}

// A rule's condition sees the stem left after removing the suffix and the whole word.
using Condition = bool (*)(std::string_view stem, std::string_view word);

struct Rule {
  std::string_view suffix;
  std::string_view replacement;
  Condition condition = nullptr;  // none: always applies
  // Step 1b's "*d" rule: matches a double consonant ending and removes one of the pair.
  bool double_consonant = false;
};

// The first rule whose suffix the word has decides: its condition passing rewrites the word,
// failing leaves the word unchanged, and later rules are not tried (as Porter's step tables).
std::string apply_first_rule(std::string_view word, std::span<const Rule> rules) {
  for (const Rule& rule : rules) {
    if (rule.double_consonant) {
      if (!ends_double_consonant(word)) continue;
      std::string_view stem = drop_suffix(word, 2);
      if (rule.condition && !rule.condition(stem, word)) return std::string(word);
      return std::string(stem) + word.back();
    }
    if (!ends_with(word, rule.suffix)) continue;
    std::string_view stem = drop_suffix(word, rule.suffix.size());
    if (rule.condition && !rule.condition(stem, word)) return std::string(word);
    return std::string(stem) + std::string(rule.replacement);
  }
  return std::string(word);
}

bool measure_positive(std::string_view stem, std::string_view) {
  return measure(stem) > 0;
}
bool measure_above_one(std::string_view stem, std::string_view) {
  return measure(stem) > 1;
}

std::string step1a(std::string_view word) {
  if (ends_with(word, "ies") && word.size() == 4) return std::string(drop_suffix(word, 3)) + "ie";
  static constexpr std::array<Rule, 4> rules{{
      {"sses", "ss"},
      {"ies", "i"},
      {"ss", "ss"},
      {"s", ""},
  }};
  return apply_first_rule(word, rules);
}

std::string step1b(std::string_view word) {
  if (ends_with(word, "ied")) {
    return std::string(drop_suffix(word, 3)) + (word.size() == 4 ? "ie" : "i");
  }
  if (ends_with(word, "eed")) {
    std::string_view stem = drop_suffix(word, 3);
    return measure(stem) > 0 ? std::string(stem) + "ee" : std::string(word);
  }
  std::string_view stem;
  bool removed = false;
  for (std::string_view suffix : {std::string_view("ed"), std::string_view("ing")}) {
    if (ends_with(word, suffix) && contains_vowel(drop_suffix(word, suffix.size()))) {
      stem = drop_suffix(word, suffix.size());
      removed = true;
      break;
    }
  }
  if (!removed) return std::string(word);
  // After removing -ed/-ing: restore an e the suffix took (conflat → conflate, fil → file) or
  // undouble a consonant (hopp → hop), except l, s and z (fall, hiss, fizz).
  static constexpr std::array<Rule, 5> rules{{
      {"at", "ate"},
      {"bl", "ble"},
      {"iz", "ize"},
      {"", "",
       [](std::string_view, std::string_view w) {
         return w.back() != 'l' && w.back() != 's' && w.back() != 'z';
       },
       true},
      {"", "e",
       [](std::string_view s, std::string_view) { return measure(s) == 1 && ends_cvc(s); }},
  }};
  return apply_first_rule(stem, rules);
}

std::string step1c(std::string_view word) {
  // y → i after a consonant that is not the whole stem: happy → happi, but enjoy and by stay.
  static constexpr std::array<Rule, 1> rules{{
      {"y", "i",
       [](std::string_view s, std::string_view) {
         return s.size() > 1 && is_consonant(s, s.size() - 1);
       }},
  }};
  return apply_first_rule(word, rules);
}

std::string step2(std::string_view word) {
  if (ends_with(word, "alli") && measure(drop_suffix(word, 4)) > 0) {
    return step2(std::string(drop_suffix(word, 4)) + "al");
  }
  static constexpr std::array<Rule, 22> rules{{
      {"ational", "ate", measure_positive},
      {"tional", "tion", measure_positive},
      {"enci", "ence", measure_positive},
      {"anci", "ance", measure_positive},
      {"izer", "ize", measure_positive},
      {"bli", "ble", measure_positive},
      {"alli", "al", measure_positive},
      {"entli", "ent", measure_positive},
      {"eli", "e", measure_positive},
      {"ousli", "ous", measure_positive},
      {"ization", "ize", measure_positive},
      {"ation", "ate", measure_positive},
      {"ator", "ate", measure_positive},
      {"alism", "al", measure_positive},
      {"iveness", "ive", measure_positive},
      {"fulness", "ful", measure_positive},
      {"ousness", "ous", measure_positive},
      {"aliti", "al", measure_positive},
      {"iviti", "ive", measure_positive},
      {"biliti", "ble", measure_positive},
      {"fulli", "ful", measure_positive},
      // NLTK measures the stem with its "l" kept: word minus "ogi".
      {"logi", "log",
       [](std::string_view, std::string_view w) { return measure(drop_suffix(w, 3)) > 0; }},
  }};
  return apply_first_rule(word, rules);
}

std::string step3(std::string_view word) {
  static constexpr std::array<Rule, 7> rules{{
      {"icate", "ic", measure_positive},
      {"ative", "", measure_positive},
      {"alize", "al", measure_positive},
      {"iciti", "ic", measure_positive},
      {"ical", "ic", measure_positive},
      {"ful", "", measure_positive},
      {"ness", "", measure_positive},
  }};
  return apply_first_rule(word, rules);
}

std::string step4(std::string_view word) {
  static constexpr std::array<Rule, 19> rules{{
      {"al", "", measure_above_one},
      {"ance", "", measure_above_one},
      {"ence", "", measure_above_one},
      {"er", "", measure_above_one},
      {"ic", "", measure_above_one},
      {"able", "", measure_above_one},
      {"ible", "", measure_above_one},
      {"ant", "", measure_above_one},
      {"ement", "", measure_above_one},
      {"ment", "", measure_above_one},
      {"ent", "", measure_above_one},
      {"ion", "",
       [](std::string_view s, std::string_view) {
         return measure(s) > 1 && (s.back() == 's' || s.back() == 't');
       }},
      {"ou", "", measure_above_one},
      {"ism", "", measure_above_one},
      {"ate", "", measure_above_one},
      {"iti", "", measure_above_one},
      {"ous", "", measure_above_one},
      {"ive", "", measure_above_one},
      {"ize", "", measure_above_one},
  }};
  return apply_first_rule(word, rules);
}

std::string step5a(std::string_view word) {
  if (!ends_with(word, "e")) return std::string(word);
  std::string_view stem = drop_suffix(word, 1);
  int m = measure(stem);
  if (m > 1 || (m == 1 && !ends_cvc(stem))) return std::string(stem);
  return std::string(word);
}

std::string step5b(std::string_view word) {
  static constexpr std::array<Rule, 1> rules{{
      {"ll", "l",
       [](std::string_view, std::string_view w) { return measure(drop_suffix(w, 1)) > 1; }},
  }};
  return apply_first_rule(word, rules);
}

// NLTK's pool of irregular forms, looked up before any rule.
constexpr std::array<std::pair<std::string_view, std::string_view>, 16> kIrregularForms{{
    {"sky", "sky"},
    {"skies", "sky"},
    {"dying", "die"},
    {"lying", "lie"},
    {"tying", "tie"},
    {"news", "news"},
    {"innings", "inning"},
    {"inning", "inning"},
    {"outings", "outing"},
    {"outing", "outing"},
    {"cannings", "canning"},
    {"canning", "canning"},
    {"howe", "howe"},
    {"proceed", "proceed"},
    {"exceed", "exceed"},
    {"succeed", "succeed"},
}};

}  // namespace

std::string porter_stem(std::string_view word) {
  std::string lower(word);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (const auto& [form, stem] : kIrregularForms) {
    if (lower == form) return std::string(stem);
  }
  if (lower.size() <= 2) return lower;
  std::string stem = step1a(lower);
  stem = step1b(stem);
  stem = step1c(stem);
  stem = step2(stem);
  stem = step3(stem);
  stem = step4(stem);
  stem = step5a(stem);
  return step5b(stem);
}

}  // namespace t5zero
