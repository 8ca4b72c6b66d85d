// Memory a training run needs, per GPU and per node, before it is started (`t5zero estimate`):
//
// - DeepSpeed's own estimators, reproduced number for number (deepspeed/runtime/zero/stage3.py
//   estimate_zero3_model_states_mem_needs and stage_1_and_2.py
//   estimate_zero2_model_states_mem_needs), so a user can compare with what DeepSpeed prints;
//   they cover model states only, with a blanket 1.5x buffer factor;
// - t5zero's breakdown of the layout its ZeRO store uses (src/dist/zero_parameter_store.h):
//   16-bit parameters (a 1/W shard, the persistent tensors whole, under stage 3 the module being
//   computed), the 16-bit gradients of one backward (one process) or of one module (ZeRO), fp32
//   gradient accumulators, fp32 masters and two fp32 AdamW moments (a 1/W shard under ZeRO; on
//   the host with offload_optimizer cpu), activations of T5 at the given batch and lengths, and
//   a CUDA runtime allowance. t5zero has no prefetch or gradient buckets (yet), so DeepSpeed's
//   bucket sizes do not enter it;
// - a verdict: fits, or which side (GPU or host) does not and by how much.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/t5_config.h"
#include "train/deepspeed_config.h"

namespace t5zero {

// ---- DeepSpeed's estimators -------------------------------------------------------------------

struct DeepSpeedEstimate {
  int64_t cpu_bytes = 0;  // per node ("per CPU" in DeepSpeed's table)
  int64_t gpu_bytes = 0;  // per GPU
};

// estimate_zero3_model_states_mem_needs: G = gpus per node, N = nodes, f = buffer factor,
// LL = 4 * largest_layer_params bytes.
//   offload optimizer + params: GPU LL;            CPU P*18/N*f  (zero_init=0: P*max(4G, 18/N)*f)
//   offload optimizer only:     GPU LL + 2P/(NG);  CPU P*16/N*f  (zero_init=0: P*max(4G, 16/N)*f)
//   no offload:                 GPU LL + 18P/(NG); CPU largest*4G*f (zero_init=0: P*4G*f)
// Offloading parameters without the optimizer is not a row of DeepSpeed's table: an error.
DeepSpeedEstimate deepspeed_zero3_estimate(int64_t total_params, int64_t largest_layer_params,
                                           int64_t gpus_per_node, int64_t nodes,
                                           bool offload_optimizer, bool offload_param,
                                           bool zero_init, double buffer_factor = 1.5);

// estimate_zero2_model_states_mem_needs (stages 1 and 2):
//   offload optimizer: GPU 2P;             CPU P*max(4*N*G, 16)*f
//   no offload:        GPU 4P + 16P/(NG);  CPU P*4G*f
DeepSpeedEstimate deepspeed_zero2_estimate(int64_t total_params, int64_t gpus_per_node,
                                           int64_t nodes, bool offload_optimizer,
                                           double buffer_factor = 1.5);

// One row of the table DeepSpeed's *_all_cold functions print.
struct DeepSpeedTableRow {
  bool offload_optimizer = false;
  bool offload_param = false;  // stage 3 only
  bool zero_init = true;       // stage 3 only
  DeepSpeedEstimate estimate;
};

// DeepSpeed's table for the stage (3: its five rows; 1 and 2: its two rows; 0: none, DeepSpeed
// has no estimator for plain data parallelism), in DeepSpeed's row order.
std::vector<DeepSpeedTableRow> deepspeed_table(int64_t zero_stage, int64_t total_params,
                                               int64_t largest_layer_params, int64_t gpus_per_node,
                                               int64_t nodes);

// ---- The model's parameters --------------------------------------------------------------------

struct ParameterTensor {
  std::string name;  // Hugging Face name
  int64_t numel = 0;
};

struct ModelParameters {
  std::vector<ParameterTensor> tensors;  // every parameter of T5ForConditionalGeneration
  int64_t total = 0;                     // equals models::count_parameters(config)
  // DeepSpeed's largest_layer_params: the most parameters one nn.Module owns itself. Each T5
  // module (Linear, Embedding, T5LayerNorm) owns one tensor, so this is the largest tensor.
  int64_t largest_layer = 0;
  // What one t5zero module scope gathers (models/parameter_scope.h): a sublayer (attention
  // projections + its layer norm, or the feed-forward + its layer norm), the shared embedding,
  // lm_head, a relative-bias table or a final layer norm. Tensor indices per scope.
  std::vector<std::vector<size_t>> modules;
};

// The parameters the model registers for `config` (no memory is allocated for them).
ModelParameters model_parameters(const T5Config& config);

// ---- Activations -------------------------------------------------------------------------------

struct ActivationInput {
  int64_t batch_size = 8;       // per device
  int64_t source_length = 512;  // padded to a multiple of 8, as the collator does
  int64_t target_length = 128;  // padded to a multiple of 8
  int64_t element_bytes = 2;    // bf16 activations (4 for fp32)
  bool dropout = true;          // training with config.dropout_rate > 0
  // The graph as on a GPU, where RMSNorm, the gated gelu, the attention probabilities and the
  // relative-bias lookup are single fused nodes (autograd/fused_functions.h); false: as on the
  // CPU, where they are compositions of catalogue ops.
  bool fused_kernels = true;
};

// Elements of the tensors the autograd graph keeps alive between forward and backward (a node
// holds its inputs, so every intermediate output counts; views share storage and dropout keeps
// no mask). See memory_estimate.cpp for the formula term by term.
struct ActivationEstimate {
  int64_t source_length = 0;  // after padding to a multiple of 8
  int64_t target_length = 0;
  int64_t encoder_block = 0;  // elements of one encoder block
  int64_t decoder_block = 0;
  int64_t stacks = 0;         // embeddings, position biases with masks, final norms
  int64_t head = 0;           // logits, plus their gradient at the start of backward
  int64_t block_outputs = 0;  // what checkpointed blocks keep: each block's output
  int64_t without_checkpointing_bytes = 0;
  // Every block's output, plus one block recomputed during backward.
  int64_t with_checkpointing_bytes = 0;
};

ActivationEstimate estimate_activations(const T5Config& config, const ActivationInput& input);

// ---- t5zero's layout and the verdict -----------------------------------------------------------

// One line of the breakdown.
struct MemoryItem {
  std::string name;
  std::string formula;  // how the bytes were computed, in words and symbols
  int64_t bytes = 0;
};

struct EstimateInput {
  T5Config config;
  int64_t gpus_per_node = 1;
  int64_t nodes = 1;
  double gpu_memory_gib = 80;
  double cpu_memory_gib = 0;  // per node
  Precision precision = Precision::bf16;
  // Stage, offload devices and persistence threshold (DeepSpeed's keys; t5zero reads no others).
  ZeroConfig zero;
  ActivationInput activations;
  bool gradient_checkpointing = false;
};

// The ZeRO settings of the recipe's DeepSpeed configs ("auto" resolved as the HF Trainer does:
// reduce bucket d^2, prefetch bucket 0.9 d^2, persistence threshold 10 d), for runs without
// --deepspeed.
ZeroConfig recipe_zero_config(int64_t d_model, int64_t stage, OffloadDevice offload_optimizer,
                              OffloadDevice offload_param);

struct Verdict {
  bool fits = false;
  bool gpu_fits = false;
  bool cpu_fits = false;
  int64_t gpu_shortfall_bytes = 0;  // need - capacity, when it does not fit
  int64_t cpu_shortfall_bytes = 0;
};

struct MemoryEstimate {
  EstimateInput input;
  int64_t world_size = 1;
  // The layout t5zero runs: 0 (one process, everything whole) when W = 1; else the stage, with
  // stage 0 run as stage 1.
  int64_t layout_stage = 0;
  ModelParameters parameters;
  int64_t largest_gathered_module = 0;  // elements (all its tensors)
  int64_t shard_elements = 0;           // sum over tensors of ceil(numel / W)
  int64_t persistent_elements = 0;      // kept whole on every rank: stage 3 n <= threshold, 1/2 all
  std::vector<DeepSpeedTableRow> deepspeed;
  std::optional<DeepSpeedTableRow> deepspeed_selected;  // the row of these options, zero_init=1
  std::optional<DeepSpeedTableRow> deepspeed_selected_zero_init_0;
  ActivationEstimate activations;
  std::vector<MemoryItem> gpu;   // per GPU
  std::vector<MemoryItem> host;  // per node
  int64_t gpu_bytes = 0;         // per GPU
  int64_t host_bytes = 0;        // per node
  int64_t gpu_capacity_bytes = 0;
  int64_t host_capacity_bytes = 0;
  Verdict verdict;
};

// Checks the input; errors name the flag (--zero_stage, --offload_param, ...).
void validate_estimate_input(const EstimateInput& input);

MemoryEstimate estimate_memory(const EstimateInput& input);

// The bytes of `gib` GiB (2^30), rounded down.
int64_t gib_to_bytes(double gib);

}  // namespace t5zero
