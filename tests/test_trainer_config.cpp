// How `t5zero train` plans a run and refuses bad setups: the recipe's four DeepSpeed configs
// resolve (ZeRO and offload keys reported as not yet honoured) and train; bad configs and bad
// flag combinations fail before training with messages that name what is wrong.
#include <doctest/doctest.h>

#include <filesystem>
#include <sstream>
#include <string>

#include "io/json.h"
#include "temp_folder.h"
#include "train/train_job.h"
#include "train/training_plan.h"
#include "train_test_data.h"

using namespace t5zero;
using t5zero::testing::TempFolder;
using t5zero::testing::write_file_bytes;
namespace fs = std::filesystem;

namespace {

const std::string kConfigs = std::string(T5ZERO_SOURCE_DIR) + "/configs/";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The message of the Error a training job throws before it trains.
std::string job_error(const TrainingArgs& args) {
  std::ostringstream log;
  try {
    run_training_job(args, log);
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("expected an error");
  return "";
}

}  // namespace

TEST_CASE("the recipe's four DeepSpeed configs resolve as HF resolves them") {
  for (const std::string name : {"ds_flan_t5_z3_config.json", "ds_flan_t5_z3_config_bf16.json",
                                 "ds_flan_t5_z3_offload.json", "ds_flan_t5_z3_offload_bf16.json"}) {
    CAPTURE(name);
    const bool bf16_config = contains(name, "bf16");
    const bool offload = contains(name, "offload");
    TrainingArgs args;
    args.deepspeed = kConfigs + name;
    args.bf16 = true;  // the notebook's A100 default
    args.lr = 1e-4;
    args.per_device_train_batch_size = 8;
    const TrainingPlan plan = plan_training(args, /*steps_per_epoch=*/100, /*d_model=*/4096);
    // bf16 where the config has a bf16 block; the fp16-block configs run fp32 (fp16 "auto" is
    // false: the script forces fp16=False).
    CHECK(plan.precision == (bf16_config ? Precision::bf16 : Precision::fp32));
    CHECK(plan.micro_batch_size == 8);
    CHECK(plan.gradient_accumulation_steps == 1);
    CHECK(plan.max_grad_norm == 1.0);
    CHECK(plan.optimizer.lr == 1e-4);
    CHECK(plan.optimizer.weight_decay == 0.0);
    CHECK(!plan.exempt_norms_and_biases_from_decay);  // DeepSpeed's AdamW decays everything
    CHECK(plan.schedule.kind == LrScheduleKind::warmup_lr);
    CHECK(plan.schedule.warmup.warmup_max_lr == 1e-4);
    CHECK(plan.schedule.warmup.warmup_num_steps == 0);
    CHECK(plan.num_training_steps == 300);  // 3 epochs, the script's default
    REQUIRE(plan.deepspeed);
    CHECK(plan.deepspeed->zero.reduce_bucket_size == 4096 * 4096);
    std::string not_yet;
    for (const NotYetHonoured& key : plan.deepspeed->not_yet_honoured) not_yet += key.key + " ";
    CHECK(!contains(not_yet, "zero_optimization.stage "));
    CHECK(contains(not_yet, "zero_optimization.stage3_prefetch_bucket_size "));
    CHECK(!contains(not_yet, "zero_optimization.offload_optimizer.device "));
    CHECK(!contains(not_yet, "zero_optimization.offload_param.device "));
    CHECK(!contains(not_yet, "zero_optimization.offload_param.pin_memory "));
    // Honoured now: the offload configs move the optimizer and the shards to the host.
    CHECK((plan.deepspeed->zero.offload_optimizer.device == OffloadDevice::cpu) == offload);
    CHECK((plan.deepspeed->zero.offload_param.device == OffloadDevice::cpu) == offload);
  }
}

TEST_CASE("a DeepSpeed run prints the keys not yet honoured, saves the resolved config, trains") {
  TempFolder folder("trainer_config_ds");
  testing::write_rows_dataset(folder.file("data"), 256);
  TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("out"));
  args.deepspeed = kConfigs + "ds_flan_t5_z3_offload_bf16.json";
  args.bf16 = true;
  args.max_steps = 3;
  args.lr = 1e-3;
  args.warmup_steps = 0;
  args.weight_decay = 0;
  std::ostringstream log;
  const TrainJobResult job = run_training_job(args, log);
  const std::string text = log.str();
  CHECK(contains(text, "keys t5zero reads but does not act on yet"));
  CHECK(!contains(text, "zero_optimization.stage = 3"));
  CHECK(contains(text, "zero_optimization.stage3_prefetch_bucket_size = "));
  CHECK(!contains(text, "zero_optimization.offload_param.pin_memory"));
  CHECK(contains(text, "bf16 weights with fp32 masters"));
  const JsonValue saved = JsonValue::parse_file(folder.file("out/ds_config_resolved.json"));
  CHECK(saved.at("bf16").get_bool("enabled"));
  CHECK(saved.at("optimizer").at("params").get_double("lr") == 1e-3);
  CHECK(saved.get_int("train_micro_batch_size_per_gpu") == 2);
  CHECK(saved.get_int("gradient_accumulation_steps") == 2);
  // DeepSpeed 0.8's WarmupLR with 0 warmup: the optimizer's lr, one step at warmup_min_lr, then
  // warmup_max_lr.
  REQUIRE(job.train.steps.size() == 3);
  CHECK(job.train.steps[0].lr == 1e-3);
  CHECK(job.train.steps[1].lr == 0.0);
  CHECK(job.train.steps[2].lr == 1e-3);
  CHECK(job.plan.precision == Precision::bf16);
  // The saved model is bf16, as DeepSpeed's 16-bit save.
  CHECK(contains(testing::read_file_bytes(folder.file("out/model.safetensors")).substr(0, 400),
                 "\"BF16\""));
}

