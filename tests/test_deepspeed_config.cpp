// DeepSpeed configs with Hugging Face "auto" resolution: the reference recipe's four configs give
// the blog run's numbers (deepspeed_zero.md §1.5, §2.8), and every bad config is refused or
// warned about with a message that names the key.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tensor/error.h"
#include "train/deepspeed_config.h"

using namespace t5zero;

namespace {

const std::string kConfigs = std::string(T5ZERO_SOURCE_DIR) + "/configs/";

// The blog run: 8 GPUs, --per_device_train_batch_size 8, --lr 1e-4, XXL (d_model 4096).
TrainingFlags blog_flags(bool bf16) {
  TrainingFlags f;
  f.per_device_train_batch_size = 8;
  f.learning_rate = 1e-4;
  f.bf16 = bf16;
  f.num_training_steps = 13458;  // 3 epochs of ceil(287113 / 64) steps
  return f;
}

ResolvedDeepSpeedConfig resolve_text(const std::string& text, const TrainingFlags& flags,
                                     int64_t world = 1, int64_t d_model = 512) {
  return resolve_auto(parse_deepspeed_config(text, "ds.json"), flags, world, d_model);
}

std::string error_of(const std::string& text, const TrainingFlags& flags = TrainingFlags{},
                     int64_t world = 1) {
  try {
    resolve_text(text, flags, world);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected an error for: " << text);
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string find_honoured(const ResolvedDeepSpeedConfig& c, const std::string& key) {
  for (const NotYetHonoured& k : c.not_yet_honoured) {
    if (k.key == key) return k.value;
  }
  return "<absent>";
}

void check_blog_numbers(const ResolvedDeepSpeedConfig& c) {
  CHECK(c.world_size == 8);
  CHECK(c.train_micro_batch_size_per_gpu == 8);
  CHECK(c.gradient_accumulation_steps == 1);
  CHECK(c.train_batch_size == 64);
  CHECK(c.gradient_clipping == 1.0);
  CHECK(c.optimizer_from_config);
  CHECK(c.optimizer.lr == 1e-4);
  CHECK(c.optimizer.beta1 == 0.9);
  CHECK(c.optimizer.beta2 == 0.999);
  CHECK(c.optimizer.eps == 1e-8);
  CHECK(c.optimizer.weight_decay == 0.0);
  CHECK(c.scheduler_from_config);
  CHECK(c.scheduler.kind == LrScheduleKind::warmup_lr);
  CHECK(c.scheduler.base_lr == 1e-4);
  CHECK(c.scheduler.warmup.warmup_min_lr == 0.0);
  CHECK(c.scheduler.warmup.warmup_max_lr == 1e-4);
  CHECK(c.scheduler.warmup.warmup_num_steps == 0);
  CHECK(c.scheduler.warmup.warmup_type == WarmupType::log);
  CHECK(c.zero.stage == 3);
  CHECK(c.zero.reduce_bucket_size == 16777216);
  CHECK(c.zero.stage3_prefetch_bucket_size == 15099494);
  CHECK(c.zero.stage3_param_persistence_threshold == 40960);
  CHECK(c.zero.sub_group_size == 1000000000);
  CHECK(c.zero.stage3_max_live_parameters == 1000000000);
  CHECK(c.zero.stage3_max_reuse_distance == 1000000000);
  CHECK(c.zero.overlap_comm);
  CHECK(c.zero.contiguous_gradients);
  CHECK(c.zero.stage3_gather_16bit_weights_on_model_save);
  CHECK(c.steps_per_print == 2000);
  // The ZeRO keys not acted on yet say so, with their resolved values; the stage and the
  // persistence threshold are honoured (the ZeRO store), so they are not listed.
  CHECK(find_honoured(c, "zero_optimization.stage") == "<absent>");
  CHECK(find_honoured(c, "zero_optimization.reduce_bucket_size") == "16777216");
  CHECK(find_honoured(c, "zero_optimization.stage3_prefetch_bucket_size") == "15099494");
  CHECK(find_honoured(c, "zero_optimization.stage3_param_persistence_threshold") == "<absent>");
  CHECK(find_honoured(c, "zero_optimization.sub_group_size") == "1000000000.0");
  CHECK(find_honoured(c, "train_batch_size") == "<absent>");  // honoured: not listed
  CHECK(find_honoured(c, "optimizer.params.lr") == "<absent>");
  // No "auto" survives in the resolved JSON, and it resolves again to the same numbers.
  CHECK_FALSE(contains(c.resolved_json, "\"auto\""));
  const ResolvedDeepSpeedConfig again =
      resolve_auto(parse_deepspeed_config(c.resolved_json, "resolved.json"),
                   blog_flags(c.precision == Precision::bf16), 8, 4096);
  CHECK(again.resolved_json == c.resolved_json);
  CHECK(again.train_batch_size == 64);
}

}  // namespace

TEST_CASE("the bf16 configs resolve to the blog run's numbers, in bf16") {
  for (const char* name : {"ds_flan_t5_z3_config_bf16.json", "ds_flan_t5_z3_offload_bf16.json"}) {
    CAPTURE(name);
    const ResolvedDeepSpeedConfig c =
        resolve_auto(load_deepspeed_config(kConfigs + name), blog_flags(true), 8, 4096);
    check_blog_numbers(c);
    CHECK(c.precision == Precision::bf16);
    CHECK(c.warnings.empty());
    CHECK(contains(c.resolved_json, "\"bf16\": {\n        \"enabled\": true\n    }"));
    CHECK(contains(c.resolved_json, "\"train_batch_size\": 64"));
    CHECK(contains(c.resolved_json, "\"betas\": [\n                0.9,\n                0.999\n"));
  }
}

TEST_CASE("the fp16-block configs resolve to fp32: fp16.enabled auto is false, as in the blog") {
  for (const char* name : {"ds_flan_t5_z3_config.json", "ds_flan_t5_z3_offload.json"}) {
    CAPTURE(name);
    const ResolvedDeepSpeedConfig c =
        resolve_auto(load_deepspeed_config(kConfigs + name), blog_flags(false), 8, 4096);
    check_blog_numbers(c);
    CHECK(c.precision == Precision::fp32);
    CHECK(c.warnings.empty());
    CHECK(contains(c.resolved_json, "\"enabled\": false"));

    // --bf16 with a config that has no bf16 block: DeepSpeed trains in fp32, and we say so.
    const ResolvedDeepSpeedConfig b =
        resolve_auto(load_deepspeed_config(kConfigs + name), blog_flags(true), 8, 4096);
    CHECK(b.precision == Precision::fp32);
    REQUIRE(b.warnings.size() == 1);
    CHECK(contains(b.warnings[0], "--bf16 is true but the config has no \"bf16\" block"));
  }
}

TEST_CASE("the offload configs' device and pin_memory are honoured; other offload keys are not") {
  const ResolvedDeepSpeedConfig c =
      resolve_auto(load_deepspeed_config(kConfigs + "ds_flan_t5_z3_offload_bf16.json"),
                   blog_flags(true), 8, 4096);
  CHECK(c.zero.offload_optimizer.device == OffloadDevice::cpu);
  CHECK(c.zero.offload_optimizer.pin_memory);
  CHECK(c.zero.offload_param.device == OffloadDevice::cpu);
  CHECK(c.zero.offload_param.buffer_count == 5);
  // Honoured (the optimizer state moves to the host), so not listed.
  CHECK(find_honoured(c, "zero_optimization.offload_optimizer.device") == "<absent>");
  CHECK(find_honoured(c, "zero_optimization.offload_param.pin_memory") == "<absent>");
  const std::string report = format_resolution_report(c);
  CHECK(contains(report, "keys t5zero reads but does not act on yet"));
  CHECK(!contains(report, "zero_optimization.offload_param.device"));  // honoured
  CHECK(!contains(report, "zero_optimization.offload_param.pin_memory"));
  CHECK(contains(report, "\"reduce_bucket_size\": 16777216"));

  const ResolvedDeepSpeedConfig plain =
      resolve_auto(load_deepspeed_config(kConfigs + "ds_flan_t5_z3_config_bf16.json"),
                   blog_flags(true), 8, 4096);
  CHECK(plain.zero.offload_optimizer.device == OffloadDevice::none);
  CHECK(find_honoured(plain, "zero_optimization.offload_optimizer.device") == "<absent>");

  // Buffer tuning of the offload engines is read, not acted on, and says so.
  const ResolvedDeepSpeedConfig tuned = resolve_text(
      R"({"train_batch_size": "auto", "zero_optimization": {"stage": 3,
          "offload_param": {"device": "cpu", "buffer_count": 7}}})",
      blog_flags(true));
  CHECK(tuned.zero.offload_param.buffer_count == 7);
  CHECK(find_honoured(tuned, "zero_optimization.offload_param.buffer_count") == "7");
}

