#include "train/rouge.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "tensor/error.h"
#include "train/porter_stemmer.h"
#include "train/punkt_sentence_splitter.h"
#include "train/unicode_classes.h"

namespace t5zero {

namespace {

// Tokens of one comparison as small integers, so LCS tables compare ints, not strings.
class TokenIds {
 public:
  std::vector<int> of(const std::vector<std::string>& tokens) {
    std::vector<int> ids;
    ids.reserve(tokens.size());
    for (const std::string& token : tokens) {
      ids.push_back(ids_.try_emplace(token, static_cast<int>(ids_.size())).first->second);
    }
    return ids;
  }
  size_t size() const { return ids_.size(); }

 private:
  std::unordered_map<std::string, int> ids_;
};

double fmeasure(double precision, double recall) {
  return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
}

RougeScore make_score(double precision, double recall) {
  return {precision, recall, fmeasure(precision, recall)};
}

// The LCS length table, (rows + 1) × (cols + 1), row-major.
std::vector<int> lcs_table(const std::vector<int>& ref, const std::vector<int>& can) {
  size_t cols = can.size() + 1;
  std::vector<int> table((ref.size() + 1) * cols, 0);
  for (size_t i = 1; i <= ref.size(); ++i) {
    for (size_t j = 1; j <= can.size(); ++j) {
      table[i * cols + j] = ref[i - 1] == can[j - 1]
                                ? table[(i - 1) * cols + j - 1] + 1
                                : std::max(table[(i - 1) * cols + j], table[i * cols + j - 1]);
    }
  }
  return table;
}

// Positions in `ref` of one longest common subsequence, read back from the table's corner; on a
// tie the walk moves up (drops a ref token) rather than left, as rouge-score's _backtrack_norec,
// which decides which LCS Lsum's union sees.
std::vector<size_t> lcs_positions(const std::vector<int>& ref, const std::vector<int>& can) {
  std::vector<int> table = lcs_table(ref, can);
  size_t cols = can.size() + 1;
  std::vector<size_t> positions;
  size_t i = ref.size(), j = can.size();
  while (i > 0 && j > 0) {
    if (ref[i - 1] == can[j - 1]) {
      positions.push_back(i - 1);
      --i;
      --j;
    } else if (table[i * cols + j - 1] > table[(i - 1) * cols + j]) {
      --j;
    } else {
      --i;
    }
  }
  std::reverse(positions.begin(), positions.end());
  return positions;
}

std::vector<std::vector<std::string>> tokenized_lines(std::string_view text) {
  std::vector<std::vector<std::string>> lines;
  size_t begin = 0;
  while (begin <= text.size()) {
    size_t end = std::min(text.find('\n', begin), text.size());
    // rouge-score keeps a line that has any character, even one that yields no token.
    if (end > begin) lines.push_back(rouge_tokenize(text.substr(begin, end - begin)));
    begin = end + 1;
  }
  return lines;
}

// An n-gram as a map key: lengths and bytes, so no separator can collide with token text.
std::string ngram_key(const std::vector<std::string>& tokens, size_t first, size_t n) {
  std::string key;
  for (size_t k = first; k < first + n; ++k) {
    key += std::to_string(tokens[k].size());
    key += ':';
    key += tokens[k];
  }
  return key;
}

std::unordered_map<std::string, int> ngram_counts(const std::vector<std::string>& tokens,
                                                  size_t n) {
  std::unordered_map<std::string, int> counts;
  for (size_t i = 0; i + n <= tokens.size(); ++i) ++counts[ngram_key(tokens, i, n)];
  return counts;
}

}  // namespace

std::vector<std::string> rouge_tokenize(std::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  auto finish_token = [&] {
    if (current.empty()) return;
    std::string token = current.size() > 3 ? porter_stem(current) : current;
    if (!token.empty()) tokens.push_back(std::move(token));
    current.clear();
  };
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      current += static_cast<char>(c);
      ++i;
    } else if (c >= 'A' && c <= 'Z') {
      current += static_cast<char>(c - 'A' + 'a');
      ++i;
    } else if (text.substr(i, 3) == "\xE2\x84\xAA") {  // U+212A KELVIN SIGN lower-cases to 'k'
      current += 'k';
      i += 3;
    } else if (text.substr(i, 2) == "\xC4\xB0") {  // U+0130 lower-cases to 'i' + U+0307
      current += 'i';
      finish_token();
      i += 2;
    } else {
      finish_token();
      ++i;
    }
  }
  finish_token();
  return tokens;
}

RougeScore rouge_n(const std::vector<std::string>& target,
                   const std::vector<std::string>& prediction, size_t n) {
  T5_CHECK(n > 0, "rouge_n: n must be positive, got 0");
  std::unordered_map<std::string, int> target_counts = ngram_counts(target, n);
  std::unordered_map<std::string, int> prediction_counts = ngram_counts(prediction, n);
  int matches = 0;
  for (const auto& [ngram, count] : target_counts) {
    auto it = prediction_counts.find(ngram);
    if (it != prediction_counts.end()) matches += std::min(count, it->second);
  }
  size_t target_total = target.size() >= n ? target.size() - n + 1 : 0;
  size_t prediction_total = prediction.size() >= n ? prediction.size() - n + 1 : 0;
  return make_score(
      static_cast<double>(matches) / static_cast<double>(std::max<size_t>(prediction_total, 1)),
      static_cast<double>(matches) / static_cast<double>(std::max<size_t>(target_total, 1)));
}

