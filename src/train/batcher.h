// From tokenized rows to the batches of a training run: each epoch's row order (shuffled from the
// seed), its micro-batches (per rank), the micro-batches of each optimizer step (gradient
// accumulation), and the padding of a micro-batch into tensors.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "io/token_dataset.h"
#include "models/t5_batch.h"

namespace t5zero {

// As the recipe's DataCollatorForSeq2Seq(pad_to_multiple_of=8).
inline constexpr int64_t kPadToMultipleOf = 8;

struct TrainBatch {
  models::T5Batch tensors;  // input_ids, attention_mask, labels: i64
  int64_t rows = 0;
  int64_t input_tokens = 0;  // real input tokens (attention mask ones)
  int64_t label_tokens = 0;  // labels other than -100
};

// Rows of `split` padded into tensors as DataCollatorForSeq2Seq does: inputs with `pad_id` to the
// longest stored input, labels with -100 to the longest stored labels, each width rounded up to
// a multiple of `pad_to_multiple_of`; the attention mask is 1 on each row's real tokens. Rows of a
// max_length dataset are stored padded already, so they only gain the rounding (129 → 136).
TrainBatch collate_rows(const TokenSplit& split, std::span<const int64_t> rows, int64_t pad_id,
                        int64_t pad_to_multiple_of = kPadToMultipleOf);

// The row order of an epoch: a permutation of [0, rows) keyed by (seed, epoch) — Fisher-Yates
// drawing from Philox-4x32-10, so it is the same on every platform and on every rank — or the
// dataset order when `shuffle` is false.
std::vector<int64_t> epoch_row_order(int64_t rows, uint64_t seed, int64_t epoch, bool shuffle);

// How one epoch is cut into micro-batches and optimizer steps.
//
// A global micro-batch is `micro_batch_size × world_size` consecutive rows of the epoch's order;
// rank r takes the r-th contiguous slice of it. As torch's DistributedSampler (drop_last false),
// the order is first extended by repeating its start until every rank has the same number of
// rows. The last global micro-batch may be smaller (split evenly across ranks).
// An optimizer step accumulates `gradient_accumulation_steps` micro-batches; the epoch's last step
// takes whatever micro-batches remain. (HF's Trainer instead carries such leftover gradients
// into the next epoch's first step; a step here never mixes epochs.)
class EpochPlan {
 public:
  EpochPlan(int64_t dataset_rows, int64_t micro_batch_size, int64_t gradient_accumulation_steps,
            int64_t world_size = 1);

  int64_t dataset_rows() const { return dataset_rows_; }
  // Rows of an epoch after the DistributedSampler extension.
  int64_t padded_rows() const { return padded_rows_; }
  int64_t micro_batches() const { return micro_batches_; }
  int64_t optimizer_steps() const { return optimizer_steps_; }
  // Micro-batches [first, last) of optimizer step `step` (0-based within the epoch).
  int64_t first_micro_batch(int64_t step) const;
  int64_t end_micro_batch(int64_t step) const;
  // Rows consumed (over all ranks) before global micro-batch `micro` of the epoch.
  int64_t rows_before(int64_t micro) const;
  // The rows rank `rank` trains on in global micro-batch `micro`, given the epoch's order; and
  // the epoch position of the first of them (for dropout keys).
  std::vector<int64_t> micro_batch_rows(const std::vector<int64_t>& order, int64_t micro,
                                        int64_t rank) const;
  int64_t micro_batch_first_row(int64_t micro, int64_t rank) const;

 private:
  int64_t global_rows(int64_t micro) const;

  int64_t dataset_rows_;
  int64_t micro_batch_size_;
  int64_t gradient_accumulation_steps_;
  int64_t world_size_;
  int64_t padded_rows_;
  int64_t micro_batches_;
  int64_t optimizer_steps_;
};

}  // namespace t5zero
