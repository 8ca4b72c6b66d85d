// `t5zero estimate`: DeepSpeed's estimator numbers against values computed here by hand from
// DeepSpeed's formulas (and against the table Philipp Schmid posted for flan-t5-xl, DS #2797),
// parameter counts of the built-in architectures, t5zero's layout for the recipe's setting
// (flan-t5-xxl on 8 x A100-40GB), the activation formula against what the autograd graph really
// holds, the verdict both ways, and bad flags.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "io/json.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_init.h"
#include "models/t5_model.h"
#include "temp_folder.h"
#include "tensor/cpu/host_allocator.h"
#include "train/memory_estimate.h"

namespace fs = std::filesystem;
using namespace t5zero;
using t5zero::testing::TempFolder;

namespace {

// flan-t5-xxl (reference deepspeed_zero.md §1.6): total parameters and the largest layer
// (the 32128 x 4096 embedding / lm_head).
constexpr int64_t kXxlParams = 11135332352;
constexpr int64_t kXxlLargest = 32128 * 4096;
constexpr double kGiB = 1073741824.0;

double gib(int64_t bytes) {
  return static_cast<double>(bytes) / kGiB;
}

// DeepSpeed prints "%.2f" of bytes / 2^30.
std::string two_decimals(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof(text), "%.2f", gib(bytes));
  return text;
}

// The recipe's setting: flan-t5-xxl, 1 node x 8 GPUs of 40 GiB, bf16, batch 8, 512 -> 128.
EstimateInput recipe_input() {
  EstimateInput in;
  in.config = models::builtin_architecture("flan-t5-xxl");
  in.gpus_per_node = 8;
  in.nodes = 1;
  in.gpu_memory_gib = 40;
  in.cpu_memory_gib = 1024;
  in.precision = Precision::bf16;
  in.zero = recipe_zero_config(4096, 3, OffloadDevice::none, OffloadDevice::none);
  in.activations.batch_size = 8;
  in.activations.source_length = 512;
  in.activations.target_length = 128;
  in.gradient_checkpointing = true;
  return in;
}

int64_t item_bytes(const std::vector<MemoryItem>& items, const std::string& prefix) {
  for (const MemoryItem& item : items) {
    if (item.name.rfind(prefix, 0) == 0) return item.bytes;
  }
  FAIL("no item starting with '", prefix, "'");
  return -1;
}

std::string t5zero_binary() {
  const fs::path binary =
      fs::read_symlink("/proc/self/exe").parent_path().parent_path() / "tools" / "t5zero";
  REQUIRE_MESSAGE(fs::exists(binary), "build the t5zero target first: ", binary.string());
  return binary.string();
}

struct RunResult {
  int status;
  std::string out;
  std::string err;
};

RunResult run_t5zero(const std::string& arguments, const TempFolder& tmp) {
  const std::string out = tmp.file("stdout.txt"), err = tmp.file("stderr.txt");
  const std::string command = t5zero_binary() + " " + arguments + " > " + out + " 2> " + err;
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, testing::read_file_bytes(out),
          testing::read_file_bytes(err)};
}

}  // namespace

