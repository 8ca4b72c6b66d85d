// Built-in architectures: the FLAN-T5 numbers and their exact parameter counts (the figures of
// the hub files, t5_numerics.md §2), test sizes counted as transformers counts them.
#include <doctest/doctest.h>

#include "io/json.h"
#include "models/architectures.h"

using namespace t5zero;
using namespace t5zero::models;

TEST_CASE("the five FLAN-T5 sizes have the hub's exact parameter counts") {
  CHECK(count_parameters(builtin_architecture("flan-t5-small")) == 76'961'152);
  CHECK(count_parameters(builtin_architecture("flan-t5-base")) == 247'577'856);
  CHECK(count_parameters(builtin_architecture("flan-t5-large")) == 783'150'080);
  CHECK(count_parameters(builtin_architecture("flan-t5-xl")) == 2'849'757'184);
  CHECK(count_parameters(builtin_architecture("flan-t5-xxl")) == 11'135'332'352);
  // flan-t5-small's model.safetensors: 8-byte length + header + 4 bytes per parameter.
  CHECK(count_parameters(builtin_architecture("flan-t5-small")) * 4 == 307'867'048 - 22'440);
}

TEST_CASE("test sizes are counted as transformers' num_parameters()") {
  const JsonValue counts = JsonValue::parse_file(std::string(T5ZERO_SOURCE_DIR) +
                                                 "/tests/fixtures/t5_config/parameter_counts.json");
  REQUIRE(counts.size() == 4);
  for (const auto& entry : counts.as_object()) {
    const std::string& name = entry.first;
    CAPTURE(name);
    CHECK(count_parameters(builtin_architecture(name)) == entry.second.as_int());
  }
}

TEST_CASE("each parameter group is counted once") {
  T5Config c = builtin_architecture("t5-micro");
  const int64_t untied = count_parameters(c);
  c.tie_word_embeddings = true;  // lm_head is shared, not stored
  CHECK(untied - count_parameters(c) == c.vocab_size * c.d_model);
  c.num_decoder_layers += 1;  // one decoder block: two attentions, a gated FFN, three norms
  const int64_t inner = c.num_heads * c.d_kv;
  CHECK(count_parameters(c) - (untied - c.vocab_size * c.d_model) ==
        8 * c.d_model * inner + 3 * c.d_model * c.d_ff + 3 * c.d_model);
}

TEST_CASE("FLAN numbers as on the hub") {
  struct Size {
    const char* name;
    int64_t d_model, d_ff, heads, layers;
  };
  for (const Size& s :
       {Size{"flan-t5-small", 512, 1024, 6, 8}, Size{"flan-t5-base", 768, 2048, 12, 12},
        Size{"flan-t5-large", 1024, 2816, 16, 24}, Size{"flan-t5-xl", 2048, 5120, 32, 24},
        Size{"flan-t5-xxl", 4096, 10240, 64, 24}}) {
    CAPTURE(s.name);
    const T5Config c = builtin_architecture(s.name);
    CHECK(c.d_model == s.d_model);
    CHECK(c.d_ff == s.d_ff);
    CHECK(c.num_heads == s.heads);
    CHECK(c.num_layers == s.layers);
    CHECK(c.num_decoder_layers == s.layers);
    CHECK(c.vocab_size == 32128);
    CHECK(c.d_kv == 64);
    CHECK(c.feed_forward_proj == "gated-gelu");
    CHECK(c.dense_act_fn == Activation::gelu_new);
    CHECK(c.is_gated_act);
    CHECK_FALSE(c.tie_word_embeddings);
    CHECK(c.decoder_start_token_id == 0);
    CHECK(c.eos_token_id == 1);
  }
}

TEST_CASE("built-in names") {
  const std::vector<std::string> names = builtin_architecture_names();
  CHECK(names == std::vector<std::string>{"flan-t5-small", "flan-t5-base", "flan-t5-large",
                                          "flan-t5-xl", "flan-t5-xxl", "t5-tiny", "t5-tiny-relu",
                                          "t5-micro"});
  const T5Config tiny = builtin_architecture("t5-tiny");
  CHECK(tiny.vocab_size == 32128);  // works with the real tokenizer
  CHECK(tiny.d_model <= 64);
  const T5Config relu = builtin_architecture("t5-tiny-relu");
  CHECK((relu.dense_act_fn == Activation::relu && !relu.is_gated_act && relu.tie_word_embeddings));
  const T5Config micro = builtin_architecture("t5-micro");
  CHECK(micro.inner_dim() != micro.d_model);
  CHECK(micro.num_decoder_layers != micro.num_layers);
  CHECK_THROWS_WITH_AS(
      builtin_architecture("flan-t5-huge"),
      doctest::Contains("no built-in architecture 'flan-t5-huge' (built-in: flan-t5-small, "),
      Error);
}