TEST_CASE("flags other than the blog's flow into the auto keys") {
  TrainingFlags f;
  f.per_device_train_batch_size = 4;
  f.gradient_accumulation_steps = 3;
  f.max_grad_norm = 0.5;
  f.learning_rate = 3e-4;
  f.adam_beta1 = 0.8;
  f.adam_beta2 = 0.95;
  f.adam_epsilon = 1e-6;
  f.weight_decay = 0.01;
  f.warmup_ratio = 0.1;
  f.num_training_steps = 95;
  const ResolvedDeepSpeedConfig c =
      resolve_auto(load_deepspeed_config(kConfigs + "ds_flan_t5_z3_config_bf16.json"), f, 2, 768);
  CHECK(c.train_batch_size == 24);
  CHECK(c.gradient_accumulation_steps == 3);
  CHECK(c.gradient_clipping == 0.5);
  CHECK(c.optimizer.beta1 == 0.8);
  CHECK(c.optimizer.beta2 == 0.95);
  CHECK(c.optimizer.eps == 1e-6);
  CHECK(c.optimizer.weight_decay == 0.01);
  CHECK(c.scheduler.warmup.warmup_max_lr == 3e-4);
  CHECK(c.scheduler.warmup.warmup_num_steps == 10);  // ceil(95 · 0.1), HF get_warmup_steps
  CHECK(c.precision == Precision::fp32);             // bf16.enabled auto, --bf16 false
  CHECK(c.zero.reduce_bucket_size == 768 * 768);
  CHECK(c.zero.stage3_prefetch_bucket_size == 530841);  // int(0.9 · 589824) = int(530841.6)
  CHECK(c.zero.stage3_param_persistence_threshold == 7680);
}

