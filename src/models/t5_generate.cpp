#include "models/t5_generate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "autograd/variable.h"
#include "tensor/ops.h"

namespace t5zero::models {

int64_t GenerationOptions::effective_max_length() const {
  return max_new_tokens ? *max_new_tokens + 1 : max_length;
}

GenerationOptions generation_options(const GenerationConfig& config) {
  GenerationOptions options;
  options.max_length = config.max_length;
  options.num_beams = config.num_beams;
  options.min_length = config.min_length;
  options.length_penalty = config.length_penalty;
  options.early_stopping = config.early_stopping;
  options.no_repeat_ngram_size = config.no_repeat_ngram_size;
  options.decoder_start_token_id = config.decoder_start_token_id;
  options.eos_token_id = config.eos_token_id;
  options.pad_token_id = config.pad_token_id;
  return options;
}

namespace {

using Sequence = std::vector<int64_t>;
constexpr float kMinusInf = -std::numeric_limits<float>::infinity();

void validate(const GenerationOptions& o, int64_t vocab_size) {
  T5_CHECK(!o.max_new_tokens || *o.max_new_tokens >= 1,
           "generate: max_new_tokens must be at least 1, got ", o.max_new_tokens.value_or(0));
  const int64_t max_length = o.effective_max_length();
  T5_CHECK(max_length >= 2, "generate: max_length must be at least 2 (the decoder start token and ",
           "one new token), got ", max_length);
  T5_CHECK(o.min_length >= 0, "generate: min_length must be >= 0, got ", o.min_length);
  // As transformers' generate: "Unfeasible length constraints".
  T5_CHECK(o.min_length <= max_length, "generate: min_length (", o.min_length,
           ") is larger than the maximum length (", max_length, ")");
  T5_CHECK(o.num_beams >= 1, "generate: num_beams must be at least 1, got ", o.num_beams);
  // Beam search ranks the 2·num_beams best continuations of each input.
  T5_CHECK(2 * o.num_beams <= vocab_size, "generate: num_beams ", o.num_beams,
           " needs a vocabulary of at least ", 2 * o.num_beams, " tokens, the model has ",
           vocab_size);
  T5_CHECK(std::isfinite(o.length_penalty), "generate: length_penalty must be finite, got ",
           o.length_penalty);
  T5_CHECK(o.no_repeat_ngram_size >= 0, "generate: no_repeat_ngram_size must be >= 0, got ",
           o.no_repeat_ngram_size);
  for (const auto& [name, id] :
       {std::pair{"decoder_start_token_id", o.decoder_start_token_id},
        std::pair{"eos_token_id", o.eos_token_id}, std::pair{"pad_token_id", o.pad_token_id}}) {
    T5_CHECK(id >= 0 && id < vocab_size, "generate: ", name, " ", id,
             " is outside the vocabulary [0, ", vocab_size, ")");
  }
}

// As transformers' NoRepeatNGramLogitsProcessor then MinLengthLogitsProcessor, on one row's
// scores given the row's tokens so far (start token included).
void apply_logits_processors(const GenerationOptions& o, const Sequence& tokens, float* scores) {
  const int64_t cur_len = static_cast<int64_t>(tokens.size());
  const int64_t n = o.no_repeat_ngram_size;
  if (n > 0 && cur_len + 1 >= n) {
    // Every earlier n-gram whose first n−1 tokens equal the last n−1 bans its last token.
    const int64_t prefix = cur_len - (n - 1);
    for (int64_t start = 0; start + n <= cur_len; ++start) {
      if (std::equal(tokens.begin() + start, tokens.begin() + start + n - 1,
                     tokens.begin() + prefix)) {
        scores[tokens[static_cast<size_t>(start + n - 1)]] = kMinusInf;
      }
    }
  }
  if (cur_len < o.min_length) scores[o.eos_token_id] = kMinusInf;
}

// The logits of one new token per cache row, as f32 rows [N, vocab] on the host.
Tensor step_logits(const T5ForConditionalGeneration& model, const std::vector<int64_t>& tokens,
                   DecoderCache& cache) {
  const int64_t n = static_cast<int64_t>(tokens.size());
  const Tensor logits =
      model.decode_step(Tensor::from_vector(tokens, {n, 1}), cache).data().reshape({n, -1});
  return logits.to(Device::cpu()).to(DType::f32).contiguous();
}

// Rows as one [B, L] tensor, shorter ones filled with pad.
Tensor pack(const std::vector<Sequence>& rows, int64_t width, int64_t pad) {
  std::vector<int64_t> flat(rows.size() * static_cast<size_t>(width), pad);
  for (size_t r = 0; r < rows.size(); ++r) {
    std::copy(rows[r].begin(), rows[r].end(), flat.begin() + static_cast<int64_t>(r) * width);
  }
  return Tensor::from_vector(flat, {static_cast<int64_t>(rows.size()), width});
}

Tensor index_tensor(const std::vector<int64_t>& rows) {
  return Tensor::from_vector(rows, {static_cast<int64_t>(rows.size())});
}

// As transformers' greedy_search: argmax of the processed logits (the first on ties, as
// torch.argmax); a row stops at EOS and is padded from then on; all stop at max_length.
// Finished rows leave the cache, so later steps compute only the open ones.
Tensor greedy_search(const T5ForConditionalGeneration& model, DecoderCache& cache,
                     const GenerationOptions& o) {
  const int64_t batch = cache.rows(), max_length = o.effective_max_length();
  std::vector<Sequence> sequences(static_cast<size_t>(batch), Sequence{o.decoder_start_token_id});
  std::vector<int64_t> open(static_cast<size_t>(batch));  // batch row of each cache row
  for (int64_t i = 0; i < batch; ++i) open[static_cast<size_t>(i)] = i;
  int64_t cur_len = 1;
  while (true) {
    std::vector<int64_t> last;
    for (int64_t row : open) last.push_back(sequences[static_cast<size_t>(row)].back());
    const Tensor logits = step_logits(model, last, cache);
    const int64_t vocab = logits.size(1);
    float* scores = logits.data<float>();
    std::vector<int64_t> still_open, keep;
    for (size_t i = 0; i < open.size(); ++i) {
      Sequence& sequence = sequences[static_cast<size_t>(open[i])];
      float* row_scores = scores + static_cast<int64_t>(i) * vocab;
      apply_logits_processors(o, sequence, row_scores);
      const int64_t token = std::max_element(row_scores, row_scores + vocab) - row_scores;
      sequence.push_back(token);
      if (token != o.eos_token_id) {
        still_open.push_back(open[i]);
        keep.push_back(static_cast<int64_t>(i));
      }
    }
    ++cur_len;
    if (still_open.empty() || cur_len >= max_length) break;
    if (still_open.size() != open.size()) cache.select_rows(index_tensor(keep));
    open = std::move(still_open);
  }
  return pack(sequences, cur_len, o.pad_token_id);
}

// As transformers' BeamHypotheses: the num_beams best finished hypotheses of one input.
class BeamHypotheses {
 public:
  BeamHypotheses(int64_t num_beams, double length_penalty, bool early_stopping)
      : num_beams_(num_beams), length_penalty_(length_penalty), early_stopping_(early_stopping) {}

