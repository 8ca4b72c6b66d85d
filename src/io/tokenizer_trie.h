// A byte trie over the tokenizer's strings (vocabulary pieces, added tokens): walks every key that
// is a prefix of a text in one pass, shortest first, as the tokenizers library's Unigram trie does.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace t5zero::tokenizer_detail {

class PieceTrie {
 public:
  // keys[i] gets value i; for a repeated key the last one wins (as a HashMap filled in order).
  explicit PieceTrie(const std::vector<std::string>& keys);
  PieceTrie() = default;

  // Calls visit(length, value) for each key that is a prefix of text, shortest first.
  template <typename Visit>
  void for_each_prefix(std::string_view text, Visit&& visit) const {
    if (text.empty()) return;
    int32_t node = root_children_[static_cast<unsigned char>(text[0])];
    size_t depth = 1;
    while (node >= 0) {
      if (values_[node] >= 0) visit(depth, values_[node]);
      if (depth == text.size()) return;
      node = child(node, static_cast<unsigned char>(text[depth]));
      ++depth;
    }
  }

  // The value of key == text exactly, or -1.
  int32_t find(std::string_view text) const;

 private:
  int32_t child(int32_t node, unsigned char label) const;

  std::array<int32_t, 256> root_children_{};
  // Node n's children are edges [first_edge_[n], first_edge_[n + 1]), sorted by label.
  std::vector<uint32_t> first_edge_;
  std::vector<int32_t> values_;  // -1: no key ends here
  std::vector<unsigned char> edge_labels_;
  std::vector<int32_t> edge_children_;
};

}  // namespace t5zero::tokenizer_detail