TEST_CASE("wall_clock_breakdown prints where each logging window's time went") {
  TempFolder folder("trainer_config_breakdown");
  testing::write_rows_dataset(folder.file("data"), 256);
  TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("out"));
  args.max_steps = 4;
  args.logging_steps = 2;
  write_file_bytes(folder.file("ds.json"),
                   R"({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps":
                       "auto", "wall_clock_breakdown": true})");
  args.deepspeed = folder.file("ds.json");
  std::ostringstream log;
  const TrainJobResult job = run_training_job(args, log);
  const std::string text = log.str();
  // One breakdown per log record (steps 2 and 4).
  size_t count = 0;
  for (size_t at = text.find("time since the last record: forward"); at != std::string::npos;
       at = text.find("time since the last record: forward", at + 1)) {
    ++count;
  }
  CHECK(count == 2);
  // The parts are this process's step time, split.
  const TrainResult& r = job.train;
  CHECK(r.forward_seconds > 0);
  CHECK(r.backward_seconds > 0);
  CHECK(r.optimizer_seconds > 0);
  CHECK(r.forward_seconds + r.backward_seconds + r.optimizer_seconds <= r.train_seconds);
  const JsonValue breakdown =
      JsonValue::parse_file(folder.file("out/run_summary.json")).at("train_time_breakdown_s");
  CHECK(breakdown.get_double("forward") == doctest::Approx(r.forward_seconds));
  CHECK(breakdown.get_double("other") >= 0);
}

TEST_CASE("bad DeepSpeed configs stop the run with a message naming the file and the key") {
  TempFolder folder("trainer_config_bad");
  testing::write_rows_dataset(folder.file("data"), 256);
  TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("out"));
  const auto with_config = [&](const std::string& text) {
    const std::string path = folder.file("ds.json");
    write_file_bytes(path, text);
    TrainingArgs a = args;
    a.deepspeed = path;
    return job_error(a);
  };
  const std::string path = folder.file("ds.json");
  CHECK(with_config("{\n  \"train_batch_size\": \"auto\",\n  \"gradient_clipping\": 1.0,,\n}") ==
        path + ": not valid JSON: line 3, column 28: expected a key in double quotes, got ','");
  CHECK(with_config(R"({"zero_optimization": {"stage": "three"}})") ==
        path + ": key 'zero_optimization.stage': expected an integer, got string \"three\"");
  CHECK(with_config(R"({"bf16": {"enabled": "yes"}})") ==
        path + ": key 'bf16.enabled': expected a boolean, got string \"yes\"");
  // An explicit value contradicting a flag: HF's mismatch error, every key in one message.
  const std::string mismatch =
      with_config(R"({"train_micro_batch_size_per_gpu": 4, "gradient_clipping": 0.5})");
  CHECK(contains(mismatch, path + ": please correct the following DeepSpeed config values that "
                                  "mismatch the training flags:\n"));
  CHECK(contains(mismatch,
                 "- ds train_micro_batch_size_per_gpu=4 vs "
                 "--per_device_train_batch_size=2\n"));
  CHECK(contains(mismatch, "- ds gradient_clipping=0.5 vs --max_grad_norm=1.0\n"));
  // fp16 is refused, with the reason and what to use instead.
  const std::string fp16 = with_config(R"({"fp16": {"enabled": true}})");
  CHECK(contains(fp16, path + ": key 'fp16.enabled': true is refused: T5 overflows in fp16"));
  CHECK(contains(fp16, "bf16"));
  CHECK(contains(fp16, "fp32"));
  // A missing file.
  TrainingArgs missing = args;
  missing.deepspeed = folder.file("absent.json");
  CHECK(contains(job_error(missing), folder.file("absent.json") + ": cannot open"));
  // Nothing was written for any of them.
  CHECK(!fs::exists(folder.file("out/model.safetensors")));
}

