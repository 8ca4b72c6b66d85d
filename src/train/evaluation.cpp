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

namespace {

// What one rank's block of rows gives: the sums the result is made of, and the texts.
struct EvalPart {
  double loss_sum = 0;       // batch mean × rows of the batch, summed (HF's eval loop)
  double generated_ids = 0;  // non-pad generated ids, summed over rows
  std::vector<std::string> predictions;
  std::vector<std::string> references;
};

EvalPart evaluate_rows(const models::T5ForConditionalGeneration& model, const TokenSplit& split,
                       const EvalOptions& options, const T5Tokenizer* tokenizer, int64_t begin,
                       int64_t end) {
  EvalPart part;
  for (int64_t first = begin; first < end; first += options.batch_size) {
    const int64_t count = std::min(options.batch_size, end - first);
    std::vector<int64_t> batch_rows(static_cast<size_t>(count));
    std::iota(batch_rows.begin(), batch_rows.end(), first);
    const TrainBatch batch = collate_rows(split, batch_rows, options.pad_id);
    const models::T5Output out = model.forward(
        batch.tensors.input_ids, batch.tensors.attention_mask, Tensor(), batch.tensors.labels);
    part.loss_sum += out.loss.data().item() * static_cast<double>(count);
    if (!options.generate) continue;
    const Tensor sequences = models::generate(model, batch.tensors.input_ids,
                                              batch.tensors.attention_mask, options.generation);
    const int64_t length = sequences.size(1);
    const std::vector<int64_t> ids = sequences.to_vector<int64_t>();
    for (int64_t b = 0; b < count; ++b) {
      std::vector<int64_t> row(ids.begin() + b * length, ids.begin() + (b + 1) * length);
      const std::vector<int32_t> row32(row.begin(), row.end());
      part.predictions.push_back(tokenizer->decode(row32, /*skip_special_tokens=*/true));
      part.generated_ids += mean_generated_length({row}, options.pad_id);
      // As the recipe: labels with -100 replaced by pad, decoded the same way.
      std::vector<int32_t> label = split.labels(batch_rows[static_cast<size_t>(b)]).to_vector();
      for (int32_t& id : label) {
        if (id == kLabelPadId) id = static_cast<int32_t>(options.pad_id);
      }
      part.references.push_back(tokenizer->decode(label, /*skip_special_tokens=*/true));
    }
  }
  return part;
}

// Texts as one string: each prefixed by its byte count.
std::string pack_texts(const std::vector<std::string>& texts) {
  std::string out;
  for (const std::string& t : texts) out += std::to_string(t.size()) + ":" + t;
  return out;
}

std::vector<std::string> unpack_texts(const std::string& packed) {
  std::vector<std::string> texts;
  size_t at = 0;
  while (at < packed.size()) {
    const size_t colon = packed.find(':', at);
    T5_CHECK(colon != std::string::npos, "evaluation: a rank sent malformed texts");
    const size_t size = std::stoull(packed.substr(at, colon - at));
    T5_CHECK(colon + 1 + size <= packed.size(), "evaluation: a rank sent truncated texts");
    texts.push_back(packed.substr(colon + 1, size));
    at = colon + 1 + size;
  }
  return texts;
}

// Every rank's part, combined in rank (= row) order, on every rank.
EvalPart combine_parts(EvalPart local, dist::Communicator& comm) {
  double sums[] = {local.loss_sum, local.generated_ids};
  comm.all_reduce_sum(sums);
  EvalPart all;
  all.loss_sum = sums[0];
  all.generated_ids = sums[1];
  for (int r = 0; r < comm.size(); ++r) {
    std::string predictions = r == comm.rank() ? pack_texts(local.predictions) : std::string();
    std::string references = r == comm.rank() ? pack_texts(local.references) : std::string();
    comm.broadcast(predictions, r);
    comm.broadcast(references, r);
    for (std::string& t : unpack_texts(predictions)) all.predictions.push_back(std::move(t));
    for (std::string& t : unpack_texts(references)) all.references.push_back(std::move(t));
  }
  return all;
}

}  // namespace

EvalResult evaluate(const models::T5ForConditionalGeneration& model, const TokenSplit& split,
                    const EvalOptions& options, const T5Tokenizer* tokenizer,
                    dist::Communicator* comm) {
  T5_CHECK(options.batch_size > 0, "evaluation: batch size must be > 0, got ", options.batch_size);
  T5_CHECK(!options.generate || tokenizer != nullptr,
           "evaluation: generation needs a tokenizer to decode the summaries");
  const auto start = std::chrono::steady_clock::now();
  autograd::NoGradGuard no_grad;
  EvalResult result;
  const int64_t rows = eval_rows(split, options);
  T5_CHECK(rows > 0, "evaluation: split '", split.name(), "' has no rows");
  EvalPart part;
  if (comm == nullptr || comm->size() == 1) {
    part = evaluate_rows(model, split, options, tokenizer, 0, rows);
  } else {
    // The whole model gathered once: each rank's generation then runs on its own, however many
    // decoding steps its rows take (under ZeRO-3, per-module gathers would need every rank to
    // take the same steps). Module scopes inside find their parameters present.
    models::ParameterStore& store = model.store();
    const std::vector<models::ParamId> all = store.ids();
    store.gather(all);
    // Whole batches per rank, so the batches (and so the loss, a mean of batch means) are those
    // of one process.
    const int64_t batches = (rows + options.batch_size - 1) / options.batch_size;
    const int64_t per_rank = (batches + comm->size() - 1) / comm->size() * options.batch_size;
    const int64_t begin = std::min(rows, per_rank * comm->rank());
    const int64_t end = std::min(rows, begin + per_rank);
    EvalPart local = evaluate_rows(model, split, options, tokenizer, begin, end);
    store.release(all);
    part = combine_parts(std::move(local), *comm);
  }
  result.samples = rows;
  result.loss = part.loss_sum / static_cast<double>(rows);
  if (options.generate) {
    result.generated = true;
    result.predictions = std::move(part.predictions);
    result.references = std::move(part.references);
    result.rouge = corpus_rouge(result.predictions, result.references, LsumSentences::punkt);
    result.gen_len = part.generated_ids / static_cast<double>(rows);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace t5zero
