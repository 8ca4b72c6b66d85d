// Built-in T5 architectures for --model_id: the five FLAN-T5 sizes with the numbers of their
// hub config.json files, and tiny sizes for tests; the exact parameter count of a config.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "io/model_id.h"
#include "io/t5_config.h"

namespace t5zero::models {

struct Architecture {
  std::string name;
  std::string description;
  T5Config config;
};

// flan-t5-small, -base, -large, -xl, -xxl (as google/flan-t5-* on the hub), then the test sizes
// t5-tiny (gated-gelu, untied, the real 32128-row vocabulary so the T5 tokenizer works),
// t5-tiny-relu (t5 v1.0 style: relu FFN, tied embeddings) and t5-micro (256-row vocabulary,
// inner dim ≠ d_model, more decoder than encoder layers: fast numerics tests that catch mix-ups).
const std::vector<Architecture>& builtin_architectures();
std::vector<std::string> builtin_architecture_names();
// The config of a built-in name; an error listing the names otherwise.
T5Config builtin_architecture(const std::string& name);

// Number of values in the Hugging Face state dict of T5ForConditionalGeneration, each tensor
// once: shared, every block, the relative-attention bias of block 0 of each stack only, both
// final norms, and lm_head unless tied to shared (transformers' num_parameters()).
int64_t count_parameters(const T5Config& config);

// --model_id resolved (io/model_id.h, with the built-in names) together with its config:
// config.json of the folder, or the built-in's numbers.
struct ResolvedModel {
  ResolvedModelId id;
  T5Config config;
};
ResolvedModel resolve_model(const std::string& model_id,
                            const HubCacheEnvironment& env = HubCacheEnvironment::from_process());

}  // namespace t5zero::models
