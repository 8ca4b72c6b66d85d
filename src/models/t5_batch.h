// A batch of T5 inputs as plain tensors, and its JSON form
// {"input_ids": [[...]], "attention_mask": [[...]], "labels": [[...]]} (rows of equal length;
// labels may hold -100; attention_mask may be omitted: all ones).
#pragma once

#include <string>

#include "tensor/tensor.h"

namespace t5zero::models {

struct T5Batch {
  Tensor input_ids;       // i64 [B, S]
  Tensor attention_mask;  // i64 [B, S], 1 = attend
  Tensor labels;          // i64 [B, T], -100 = ignored
};

// Errors name the file, the key and the row.
T5Batch read_t5_batch_json(const std::string& path);

}  // namespace t5zero::models