TEST_CASE("DeepSpeed's ZeRO-3 estimator: flan-t5-xxl on 8 x 40GB, with and without offload") {
  // estimate_zero3_model_states_mem_needs by hand: LL = 4 * largest; G = 8, N = 1, f = 1.5.
  const int64_t ll = 4 * kXxlLargest;  // 526385152
  // No offload: GPU LL + int(18P / 8); CPU (zero_init=1) largest * 4 * G * 1.5.
  DeepSpeedEstimate e = deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 8, 1, false, false, true);
  CHECK(e.gpu_bytes == ll + 18 * kXxlParams / 8);
  CHECK(e.gpu_bytes == 25580882944);
  CHECK(e.cpu_bytes == kXxlLargest * 4 * 8 * 3 / 2);
  CHECK(e.cpu_bytes == 6316621824);
  // zero_init=0 (the recipe's load order): P * 4 * G * 1.5 on the host.
  e = deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 8, 1, false, false, false);
  CHECK(e.cpu_bytes == kXxlParams * 4 * 8 * 3 / 2);
  // Offload optimizer and parameters (ds_flan_t5_z3_offload_bf16.json): GPU LL; CPU P*18*1.5.
  e = deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 8, 1, true, true, true);
  CHECK(e.gpu_bytes == ll);
  CHECK(e.cpu_bytes == kXxlParams * 18 * 3 / 2);
  CHECK(e.cpu_bytes == 300653973504);
  // zero_init=0: P * max(4G, 18) * 1.5 = P * 48.
  e = deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 8, 1, true, true, false);
  CHECK(e.cpu_bytes == kXxlParams * 48);
  // Offload optimizer only: GPU LL + 2P/8; CPU P*16*1.5.
  e = deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 8, 1, true, false, true);
  CHECK(e.gpu_bytes == ll + 2 * kXxlParams / 8);
  CHECK(e.cpu_bytes == kXxlParams * 24);
  // Python's int() truncates 18P/7 = 28633711762.29 (7 GPUs); 2 nodes halve the host share.
  CHECK(deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 7, 1, false, false, true).gpu_bytes ==
        ll + 28633711762);
  CHECK(deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 4, 2, true, false, true).cpu_bytes ==
        kXxlParams * 16 / 2 * 3 / 2);
  CHECK_THROWS_WITH(deepspeed_zero3_estimate(kXxlParams, kXxlLargest, 8, 1, false, true, true),
                    doctest::Contains("offload_param without offload_optimizer"));
}

TEST_CASE("DeepSpeed's ZeRO-3 table for flan-t5-xl on 1 GPU is the one posted in DS #2797") {
  const T5Config xl = models::builtin_architecture("flan-t5-xl");
  const ModelParameters params = model_parameters(xl);
  CHECK(params.total == 2849757184);
  CHECK(params.largest_layer == 65798144);
  const std::vector<DeepSpeedTableRow> rows =
      deepspeed_table(3, params.total, params.largest_layer, 1, 1);
  REQUIRE(rows.size() == 6);
  // DeepSpeed's row order: (cpu, cpu), (cpu, none), (none, none), each zero_init 1 then 0.
  const char* expected[6][2] = {{"71.66", "0.25"}, {"71.66", "0.25"}, {"63.70", "5.55"},
                                {"63.70", "5.55"}, {"0.37", "48.02"}, {"15.92", "48.02"}};
  for (size_t r = 0; r < rows.size(); ++r) {
    CAPTURE(r);
    CHECK(two_decimals(rows[r].estimate.cpu_bytes) == expected[r][0]);
    CHECK(two_decimals(rows[r].estimate.gpu_bytes) == expected[r][1]);
    CHECK(rows[r].zero_init == (r % 2 == 0));
  }
  CHECK(deepspeed_table(0, params.total, params.largest_layer, 1, 1).empty());
}

TEST_CASE("DeepSpeed's ZeRO-2 estimator: flan-t5-xxl on 8 GPUs") {
  // Offload: GPU 2P; CPU P * max(4 * total GPUs, 16) * 1.5. None: GPU 4P + int(16P / 8).
  DeepSpeedEstimate e = deepspeed_zero2_estimate(kXxlParams, 8, 1, true);
  CHECK(e.gpu_bytes == 2 * kXxlParams);
  CHECK(e.cpu_bytes == kXxlParams * 32 * 3 / 2);
  e = deepspeed_zero2_estimate(kXxlParams, 8, 1, false);
  CHECK(e.gpu_bytes == 4 * kXxlParams + 2 * kXxlParams);
  CHECK(e.cpu_bytes == kXxlParams * 4 * 8 * 3 / 2);
  // One GPU: max(4, 16) = 16.
  CHECK(deepspeed_zero2_estimate(1000, 1, 1, true).cpu_bytes == 24000);
  const std::vector<DeepSpeedTableRow> rows = deepspeed_table(2, kXxlParams, kXxlLargest, 8, 1);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].offload_optimizer);
  CHECK(rows[1].estimate.gpu_bytes == 6 * kXxlParams);
}

