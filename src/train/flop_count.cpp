#include "train/flop_count.h"

#include "tensor/error.h"

namespace t5zero {

StepFlops training_step_flops(const T5Config& c, const StepShape& s) {
  T5_CHECK(s.batch > 0 && s.source_length > 0 && s.target_length > 0,
           "flop count: expected a positive batch and lengths, got batch ", s.batch, ", source ",
           s.source_length, ", target ", s.target_length);
  const double d = static_cast<double>(c.d_model);
  const double inner = static_cast<double>(c.inner_dim());
  const double ffn = (c.is_gated_act ? 3.0 : 2.0) * d * static_cast<double>(c.d_ff);
  const double attention_projections = 4.0 * d * inner;  // q, k, v, o
  const double cross_q_o = 2.0 * d * inner, cross_k_v = 2.0 * d * inner;
  const double source = static_cast<double>(s.source_length);
  const double target = static_cast<double>(s.target_length);
  const double encoder_tokens = static_cast<double>(s.batch) * source;
  const double decoder_tokens = static_cast<double>(s.batch) * target;
  const double encoder_layers = static_cast<double>(c.num_layers);
  const double decoder_layers = static_cast<double>(c.num_decoder_layers);
  // Forward + backward = 3 × forward; a forward matmul is 2·weights·tokens.
  constexpr double kStep = 3.0 * 2.0;
  // q·kᵀ and probs·v: 2 products of 2·T_k·inner FLOPs per query token, per layer.
  const auto attention = [&](double query_tokens, double key_length) {
    return 3.0 * 2.0 * 2.0 * query_tokens * key_length * inner;
  };

  StepFlops f;
  f.encoder_weights = kStep * encoder_layers * (attention_projections + ffn) * encoder_tokens;
  f.decoder_weights =
      kStep * decoder_layers * (attention_projections + cross_q_o + ffn) * decoder_tokens;
  f.cross_kv_weights = kStep * decoder_layers * cross_k_v * encoder_tokens;
  f.lm_head = kStep * d * static_cast<double>(c.vocab_size) * decoder_tokens;
  f.attention = encoder_layers * attention(encoder_tokens, source) +
                decoder_layers * (attention(decoder_tokens, target) +  // self
                                  attention(decoder_tokens, source));  // cross
  return f;
}

double six_n_all_tokens_flops(int64_t parameters, const StepShape& shape) {
  return 6.0 * static_cast<double>(parameters) * static_cast<double>(shape.tokens());
}

double model_flops_utilization(double flops, double step_seconds, double peak_tflops) {
  T5_CHECK(step_seconds > 0 && peak_tflops > 0, "MFU: expected a positive step time and peak, got ",
           step_seconds, " s and ", peak_tflops, " TFLOP/s");
  return flops / (step_seconds * peak_tflops * 1e12);
}

}  // namespace t5zero
