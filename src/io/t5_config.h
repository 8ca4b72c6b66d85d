// T5Config: the architecture numbers of a T5 model, read from and written to config.json with
// the defaults and derivations of transformers' T5Config (4.26); GenerationConfig: the fields of
// generation_config.json that t5zero's generate honours.
#pragma once

#include <cstdint>
#include <string>

namespace t5zero {

class JsonValue;

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
  std::string torch_dtype = "float32";  // dtype of the saved weights, as save_pretrained notes it

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
  int64_t min_length = 0;
  double length_penalty = 1.0;
  bool early_stopping = false;
  int64_t no_repeat_ngram_size = 0;
};

// Sets feed_forward_proj and derives is_gated_act and dense_act_fn from it as T5Config does:
// "relu", "gelu", "gated-gelu" (→ gelu_new, a backward-compatibility rule), "gated-silu",
// "gated-<act>"; anything else is an error naming `where`.
void set_feed_forward_proj(T5Config& config, const std::string& feed_forward_proj,
                           const std::string& where = "feed_forward_proj");
// ACT2FN names: "relu", "gelu", "gelu_new", "silu" ("swish" reads as silu).
Activation parse_activation(const std::string& name, const std::string& where);
const char* activation_name(Activation activation);

// Checks that the numbers describe a model t5zero can build (positive sizes, ids inside the
// vocabulary, a bucket table whose log is defined, ...); errors name `source` and the key.
void validate_t5_config(const T5Config& config, const std::string& source);

// Reads config.json. d_model, d_ff, num_layers and num_heads are required (transformers would
// fall back to t5-small's sizes and fail later on the weights' shapes); every other key has
// transformers' default. "is_gated_act"/"dense_act_fn" keys override the values derived from
// feed_forward_proj, as they do in transformers (old XXL configs: "gelu" + is_gated_act means
// a gated exact-erf gelu). Errors name the file and key.
T5Config parse_t5_config(const std::string& path);
T5Config t5_config_from_json(const JsonValue& root);

// config.json text exactly as transformers 4.26 writes it from
// T5ForConditionalGeneration(config).save_pretrained (sorted keys, indent 2, only the keys its
// to_diff_dict keeps), and the file itself, written atomically.
std::string t5_config_json(const T5Config& config);
void write_t5_config(const T5Config& config, const std::string& path);

// What transformers' GenerationConfig.from_model_config takes from config.json.
GenerationConfig generation_config_from_model(const T5Config& config);
// Reads generation_config.json over the values of `defaults` (usually
// generation_config_from_model); absent keys keep them.
GenerationConfig parse_generation_config(const std::string& path,
                                         const GenerationConfig& defaults = GenerationConfig());

}  // namespace t5zero
