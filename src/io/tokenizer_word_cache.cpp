#include "io/tokenizer_word_cache.h"

#include <algorithm>
#include <cstring>

namespace t5zero::tokenizer_detail {

uint64_t WordCache::hash_of(std::string_view word) {
  uint64_t h = 0xCBF29CE484222325ull;  // FNV-1a: words are short
  for (const char c : word) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001B3ull;
  }
  return h;
}

bool WordCache::find(std::string_view word, const int32_t** ids, size_t* count) const {
  if (slots_.empty()) return false;
  const uint64_t h = hash_of(word);
  const size_t mask = slots_.size() - 1;
  for (size_t i = h & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) return false;
    if (s.hash == h && s.key_length == word.size() &&
        std::memcmp(keys_.data() + s.key_offset, word.data(), word.size()) == 0) {
      *ids = ids_.data() + s.ids_offset;
      *count = s.id_count;
      return true;
    }
  }
}

void WordCache::insert(std::string_view word, const int32_t* ids, size_t count) {
  if (word.size() > kMaxWordBytes || count > UINT16_MAX) return;
  if (words_ >= kMaxWords) clear();
  if (slots_.empty()) slots_.resize(2 * kMaxWords);
  const uint64_t h = hash_of(word);
  const size_t mask = slots_.size() - 1;
  size_t i = h & mask;
  while (slots_[i].used) i = (i + 1) & mask;
  Slot& s = slots_[i];
  s.used = true;
  s.hash = h;
  s.key_offset = static_cast<uint32_t>(keys_.size());
  s.key_length = static_cast<uint16_t>(word.size());
  s.ids_offset = static_cast<uint32_t>(ids_.size());
  s.id_count = static_cast<uint16_t>(count);
  keys_.append(word);
  ids_.insert(ids_.end(), ids, ids + count);
  ++words_;
}

void WordCache::clear() {
  std::fill(slots_.begin(), slots_.end(), Slot{});
  words_ = 0;
  keys_.clear();
  ids_.clear();
}

}  // namespace t5zero::tokenizer_detail