TEST_CASE("parameters of the built-in architectures, as the model registers them") {
  // Counts from the hub configs (reference deepspeed_zero.md §1.6).
  const std::pair<const char*, int64_t> sizes[] = {{"flan-t5-small", 76961152},
                                                   {"flan-t5-base", 247577856},
                                                   {"flan-t5-large", 783150080},
                                                   {"flan-t5-xl", 2849757184},
                                                   {"flan-t5-xxl", kXxlParams}};
  for (const auto& [name, count] : sizes) {
    CAPTURE(name);
    const T5Config config = models::builtin_architecture(name);
    const ModelParameters params = model_parameters(config);
    CHECK(params.total == count);
    CHECK(models::count_parameters(config) == count);
    CHECK(params.largest_layer == 32128 * config.d_model);
  }
  for (const std::string& name : models::builtin_architecture_names()) {
    CAPTURE(name);
    const T5Config config = models::builtin_architecture(name);
    CHECK(model_parameters(config).total == models::count_parameters(config));
  }
  // Module scopes of flan-t5-small: shared, lm_head, 2 bias tables, 2 final norms, and per
  // encoder block 2 sublayers, per decoder block 3.
  const ModelParameters small = model_parameters(models::builtin_architecture("flan-t5-small"));
  CHECK(small.modules.size() == 6 + 8 * 2 + 8 * 3);
  size_t self_attention = 0;
  for (const std::vector<size_t>& module : small.modules) {
    if (small.tensors[module.front()].name == "encoder.block.0.layer.0.SelfAttention.q.weight") {
      self_attention = module.size();
    }
  }
  CHECK(self_attention == 5);  // q, k, v, o and the layer norm; the bias table is its own
}

TEST_CASE("t5zero's layout for the recipe: flan-t5-xxl, ZeRO-3 on 8 x 40 GiB, bf16") {
  const MemoryEstimate e = estimate_memory(recipe_input());
  CHECK(e.world_size == 8);
  // Every XXL tensor divides by 8, so the shard is P / 8.
  CHECK(e.shard_elements == kXxlParams / 8);
  // Persistent (numel <= 10 d = 40960): 122 layer norms of 4096 and two 32 x 64 bias tables.
  CHECK(e.persistent_elements == (24 * 2 + 24 * 3 + 2) * 4096 + 2 * 32 * 64);
  CHECK(e.largest_gathered_module == kXxlLargest);
  const int64_t shard = kXxlParams / 8;
  CHECK(item_bytes(e.gpu, "bf16 parameter shard") == shard * 2);
  CHECK(e.layout_stage == 3);
  CHECK(item_bytes(e.gpu, "bf16 persistent parameters") == e.persistent_elements * 2);
  // The largest module is the embedding (or lm_head): gathered whole, its gradient and the
  // gradient's padded copy (32128 x 4096 divides by 8: no padding) during the reduce-scatter.
  CHECK(item_bytes(e.gpu, "bf16 gathered parameters") == kXxlLargest * 2);
  CHECK(item_bytes(e.gpu, "bf16 gradients") == 2 * kXxlLargest * 2);
  CHECK(item_bytes(e.gpu, "fp32 gradient accumulators") == shard * 4);
  CHECK(item_bytes(e.gpu, "fp32 master weights") == shard * 4);
  CHECK(item_bytes(e.gpu, "fp32 AdamW moments") == shard * 8);
  CHECK(e.host.empty());
  CHECK(e.host_bytes == 0);
  int64_t sum = 0;
  for (const MemoryItem& item : e.gpu) sum += item.bytes;
  CHECK(e.gpu_bytes == sum);
  // DeepSpeed's row for these options.
  REQUIRE(e.deepspeed_selected.has_value());
  CHECK(e.deepspeed_selected->estimate.gpu_bytes == 25580882944);
  CHECK(e.deepspeed.size() == 6);
}