TEST_CASE("bad JSON is reported with its line and column") {
  CHECK(error_of("{\n  \"train_batch_size\": 8,\n  \"gradient_clipping\": [1.0,]\n}") ==
        "ds.json: not valid JSON: line 3, column 29: expected another element after ',' (JSON "
        "has no trailing commas), got ']'");
  CHECK(error_of("{\n  \"a\": 1\n  \"b\": 2\n}") ==
        "ds.json: not valid JSON: line 3, column 3: expected ',' or '}' after an object member, "
        "got '\"'");
  CHECK(error_of("{\"fp16\": {\"enabled\": tru}}") ==
        "ds.json: not valid JSON: line 1, column 25: expected 'true', got '}'");
  CHECK(error_of("{\"a\": 1") ==
        "ds.json: not valid JSON: line 1, column 8: expected ',' or '}' after an object member, "
        "got the end of the file");
  CHECK(error_of("{'a': 1}") ==
        "ds.json: not valid JSON: line 1, column 2: expected a key in double quotes, got '''");
  CHECK(error_of("{\"a\": 01}") ==
        "ds.json: not valid JSON: line 1, column 8: expected no leading zero in a number, got '1'");
  CHECK(error_of("{\"a\": NaN}") ==
        "ds.json: not valid JSON: line 1, column 7: expected a value (object, array, string, "
        "number, true, false or null), got 'N'");
  CHECK(error_of("{} {}") ==
        "ds.json: not valid JSON: line 1, column 4: expected the end of the document after the "
        "value, got '{'");
  CHECK(error_of("[1, 2]") == "ds.json: expected a JSON object (a DeepSpeed config), got array");
  CHECK(error_of("{\"a\": 1, \"a\": 2}") == "ds.json: key 'a': appears twice");
  CHECK_THROWS_WITH_AS(load_deepspeed_config("/nonexistent/ds.json"),
                       "/nonexistent/ds.json: cannot open the DeepSpeed config: No such file or "
                       "directory",
                       Error);
}

