// ROUGE-1, ROUGE-2, ROUGE-L and ROUGE-Lsum as Google's rouge-score package (0.1.2) computes them
// with RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=True), and the corpus
// figures the reference recipe reports (run_seq2seq_deepspeed.py: postprocess_text, then the
// `evaluate` "rouge" metric, then ×100).
//
// Tokens (rouge_score/tokenize.py): lower-case; every run of characters outside [a-z0-9] is a
// separator; tokens longer than three characters are Porter-stemmed (NLTK's default mode).
// Scores: n-gram overlap with clipped counts; LCS for L; for Lsum, the "union LCS" of each
// reference sentence against all prediction sentences, each token counted at most as often as it
// occurs in both texts (ROUGE 1.5.5's rule). F-measure is 2PR / (P + R), 0 when P + R = 0.
//
// Corpus figure: we report the mean F1 × 100. The recipe's `evaluate` metric aggregates with
// rouge_score.scoring.BootstrapAggregator and reports the median of 1000 bootstrap resamples of
// the mean F1 (its "mid"), which scatters around the mean by resampling noise; the recipe then
// rounds to 4 decimals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero {

struct RougeScore {
  double precision = 0.0;
  double recall = 0.0;
  double fmeasure = 0.0;
};

struct RougeScores {
  RougeScore rouge1;
  RougeScore rouge2;
  RougeScore rougeL;
  RougeScore rougeLsum;
};

// rouge-score's tokenizer with the Porter stemmer. Of non-ASCII characters only two lower-case
// to ASCII letters in Python and so make tokens: U+212A KELVIN SIGN → "k" and U+0130 (capital I
// with dot) → "i" followed by a combining dot, i.e. a separator. Every other non-ASCII character
// separates tokens.
std::vector<std::string> rouge_tokenize(std::string_view text);

// ROUGE-N from token lists: matches are the clipped n-gram counts; precision divides by the
// prediction's n-gram count, recall by the target's (each at least 1).
RougeScore rouge_n(const std::vector<std::string>& target,
                   const std::vector<std::string>& prediction, size_t n);
// ROUGE-L: longest common subsequence; zero when either side is empty.
RougeScore rouge_l(const std::vector<std::string>& target,
                   const std::vector<std::string>& prediction);
// ROUGE-Lsum from tokenized sentences; zero when either side has no sentence or no token.
RougeScore rouge_lsum(const std::vector<std::vector<std::string>>& target_sentences,
                      const std::vector<std::vector<std::string>>& prediction_sentences);

// RougeScorer.score(target, prediction): Lsum's sentences are the non-empty '\n'-separated
// lines of each text (rouge-score does not split sentences itself).
RougeScores rouge_score_pair(std::string_view target, std::string_view prediction);

// The recipe's postprocess_text: strip surrounding whitespace, then one sentence per line, the
// sentences found by the Punkt splitter (our nltk.sent_tokenize) joined with '\n'.
std::string sentence_per_line(std::string_view text);

// How Lsum finds sentences in the corpus figures.
enum class LsumSentences {
  punkt,     // as the recipe: sentence_per_line() on every text first
  newlines,  // as rouge-score alone: the texts' own lines
};

// Mean F1 × 100 over aligned prediction/reference pairs.
struct RougeSummary {
  double rouge1 = 0.0;
  double rouge2 = 0.0;
  double rougeL = 0.0;
  double rougeLsum = 0.0;
  size_t pairs = 0;
};

// Throws when the lists differ in length or are empty.
RougeSummary corpus_rouge(const std::vector<std::string>& predictions,
                          const std::vector<std::string>& references,
                          LsumSentences sentences = LsumSentences::punkt);

// The recipe's gen_len: the mean over generated sequences of how many ids differ from the pad id
// (np.count_nonzero(pred != pad_token_id), so an id after </s> that is not pad still counts).
double mean_generated_length(const std::vector<std::vector<int64_t>>& generated_ids,
                             int64_t pad_id);

}  // namespace t5zero
