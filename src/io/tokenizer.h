// T5Tokenizer: FLAN-T5's tokenizer, giving the ids of transformers' T5TokenizerFast (what
// AutoTokenizer returns for FLAN-T5; transformers 4.26, tokenizers 0.13.3).
//
// Encoding, as tokenizer.json's pipeline runs it:
//   1. added tokens (<pad>, </s>, <unk>, <extra_id_N>) are cut out of the raw text first,
//      leftmost-longest, and become their ids;
//   2. each stretch between them is normalized (sentencepiece's nmt_nfkc charsmap, grapheme by
//      grapheme; then runs of spaces collapse to one);
//   3. Metaspace: spaces become "▁", a "▁" is prepended unless the stretch starts with one, and
//      the stretch splits before every "▁";
//   4. each word is segmented by the Unigram model (Viterbi), unknown runs fused into <unk>;
//   5. </s> is appended (TemplateProcessing "$A </s>"); truncation keeps </s> last.
// Unlike raw sentencepiece, whitespace is not stripped: a trailing newline becomes a "▁" piece, so
// the summarization prompt with an empty article has 12 ids, not 11.
//
// Decoding: ids to pieces (special tokens skipped on request), "▁" to spaces with the first
// token's dropped (Metaspace decoder), then transformers 4.26's default
// clean_up_tokenization (" ." -> ".", " n't" -> "n't", ...).
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/tokenizer_normalizer.h"
#include "io/tokenizer_trie.h"
#include "io/tokenizer_unigram.h"

namespace t5zero {

class T5Tokenizer {
 public:
  // Reads dir/spiece.model (vocabulary, scores, normalizer) and, when present,
  // tokenizer_config.json (model_max_length, default 512; extra_ids, default 100; special tokens),
  // special_tokens_map.json, and tokenizer.json (added tokens; its pipeline and vocabulary are
  // checked against what this class implements).
  static T5Tokenizer load(const std::filesystem::path& dir);

  // Token ids of text followed by </s>. With max_length, at most max_length ids: the text's ids
  // are cut to max_length - 1 and </s> stays last (truncation=True in transformers).
  std::vector<int32_t> encode(std::string_view text,
                              std::optional<int64_t> max_length = std::nullopt) const;

  // encode() of every text on `threads` threads (<= 0: all hardware threads); result i belongs
  // to texts[i]. An error names the index of the text that caused it.
  std::vector<std::vector<int32_t>> encode_batch(
      std::span<const std::string> texts, int threads,
      std::optional<int64_t> max_length = std::nullopt) const;

  // Text of ids as T5TokenizerFast.decode gives it. Ids outside the vocabulary are dropped (as
  // the tokenizers library does); skip_special_tokens drops <pad>, </s>, <unk> and sentinels.
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = true,
                     bool clean_up_tokenization_spaces = true) const;

  // The piece (or added token) of id; an error for ids outside [0, vocab_size()).
  const std::string& id_to_piece(int32_t id) const;
  // Whether id is an added special token (<pad>, </s>, <unk>, sentinels).
  bool is_special(int32_t id) const;

  // 32100 for T5: 32000 sentencepiece pieces and 100 sentinels (<extra_id_N> = 32099 - N).
  int32_t vocab_size() const { return static_cast<int32_t>(pieces_.size()); }
  int32_t pad_id() const { return pad_id_; }
  int32_t eos_id() const { return eos_id_; }
  int32_t unk_id() const { return unk_id_; }
  int64_t model_max_length() const { return model_max_length_; }

 private:
  struct AddedToken {
    std::string content;
    int32_t id;
  };
  struct Scratch;

  T5Tokenizer() = default;
  void encode_into(std::string_view text, std::optional<int64_t> max_length,
                   std::vector<int32_t>& ids, Scratch& scratch) const;
  void encode_stretch(std::string_view stretch, size_t limit, std::vector<int32_t>& ids,
                      Scratch& scratch) const;

  std::vector<std::string> pieces_;  // id -> piece or added token text
  std::vector<bool> special_;        // id -> added special token
  std::vector<AddedToken> added_tokens_;
  tokenizer_detail::PieceTrie added_trie_;  // added token text -> index into added_tokens_
  std::array<bool, 256> added_first_byte_{};
  std::optional<tokenizer_detail::T5Normalizer> normalizer_;
  tokenizer_detail::UnigramModel unigram_;
  int32_t pad_id_ = 0;
  int32_t eos_id_ = 1;
  int32_t unk_id_ = 2;
  int64_t model_max_length_ = 512;
};

}  // namespace t5zero
