// Generation with a T5: greedy and beam search as transformers 4.26's generate() runs them
// (GenerationMixin.greedy_search, beam_search, BeamSearchScorer, BeamHypotheses, and the
// MinLength / NoRepeatNGram logits processors), token for token.
//
// The encoder runs once; the decoder runs one position per step on a KV cache (kv_cache.h), so
// past positions are never recomputed. Lengths count as transformers counts them: a sequence
// holds the decoder start token, so max_length = 20 yields at most 19 new tokens and
// max_new_tokens = n means max_length = n + 1.
#pragma once

#include <cstdint>
#include <optional>

#include "io/t5_config.h"
#include "models/t5_model.h"
#include "tensor/tensor.h"

namespace t5zero::models {

struct GenerationOptions {
  int64_t max_length = 20;  // decoder length including the start token
  // When set, replaces max_length with max_new_tokens + 1 (transformers refuses both as
  // arguments; a caller that takes both from a user should too).
  std::optional<int64_t> max_new_tokens;
  // EOS is banned while the sequence (start token included) is shorter than this.
  int64_t min_length = 0;
  int64_t num_beams = 1;
  // Beam hypotheses score sum_logprobs / length^length_penalty, length counting the start token
  // and not the EOS.
  double length_penalty = 1.0;
  // Beam search ends an input once num_beams hypotheses are finished, instead of when no open
  // beam can beat the worst of them.
  bool early_stopping = false;
  int64_t no_repeat_ngram_size = 0;  // > 0: no n-gram of this size occurs twice in a sequence
  int64_t decoder_start_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t pad_token_id = 0;

  // The decoder length generation stops at: max_new_tokens + 1, or max_length.
  int64_t effective_max_length() const;
};

// The options generation_config.json sets (io/t5_config.h); the rest as transformers'
// GenerationConfig defaults.
GenerationOptions generation_options(const GenerationConfig& config);

// Sequences [B, L] (i64) for input_ids [B, S] with attention_mask [B, S] (undefined: as
// transformers, pad tokens are masked), each starting with the decoder start token, as
// transformers' generate(do_sample=False) returns them: greedy rows that finished early are
// padded with pad_token_id after their EOS; beam search returns each input's best hypothesis,
// with EOS appended when it fits and pad after it.
// Runs under NoGradGuard; an invalid option is an error naming it.
Tensor generate(const T5ForConditionalGeneration& model, const Tensor& input_ids,
                const Tensor& attention_mask, const GenerationOptions& options);

}  // namespace t5zero::models
