#include "train/memory_estimate.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "models/parameter_store.h"
#include "models/t5_model.h"
#include "tensor/error.h"

namespace t5zero {

// ---- DeepSpeed's estimators -------------------------------------------------------------------
// Python's arithmetic step by step: ints stay exact, `/` gives a double, int() truncates.

DeepSpeedEstimate deepspeed_zero3_estimate(int64_t total_params, int64_t largest_layer_params,
                                           int64_t gpus_per_node, int64_t nodes,
                                           bool offload_optimizer, bool offload_param,
                                           bool zero_init, double buffer_factor) {
  T5_CHECK(offload_optimizer || !offload_param,
           "DeepSpeed's ZeRO-3 estimator has no row for offload_param without offload_optimizer");
  const double p = static_cast<double>(total_params);
  const int64_t total_gpus = nodes * gpus_per_node;
  const double gpus_factor = 1.0 / static_cast<double>(nodes);
  const int64_t largest_layer_memory = 4 * largest_layer_params;
  const auto per_gpu_share = [&](int64_t bytes_per_param) {
    return static_cast<int64_t>(static_cast<double>(bytes_per_param * total_params) /
                                static_cast<double>(total_gpus));
  };
  // max(4 * num_gpus_per_node, k * gpus_factor): an int against a float, compared as numbers.
  const auto host_factor = [&](int64_t k) {
    return std::max(static_cast<double>(4 * gpus_per_node), static_cast<double>(k) * gpus_factor);
  };
  double cpu = 0;
  int64_t gpu = 0;
  if (offload_optimizer) {
    const int64_t k = offload_param ? 18 : 16;
    gpu = offload_param ? largest_layer_memory : largest_layer_memory + per_gpu_share(2);
    cpu = zero_init ? static_cast<double>(total_params * k) * gpus_factor * buffer_factor
                    : p * host_factor(k) * buffer_factor;
  } else {
    gpu = largest_layer_memory + per_gpu_share(18);
    cpu = zero_init ? static_cast<double>(largest_layer_params * 4 * gpus_per_node) * buffer_factor
                    : static_cast<double>(total_params * 4 * gpus_per_node) * buffer_factor;
  }
  return {static_cast<int64_t>(cpu), gpu};
}

DeepSpeedEstimate deepspeed_zero2_estimate(int64_t total_params, int64_t gpus_per_node,
                                           int64_t nodes, bool offload_optimizer,
                                           double buffer_factor) {
  const int64_t total_gpus = nodes * gpus_per_node;
  if (offload_optimizer) {
    const int64_t factor = std::max<int64_t>(4 * total_gpus, 16);
    return {static_cast<int64_t>(static_cast<double>(total_params * factor) * buffer_factor),
            2 * total_params};
  }
  const int64_t gpu =
      4 * total_params + static_cast<int64_t>(static_cast<double>(16 * total_params) /
                                              static_cast<double>(total_gpus));
  return {
      static_cast<int64_t>(static_cast<double>(total_params * 4 * gpus_per_node) * buffer_factor),
      gpu};
}

std::vector<DeepSpeedTableRow> deepspeed_table(int64_t zero_stage, int64_t total_params,
                                               int64_t largest_layer_params, int64_t gpus_per_node,
                                               int64_t nodes) {
  std::vector<DeepSpeedTableRow> rows;
  if (zero_stage == 3) {
    // As estimate_zero3_model_states_mem_needs_all_cold's loops.
    for (bool offload_optimizer : {true, false}) {
      for (bool offload_param : {true, false}) {
        if (!offload_optimizer && offload_param) continue;
        for (bool zero_init : {true, false}) {
          rows.push_back(
              {offload_optimizer, offload_param, zero_init,
               deepspeed_zero3_estimate(total_params, largest_layer_params, gpus_per_node, nodes,
                                        offload_optimizer, offload_param, zero_init)});
        }
      }
    }
  } else if (zero_stage == 1 || zero_stage == 2) {
    for (bool offload_optimizer : {true, false}) {
      rows.push_back(
          {offload_optimizer, false, true,
           deepspeed_zero2_estimate(total_params, gpus_per_node, nodes, offload_optimizer)});
    }
  }
  return rows;
}

// ---- The model's parameters --------------------------------------------------------------------

namespace {

// A store that records names and shapes but allocates nothing: the model registers its
// parameters as always, so the list below is the model's own, for any size.
class ShapeOnlyStore : public models::ParameterStore {
 protected:
  Tensor initial_data(const models::ParameterSpec&) const override { return Tensor(); }
};

// The module scope a parameter is gathered in (models/t5_attention.cpp, t5_layers.cpp,
// t5_stack.cpp, t5_model.cpp): HF's "<stack>.block.<b>.layer.<l>" is one sublayer scope, except
// the relative-bias table, which block 0 gathers on its own; every other tensor is its own scope.
std::string module_scope(const std::string& name) {
  const bool in_block = name.starts_with("encoder.block.") || name.starts_with("decoder.block.");
  const size_t layer = name.find(".layer.");
  if (!in_block || layer == std::string::npos ||
      name.find(".relative_attention_bias.") != std::string::npos) {
    return name;
  }
  return name.substr(0, name.find('.', layer + 7));
}

}  // namespace

ModelParameters model_parameters(const T5Config& config) {
  ShapeOnlyStore store;
  const models::T5ForConditionalGeneration model(config, store);
  ModelParameters out;
  std::map<std::string, size_t> scope_index;
  for (models::ParamId id : store.ids()) {
    const models::ParameterSpec& spec = store.spec(id);
    const int64_t numel = shape_numel(spec.shape);
    const auto [it, added] = scope_index.emplace(module_scope(spec.name), out.modules.size());
    if (added) out.modules.emplace_back();
    out.modules[it->second].push_back(out.tensors.size());
    out.tensors.push_back({spec.name, numel});
    out.total += numel;
    out.largest_layer = std::max(out.largest_layer, numel);
  }
  return out;
}

// ---- Activations -------------------------------------------------------------------------------
//
// Counted in elements of the activation dtype, as the autograd graph holds them after forward
// (a node holds its input Variables, so every op output that feeds another op stays alive;
// reshape/permute of a contiguous tensor and the module-scope markers are views; dropout
// re-derives its mask from Philox and keeps none). T = B·len tokens, d = d_model,
// i = num_heads·d_kv, f = d_ff, H = heads, V = vocabulary, p = 1 with dropout, else 0;
// a = attention maps per attention: 3 + p on the CPU (scores, + bias, softmax, its dropout),
// 2 + p with the GPU's fused kernel (scores, probabilities, their dropout):
//   residual sublayer: (3 + p)·T·d   norm output, output projection, its dropout, residual sum
//   self-attention:    + 5·T·i + a·B·H·len²   q, k, v, context, its [B, len, i] copy
//   cross-attention:   + 3·T_t·i + 2·T_s·i + a·B·H·L·S   (k, v from the encoder output)
//   feed-forward:      gated-gelu + (4 + p)·T·f on the CPU (wi_0, gelu, wi_1, product),
//                      (3 + p)·T·f fused (wi_0, wi_1, gated gelu); relu (2 + p)·T·f
//   each stack:        2·(1 + p)·T·d (embedding, final norm, their dropouts)
//                      + H·len² (bias table lookup; a second copy on the CPU) + B·H·len² (+ mask)
//                      + masks: B·S (encoder padding), B·L² (decoder causal) + B·S (cross)
//   head:              2·T_t·V: the logits and, as backward starts, their gradient
//                      (+ T_t·d for the d_model^-0.5 rescale of tied heads)
// With gradient checkpointing a block keeps only its output (T·d) and one block at a time is
// recomputed in backward. The CPU form equals, byte for byte, what the CPU graph holds
// (tests/test_memory_estimate.cpp); the fused form follows autograd/fused_functions.cpp.
// Left out: activation gradients beyond the logits' (about one block's worth while backward
// runs), op temporaries (GEMM packing), the fused kernels' row statistics (1/rms, log-sum-exp:
// 4 bytes per row), token ids, labels and bucket ids, the caching allocator's rounding (at most
// 1/8 of a block), and evaluation (beam search, KV caches).

namespace {

int64_t round_up_to_8(int64_t n) {
  return (n + 7) / 8 * 8;
}

}  // namespace

ActivationEstimate estimate_activations(const T5Config& c, const ActivationInput& in) {
  T5_CHECK(in.batch_size >= 1 && in.source_length >= 1 && in.target_length >= 1,
           "activation estimate: batch size and lengths must be >= 1");
  ActivationEstimate out;
  const int64_t batch = in.batch_size;
  const int64_t src = out.source_length = round_up_to_8(in.source_length);
  const int64_t tgt = out.target_length = round_up_to_8(in.target_length);
  const int64_t d = c.d_model, i = c.inner_dim(), f = c.d_ff, heads = c.num_heads;
  const int64_t p = in.dropout && c.dropout_rate > 0 ? 1 : 0;
  const int64_t ts = batch * src, tt = batch * tgt;
  const bool fused_gelu =
      in.fused_kernels && c.is_gated_act && c.dense_act_fn == Activation::gelu_new;

  const int64_t residual = 3 + p;  // d-wide tensors per residual sublayer, per token
  const int64_t maps = (in.fused_kernels ? 2 : 3) + p;
  const auto self_attention = [&](int64_t tokens, int64_t len) {
    return residual * tokens * d + 5 * tokens * i + maps * batch * heads * len * len;
  };
  const int64_t cross_attention =
      residual * tt * d + 3 * tt * i + 2 * ts * i + maps * batch * heads * tgt * src;
  const int64_t ffn_width = (c.is_gated_act ? (fused_gelu ? 3 : 4) : 2) + p;
  const auto feed_forward = [&](int64_t tokens) {
    return residual * tokens * d + ffn_width * tokens * f;
  };
  out.encoder_block = self_attention(ts, src) + feed_forward(ts);
  out.decoder_block = self_attention(tt, tgt) + cross_attention + feed_forward(tt);
  const int64_t bias_copies = in.fused_kernels ? 1 : 2;
  const auto stack = [&](int64_t tokens, int64_t len) {
    return 2 * (1 + p) * tokens * d + bias_copies * heads * len * len + batch * heads * len * len;
  };
  out.stacks = stack(ts, src) + batch * src + stack(tt, tgt) + batch * tgt * tgt + batch * src;
  out.head = 2 * tt * c.vocab_size + (c.tie_word_embeddings ? tt * d : 0);
  out.block_outputs = c.num_layers * ts * d + c.num_decoder_layers * tt * d;

  const int64_t kept = out.stacks + out.head + c.num_layers * out.encoder_block +
                       c.num_decoder_layers * out.decoder_block;
  const int64_t checkpointed =
      out.stacks + out.head + out.block_outputs + std::max(out.encoder_block, out.decoder_block);
  out.without_checkpointing_bytes = kept * in.element_bytes;
  out.with_checkpointing_bytes = checkpointed * in.element_bytes;
  return out;
}

// ---- t5zero's layout ---------------------------------------------------------------------------

namespace {

constexpr int64_t kMiB = int64_t{1} << 20;
// No measurement stands behind this: a CUDA 12 context with lazy module loading typically takes
// 300-600 MiB, and each compute stream has a 32 MiB cuBLASLt workspace (cuda/cublaslt_gemm).
constexpr int64_t kCudaContextAllowance = 512 * kMiB;
constexpr int64_t kCublasWorkspace = 32 * kMiB;

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

}  // namespace

ZeroConfig recipe_zero_config(int64_t d_model, int64_t stage, OffloadDevice offload_optimizer,
                              OffloadDevice offload_param) {
  ZeroConfig z;
  z.stage = stage;
  z.overlap_comm = true;
  z.reduce_bucket_size = d_model * d_model;
  // HF fills 0.9·d² as a float; DeepSpeed reads it as an integer.
  z.stage3_prefetch_bucket_size =
      static_cast<int64_t>(0.9 * static_cast<double>(d_model * d_model));
  z.stage3_param_persistence_threshold = 10 * d_model;
  z.offload_optimizer.device = offload_optimizer;
  z.offload_param.device = offload_param;
  return z;
}

int64_t gib_to_bytes(double gib) {
  return static_cast<int64_t>(std::floor(gib * static_cast<double>(int64_t{1} << 30)));
}

void validate_estimate_input(const EstimateInput& in) {
  T5_CHECK(in.gpus_per_node >= 1, "--num_gpus_per_node: expected >= 1, got ", in.gpus_per_node);
  T5_CHECK(in.nodes >= 1, "--num_nodes: expected >= 1, got ", in.nodes);
  T5_CHECK(in.gpu_memory_gib > 0, "--gpu_memory_gib: expected > 0, got ", in.gpu_memory_gib);
  T5_CHECK(in.cpu_memory_gib > 0, "--cpu_memory_gib: expected > 0, got ", in.cpu_memory_gib);
  const ZeroConfig& z = in.zero;
  T5_CHECK(z.stage >= 0 && z.stage <= 3, "--zero_stage: expected 0, 1, 2 or 3, got ", z.stage);
  T5_CHECK(z.offload_optimizer.device != OffloadDevice::nvme &&
               z.offload_param.device != OffloadDevice::nvme,
           "offload to nvme: the estimate models none and cpu only");
  T5_CHECK(z.offload_optimizer.device == OffloadDevice::none || z.stage >= 1,
           "--offload_optimizer cpu: needs --zero_stage 1, 2 or 3 (DeepSpeed offloads the "
           "optimizer of partitioned states only)");
  T5_CHECK(z.offload_param.device == OffloadDevice::none || z.stage == 3,
           "--offload_param cpu: needs --zero_stage 3 (only stage 3 partitions parameters)");
  T5_CHECK(z.offload_param.device == OffloadDevice::none ||
               z.offload_optimizer.device != OffloadDevice::none,
           "--offload_param cpu: needs --offload_optimizer cpu too (as DeepSpeed's estimator; "
           "parameters on the host with the optimizer on the GPU is not a layout t5zero has)");
  T5_CHECK(in.activations.batch_size >= 1, "--per_device_train_batch_size: expected >= 1, got ",
           in.activations.batch_size);
  T5_CHECK(in.activations.source_length >= 1, "--source_length: expected >= 1, got ",
           in.activations.source_length);
  T5_CHECK(in.activations.target_length >= 1, "--target_length: expected >= 1, got ",
           in.activations.target_length);
  T5_CHECK(z.stage3_param_persistence_threshold >= 0,
           "zero_optimization.stage3_param_persistence_threshold: expected >= 0, got ",
           z.stage3_param_persistence_threshold);
}

MemoryEstimate estimate_memory(const EstimateInput& input) {
  validate_estimate_input(input);
  MemoryEstimate e;
  e.input = input;
  const ZeroConfig& z = input.zero;
  const int64_t w = e.world_size = input.gpus_per_node * input.nodes;
  const int64_t g = input.gpus_per_node;
  const bool bf16 = input.precision == Precision::bf16;
  const int64_t b = bf16 ? 2 : 4;  // bytes of a parameter, gradient and activation element
  const std::string dtype = bf16 ? "bf16" : "fp32";
  const bool offload_optimizer = z.offload_optimizer.device == OffloadDevice::cpu;
  const bool offload_param = z.offload_param.device == OffloadDevice::cpu;

  e.parameters = model_parameters(input.config);
  const ModelParameters& params = e.parameters;
  const int64_t total = params.total;

  // DeepSpeed's numbers for the same model and machines.
  e.deepspeed = deepspeed_table(z.stage, total, params.largest_layer, g, input.nodes);
  for (const DeepSpeedTableRow& row : e.deepspeed) {
    if (row.offload_optimizer != offload_optimizer) continue;
    if (z.stage == 3 && row.offload_param != offload_param) continue;
    (row.zero_init ? e.deepspeed_selected : e.deepspeed_selected_zero_init_0) = row;
  }

  // The partition layout of t5zero's ZeRO store (src/dist/zero_parameter_store.h, DeepSpeed's):
  // each tensor split into ceil(numel / W) elements per rank. Stage 3 keeps tensors of at most
  // stage3_param_persistence_threshold elements whole on every rank as well; stages 1 and 2 are
  // stage 3 with every tensor persistent; stage 0 on W > 1 ranks runs as stage 1. One process
  // holds everything whole, whatever the stage.
  const int64_t stage = e.layout_stage = w == 1 ? 0 : std::max<int64_t>(1, z.stage);
  std::vector<bool> persistent(params.tensors.size(), false);
  for (size_t t = 0; t < params.tensors.size(); ++t) {
    const int64_t n = params.tensors[t].numel;
    e.shard_elements += ceil_div(n, w);
    if (stage != 3 || n <= z.stage3_param_persistence_threshold) {
      persistent[t] = true;
      e.persistent_elements += n;
    }
  }
  // The largest module scope, its largest tensor, and its part that is gathered on entry.
  int64_t largest_gathered = 0, largest_module_tensor = 0;
  for (const std::vector<size_t>& module : params.modules) {
    int64_t all = 0, gathered = 0, largest_tensor = 0;
    for (size_t t : module) {
      all += params.tensors[t].numel;
      largest_tensor = std::max(largest_tensor, params.tensors[t].numel);
      if (!persistent[t]) gathered += params.tensors[t].numel;
    }
    if (all > e.largest_gathered_module) {
      e.largest_gathered_module = all;
      largest_module_tensor = largest_tensor;
    }
    largest_gathered = std::max(largest_gathered, gathered);
  }
  const int64_t partitioned = stage >= 1 ? e.shard_elements : total;
  const std::string part = stage >= 1 ? "sum ceil(n/W)" : "P";

  std::vector<MemoryItem>& gpu = e.gpu;
  std::vector<MemoryItem>& host = e.host;
  const auto per_node = [&](MemoryItem item) {
    item.bytes *= g;
    item.formula = detail::concat("G x ", item.formula);
    host.push_back(item);
  };

  // Parameters in the compute dtype: the shard (what AdamW's copy-out updates), the persistent
  // tensors whole, and under stage 3 the module being computed, gathered.
  if (stage == 0) {
    gpu.push_back({dtype + " parameters, whole", detail::concat("P x ", b), total * b});
  } else {
    MemoryItem shard{
        detail::concat(dtype, " parameter shard", offload_param ? " (offload_param cpu)" : ""),
        detail::concat("sum ceil(n/W) x ", b), e.shard_elements * b};
    offload_param ? per_node(shard) : gpu.push_back(shard);
    gpu.push_back({stage == 3 ? detail::concat(dtype, " persistent parameters, whole (n <= ",
                                               z.stage3_param_persistence_threshold, ")")
                              : detail::concat(dtype, " parameters, whole (stage ", stage,
                                               ": all persistent)"),
                   detail::concat("sum n x ", b), e.persistent_elements * b});
    if (stage == 3) {
      gpu.push_back({dtype + " gathered parameters: the largest module",
                     detail::concat(largest_gathered, " x ", b), largest_gathered * b});
    }
  }

  // Gradients in the compute dtype: one process keeps a whole backward's until it hands them to
  // the accumulators; the ZeRO store reduce-scatters each module's as its backward ends, through
  // a zero-padded copy of one tensor at a time.
  if (stage == 0) {
    gpu.push_back({dtype + " gradients of one backward", detail::concat("P x ", b), total * b});
  } else {
    const int64_t padded = ceil_div(largest_module_tensor, w) * w;
    gpu.push_back({dtype + " gradients: largest module + a padded copy",
                   detail::concat("(", e.largest_gathered_module, " + ", padded, ") x ", b),
                   (e.largest_gathered_module + padded) * b});
  }

  // The optimizer's side (train/mixed_precision.h): fp32 accumulators, masters (bf16 runs; in
  // fp32 the parameters are the masters) and two moments, of this rank's shard under ZeRO.
  const std::string where = offload_optimizer ? " (offload_optimizer cpu)" : "";
  std::vector<MemoryItem> optimizer = {
      {"fp32 gradient accumulators" + where, part + " x 4", partitioned * 4}};
  if (bf16) optimizer.push_back({"fp32 master weights" + where, part + " x 4", partitioned * 4});
  optimizer.push_back({"fp32 AdamW moments (2)" + where, part + " x 8", partitioned * 8});
  for (const MemoryItem& item : optimizer) offload_optimizer ? per_node(item) : gpu.push_back(item);

  // Activations.
  ActivationInput activation_input = input.activations;
  activation_input.element_bytes = b;
  e.activations = estimate_activations(input.config, activation_input);
  gpu.push_back({std::string("activations") +
                     (input.gradient_checkpointing ? " (gradient checkpointing)" : ""),
                 input.gradient_checkpointing ? "block outputs + one block recomputed"
                                              : "every block's intermediates",
                 input.gradient_checkpointing ? e.activations.with_checkpointing_bytes
                                              : e.activations.without_checkpointing_bytes});
  gpu.push_back({"CUDA context and cuBLASLt workspace (allowance)", "512 MiB + 32 MiB",
                 kCudaContextAllowance + kCublasWorkspace});

  for (const MemoryItem& item : gpu) e.gpu_bytes += item.bytes;
  for (const MemoryItem& item : host) e.host_bytes += item.bytes;
  e.gpu_capacity_bytes = gib_to_bytes(input.gpu_memory_gib);
  e.host_capacity_bytes = gib_to_bytes(input.cpu_memory_gib);
  Verdict& v = e.verdict;
  v.gpu_fits = e.gpu_bytes <= e.gpu_capacity_bytes;
  v.cpu_fits = e.host_bytes <= e.host_capacity_bytes;
  v.fits = v.gpu_fits && v.cpu_fits;
  v.gpu_shortfall_bytes = v.gpu_fits ? 0 : e.gpu_bytes - e.gpu_capacity_bytes;
  v.cpu_shortfall_bytes = v.cpu_fits ? 0 : e.host_bytes - e.host_capacity_bytes;
  return e;
}

}  // namespace t5zero
