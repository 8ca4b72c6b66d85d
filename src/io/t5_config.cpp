#include "io/t5_config.h"

#include <optional>
#include <vector>

#include "io/atomic_file.h"
#include "io/json.h"
#include "io/json_writer.h"

namespace t5zero {

namespace {

// The value of `key`, or nullopt when absent or null (transformers reads null as "not set").
std::optional<JsonValue> find_set(const JsonValue& root, std::string_view key) {
  std::optional<JsonValue> value = root.find(key);
  if (value && value->is_null()) return std::nullopt;
  return value;
}

// A token id given as an integer or, as newer transformers writes eos_token_id, a list of one.
int64_t token_id(const JsonValue& value) {
  if (!value.is_array()) return value.as_int();
  const std::vector<JsonValue> ids = value.as_array();
  if (ids.size() != 1) value.fail_here("expected one token id, got a list of ", ids.size());
  return ids[0].as_int();
}

void check_key(bool ok, const std::string& source, const char* key, const std::string& expected,
               const std::string& found) {
  if (!ok) fail(source, ": key '", key, "': expected ", expected, ", got ", found);
}

}  // namespace

Activation parse_activation(const std::string& name, const std::string& where) {
  if (name == "relu") return Activation::relu;
  if (name == "gelu") return Activation::gelu;
  if (name == "gelu_new") return Activation::gelu_new;
  if (name == "silu" || name == "swish") return Activation::silu;
  fail(where, ": unsupported activation '", name,
       "' (t5zero implements relu, gelu, gelu_new, silu/swish)");
}

const char* activation_name(Activation activation) {
  switch (activation) {
    case Activation::relu:
      return "relu";
    case Activation::gelu:
      return "gelu";
    case Activation::gelu_new:
      return "gelu_new";
    case Activation::silu:
      return "silu";
  }
  return "?";
}

void set_feed_forward_proj(T5Config& config, const std::string& feed_forward_proj,
                           const std::string& where) {
  // As T5Config.__init__: split on "-"; "<act>" or "gated-<act>", nothing else.
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dash = feed_forward_proj.find('-', start);
    parts.push_back(feed_forward_proj.substr(start, dash - start));
    if (dash == std::string::npos) break;
    start = dash + 1;
  }
  if ((parts.size() > 1 && parts[0] != "gated") || parts.size() > 2) {
    fail(where, ": '", feed_forward_proj,
         "' is not a valid activation of the dense layer: expected 'gated-{ACT_FN}' or "
         "'{ACT_FN}', e.g. 'gated-gelu' or 'relu'");
  }
  // The backward-compatibility rule of T5Config: exactly "gated-gelu" is the tanh gelu.
  const std::string act = feed_forward_proj == "gated-gelu" ? "gelu_new" : parts.back();
  config.dense_act_fn = parse_activation(act, where);
  config.is_gated_act = parts[0] == "gated";
  config.feed_forward_proj = feed_forward_proj;
}

void validate_t5_config(const T5Config& c, const std::string& source) {
  const auto positive = [&](const char* key, int64_t value) {
    check_key(value > 0, source, key, "an integer > 0", std::to_string(value));
  };
  positive("vocab_size", c.vocab_size);
  positive("d_model", c.d_model);
  positive("d_kv", c.d_kv);
  positive("d_ff", c.d_ff);
  positive("num_layers", c.num_layers);
  positive("num_decoder_layers", c.num_decoder_layers);
  positive("num_heads", c.num_heads);
  // Bidirectional buckets halve the count and keep half of that exact: at least 4 buckets.
  check_key(c.relative_attention_num_buckets >= 4, source, "relative_attention_num_buckets",
            "an integer >= 4", std::to_string(c.relative_attention_num_buckets));
  // log(max_distance / max_exact) divides the bucket formula: it must be above 0.
  check_key(c.relative_attention_max_distance > c.relative_attention_num_buckets / 2, source,
            "relative_attention_max_distance",
            "more than relative_attention_num_buckets / 2 = " +
                std::to_string(c.relative_attention_num_buckets / 2),
            std::to_string(c.relative_attention_max_distance));
  check_key(c.dropout_rate >= 0 && c.dropout_rate < 1, source, "dropout_rate",
            "a probability in [0, 1)", python_float_repr(c.dropout_rate));
  check_key(c.layer_norm_epsilon > 0, source, "layer_norm_epsilon", "a number > 0",
            python_float_repr(c.layer_norm_epsilon));
  check_key(c.initializer_factor > 0, source, "initializer_factor", "a number > 0",
            python_float_repr(c.initializer_factor));
  const std::string ids = "an id in [0, vocab_size = " + std::to_string(c.vocab_size) + ")";
  const auto token = [&](const char* key, int64_t id) {
    check_key(id >= 0 && id < c.vocab_size, source, key, ids, std::to_string(id));
  };
  token("pad_token_id", c.pad_token_id);
  token("eos_token_id", c.eos_token_id);
  token("decoder_start_token_id", c.decoder_start_token_id);
  check_key(c.model_type == "t5", source, "model_type", "\"t5\"", "\"" + c.model_type + "\"");
}

