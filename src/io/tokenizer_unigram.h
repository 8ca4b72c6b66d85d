// The Unigram segmentation of one pre-tokenized word, as the tokenizers library (0.13) computes
// it: a Viterbi pass over the pieces that start at each character (Unigram::encode_optimized),
// unknown characters scored min_score - 10, and runs of unknown pieces fused into one token.
// Ties keep the first path found, so splits equal the fast tokenizer's, not sentencepiece's
// (which breaks some ties the other way).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "io/tokenizer_trie.h"
#include "io/tokenizer_word_cache.h"

namespace t5zero::tokenizer_detail {

// Per-thread buffers of encode_word, reused across calls.
struct UnigramScratch {
  std::vector<double> best_score;
  std::vector<int32_t> best_start;  // -1: not reached yet
  std::vector<int32_t> best_id;
  std::vector<int32_t> reversed;
  uint64_t cache_owner = 0;  // UnigramModel::instance_id() of the model that filled `cache`
  WordCache cache;
};

class UnigramModel {
 public:
  UnigramModel() = default;
  // pieces[i] has id i and log-probability scores[i]; unk_id is the unknown piece.
  UnigramModel(const std::vector<std::string>& pieces, const std::vector<float>& scores,
               int32_t unk_id);

  // Appends the ids of word's pieces to ids. word must be valid UTF-8.
  void encode_word(std::string_view word, std::vector<int32_t>& ids, UnigramScratch& scratch) const;

  // Distinct for every model built (copies share it, and their results): a scratch cache filled
  // by one model is never read for another.
  uint64_t instance_id() const { return instance_id_; }

 private:
  void segment(std::string_view word, std::vector<int32_t>& ids, UnigramScratch& scratch) const;

  uint64_t instance_id_ = 0;
  PieceTrie trie_;
  std::vector<double> scores_;
  int32_t unk_id_ = 0;
  double unk_score_ = 0.0;
};

}  // namespace t5zero::tokenizer_detail