TEST_CASE("t5zero's layout: offload moves the optimizer's side (and the shard) to the host") {
  EstimateInput in = recipe_input();
  in.zero.offload_optimizer.device = OffloadDevice::cpu;
  in.zero.offload_param.device = OffloadDevice::cpu;
  const MemoryEstimate e = estimate_memory(in);
  const int64_t shard = kXxlParams / 8;
  // Per node: 8 ranks x (bf16 shard 2 + accumulators 4 + masters 4 + moments 8 bytes).
  CHECK(e.host_bytes == 8 * shard * 18);
  CHECK(item_bytes(e.host, "fp32 AdamW moments") == 8 * shard * 8);
  for (const MemoryItem& item : e.gpu) CHECK(item.name.find("fp32") == std::string::npos);
  REQUIRE(e.deepspeed_selected.has_value());
  CHECK(e.deepspeed_selected->estimate.gpu_bytes == 4 * kXxlLargest);
  CHECK(e.deepspeed_selected->estimate.cpu_bytes == kXxlParams * 27);

  // Stages 1 and 2: the weights stay whole beside their shard; the rest is partitioned.
  EstimateInput stage2 = recipe_input();
  stage2.zero.stage = 2;
  const MemoryEstimate s2 = estimate_memory(stage2);
  CHECK(s2.layout_stage == 2);
  CHECK(s2.persistent_elements == kXxlParams);
  CHECK(item_bytes(s2.gpu, "bf16 parameter shard") == shard * 2);
  CHECK(item_bytes(s2.gpu, "bf16 parameters, whole") == kXxlParams * 2);
  CHECK(item_bytes(s2.gpu, "fp32 AdamW moments") == shard * 8);
  REQUIRE(s2.deepspeed_selected.has_value());
  CHECK(s2.deepspeed_selected->estimate.gpu_bytes == 6 * kXxlParams);
  // Stage 0 on 8 ranks runs as stage 1.
  stage2.zero.stage = 0;
  CHECK(estimate_memory(stage2).layout_stage == 1);

  // One process keeps everything whole, whatever the stage; fp32 has no separate masters.
  EstimateInput plain = recipe_input();
  plain.gpus_per_node = 1;
  plain.precision = Precision::fp32;
  const MemoryEstimate p = estimate_memory(plain);
  CHECK(p.layout_stage == 0);
  CHECK(p.deepspeed.size() == 6);
  CHECK(item_bytes(p.gpu, "fp32 parameters, whole") == kXxlParams * 4);
  CHECK(item_bytes(p.gpu, "fp32 AdamW moments") == kXxlParams * 8);
  for (const MemoryItem& item : p.gpu) CHECK(item.name.find("master") == std::string::npos);
}

TEST_CASE("verdict both ways: GPU and host") {
  // With gradient checkpointing the recipe fits 40 GiB; without it, not.
  MemoryEstimate e = estimate_memory(recipe_input());
  CHECK(e.verdict.fits);
  CHECK(e.gpu_bytes < e.gpu_capacity_bytes);
  CHECK(gib(e.gpu_bytes) > 20);

  EstimateInput in = recipe_input();
  in.gradient_checkpointing = false;
  e = estimate_memory(in);
  CHECK_FALSE(e.verdict.fits);
  CHECK_FALSE(e.verdict.gpu_fits);
  CHECK(e.verdict.cpu_fits);
  CHECK(e.verdict.gpu_shortfall_bytes == e.gpu_bytes - int64_t{40} * (int64_t{1} << 30));
  CHECK(e.verdict.cpu_shortfall_bytes == 0);

  // Offloading to a node with too little host memory: the host side does not fit.
  in = recipe_input();
  in.zero.offload_optimizer.device = OffloadDevice::cpu;
  in.cpu_memory_gib = 64;
  e = estimate_memory(in);
  CHECK(e.verdict.gpu_fits);
  CHECK_FALSE(e.verdict.cpu_fits);
  CHECK(e.verdict.cpu_shortfall_bytes == e.host_bytes - int64_t{64} * (int64_t{1} << 30));
}