T5Config t5_config_from_json(const JsonValue& root) {
  if (!root.is_object()) root.fail_here("expected a JSON object, got ", root.type_name());
  T5Config c;
  c.model_type = root.get_string_or("model_type", "t5");
  if (c.model_type != "t5") {
    root.at("model_type")
        .fail_here("expected \"t5\" (t5zero builds T5 models), got \"", c.model_type, "\"");
  }
  c.vocab_size = root.get_int_or("vocab_size", c.vocab_size);
  c.d_model = root.get_int("d_model");
  c.d_kv = root.get_int_or("d_kv", c.d_kv);
  c.d_ff = root.get_int("d_ff");
  c.num_layers = root.get_int("num_layers");
  const std::optional<JsonValue> decoder_layers = find_set(root, "num_decoder_layers");
  c.num_decoder_layers = decoder_layers ? decoder_layers->as_int() : c.num_layers;
  c.num_heads = root.get_int("num_heads");
  c.relative_attention_num_buckets =
      root.get_int_or("relative_attention_num_buckets", c.relative_attention_num_buckets);
  c.relative_attention_max_distance =
      root.get_int_or("relative_attention_max_distance", c.relative_attention_max_distance);
  c.dropout_rate = root.get_double_or("dropout_rate", c.dropout_rate);
  c.layer_norm_epsilon = root.get_double_or("layer_norm_epsilon", c.layer_norm_epsilon);
  c.initializer_factor = root.get_double_or("initializer_factor", c.initializer_factor);

  const std::string proj = root.get_string_or("feed_forward_proj", c.feed_forward_proj);
  const std::string proj_where = root.contains("feed_forward_proj")
                                     ? root.at("feed_forward_proj").where()
                                     : root.source() + ": key 'feed_forward_proj'";
  set_feed_forward_proj(c, proj, proj_where);
  // Keys left in **kwargs become attributes after T5Config derives them: they win.
  if (std::optional<JsonValue> gated = find_set(root, "is_gated_act")) {
    c.is_gated_act = gated->as_bool();
  }
  if (std::optional<JsonValue> act = find_set(root, "dense_act_fn")) {
    c.dense_act_fn = parse_activation(act->as_string(), act->where());
  }

  c.tie_word_embeddings = root.get_bool_or("tie_word_embeddings", c.tie_word_embeddings);
  if (std::optional<JsonValue> pad = root.find("pad_token_id")) c.pad_token_id = token_id(*pad);
  if (std::optional<JsonValue> eos = root.find("eos_token_id")) c.eos_token_id = token_id(*eos);
  // T5 starts decoding from the pad id; configs that omit the key mean the same.
  const std::optional<JsonValue> start = find_set(root, "decoder_start_token_id");
  c.decoder_start_token_id = start ? token_id(*start) : c.pad_token_id;
  if (std::optional<JsonValue> dtype = find_set(root, "torch_dtype")) {
    c.torch_dtype = dtype->as_string();
  }

  validate_t5_config(c, root.source());
  return c;
}

T5Config parse_t5_config(const std::string& path) {
  return t5_config_from_json(JsonValue::parse_file(path));
}

