// T5Config: the architecture numbers of a T5 model, read from and written to config.json with
// the defaults and derivations of transformers' T5Config.
#pragma once

#include <cstdint>
#include <string>

namespace t5zero {

enum class Activation { relu, gelu, gelu_new, silu };

struct T5Config {
  int64_t vocab_size = 32128;
  int64_t d_model = 512;
  int64_t d_kv = 64;
  int64_t d_ff = 2048;
  int64_t num_layers = 6;
  int64_t num_decoder_layers = 6;  // = num_layers when config.json omits it
  int64_t num_heads = 8;
  int64_t relative_attention_num_buckets = 32;
  int64_t relative_attention_max_distance = 128;
  double dropout_rate = 0.1;
  double layer_norm_epsilon = 1e-6;
  double initializer_factor = 1.0;
  std::string feed_forward_proj = "relu";
  bool is_gated_act = false;                   // derived: feed_forward_proj starts with "gated-"
  Activation dense_act_fn = Activation::relu;  // derived; exactly "gated-gelu" means gelu_new
  bool tie_word_embeddings = true;             // PretrainedConfig default; FLAN sets false
  int64_t pad_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t decoder_start_token_id = 0;
  std::string model_type = "t5";

  // Width of the attention projections: num_heads · d_kv (≠ d_model in flan-t5-small).
  int64_t inner_dim() const { return num_heads * d_kv; }
};

// generation_config.json (the fields t5zero's generate honours).
struct GenerationConfig {
  int64_t decoder_start_token_id = 0;
  int64_t eos_token_id = 1;
  int64_t pad_token_id = 0;
  int64_t max_length = 20;  // transformers' default: decoder length including the start token
  int64_t num_beams = 1;
};

}  // namespace t5zero