TEST_CASE("wrong types name the key path, what was expected and what was found") {
  CHECK(error_of(R"({"train_batch_size": "auto", "zero_optimization": {"stage": "three"}})") ==
        "ds.json: key 'zero_optimization.stage': expected an integer, got string \"three\"");
  CHECK(error_of(R"({"train_batch_size": "auto", "zero_optimization": {"stage": 2.5}})") ==
        "ds.json: key 'zero_optimization.stage': expected an integer, got number 2.5");
  CHECK(error_of(R"({"train_batch_size": "auto", "optimizer": {"type": "AdamW",
                     "params": {"lr": "fast"}}})") ==
        "ds.json: key 'optimizer.params.lr': expected a number, got string \"fast\"");
  CHECK(error_of(R"({"train_batch_size": "auto", "optimizer": {"type": "AdamW",
                     "params": {"betas": [0.9]}}})") ==
        "ds.json: key 'optimizer.params.betas': expected an array of two numbers [beta1, beta2], "
        "got an array of 1");
  CHECK(error_of(R"({"train_batch_size": "auto", "optimizer": 5})") ==
        "ds.json: key 'optimizer': expected an object, got integer");
  CHECK(error_of(R"({"train_batch_size": "auto", "bf16": {"enabled": "yes"}})") ==
        "ds.json: key 'bf16.enabled': expected a boolean, got string \"yes\"");
  CHECK(error_of(R"({"train_batch_size": "auto", "zero_optimization": {"stage": 4}})") ==
        "ds.json: key 'zero_optimization.stage': expected 0, 1, 2 or 3, got 4");
  CHECK(error_of(R"({"train_batch_size": "auto", "zero_optimization": {"stage": 3,
                     "offload_param": {"device": "gpu"}}})") ==
        "ds.json: key 'zero_optimization.offload_param.device': expected one of \"none\", \"cpu\", "
        "\"nvme\", got \"gpu\"");
  CHECK(error_of(R"({"train_batch_size": "auto", "zero_optimization": {"stage": 3,
                     "reduce_bucket_size": -5}})") ==
        "ds.json: key 'zero_optimization.reduce_bucket_size': expected an integer >= 0, got -5");
  // "auto" where HF fills nothing.
  CHECK(contains(error_of(R"({"train_batch_size": "auto",
                              "zero_optimization": {"stage": 3, "sub_group_size": "auto"}})"),
                 "ds.json: key 'zero_optimization.sub_group_size': \"auto\" is not resolved for "
                 "this key"));
  CHECK(contains(error_of(R"({"train_batch_size": "auto",
                              "zero_optimization": {"stage": 2,
                                                    "stage3_prefetch_bucket_size": "auto"}})"),
                 "ds.json: key 'zero_optimization.stage3_prefetch_bucket_size': \"auto\" is not "
                 "resolved for this key"));
}

