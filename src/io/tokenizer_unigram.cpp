#include "io/tokenizer_unigram.h"

#include <algorithm>
#include <atomic>

#include "io/tokenizer_utf8.h"

namespace t5zero::tokenizer_detail {

namespace {
// tokenizers' K_UNK_PENALTY (and sentencepiece's kUnkPenalty).
constexpr double kUnknownPenalty = 10.0;

std::atomic<uint64_t> next_instance_id{1};
}  // namespace

UnigramModel::UnigramModel(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                           int32_t unk_id)
    : instance_id_(next_instance_id.fetch_add(1)),
      trie_(pieces),
      scores_(scores.begin(), scores.end()),
      unk_id_(unk_id) {
  double min_score = 0.0;
  for (double s : scores_) min_score = std::min(min_score, s);
  unk_score_ = min_score - kUnknownPenalty;
}

void UnigramModel::encode_word(std::string_view word, std::vector<int32_t>& ids,
                               UnigramScratch& scratch) const {
  if (word.empty()) return;
  if (scratch.cache_owner != instance_id_) {
    scratch.cache.clear();
    scratch.cache_owner = instance_id_;
  }
  const int32_t* cached;
  size_t count;
  if (scratch.cache.find(word, &cached, &count)) {
    ids.insert(ids.end(), cached, cached + count);
    return;
  }
  const size_t before = ids.size();
  segment(word, ids, scratch);
  scratch.cache.insert(word, ids.data() + before, ids.size() - before);
}

void UnigramModel::segment(std::string_view word, std::vector<int32_t>& ids,
                           UnigramScratch& scratch) const {
  const size_t size = word.size();
  scratch.best_score.assign(size + 1, 0.0);
  scratch.best_start.assign(size + 1, -1);
  scratch.best_id.resize(size + 1);
  double* best_score = scratch.best_score.data();
  int32_t* best_start = scratch.best_start.data();
  int32_t* best_id = scratch.best_id.data();

  auto relax = [&](size_t end, size_t start, int32_t id, double score) {
    // Strictly better only: the first path found wins ties, as in tokenizers.
    if (best_start[end] < 0 || score > best_score[end]) {
      best_score[end] = score;
      best_start[end] = static_cast<int32_t>(start);
      best_id[end] = id;
    }
  };
  size_t start = 0;
  while (start < size) {
    const double score_here = best_score[start];
    const size_t char_length = utf8_sequence_length(static_cast<unsigned char>(word[start]));
    bool has_single_char_piece = false;
    trie_.for_each_prefix(word.substr(start), [&](size_t length, int32_t id) {
      relax(start + length, start, id, score_here + scores_[id]);
      if (length == char_length) has_single_char_piece = true;
    });
    if (!has_single_char_piece) relax(start + char_length, start, unk_id_, score_here + unk_score_);
    start += char_length;
  }

  // Walk back from the end; a run of unknown pieces becomes one token, whose id is that of the
  // fused text when it happens to be a piece (tokenizers looks the fused string up).
  std::vector<int32_t>& reversed = scratch.reversed;
  reversed.clear();
  size_t end = size;
  while (end > 0) {
    const size_t piece_start = static_cast<size_t>(best_start[end]);
    if (best_id[end] != unk_id_) {
      reversed.push_back(best_id[end]);
      end = piece_start;
      continue;
    }
    size_t run_start = piece_start;
    while (run_start > 0 && best_id[run_start] == unk_id_) {
      run_start = static_cast<size_t>(best_start[run_start]);
    }
    const int32_t fused = trie_.find(word.substr(run_start, end - run_start));
    reversed.push_back(fused >= 0 ? fused : unk_id_);
    end = run_start;
  }
  ids.insert(ids.end(), reversed.rbegin(), reversed.rend());
}

}  // namespace t5zero::tokenizer_detail