  void add(const Sequence& tokens, double sum_logprobs) {
    const double score =
        sum_logprobs / std::pow(static_cast<double>(tokens.size()), length_penalty_);
    if (size() < num_beams_ || score > worst_score_) {
      beams_.push_back({score, tokens});
      if (size() > num_beams_) {
        // Python's sorted([(score, index)]): the lowest score goes, the lower index on ties; the
        // worst score becomes the second lowest.
        std::vector<std::pair<double, size_t>> order;
        for (size_t i = 0; i < beams_.size(); ++i) order.emplace_back(beams_[i].first, i);
        std::sort(order.begin(), order.end());
        beams_.erase(beams_.begin() + static_cast<std::ptrdiff_t>(order[0].second));
        worst_score_ = order[1].first;
      } else {
        worst_score_ = std::min(score, worst_score_);
      }
    }
  }

  // Whether no open beam can still beat the worst kept hypothesis (transformers 4.26 judges by
  // the best current sum of log-probs at the current length), or, with early_stopping, whether
  // num_beams hypotheses are finished.
  bool is_done(double best_sum_logprobs, int64_t cur_len) const {
    if (size() < num_beams_) return false;
    if (early_stopping_) return true;
    return worst_score_ >=
           best_sum_logprobs / std::pow(static_cast<double>(cur_len), length_penalty_);
  }

