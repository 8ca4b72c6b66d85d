#include "models/kv_cache.h"

#include "tensor/ops.h"

namespace t5zero::models {

KeyValueCache::KeyValueCache(int64_t capacity) : capacity_(capacity) {
  T5_CHECK(capacity >= 1, "KeyValueCache: capacity must be at least 1, got ", capacity);
}

void KeyValueCache::append(const Tensor& keys, const Tensor& values) {
  T5_CHECK(keys.dim() == 4 && keys.shape() == values.shape(),
           "KeyValueCache: expected keys and values [rows, heads, n, d_kv], got ",
           shape_str(keys.shape()), " and ", shape_str(values.shape()));
  if (!keys_.defined()) {
    const Shape shape{keys.size(0), keys.size(1), capacity_, keys.size(3)};
    keys_ = Tensor::zeros(shape, keys.dtype(), keys.device());
    values_ = Tensor::zeros(shape, values.dtype(), values.device());
  }
  T5_CHECK(keys.size(0) == keys_.size(0) && keys.size(1) == keys_.size(1) &&
               keys.size(3) == keys_.size(3),
           "KeyValueCache: expected keys and values [", keys_.size(0), ", ", keys_.size(1), ", n, ",
           keys_.size(3), "] like those cached, got ", shape_str(keys.shape()));
  const int64_t n = keys.size(2);
  T5_CHECK(length_ + n <= capacity_, "KeyValueCache: ", length_, " cached + ", n,
           " new positions exceed the capacity of ", capacity_,
           " (the maximum length decoding was started with)");
  keys_.narrow(2, length_, n).copy_(keys);
  values_.narrow(2, length_, n).copy_(values);
  length_ += n;
}

Tensor KeyValueCache::keys() const {
  T5_CHECK(keys_.defined(), "KeyValueCache: nothing cached yet");
  return keys_.narrow(2, 0, length_);
}

Tensor KeyValueCache::values() const {
  T5_CHECK(values_.defined(), "KeyValueCache: nothing cached yet");
  return values_.narrow(2, 0, length_);
}

void KeyValueCache::select_rows(const Tensor& rows) {
  if (!keys_.defined()) return;
  // The whole buffer, filled or not: index_select of a contiguous tensor is one pass. Row
  // indices built on the host move to the buffers' device (a no-op when already there).
  const Tensor index = rows.to(keys_.device());
  keys_ = ops::index_select(keys_, 0, index);
  values_ = ops::index_select(values_, 0, index);
}

void DecoderCache::select_rows(const Tensor& rows) {
  const Tensor index = rows.to(cross_attention_bias.device());  // moved once for every block
  for (DecoderBlockCache& block : blocks) {
    block.self_attention.select_rows(index);
    block.cross_attention.select_rows(index);
  }
  cross_attention_bias = ops::index_select(cross_attention_bias, 0, index);
}

void DecoderCache::reorder_beams(const Tensor& rows) {
  T5_CHECK(rows.numel() == this->rows(), "DecoderCache: a beam reorder keeps the row count (",
           this->rows(), "), got ", rows.numel(), " rows");
  const Tensor index = rows.to(cross_attention_bias.device());  // moved once for every block
  for (DecoderBlockCache& block : blocks) block.self_attention.select_rows(index);
}

}  // namespace t5zero::models
