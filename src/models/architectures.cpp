#include "models/architectures.h"

#include <filesystem>

#include "tensor/error.h"

namespace t5zero::models {

namespace {

// The values every FLAN-T5 config.json shares (T5 v1.1 architecture): gated-gelu (gelu_new),
// untied lm_head, 32 buckets up to distance 128, start token = pad = 0, eos = 1.
T5Config flan_t5(int64_t d_model, int64_t d_ff, int64_t num_heads, int64_t num_layers) {
  T5Config c;
  c.vocab_size = 32128;
  c.d_model = d_model;
  c.d_kv = 64;
  c.d_ff = d_ff;
  c.num_layers = num_layers;
  c.num_decoder_layers = num_layers;
  c.num_heads = num_heads;
  set_feed_forward_proj(c, "gated-gelu");
  c.tie_word_embeddings = false;
  return c;
}

T5Config tiny(int64_t vocab_size, int64_t d_model, int64_t d_kv, int64_t num_heads, int64_t d_ff,
              int64_t num_layers, int64_t num_decoder_layers, const std::string& feed_forward_proj,
              bool tie_word_embeddings) {
  T5Config c;
  c.vocab_size = vocab_size;
  c.d_model = d_model;
  c.d_kv = d_kv;
  c.d_ff = d_ff;
  c.num_layers = num_layers;
  c.num_decoder_layers = num_decoder_layers;
  c.num_heads = num_heads;
  set_feed_forward_proj(c, feed_forward_proj);
  c.tie_word_embeddings = tie_word_embeddings;
  return c;
}

std::vector<Architecture> make_architectures() {
  std::vector<Architecture> all = {
      {"flan-t5-small", "google/flan-t5-small, 77M", flan_t5(512, 1024, 6, 8)},
      {"flan-t5-base", "google/flan-t5-base, 248M", flan_t5(768, 2048, 12, 12)},
      {"flan-t5-large", "google/flan-t5-large, 783M", flan_t5(1024, 2816, 16, 24)},
      {"flan-t5-xl", "google/flan-t5-xl, 2.85B", flan_t5(2048, 5120, 32, 24)},
      {"flan-t5-xxl", "google/flan-t5-xxl, 11.1B", flan_t5(4096, 10240, 64, 24)},
      {"t5-tiny", "test size: gated-gelu, untied, full T5 vocabulary",
       tiny(32128, 64, 16, 4, 128, 2, 2, "gated-gelu", false)},
      {"t5-tiny-relu", "test size: relu FFN, tied embeddings (t5 v1.0 style), full vocabulary",
       tiny(32128, 64, 16, 4, 128, 2, 2, "relu", true)},
      {"t5-micro", "test size: 256-row vocabulary, inner dim 24 != d_model 32, 2+3 layers",
       tiny(256, 32, 6, 4, 48, 2, 3, "gated-gelu", false)},
  };
  for (const Architecture& a : all) validate_t5_config(a.config, "built-in " + a.name);
  return all;
}

}  // namespace

const std::vector<Architecture>& builtin_architectures() {
  static const std::vector<Architecture> all = make_architectures();
  return all;
}

std::vector<std::string> builtin_architecture_names() {
  std::vector<std::string> names;
  for (const Architecture& a : builtin_architectures()) names.push_back(a.name);
  return names;
}

T5Config builtin_architecture(const std::string& name) {
  std::string known;
  for (const Architecture& a : builtin_architectures()) {
    if (a.name == name) return a.config;
    known += (known.empty() ? "" : ", ") + a.name;
  }
  fail("no built-in architecture '", name, "' (built-in: ", known, ")");
}

int64_t count_parameters(const T5Config& c) {
  const int64_t d = c.d_model;
  const int64_t inner = c.inner_dim();
  const int64_t attention = 4 * d * inner;                    // q, k, v [inner, d] and o [d, inner]
  const int64_t ffn = (c.is_gated_act ? 3 : 2) * d * c.d_ff;  // wi_0, wi_1 (or wi), wo
  const int64_t relative_bias = c.relative_attention_num_buckets * c.num_heads;
  // Encoder block: self-attention, FFN, two layer norms. Decoder block: self- and cross-
  // attention, FFN, three layer norms. Each stack: block 0's bias table and a final norm.
  const int64_t encoder = c.num_layers * (attention + ffn + 2 * d) + relative_bias + d;
  const int64_t decoder = c.num_decoder_layers * (2 * attention + ffn + 3 * d) + relative_bias + d;
  const int64_t embedding = c.vocab_size * d;
  const int64_t lm_head = c.tie_word_embeddings ? 0 : c.vocab_size * d;
  return embedding + encoder + decoder + lm_head;
}

ResolvedModel resolve_model(const std::string& model_id, const HubCacheEnvironment& env) {
  ResolvedModel resolved;
  resolved.id = resolve_model_id(model_id, builtin_architecture_names(), env);
  if (resolved.id.source == ModelSource::builtin) {
    resolved.config = builtin_architecture(model_id);
  } else {
    resolved.config =
        parse_t5_config((std::filesystem::path(resolved.id.folder) / "config.json").string());
  }
  return resolved;
}

}  // namespace t5zero::models