RougeScore rouge_l(const std::vector<std::string>& target,
                   const std::vector<std::string>& prediction) {
  if (target.empty() || prediction.empty()) return {};
  TokenIds ids;
  std::vector<int> ref = ids.of(target);
  std::vector<int> can = ids.of(prediction);
  double lcs = lcs_table(ref, can).back();
  return make_score(lcs / static_cast<double>(prediction.size()),
                    lcs / static_cast<double>(target.size()));
}

RougeScore rouge_lsum(const std::vector<std::vector<std::string>>& target_sentences,
                      const std::vector<std::vector<std::string>>& prediction_sentences) {
  if (target_sentences.empty() || prediction_sentences.empty()) return {};
  TokenIds ids;
  std::vector<std::vector<int>> refs, cans;
  size_t target_tokens = 0, prediction_tokens = 0;
  for (const auto& s : target_sentences) {
    refs.push_back(ids.of(s));
    target_tokens += s.size();
  }
  for (const auto& s : prediction_sentences) {
    cans.push_back(ids.of(s));
    prediction_tokens += s.size();
  }
  if (target_tokens == 0 || prediction_tokens == 0) return {};

  // Each token may be a hit at most as often as it occurs in both texts (ROUGE 1.5.5).
  std::vector<int> left_in_target(ids.size(), 0), left_in_prediction(ids.size(), 0);
  for (const auto& s : refs) {
    for (int t : s) ++left_in_target[t];
  }
  for (const auto& s : cans) {
    for (int t : s) ++left_in_prediction[t];
  }
  size_t hits = 0;
  for (const std::vector<int>& ref : refs) {
    // Union LCS: the reference positions covered by this sentence's LCS with any prediction
    // sentence, in reference order.
    std::set<size_t> covered;
    for (const std::vector<int>& can : cans) {
      for (size_t position : lcs_positions(ref, can)) covered.insert(position);
    }
    for (size_t position : covered) {
      int t = ref[position];
      if (left_in_target[t] > 0 && left_in_prediction[t] > 0) {
        ++hits;
        --left_in_target[t];
        --left_in_prediction[t];
      }
    }
  }
  double h = static_cast<double>(hits);
  return make_score(h / static_cast<double>(prediction_tokens),
                    h / static_cast<double>(target_tokens));
}

RougeScores rouge_score_pair(std::string_view target, std::string_view prediction) {
  std::vector<std::string> target_tokens = rouge_tokenize(target);
  std::vector<std::string> prediction_tokens = rouge_tokenize(prediction);
  RougeScores scores;
  scores.rouge1 = rouge_n(target_tokens, prediction_tokens, 1);
  scores.rouge2 = rouge_n(target_tokens, prediction_tokens, 2);
  scores.rougeL = rouge_l(target_tokens, prediction_tokens);
  scores.rougeLsum = rouge_lsum(tokenized_lines(target), tokenized_lines(prediction));
  return scores;
}

std::string sentence_per_line(std::string_view text) {
  std::vector<std::string> sentences = punkt_sentences(unicode::strip(text));
  std::string out;
  for (size_t i = 0; i < sentences.size(); ++i) {
    if (i > 0) out += '\n';
    out += sentences[i];
  }
  return out;
}

RougeSummary corpus_rouge(const std::vector<std::string>& predictions,
                          const std::vector<std::string>& references, LsumSentences sentences) {
  T5_CHECK(predictions.size() == references.size(), "corpus_rouge: ", predictions.size(),
           " predictions but ", references.size(), " references");
  T5_CHECK(!predictions.empty(), "corpus_rouge: no prediction/reference pairs to score");
  RougeSummary summary;
  for (size_t i = 0; i < predictions.size(); ++i) {
    RougeScores s =
        sentences == LsumSentences::punkt
            ? rouge_score_pair(sentence_per_line(references[i]), sentence_per_line(predictions[i]))
            : rouge_score_pair(references[i], predictions[i]);
    summary.rouge1 += s.rouge1.fmeasure;
    summary.rouge2 += s.rouge2.fmeasure;
    summary.rougeL += s.rougeL.fmeasure;
    summary.rougeLsum += s.rougeLsum.fmeasure;
  }
  double scale = 100.0 / static_cast<double>(predictions.size());
  summary.rouge1 *= scale;
  summary.rouge2 *= scale;
  summary.rougeL *= scale;
  summary.rougeLsum *= scale;
  summary.pairs = predictions.size();
  return summary;
}

double mean_generated_length(const std::vector<std::vector<int64_t>>& generated_ids,
                             int64_t pad_id) {
  T5_CHECK(!generated_ids.empty(), "mean_generated_length: no generated sequences");
  double total = 0;
  for (const auto& ids : generated_ids) {
    total += static_cast<double>(
        std::count_if(ids.begin(), ids.end(), [&](int64_t id) { return id != pad_id; }));
  }
  return total / static_cast<double>(generated_ids.size());
}

}  // namespace t5zero
