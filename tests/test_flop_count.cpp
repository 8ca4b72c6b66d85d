// The encoder-decoder model FLOP count (train/flop_count.h) against hand computations, and how
// far the decoder-only 6·N·tokens rule is from it for flan-t5-base.
#include <doctest/doctest.h>

#include "models/architectures.h"
#include "train/flop_count.h"

using namespace t5zero;

TEST_CASE("flop count of a tiny relu T5, term by term, worked out by hand") {
  // d_model 8, 3 heads of 2 (inner 6), relu FFN 8 → 10 → 8, 1 encoder and 2 decoder blocks,
  // vocabulary 20; 3 rows of 5 source tokens (15) and 4 target tokens (12).
  T5Config c;
  c.d_model = 8;
  c.d_kv = 2;
  c.num_heads = 3;
  c.d_ff = 10;
  c.num_layers = 1;
  c.num_decoder_layers = 2;
  c.vocab_size = 20;
  set_feed_forward_proj(c, "relu");
  const StepFlops f = training_step_flops(c, StepShape{3, 5, 4});
  // encoder block: q k v o 4·8·6 = 192, FFN 2·8·10 = 160; 6·352·15 tokens.
  CHECK(f.encoder_weights == 31680.0);
  // decoder block: 192 + cross q, o 2·8·6 = 96 + 160 = 448; 2 blocks · 6·448·12 tokens.
  CHECK(f.decoder_weights == 64512.0);
  // cross k, v 2·8·6 = 96 per block on the 15 encoder tokens: 2 · 6·96·15.
  CHECK(f.cross_kv_weights == 17280.0);
  // 6·8·20·12.
  CHECK(f.lm_head == 11520.0);
  // 3·2·2·T_q·T_k·inner: encoder 12·15·5·6 = 5,400; per decoder block self 12·12·4·6 = 3,456
  // and cross 12·12·5·6 = 4,320.
  CHECK(f.attention == 5400.0 + 2 * (3456.0 + 4320.0));
  CHECK(f.total() == 145944.0);
}

TEST_CASE("flop count of t5-micro (gated FFN, inner dim != d_model)") {
  // d_model 32, inner 4·6 = 24, gated d_ff 48, vocab 256, 2 encoder and 3 decoder blocks; 2 rows
  // of 16 source (32 tokens) and 8 target tokens (16 tokens):
  //   encoder block: 6·(4·32·24 + 3·32·48)·32 + 3·4·32·16·24 = 1,622,016
  //   decoder block: 6·(4·32·24 + 3·32·48)·16 + 6·2·32·24·16 (cross q, o)
  //                  + 6·2·32·24·32 (cross k, v) + 3·4·16·8·24 + 3·4·16·16·24 = 1,290,240
  //   LM head: 6·32·256·16 = 786,432;   total 2·1,622,016 + 3·1,290,240 + 786,432 = 7,901,184.
  const StepFlops f =
      training_step_flops(models::builtin_architecture("t5-micro"), StepShape{2, 16, 8});
  CHECK(f.total() == 7901184.0);
  CHECK(f.lm_head == 786432.0);
  // Twice the batch is twice the work; the attention terms grow with the lengths squared.
  const StepFlops twice =
      training_step_flops(models::builtin_architecture("t5-micro"), StepShape{4, 16, 8});
  CHECK(twice.total() == 2 * f.total());
  const StepFlops longer =
      training_step_flops(models::builtin_architecture("t5-micro"), StepShape{2, 32, 8});
  CHECK(longer.encoder_weights == 2 * f.encoder_weights);
  CHECK(longer.attention > 2 * f.attention);
}

TEST_CASE("6·N·all tokens overcounts flan-t5-base at 512/128 about 2.17 times") {
  // Per row: encoder 12·6·(4·768² + 3·768·2048)·512 = 260.9 GFLOP; decoder weights
  // 12·6·(6·768² + 3·768·2048)·128 = 76.1; cross k, v 12·6·2·768²·512 = 43.5; LM head
  // 6·768·32128·128 = 18.9; attention 12·12·768·(512² + 128² + 128·512) = 38.1: 437.5 GFLOP.
  // 6·N·tokens with N = 247,577,856 is 6·N·640 = 950.7 GFLOP: 2.173 times as much (the
  // embedding and LM head charged to encoder tokens, decoder weights to 640 tokens instead of
  // 128). DESIGN.md §6 and the anchors say "about 2x" (2.2x at 512/114).
  const T5Config base = models::builtin_architecture("flan-t5-base");
  const StepShape shape{1, 512, 128};
  const double ours = training_step_flops(base, shape).total();
  CHECK(ours == doctest::Approx(437.507850240e9).epsilon(1e-12));
  const int64_t n = models::count_parameters(base);
  REQUIRE(n == 247577856);
  const double ratio = six_n_all_tokens_flops(n, shape) / ours;
  CHECK(ratio > 2.15);
  CHECK(ratio < 2.20);
}

TEST_CASE("MFU is model FLOPs over step time times the peak, and refuses a zero time") {
  CHECK(model_flops_utilization(494.5e12, 1.0, 989.0) == doctest::Approx(0.5));
  CHECK(model_flops_utilization(1e12, 0.5, 4.0) == doctest::Approx(0.5));
  CHECK_THROWS_WITH(model_flops_utilization(1e12, 0.0, 989.0),
                    doctest::Contains("expected a positive step time and peak"));
  CHECK_THROWS_WITH(
      training_step_flops(models::builtin_architecture("t5-micro"), StepShape{0, 1, 1}),
      doctest::Contains("expected a positive batch"));
}
