#include "train/batcher.h"

#include <algorithm>

#include "tensor/error.h"
#include "tensor/philox.h"

namespace t5zero {

namespace {

int64_t round_up(int64_t value, int64_t multiple) {
  return (value + multiple - 1) / multiple * multiple;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

TrainBatch collate_rows(const TokenSplit& split, std::span<const int64_t> rows, int64_t pad_id,
                        int64_t pad_to_multiple_of) {
  T5_CHECK(!rows.empty(), "collate_rows: no rows");
  T5_CHECK(pad_to_multiple_of > 0, "collate_rows: pad_to_multiple_of must be > 0, got ",
           pad_to_multiple_of);
  int64_t input_width = 0, label_width = 0;
  for (int64_t row : rows) {
    input_width = std::max(input_width, split.input(row).size());
    label_width = std::max(label_width, split.labels(row).size());
  }
  T5_CHECK(label_width > 0, "split '", split.name(), "': rows without labels cannot be trained on");
  input_width = round_up(input_width, pad_to_multiple_of);
  label_width = round_up(label_width, pad_to_multiple_of);

  const int64_t batch = static_cast<int64_t>(rows.size());
  TrainBatch out;
  out.rows = batch;
  out.tensors.input_ids =
      Tensor::full({batch, input_width}, static_cast<double>(pad_id), DType::i64);
  out.tensors.attention_mask = Tensor::zeros({batch, input_width}, DType::i64);
  out.tensors.labels = Tensor::full({batch, label_width}, kLabelPadId, DType::i64);
  int64_t* ids = out.tensors.input_ids.data<int64_t>();
  int64_t* mask = out.tensors.attention_mask.data<int64_t>();
  int64_t* labels = out.tensors.labels.data<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t row = rows[static_cast<size_t>(b)];
    const TokenIds input = split.input(row);
    for (int64_t t = 0; t < input.size(); ++t) ids[b * input_width + t] = input[t];
    const int64_t real = split.input_length(row);
    for (int64_t t = 0; t < real; ++t) mask[b * input_width + t] = 1;
    out.input_tokens += real;
    const TokenIds target = split.labels(row);
    for (int64_t t = 0; t < target.size(); ++t) {
      labels[b * label_width + t] = target[t];
      if (target[t] != kLabelPadId) ++out.label_tokens;
    }
  }
  return out;
}

std::vector<int64_t> epoch_row_order(int64_t rows, uint64_t seed, int64_t epoch, bool shuffle) {
  T5_CHECK(rows >= 0, "epoch_row_order: rows must be >= 0, got ", rows);
  std::vector<int64_t> order(static_cast<size_t>(rows));
  for (int64_t i = 0; i < rows; ++i) order[static_cast<size_t>(i)] = i;
  if (!shuffle) return order;
  // Fisher-Yates from the back; swap i with a uniform j in [0, i] drawn from the 64-bit Philox
  // word pair of counter (i, epoch). The modulo bias is below 2^-32 for any real dataset.
  for (int64_t i = rows - 1; i > 0; --i) {
    const Philox4 r = philox4x32_10(
        Philox4{{static_cast<uint32_t>(i), static_cast<uint32_t>(static_cast<uint64_t>(i) >> 32),
                 static_cast<uint32_t>(epoch),
                 static_cast<uint32_t>(static_cast<uint64_t>(epoch) >> 32)}},
        static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
    const uint64_t word = (static_cast<uint64_t>(r.v[0]) << 32) | r.v[1];
    const auto j = static_cast<int64_t>(word % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

EpochPlan::EpochPlan(int64_t dataset_rows, int64_t micro_batch_size,
                     int64_t gradient_accumulation_steps, int64_t world_size)
    : dataset_rows_(dataset_rows),
      micro_batch_size_(micro_batch_size),
      gradient_accumulation_steps_(gradient_accumulation_steps),
      world_size_(world_size) {
  T5_CHECK(dataset_rows > 0, "training split: expected rows, found none");
  T5_CHECK(micro_batch_size > 0 && gradient_accumulation_steps > 0 && world_size > 0,
           "EpochPlan: micro batch size, accumulation steps and world size must be > 0");
  padded_rows_ = round_up(dataset_rows, world_size);
  micro_batches_ = ceil_div(padded_rows_, micro_batch_size * world_size);
  optimizer_steps_ = ceil_div(micro_batches_, gradient_accumulation_steps);
}

int64_t EpochPlan::first_micro_batch(int64_t step) const {
  T5_CHECK(step >= 0 && step < optimizer_steps_, "EpochPlan: step ", step, " outside [0, ",
           optimizer_steps_, ")");
  return step * gradient_accumulation_steps_;
}

int64_t EpochPlan::end_micro_batch(int64_t step) const {
  return std::min(first_micro_batch(step) + gradient_accumulation_steps_, micro_batches_);
}

int64_t EpochPlan::rows_before(int64_t micro) const {
  return std::min(micro * micro_batch_size_ * world_size_, padded_rows_);
}

int64_t EpochPlan::global_rows(int64_t micro) const {
  return rows_before(micro + 1) - rows_before(micro);
}

int64_t EpochPlan::micro_batch_first_row(int64_t micro, int64_t rank) const {
  T5_CHECK(micro >= 0 && micro < micro_batches_, "EpochPlan: micro-batch ", micro, " outside [0, ",
           micro_batches_, ")");
  T5_CHECK(rank >= 0 && rank < world_size_, "EpochPlan: rank ", rank, " outside [0, ", world_size_,
           ")");
  return rows_before(micro) + rank * (global_rows(micro) / world_size_);
}

std::vector<int64_t> EpochPlan::micro_batch_rows(const std::vector<int64_t>& order, int64_t micro,
                                                 int64_t rank) const {
  T5_CHECK(static_cast<int64_t>(order.size()) == dataset_rows_, "EpochPlan: an order of ",
           order.size(), " rows for a dataset of ", dataset_rows_);
  const int64_t first = micro_batch_first_row(micro, rank);
  const int64_t count = global_rows(micro) / world_size_;
  std::vector<int64_t> rows;
  rows.reserve(static_cast<size_t>(count));
  // Positions past the dataset wrap to its start, as DistributedSampler pads.
  for (int64_t p = first; p < first + count; ++p) {
    rows.push_back(order[static_cast<size_t>(p % dataset_rows_)]);
  }
  return rows;
}

}  // namespace t5zero