std::string t5_config_json(const T5Config& c) {
  // Keys in sorted order (json.dumps(sort_keys=True)); tie_word_embeddings only when it
  // differs from PretrainedConfig's default, as to_diff_dict drops it otherwise.
  JsonWriter json(2);
  json.begin_object();
  json.key("architectures").begin_array().value("T5ForConditionalGeneration").end_array();
  json.key("d_ff").value(c.d_ff);
  json.key("d_kv").value(c.d_kv);
  json.key("d_model").value(c.d_model);
  json.key("decoder_start_token_id").value(c.decoder_start_token_id);
  json.key("dense_act_fn").value(activation_name(c.dense_act_fn));
  json.key("dropout_rate").value(c.dropout_rate);
  json.key("eos_token_id").value(c.eos_token_id);
  json.key("feed_forward_proj").value(c.feed_forward_proj);
  json.key("initializer_factor").value(c.initializer_factor);
  json.key("is_encoder_decoder").value(true);
  json.key("is_gated_act").value(c.is_gated_act);
  json.key("layer_norm_epsilon").value(c.layer_norm_epsilon);
  json.key("model_type").value(c.model_type);
  json.key("num_decoder_layers").value(c.num_decoder_layers);
  json.key("num_heads").value(c.num_heads);
  json.key("num_layers").value(c.num_layers);
  json.key("pad_token_id").value(c.pad_token_id);
  json.key("relative_attention_max_distance").value(c.relative_attention_max_distance);
  json.key("relative_attention_num_buckets").value(c.relative_attention_num_buckets);
  if (!c.tie_word_embeddings) json.key("tie_word_embeddings").value(false);
  json.key("torch_dtype").value(c.torch_dtype);
  // The version whose file format this reproduces; transformers only warns about others.
  json.key("transformers_version").value("4.26.0");
  json.key("use_cache").value(true);
  json.key("vocab_size").value(c.vocab_size);
  json.end_object();
  return json.text() + "\n";
}

void write_t5_config(const T5Config& config, const std::string& path) {
  validate_t5_config(config, path);
  write_file_atomically(path, t5_config_json(config));
}

GenerationConfig generation_config_from_model(const T5Config& config) {
  GenerationConfig g;
  g.decoder_start_token_id = config.decoder_start_token_id;
  g.eos_token_id = config.eos_token_id;
  g.pad_token_id = config.pad_token_id;
  return g;
}

GenerationConfig parse_generation_config(const std::string& path,
                                         const GenerationConfig& defaults) {
  const JsonValue root = JsonValue::parse_file(path);
  if (!root.is_object()) root.fail_here("expected a JSON object, got ", root.type_name());
  GenerationConfig g = defaults;
  if (auto v = find_set(root, "decoder_start_token_id")) g.decoder_start_token_id = token_id(*v);
  if (auto v = find_set(root, "eos_token_id")) g.eos_token_id = token_id(*v);
  if (auto v = find_set(root, "pad_token_id")) g.pad_token_id = token_id(*v);
  if (auto v = find_set(root, "max_length")) {
    g.max_length = v->as_int();
    if (g.max_length < 1) v->fail_here("expected an integer >= 1, got ", g.max_length);
  }
  if (auto v = find_set(root, "num_beams")) {
    g.num_beams = v->as_int();
    if (g.num_beams < 1) v->fail_here("expected an integer >= 1, got ", g.num_beams);
  }
  if (auto v = find_set(root, "min_length")) {
    g.min_length = v->as_int();
    if (g.min_length < 0) v->fail_here("expected an integer >= 0, got ", g.min_length);
  }
  if (auto v = find_set(root, "no_repeat_ngram_size")) {
    g.no_repeat_ngram_size = v->as_int();
    if (g.no_repeat_ngram_size < 0) {
      v->fail_here("expected an integer >= 0, got ", g.no_repeat_ngram_size);
    }
  }
  if (auto v = find_set(root, "length_penalty")) g.length_penalty = v->as_double();
  if (auto v = find_set(root, "early_stopping")) g.early_stopping = v->as_bool();
  for (const char* key : {"decoder_start_token_id", "eos_token_id", "pad_token_id"}) {
    if (auto v = find_set(root, key); v && token_id(*v) < 0) {
      v->fail_here("expected a token id >= 0, got ", token_id(*v));
    }
  }
  return g;
}

}  // namespace t5zero