TEST_CASE("an explicit value contradicting a flag is an error listing key, config and flag") {
  TrainingFlags f = blog_flags(true);
  const std::string message = error_of(R"({
    "train_micro_batch_size_per_gpu": 4,
    "train_batch_size": 128,
    "gradient_clipping": 0.5,
    "optimizer": {"type": "AdamW", "params": {"lr": 0.001, "betas": [0.9, 0.99]}},
    "bf16": {"enabled": false}
  })",
                                       f, 8);
  CHECK(message ==
        "ds.json: please correct the following DeepSpeed config values that mismatch the "
        "training flags:\n"
        "- ds train_micro_batch_size_per_gpu=4 vs --per_device_train_batch_size=8\n"
        "- ds train_batch_size=128 vs train_batch_size (calculated: world size 8 x "
        "--per_device_train_batch_size x --gradient_accumulation_steps)=64\n"
        "- ds gradient_clipping=0.5 vs --max_grad_norm=1.0\n"
        "- ds optimizer.params.lr=0.001 vs --lr=0.0001\n"
        "- ds optimizer.params.betas=[0.9, 0.99] vs --adam_beta1/--adam_beta2=[0.9, 0.999]\n"
        "- ds bf16.enabled=false vs --bf16=true\n"
        "The easiest method is to set these DeepSpeed config values to 'auto'.");

  // Explicit values equal to the flags are fine (1 and 1.0 are the same number, as in Python).
  const ResolvedDeepSpeedConfig ok = resolve_text(
      R"({"train_micro_batch_size_per_gpu": 8, "gradient_clipping": 1,
          "optimizer": {"type": "AdamW", "params": {"lr": 1e-4}}})",
      f, 8);
  CHECK(ok.train_batch_size == 64);
  CHECK(ok.gradient_clipping == 1.0);

  // HF checks warmup_num_steps against --warmup_steps too, and total_num_steps against the run.
  CHECK(
      contains(error_of(R"({"train_batch_size": "auto", "scheduler": {"type": "WarmupDecayLR",
                              "params": {"warmup_num_steps": 1000, "total_num_steps": 10}}})",
                        f),
               "- ds scheduler.params.total_num_steps=10 vs num_training_steps (calculated)=13458\n"
               "- ds scheduler.params.warmup_num_steps=1000 vs --warmup_steps/--warmup_ratio=0\n"));
  // warmup_min_lr and the bucket sizes are filled only, never compared (HF fill_only).
  const ResolvedDeepSpeedConfig filled_only = resolve_text(
      R"({"train_batch_size": "auto", "zero_optimization": {"stage": 3, "reduce_bucket_size": 5},
          "scheduler": {"type": "WarmupLR", "params": {"warmup_min_lr": 1e-6}}})",
      f, 8, 4096);
  CHECK(filled_only.zero.reduce_bucket_size == 5);
  CHECK(filled_only.scheduler.warmup.warmup_min_lr == 1e-6);
}

TEST_CASE("fp16 is refused, saying T5 overflows in fp16 and to use bf16 or fp32") {
  const std::string fp16 = error_of(R"({"train_batch_size": "auto", "fp16": {"enabled": true}})");
  CHECK(contains(fp16, "ds.json: key 'fp16.enabled': true is refused: T5 overflows in fp16"));
  CHECK(contains(fp16, "Use bf16"));
  CHECK(contains(fp16, "or fp32"));
  // Refused before anything else is reported.
  CHECK(contains(error_of(R"({"train_batch_size": 999, "fp16": {"enabled": true}})"),
                 "true is refused: T5 overflows in fp16"));
  CHECK(contains(error_of(R"({"train_batch_size": "auto", "amp": {"enabled": true}})"),
                 "ds.json: key 'amp.enabled': true is refused: T5 overflows in fp16"));
  // fp16 false, or auto (t5zero never enables it), is accepted.
  CHECK(resolve_text(R"({"train_batch_size": "auto", "fp16": {"enabled": false}})", {}).precision ==
        Precision::fp32);
}

