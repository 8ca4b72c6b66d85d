// WordCache: words already segmented and their ids, so that a repeated word skips the Viterbi
// pass (news text repeats most of its words; tokenizers caches words the same way). An
// open-addressing table over flat arrays: no allocation per word once it has grown.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero::tokenizer_detail {

class WordCache {
 public:
  // Words longer than this are not kept: they are rare and would crowd the arena.
  static constexpr size_t kMaxWordBytes = 64;
  // A full cache starts over rather than evicting one by one.
  static constexpr size_t kMaxWords = size_t{1} << 16;

  // The cached ids of word, or false.
  bool find(std::string_view word, const int32_t** ids, size_t* count) const;
  // Remembers word's ids (word not cached yet, at most kMaxWordBytes).
  void insert(std::string_view word, const int32_t* ids, size_t count);
  void clear();

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_offset = 0;
    uint32_t ids_offset = 0;
    uint16_t key_length = 0;
    uint16_t id_count = 0;
    bool used = false;
  };
  static uint64_t hash_of(std::string_view word);

  std::vector<Slot> slots_;  // power-of-two size, at most half full
  size_t words_ = 0;
  std::string keys_;
  std::vector<int32_t> ids_;
};

}  // namespace t5zero::tokenizer_detail