TEST_CASE("the activation formula counts what the autograd graph holds after forward") {
  // A config whose every activation tensor is at least 1 MiB in fp32, so the host block cache
  // (which tracks blocks of 1 MiB and more) sees all of them; only the [B, 1, 1, S] padding
  // masks (4 KiB each) escape it.
  T5Config c;
  c.vocab_size = 256;
  c.d_model = 256;
  c.d_kv = 64;
  c.num_heads = 4;
  c.d_ff = 512;
  c.num_layers = 2;
  c.num_decoder_layers = 2;
  set_feed_forward_proj(c, "gated-gelu");
  c.tie_word_embeddings = false;
  c.dropout_rate = 0.1;
  const int64_t batch = 4, src = 256, tgt = 256;
  models::ParameterStore store(DType::f32);
  models::T5ForConditionalGeneration model(c, store);
  models::initialize_parameters(store, 3);
  std::vector<int64_t> ids(static_cast<size_t>(batch * src));
  for (size_t k = 0; k < ids.size(); ++k) ids[k] = static_cast<int64_t>(3 + (k * 37) % 250);
  const Tensor input_ids = Tensor::from_vector(ids, {batch, src});
  const Tensor labels = Tensor::from_vector(ids, {batch, tgt});

  ActivationInput a;
  a.batch_size = batch;
  a.source_length = src;
  a.target_length = tgt;
  a.element_bytes = 4;
  a.fused_kernels = false;  // the CPU graph
  const ActivationEstimate estimate = estimate_activations(c, a);
  const int64_t logits_gradient = batch * tgt * c.vocab_size * 4;  // comes with backward
  const int64_t untracked_masks = 2 * batch * src * 4;

  for (bool checkpointing : {false, true}) {
    CAPTURE(checkpointing);
    models::ForwardOptions options;
    options.training = true;
    options.dropout_seed = 5;
    options.gradient_checkpointing = checkpointing;
    const int64_t before = cpu::host_block_cache().stats().requested_bytes;
    int64_t held = 0;
    {
      const models::T5Output out = model.forward(input_ids, Tensor(), Tensor(), labels, options);
      held = cpu::host_block_cache().stats().requested_bytes - before;
    }
    const int64_t expected = checkpointing
                                 ? estimate.with_checkpointing_bytes - logits_gradient -
                                       std::max(estimate.encoder_block, estimate.decoder_block) * 4
                                 : estimate.without_checkpointing_bytes - logits_gradient;
    CHECK(held == expected - untracked_masks);
  }
  // Without dropout the dropout outputs are gone: one d-wide tensor per residual sublayer etc.
  ActivationInput no_dropout = a;
  no_dropout.dropout = false;
  CHECK(estimate_activations(c, no_dropout).without_checkpointing_bytes <
        estimate.without_checkpointing_bytes);
  // The GPU's fused nodes keep one attention map, one FFN-wide tensor and one bias copy less.
  ActivationInput fused = a;
  fused.fused_kernels = true;
  const ActivationEstimate f = estimate_activations(c, fused);
  CHECK(estimate.encoder_block - f.encoder_block ==
        batch * c.num_heads * src * src + batch * src * c.d_ff);
  CHECK(estimate.stacks - f.stacks == c.num_heads * (src * src + tgt * tgt));
  // Lengths are padded to a multiple of 8, as the collator pads them.
  a.target_length = 129;
  CHECK(estimate_activations(c, a).target_length == 136);
}