TEST_CASE("unknown keys are warned about, each by name; known ones are not") {
  const ResolvedDeepSpeedConfig c = resolve_text(R"({
    "train_batch_size": "auto",
    "tensorboard": {"enabled": true},
    "zero_optimization": {"stage": 3, "stage3_prefetch_bucket_sise": 5},
    "optimizer": {"type": "AdamW", "params": {"lr": "auto", "foreach": true}}
  })",
                                                 blog_flags(false), 8, 4096);
  REQUIRE(c.warnings.size() == 4);
  CHECK(c.warnings[0] ==
        "ds.json: unknown key 'tensorboard': t5zero does not know it and ignores it");
  CHECK(c.warnings[1] ==
        "ds.json: unknown key 'zero_optimization.stage3_prefetch_bucket_sise': t5zero does not "
        "know it and ignores it");
  CHECK(c.warnings[2] ==
        "ds.json: unknown key 'optimizer.params.foreach': t5zero does not know it and ignores it");
  CHECK(contains(c.warnings[3], "no gradient_clipping key: DeepSpeed does not clip"));
  CHECK(c.gradient_clipping == 0.0);
  const std::string report = format_resolution_report(c);
  CHECK(contains(report, "warning: ds.json: unknown key 'tensorboard'"));
  CHECK(contains(report, "\"tensorboard\": {\n        \"enabled\": true\n    }"));  // kept
}

TEST_CASE("DeepSpeed's batch derivation applies when keys are absent, and must match the flags") {
  TrainingFlags f;
  f.per_device_train_batch_size = 8;
  // Only train_batch_size: DeepSpeed sets accumulation 1 and micro = 64 / 8.
  const ResolvedDeepSpeedConfig c = resolve_text(R"({"train_batch_size": 64})", f, 8);
  CHECK(c.train_micro_batch_size_per_gpu == 8);
  CHECK(c.gradient_accumulation_steps == 1);
  // With accumulation 2, train_batch_size 128 agrees with the flags (HF checks only that), but
  // DeepSpeed derives accumulation 1 and micro batch 128 / 8 = 16 from it alone.
  f.gradient_accumulation_steps = 2;
  CHECK(error_of(R"({"train_batch_size": 128})", f, 8) ==
        "ds.json: batch sizes: DeepSpeed derives micro batch 16 and gradient accumulation 1 from "
        "the config, but the data loader uses --per_device_train_batch_size 8 and "
        "--gradient_accumulation_steps 2: set the batch keys to \"auto\"");
  // All three explicit and consistent: accepted.
  const ResolvedDeepSpeedConfig explicit_sizes = resolve_text(
      R"({"train_batch_size": 128, "gradient_accumulation_steps": 2,
          "train_micro_batch_size_per_gpu": 8})",
      f, 8);
  CHECK(explicit_sizes.train_batch_size == 128);
  CHECK(error_of(R"({"train_micro_batch_size_per_gpu": 8})", f, 8) ==
        "ds.json: batch sizes: DeepSpeed derives micro batch 8 and gradient accumulation 1 from "
        "the config, but the data loader uses --per_device_train_batch_size 8 and "
        "--gradient_accumulation_steps 2: set the batch keys to \"auto\"");
  CHECK(error_of(R"({"gradient_clipping": "auto"})") ==
        "ds.json: either train_batch_size or train_micro_batch_size_per_gpu needs to be provided "
        "(DeepSpeed); \"auto\" fills them from the flags");
}

