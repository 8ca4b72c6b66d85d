#include "io/tokenizer_trie.h"

#include <algorithm>
#include <map>
#include <memory>

namespace t5zero::tokenizer_detail {

namespace {

struct BuildNode {
  int32_t value = -1;
  std::map<unsigned char, std::unique_ptr<BuildNode>> children;
};

}  // namespace

PieceTrie::PieceTrie(const std::vector<std::string>& keys) {
  root_children_.fill(-1);
  BuildNode root;
  for (size_t i = 0; i < keys.size(); ++i) {
    BuildNode* node = &root;
    for (const char c : keys[i]) {
      auto& slot = node->children[static_cast<unsigned char>(c)];
      if (!slot) slot = std::make_unique<BuildNode>();
      node = slot.get();
    }
    if (node != &root) node->value = static_cast<int32_t>(i);
  }
  // Breadth-first numbering keeps each node's children contiguous.
  std::vector<const BuildNode*> order;
  for (const auto& [label, child] : root.children) {
    root_children_[label] = static_cast<int32_t>(order.size());
    order.push_back(child.get());
  }
  for (size_t n = 0; n < order.size(); ++n) {
    first_edge_.push_back(static_cast<uint32_t>(edge_labels_.size()));
    values_.push_back(order[n]->value);
    for (const auto& [label, child] : order[n]->children) {
      edge_labels_.push_back(label);
      edge_children_.push_back(static_cast<int32_t>(order.size()));
      order.push_back(child.get());
    }
  }
  first_edge_.push_back(static_cast<uint32_t>(edge_labels_.size()));
}

int32_t PieceTrie::child(int32_t node, unsigned char label) const {
  const unsigned char* begin = edge_labels_.data() + first_edge_[node];
  const unsigned char* end = edge_labels_.data() + first_edge_[node + 1];
  const unsigned char* it;
  if (end - begin <= 8) {
    it = std::find(begin, end, label);
  } else {
    it = std::lower_bound(begin, end, label);
  }
  if (it == end || *it != label) return -1;
  return edge_children_[it - edge_labels_.data()];
}

int32_t PieceTrie::find(std::string_view text) const {
  int32_t found = -1;
  for_each_prefix(text, [&](size_t length, int32_t value) {
    if (length == text.size()) found = value;
  });
  return found;
}

}  // namespace t5zero::tokenizer_detail
