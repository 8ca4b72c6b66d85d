#include "train/evaluation.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "autograd/variable.h"
#include "tensor/error.h"
#include "train/batcher.h"

namespace t5zero {

int64_t eval_rows(const TokenSplit& split, const EvalOptions& options) {
  return options.max_samples > 0 ? std::min(options.max_samples, split.rows()) : split.rows();
}

EvalResult evaluate(const models::T5ForConditionalGeneration& model, const TokenSplit& split,
                    const EvalOptions& options, const T5Tokenizer* tokenizer) {
  T5_CHECK(options.batch_size > 0, "evaluation: batch size must be > 0, got ", options.batch_size);
  T5_CHECK(!options.generate || tokenizer != nullptr,
           "evaluation: generation needs a tokenizer to decode the summaries");
  const auto start = std::chrono::steady_clock::now();
  autograd::NoGradGuard no_grad;
  EvalResult result;
  const int64_t rows = eval_rows(split, options);
  T5_CHECK(rows > 0, "evaluation: split '", split.name(), "' has no rows");
  double loss_sum = 0;
  std::vector<std::vector<int64_t>> generated;
  for (int64_t first = 0; first < rows; first += options.batch_size) {
    const int64_t count = std::min(options.batch_size, rows - first);
    std::vector<int64_t> batch_rows(static_cast<size_t>(count));
    std::iota(batch_rows.begin(), batch_rows.end(), first);
    const TrainBatch batch = collate_rows(split, batch_rows, options.pad_id);
    const models::T5Output out = model.forward(
        batch.tensors.input_ids, batch.tensors.attention_mask, Tensor(), batch.tensors.labels);
    loss_sum += out.loss.data().item() * static_cast<double>(count);
    if (!options.generate) continue;
    const Tensor sequences = models::generate(model, batch.tensors.input_ids,
                                              batch.tensors.attention_mask, options.generation);
    const int64_t length = sequences.size(1);
    const std::vector<int64_t> ids = sequences.to_vector<int64_t>();
    for (int64_t b = 0; b < count; ++b) {
      std::vector<int64_t> row(ids.begin() + b * length, ids.begin() + (b + 1) * length);
      const std::vector<int32_t> row32(row.begin(), row.end());
      result.predictions.push_back(tokenizer->decode(row32, /*skip_special_tokens=*/true));
      generated.push_back(std::move(row));
      // As the recipe: labels with -100 replaced by pad, decoded the same way.
      std::vector<int32_t> label = split.labels(batch_rows[static_cast<size_t>(b)]).to_vector();
      for (int32_t& id : label) {
        if (id == kLabelPadId) id = static_cast<int32_t>(options.pad_id);
      }
      result.references.push_back(tokenizer->decode(label, /*skip_special_tokens=*/true));
    }
  }
  result.samples = rows;
  result.loss = loss_sum / static_cast<double>(rows);
  if (options.generate) {
    result.generated = true;
    result.rouge = corpus_rouge(result.predictions, result.references, LsumSentences::punkt);
    result.gen_len = mean_generated_length(generated, options.pad_id);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace t5zero