TEST_CASE("t5zero estimate: the report, --json and --deepspeed") {
  TempFolder tmp("estimate_cli");
  const std::string recipe =
      "estimate --model_id flan-t5-xxl --num_gpus_per_node 8 --gpu_memory_gib 40 "
      "--cpu_memory_gib 1000";
  RunResult r = run_t5zero(recipe, tmp);
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  CHECK(r.out.find("DeepSpeed's estimate") != std::string::npos);
  CHECK(r.out.find("   5.88GB |  23.82GB | offload_param=none, offload_optimizer=none, "
                   "zero_init=1") != std::string::npos);
  CHECK(r.out.find("verdict: fits") != std::string::npos);

  r = run_t5zero(recipe + " --json --gradient_checkpointing false", tmp);
  REQUIRE(r.status == 0);
  const JsonValue json = JsonValue::parse_text(r.out, "estimate --json");
  CHECK(json.get_int("parameters") == kXxlParams);
  CHECK(json.at("deepspeed").at("selected").get_int("gpu_bytes_per_gpu") == 25580882944);
  CHECK_FALSE(json.at("verdict").get_bool("fits"));
  CHECK_FALSE(json.at("verdict").get_bool("gpu_fits"));
  EstimateInput in = recipe_input();
  in.gradient_checkpointing = false;
  in.cpu_memory_gib = 1000;
  CHECK(json.at("t5zero").get_int("gpu_bytes_per_gpu") == estimate_memory(in).gpu_bytes);

  // The recipe's offload config: stage 3 with both offloads, precision bf16 ("auto" from --bf16).
  r = run_t5zero(recipe + " --json --deepspeed " + std::string(T5ZERO_SOURCE_DIR) +
                     "/configs/ds_flan_t5_z3_offload_bf16.json",
                 tmp);
  CAPTURE(r.err);
  REQUIRE(r.status == 0);
  const JsonValue offload = JsonValue::parse_text(r.out, "estimate --json");
  CHECK(offload.get_string("offload_optimizer") == "cpu");
  CHECK(offload.get_string("offload_param") == "cpu");
  CHECK(offload.get_string("precision") == "bf16");
  CHECK(offload.at("deepspeed").at("selected").get_int("gpu_bytes_per_gpu") == 4 * kXxlLargest);
}

TEST_CASE("t5zero estimate: bad flags are usage errors naming the flag") {
  TempFolder tmp("estimate_cli_bad");
  const std::string base = "estimate --model_id flan-t5-xxl --cpu_memory_gib 100 ";
  const std::pair<std::string, std::string> cases[] = {
      {"--zero_stage 4", "--zero_stage: expected 0, 1, 2 or 3, got 4"},
      {"--offload_optimizer disk", "--offload_optimizer: expected none or cpu, got 'disk'"},
      {"--zero_stage 2 --offload_optimizer cpu --offload_param cpu",
       "--offload_param cpu: needs --zero_stage 3"},
      {"--zero_stage 0 --offload_optimizer cpu", "--offload_optimizer cpu: needs --zero_stage"},
      {"--num_gpus_per_node 0", "--num_gpus_per_node: expected >= 1, got 0"},
      {"--gpu_memory_gib -1", "--gpu_memory_gib: expected > 0"},
      {"--per_device_train_batch_size 0", "--per_device_train_batch_size: expected >= 1"},
      {"--source_length x", "--source_length"},
      {"--zero_stage 2 --deepspeed " + std::string(T5ZERO_SOURCE_DIR) +
           "/configs/ds_flan_t5_z3_config_bf16.json",
       "--zero_stage 2 contradicts"},
  };
  for (const auto& [flags, message] : cases) {
    CAPTURE(flags);
    const RunResult r = run_t5zero(base + flags, tmp);
    CAPTURE(r.err);
    CHECK(r.status == 2);
    CHECK(r.err.find(message) != std::string::npos);
  }
  RunResult r = run_t5zero("estimate", tmp);
  CHECK(r.status == 2);
  CHECK(r.err.find("--model_id") != std::string::npos);
  r = run_t5zero("estimate --model_id no-such-model-anywhere", tmp);
  CHECK(r.status == 1);
  CHECK(r.err.find("no-such-model-anywhere") != std::string::npos);
}