TEST_CASE("optimizer and scheduler blocks: types t5zero runs, defaults, and the HF fallbacks") {
  TrainingFlags f = blog_flags(false);
  CHECK(error_of(R"({"train_batch_size": "auto", "optimizer": {"type": "Lamb"}})", f) ==
        "ds.json: key 'optimizer.type': expected \"AdamW\" or \"Adam\" (t5zero implements AdamW), "
        "got \"Lamb\"");
  CHECK(contains(error_of(R"({"train_batch_size": "auto", "optimizer": {"type": "Adam",
                              "params": {"adam_w_mode": false}}})",
                          f),
                 "ds.json: key 'optimizer.params.adam_w_mode': false (Adam with L2 "
                 "regularisation) is not supported"));
  CHECK(error_of(R"({"train_batch_size": "auto", "scheduler": {"type": "OneCycle"}})", f) ==
        "ds.json: key 'scheduler.type': expected one of \"WarmupLR\", \"WarmupDecayLR\" (the "
        "DeepSpeed schedules t5zero implements), got \"OneCycle\"");
  TrainingFlags bad_beta = f;
  bad_beta.adam_beta2 = 1.5;
  CHECK(error_of(R"({"train_batch_size": "auto", "optimizer": {"type": "AdamW",
                     "params": {"betas": "auto"}}})",
                 bad_beta) == "ds.json: optimizer: AdamW: beta2: expected in [0, 1), got 1.5");
  CHECK(error_of(R"({"train_batch_size": "auto"})", bad_beta) ==
        "the optimizer flags: AdamW: beta2: expected in [0, 1), got 1.5");

  // "Adam" is AdamW in DeepSpeed; absent params take DeepSpeed's defaults.
  const ResolvedDeepSpeedConfig adam = resolve_text(
      R"({"train_batch_size": "auto", "optimizer": {"type": "adam", "params": {}},
          "scheduler": {"type": "WarmupDecayLR",
                        "params": {"total_num_steps": "auto", "warmup_type": "linear"}}})",
      f);
  CHECK(adam.optimizer.lr == 1e-3);
  CHECK(adam.optimizer.weight_decay == 0.0);
  CHECK(adam.scheduler.kind == LrScheduleKind::warmup_decay_lr);
  CHECK(adam.scheduler.total_num_steps == 13458);
  CHECK(adam.scheduler.warmup.warmup_num_steps == 1000);  // DeepSpeed's default
  CHECK(adam.scheduler.warmup.warmup_max_lr == 0.001);
  CHECK(adam.scheduler.warmup.warmup_type == WarmupType::linear);
  CHECK(adam.scheduler.base_lr == 1e-3);

  // No blocks at all: HF's own AdamW from the flags and its linear schedule with warmup.
  f.warmup_steps = 100;
  const ResolvedDeepSpeedConfig none = resolve_text(R"({"train_batch_size": "auto"})", f);
  CHECK_FALSE(none.optimizer_from_config);
  CHECK(none.optimizer.lr == 1e-4);
  CHECK_FALSE(none.scheduler_from_config);
  CHECK(none.scheduler.kind == LrScheduleKind::linear_with_warmup);
  CHECK(none.scheduler.warmup_steps == 100);
  CHECK(none.scheduler.total_num_steps == 13458);
  f.lr_scheduler_type = "cosine";
  CHECK(error_of(R"({"train_batch_size": "auto"})", f) ==
        "--lr_scheduler_type: expected \"linear\" or \"constant\", got \"cosine\"");

  CHECK(contains(error_of(R"({"train_batch_size": "auto", "scheduler": {"type": "WarmupDecayLR",
                              "params": {"warmup_num_steps": "auto"}}})",
                          blog_flags(false)),
                 "ds.json: missing key 'scheduler.params.total_num_steps': WarmupDecayLR needs "
                 "it"));
  const ResolvedDeepSpeedConfig odd_type = resolve_text(
      R"({"train_batch_size": "auto", "gradient_clipping": "auto", "scheduler": {"type": "WarmupLR",
          "params": {"warmup_type": "cosine"}}})",
      blog_flags(false));
  REQUIRE(odd_type.warnings.size() == 1);
  CHECK(odd_type.warnings[0] ==
        "ds.json: key 'scheduler.params.warmup_type': unknown warmup_type \"cosine\": DeepSpeed "
        "uses \"log\"; so does t5zero");
}

TEST_CASE("the resolved config is saved in output_dir") {
  const ResolvedDeepSpeedConfig c =
      resolve_auto(load_deepspeed_config(kConfigs + "ds_flan_t5_z3_config_bf16.json"),
                   blog_flags(true), 8, 4096);
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("t5zero_test_ds_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = save_resolved_config(c, dir.string());
  CHECK(path == (dir / "ds_config_resolved.json").string());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == c.resolved_json);
  const ResolvedDeepSpeedConfig reread =
      resolve_auto(load_deepspeed_config(path), blog_flags(true), 8, 4096);
  CHECK(reread.zero.stage3_prefetch_bucket_size == 15099494);
  std::filesystem::remove_all(dir);
}