  // The best hypothesis: Python's stable sort by score, then pop() — the last added on ties.
  const Sequence& best() const {
    T5_CHECK(!beams_.empty(), "beam search: an input finished without hypotheses");
    size_t best = 0;
    for (size_t i = 1; i < beams_.size(); ++i) {
      if (beams_[i].first >= beams_[best].first) best = i;
    }
    return beams_[best].second;
  }

 private:
  int64_t size() const { return static_cast<int64_t>(beams_.size()); }

  int64_t num_beams_;
  double length_penalty_;
  bool early_stopping_;
  std::vector<std::pair<double, Sequence>> beams_;
  double worst_score_ = 1e9;
};

// One candidate continuation of an input: beam `beam` (0..num_beams−1) extended by `token`.
struct Candidate {
  float score;
  int64_t beam;
  int64_t token;
};

// The `count` best of scores [num_beams, vocab] (plus each beam's score), best first, as
// torch.topk over the flattened beams × vocabulary. torch.topk leaves the order of equal scores
// unspecified; here the lower flat index comes first.
std::vector<Candidate> top_candidates(const float* log_probs, const float* beam_scores,
                                      int64_t num_beams, int64_t vocab, int64_t count) {
  std::vector<Candidate> best;
  best.reserve(static_cast<size_t>(count) + 1);
  for (int64_t beam = 0; beam < num_beams; ++beam) {
    const float* row = log_probs + beam * vocab;
    for (int64_t token = 0; token < vocab; ++token) {
      // f32 addition, as next_token_scores + beam_scores[:, None] in torch.
      const float score = row[token] + beam_scores[beam];
      if (static_cast<int64_t>(best.size()) == count && !(score > best.back().score)) continue;
      auto at = std::find_if(best.begin(), best.end(),
                             [score](const Candidate& c) { return c.score < score; });
      best.insert(at, Candidate{score, beam, token});
      if (static_cast<int64_t>(best.size()) > count) best.pop_back();
    }
  }
  return best;
}

// As transformers' beam_search with BeamSearchScorer (num_beam_hyps_to_keep = 1): per step,
// log_softmax in f32, the logits processors, plus each beam's score; the 2·num_beams best
// continuations of each input; EOS among the best num_beams ends a hypothesis, the others
// become the next beams. Beams start at score 0 for beam 0 and −1e9 for the rest, so the first
// step expands beam 0 only. Inputs that are done leave the cache.
Tensor beam_search(const T5ForConditionalGeneration& model, DecoderCache& cache,
                   const GenerationOptions& o) {
  const int64_t batch = cache.rows(), k = o.num_beams, max_length = o.effective_max_length();
  std::vector<int64_t> expand;  // each input's row repeated num_beams times
  for (int64_t b = 0; b < batch; ++b) expand.insert(expand.end(), static_cast<size_t>(k), b);
  cache.select_rows(index_tensor(expand));

  std::vector<BeamHypotheses> hypotheses(static_cast<size_t>(batch),
                                         BeamHypotheses(k, o.length_penalty, o.early_stopping));
  std::vector<int64_t> open(static_cast<size_t>(batch));  // inputs not done, in cache order
  for (int64_t b = 0; b < batch; ++b) open[static_cast<size_t>(b)] = b;
  // Per cache row (input open[j], beam i at row j·k + i): tokens so far and the f32 score.
  std::vector<Sequence> beams(static_cast<size_t>(batch * k), Sequence{o.decoder_start_token_id});
  std::vector<float> beam_scores(static_cast<size_t>(batch * k), -1e9f);
  for (int64_t b = 0; b < batch; ++b) beam_scores[static_cast<size_t>(b * k)] = 0.0f;

  int64_t cur_len = 1;
  while (true) {
    std::vector<int64_t> last;
    for (const Sequence& beam : beams) last.push_back(beam.back());
    const Tensor log_probs = ops::log_softmax(step_logits(model, last, cache));
    const int64_t vocab = log_probs.size(1);
    float* scores = log_probs.data<float>();
    for (size_t row = 0; row < beams.size(); ++row) {
      apply_logits_processors(o, beams[row], scores + static_cast<int64_t>(row) * vocab);
    }

    std::vector<Sequence> next_beams;
    std::vector<float> next_scores;
    std::vector<int64_t> next_open, parents;  // parents: the cache row each next row continues
    for (size_t j = 0; j < open.size(); ++j) {
      const int64_t first_row = static_cast<int64_t>(j) * k;
      const std::vector<Candidate> candidates = top_candidates(
          scores + first_row * vocab, beam_scores.data() + first_row, k, vocab, 2 * k);
      BeamHypotheses& finished = hypotheses[static_cast<size_t>(open[j])];
      std::vector<Candidate> continuing;
      for (size_t rank = 0; rank < candidates.size(); ++rank) {
        const Candidate& c = candidates[rank];
        if (c.token == o.eos_token_id) {
          // An EOS outside the best num_beams is not a hypothesis.
          if (static_cast<int64_t>(rank) >= k) continue;
          finished.add(beams[static_cast<size_t>(first_row + c.beam)], c.score);
        } else {
          continuing.push_back(c);
        }
        if (static_cast<int64_t>(continuing.size()) == k) break;
      }
      const bool done = finished.is_done(candidates.front().score, cur_len);
      if (done) continue;
      next_open.push_back(open[j]);
      for (const Candidate& c : continuing) {
        Sequence extended = beams[static_cast<size_t>(first_row + c.beam)];
        extended.push_back(c.token);
        next_beams.push_back(std::move(extended));
        next_scores.push_back(c.score);
        parents.push_back(first_row + c.beam);
      }
    }
    ++cur_len;
    beams = std::move(next_beams);
    beam_scores = std::move(next_scores);
    open = std::move(next_open);
    if (open.empty() || cur_len >= max_length) break;
    if (static_cast<int64_t>(parents.size()) == cache.rows()) {
      cache.reorder_beams(index_tensor(parents));
    } else {
      cache.select_rows(index_tensor(parents));
    }
  }

  // As BeamSearchScorer.finalize: the open beams of inputs not done join their hypotheses.
  for (size_t j = 0; j < open.size(); ++j) {
    for (int64_t i = 0; i < k; ++i) {
      const size_t row = j * static_cast<size_t>(k) + static_cast<size_t>(i);
      hypotheses[static_cast<size_t>(open[j])].add(beams[row], beam_scores[row]);
    }
  }
  std::vector<Sequence> best;
  size_t longest = 0;
  for (const BeamHypotheses& h : hypotheses) {
    best.push_back(h.best());
    longest = std::max(longest, best.back().size());
  }
  // EOS follows each hypothesis where it fits in min(longest + 1, max_length); pad after it.
  const int64_t width = std::min(static_cast<int64_t>(longest) + 1, max_length);
  for (Sequence& s : best) {
    if (static_cast<int64_t>(s.size()) < width) s.push_back(o.eos_token_id);
  }
  return pack(best, width, o.pad_token_id);
}

// As transformers' _prepare_attention_mask_for_generation: without a mask, pad tokens in the
// input are masked (unless pad is also EOS); otherwise every position is attended.
Tensor attention_mask_for(const Tensor& input_ids, const Tensor& attention_mask,
                          const GenerationOptions& o) {
  if (attention_mask.defined() || o.pad_token_id == o.eos_token_id) return attention_mask;
  const Tensor ids = input_ids.to(Device::cpu());
  if (ops::sum(ops::eq_scalar(ids, static_cast<double>(o.pad_token_id))).item() == 0) {
    return attention_mask;
  }
  return ops::cast(ops::ne_scalar(ids, static_cast<double>(o.pad_token_id)), DType::i64);
}

}  // namespace

Tensor generate(const T5ForConditionalGeneration& model, const Tensor& input_ids,
                const Tensor& attention_mask, const GenerationOptions& options) {
  validate(options, model.config().vocab_size);
  T5_CHECK(input_ids.dim() == 2 && input_ids.size(0) >= 1 && input_ids.size(1) >= 1,
           "generate: expected input_ids [batch, length] with both at least 1, got ",
           shape_str(input_ids.shape()));
  autograd::NoGradGuard no_grad;
  const Tensor mask = attention_mask_for(input_ids, attention_mask, options);
  const autograd::Variable encoder_hidden = model.encode(input_ids, mask);
  DecoderCache cache = model.start_decoding(encoder_hidden, mask, options.effective_max_length());
  return options.num_beams == 1 ? greedy_search(model, cache, options)
                                : beam_search(model, cache, options);
}

}  // namespace t5zero::models