TEST_CASE("flag combinations HF refuses, and setups that cannot train, are errors up front") {
  TempFolder folder("trainer_config_flags");
  testing::write_rows_dataset(folder.file("data"), 256);
  const TrainingArgs base = testing::fixture_training_args(folder.file("data"), folder.file("out"));

  TrainingArgs a = base;
  a.load_best_model_at_end = true;
  CHECK(job_error(a) ==
        "--load_best_model_at_end needs evaluations to rank checkpoints, but --eval_strategy is "
        "\"no\" (set --load_best_model_at_end false, or evaluate)");
  a.eval_strategy = IntervalStrategy::epoch;
  a.save_strategy = IntervalStrategy::steps;
  CHECK(job_error(a) ==
        "--load_best_model_at_end requires the save and eval strategy to match, but found "
        "--eval_strategy \"epoch\" and --save_strategy \"steps\"");
  a.eval_strategy = IntervalStrategy::steps;
  a.eval_steps = 4;
  a.save_steps = 6;
  CHECK(job_error(a) ==
        "--load_best_model_at_end requires the saving steps to be a round multiple of the "
        "evaluation steps, but found --save_steps 6, which is not a round multiple of "
        "--eval_steps 4");

  a = base;
  a.per_device_train_batch_size = 0;
  CHECK(job_error(a) == "--per_device_train_batch_size: expected an integer > 0, got 0");
  a = base;
  a.max_steps = -1;
  a.epochs = 0;
  CHECK(job_error(a) == "--epochs: expected an integer > 0 (or --max_steps > 0), got 0");
  a = base;
  a.lr_scheduler_type = "cosine";
  CHECK(job_error(a) == "--lr_scheduler_type: expected \"linear\" or \"constant\", got \"cosine\"");
  CHECK_THROWS_WITH_AS(parse_interval_strategy("eval_strategy", "sometimes"),
                       "--eval_strategy: expected \"no\", \"steps\" or \"epoch\", got "
                       "\"sometimes\"",
                       Error);

  // Evaluation without an eval split.
  TempFolder rows("trainer_config_rows");
  write_file_bytes(rows.file("train_only.json"),
                   R"({"train": {"input_ids": [[5, 6, 1], [7, 1]], "labels": [[8, 1], [9, 1]]}})");
  testing::write_rows_dataset(rows.file("data"), 256, rows.file("train_only.json"));
  a = base;
  a.dataset_path = rows.file("data");
  a.eval_strategy = IntervalStrategy::epoch;
  CHECK(contains(job_error(a), "--eval_strategy \"epoch\" needs an eval split in the dataset"));

  // Ids the model cannot embed.
  a = base;
  a.model_id = "t5-micro";
  testing::write_rows_dataset(folder.file("wide"), 32100);
  a.dataset_path = folder.file("wide");
  CHECK(job_error(a) == folder.file("wide") +
                            ": token ids reach the tokenizer's vocabulary of 32100 but the model "
                            "'t5-micro' embeds only 256 rows");

  // Resuming: nothing to resume, a different batch layout, a different precision.
  a = base;
  a.resume_from_checkpoint = "latest";
  CHECK(job_error(a) ==
        "--resume_from_checkpoint latest: no checkpoint-<step> folder with a "
        "trainer_state.json in " +
            folder.file("out"));
  a.resume_from_checkpoint = folder.file("nowhere");
  CHECK(job_error(a) ==
        "--resume_from_checkpoint: expected a checkpoint folder or \"latest\", "
        "got \"" +
            folder.file("nowhere") + "\" (no such folder)");
  TrainingArgs saving = base;
  saving.max_steps = 2;
  saving.save_strategy = IntervalStrategy::steps;
  saving.save_steps = 2;
  std::ostringstream log;
  run_training_job(saving, log);
  const std::string checkpoint = folder.file("out/checkpoint-2");
  REQUIRE(fs::is_directory(checkpoint));
  a = saving;
  a.max_steps = 4;
  a.resume_from_checkpoint = checkpoint;
  a.per_device_train_batch_size = 4;
  CHECK(job_error(a) ==
        checkpoint +
            ": the checkpoint's data position counts batches of per_device_train_batch_size 2 x "
            "gradient_accumulation_steps 2 x world size 1 over 22 rows; this run has "
            "per_device_train_batch_size 4 x gradient_accumulation_steps 2 x world size 1 over "
            "22 rows: resume with the same batch layout and dataset");
  a = saving;
  a.max_steps = 4;
  a.resume_from_checkpoint = checkpoint;
  a.bf16 = true;
  CHECK(job_error(a) == checkpoint +
                            ": the checkpoint was written by a fp32 run; this run is bf16 (set "
                            "--bf16 and the DeepSpeed config to match)");
  a = saving;
  a.max_steps = 4;
  a.resume_from_checkpoint = checkpoint;
  a.seed = 7;
  CHECK(contains(job_error(a), "the checkpoint was trained with --seed 42; this run has --seed 7"));
}
