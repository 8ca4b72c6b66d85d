// t5zero train end to end: the first 10 steps against transformers + torch
// (tools/reference/make_train_fixture.py); the loss falling far on the CNN/DailyMail sample;
// exact resume after an interruption, fp32 and bf16; the stop on a non-finite loss; evaluation,
// best-checkpoint tracking and rotation; metrics.jsonl and the TensorBoard events read back.
#include <doctest/doctest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "io/json.h"
#include "io/prepare.h"
#include "io/safetensors_reader.h"
#include "models/architectures.h"
#include "models/parameter_store.h"
#include "models/t5_checkpoint_io.h"
#include "models/t5_init.h"
#include "temp_folder.h"
#include "train/checkpoint.h"
#include "train/evaluation.h"
#include "train/tensorboard_writer.h"
#include "train/train_job.h"
#include "train_test_data.h"

using namespace t5zero;
using t5zero::testing::read_file_bytes;
using t5zero::testing::TempFolder;
namespace fs = std::filesystem;

namespace {

const std::string kShared = T5ZERO_SHARED_DIR;

double relative_difference(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-30);
}

std::vector<JsonValue> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  std::vector<JsonValue> lines;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    lines.push_back(JsonValue::parse_text(line, path + ":" + std::to_string(n)));
  }
  return lines;
}

std::vector<std::string> keys_of(const JsonValue& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.as_object()) keys.push_back(key);
  return keys;
}

// A small T5 over the real vocabulary, initialised with a small initializer_factor so its
// first loss is near ln(32128) rather than HF's ~30 for an untied head of std 1.
void write_small_model(const std::string& dir) {
  T5Config c = models::builtin_architecture("t5-tiny");
  c.d_model = 32;
  c.d_kv = 8;
  c.num_heads = 4;
  c.d_ff = 64;
  c.dropout_rate = 0.0;
  c.initializer_factor = 0.05;
  models::ParameterStore store;
  models::T5ForConditionalGeneration model(c, store);
  models::initialize_parameters(store, 1);
  models::save_t5_folder(model, dir);
}

}  // namespace

TEST_CASE("the first 10 steps equal transformers + torch AdamW: losses, lrs, norms, weights") {
  TempFolder folder("trainer_fixture");
  testing::write_rows_dataset(folder.file("data"), 256);
  const TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("out"));
  std::ostringstream log;
  const TrainJobResult job = run_training_job(args, log);

  const JsonValue expected = JsonValue::parse_file(testing::kTrainFixtures + "/expected.json");
  const std::vector<JsonValue> losses = expected.at("losses").as_array();
  const std::vector<JsonValue> lrs = expected.at("lrs").as_array();
  const std::vector<JsonValue> norms = expected.at("grad_norms").as_array();
  REQUIRE(job.train.steps.size() == 10);
  double worst_loss = 0, worst_norm = 0;
  for (size_t s = 0; s < 10; ++s) {
    const StepRecord& r = job.train.steps[s];
    CAPTURE(s);
    CHECK(r.step == static_cast<int64_t>(s) + 1);
    CHECK(r.lr == doctest::Approx(lrs[s].as_double()).epsilon(1e-12));
    worst_loss = std::max(worst_loss, relative_difference(r.loss, losses[s].as_double()));
    worst_norm = std::max(worst_norm, relative_difference(r.grad_norm, norms[s].as_double()));
  }
  MESSAGE("largest relative difference: loss ", worst_loss, ", gradient norm ", worst_norm);
  CHECK(worst_loss < 1e-4);
  CHECK(worst_norm < 1e-4);
  // The schedule and the data really moved: warmup from 0, an epoch boundary after step 6.
  CHECK(job.train.steps[0].lr == 0.0);
  CHECK(job.train.steps[5].samples == 2);  // the epoch's last step has one micro-batch left
  CHECK(job.train.steps[6].epoch == doctest::Approx(1.0 + 1.0 / 6.0));

  // The final weights, saved as a Hugging Face folder, against torch's after step 10.
  const SafetensorsReader ours = SafetensorsReader::open(folder.file("out/model.safetensors"));
  const SafetensorsReader theirs =
      SafetensorsReader::open(testing::kTrainFixtures + "/final.safetensors");
  const SafetensorsReader initial =
      SafetensorsReader::open(testing::kTrainFixtures + "/model/model.safetensors");
  double max_difference = 0, max_update = 0;
  for (const SafetensorsTensorInfo& info : theirs.tensors()) {
    const std::vector<float> a = ours.load(info.name).to_vector<float>();
    const std::vector<float> b = theirs.load(info.name).to_vector<float>();
    const std::vector<float> start = initial.load(info.name).to_vector<float>();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      max_difference = std::max(max_difference, static_cast<double>(std::abs(a[i] - b[i])));
      max_update = std::max(max_update, static_cast<double>(std::abs(b[i] - start[i])));
    }
  }
  MESSAGE("largest weight difference ", max_difference, " (largest update ", max_update, ")");
  CHECK(max_update > 5e-3);
  CHECK(max_difference < 1e-5);
}

TEST_CASE("on the CNN/DailyMail sample the loss falls far below its start") {
  TempFolder folder("trainer_sample");
  // 16 train and 4 validation rows of the sample, prepared as `t5zero prepare` does.
  {
    std::ifstream in(kShared + "/data/cnn_dm_sample/cnn_dm_sample.jsonl");
    std::ofstream out(folder.file("rows.jsonl"));
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
      if (n <= 16 || (n > 400 && n <= 404)) out << line << "\n";
    }
  }
  PrepareOptions prepare;
  prepare.dataset_path = folder.file("rows.jsonl");
  prepare.tokenizer_dir = kShared + "/data/t5-tokenizer";
  prepare.output_dir = folder.file("data");
  prepare.max_source_length = 64;
  prepare.target_rule = TargetLengthRule::fixed;
  prepare.max_target_length = 16;
  prepare.eval_split = "validation";
  std::ostringstream prepare_log;
  prepare_dataset(prepare, prepare_log, prepare_log);
  write_small_model(folder.file("model"));

  TrainingArgs args;
  args.model_id = folder.file("model");
  args.dataset_path = folder.file("data");
  args.output_dir = folder.file("out");
  args.epochs = 20;  // 2 steps per epoch: the rows are learnt by heart
  args.lr = 3e-2;
  args.lr_scheduler_type = "constant";
  args.gradient_checkpointing = false;
  args.eval_strategy = IntervalStrategy::no;
  args.save_strategy = IntervalStrategy::no;
  args.load_best_model_at_end = false;
  std::ostringstream log;
  const TrainJobResult job = run_training_job(args, log);
  REQUIRE(job.train.steps.size() == 40);
  const double first = job.train.steps.front().loss, last = job.train.steps.back().loss;
  MESSAGE("loss ", first, " -> ", last);
  CHECK(first == doctest::Approx(std::log(32128.0)).epsilon(0.05));  // a sane start
  CHECK(last < 0.25 * first);
  CHECK(last < std::log(32128.0) - 6);  // far better than guessing uniformly
}

TEST_CASE("resume is exact: N steps straight equal N/2, a SIGINT stop, a resume and N/2 more") {
  for (const bool bf16 : {false, true}) {
    CAPTURE(bf16);
    TempFolder folder(bf16 ? "trainer_resume_bf16" : "trainer_resume_fp32");
    testing::write_rows_dataset(folder.file("data"), 256);
    TrainingArgs args;
    args.model_id = "t5-micro";  // random init, dropout 0.1: the random state must resume too
    args.dataset_path = folder.file("data");
    args.bf16 = bf16;
    args.gradient_checkpointing = bf16;
    args.per_device_train_batch_size = 2;
    args.gradient_accumulation_steps = 2;
    args.max_steps = 8;  // 6 steps per epoch: the second half crosses an epoch boundary
    args.lr = 1e-3;
    args.warmup_steps = 2;
    args.weight_decay = 0.01;
    args.logging_steps = 3;
    args.seed = 5;
    args.eval_strategy = IntervalStrategy::no;
    args.save_strategy = IntervalStrategy::steps;
    args.save_steps = 8;
    args.load_best_model_at_end = false;

    std::ostringstream log;
    TrainingArgs straight_args = args;
    straight_args.output_dir = folder.file("straight");
    const TrainJobResult straight = run_training_job(straight_args, log);
    REQUIRE(straight.train.steps.size() == 8);

    TrainingArgs split_args = args;
    split_args.output_dir = folder.file("split");
    const TrainJobResult first_half = run_training_job(split_args, log, [](const StepRecord& r) {
      if (r.step == 4) std::raise(SIGINT);
    });
    CHECK(first_half.train.status == TrainStatus::interrupted);
    CHECK(first_half.train.stop_signal == SIGINT);
    REQUIRE(first_half.train.steps.size() == 4);
    CHECK(fs::is_directory(folder.file("split/checkpoint-4")));
    CHECK(first_half.final_model_dir.empty());
    CHECK(JsonValue::parse_file(folder.file("split/run_summary.json")).get_string("status") ==
          "interrupted");

    split_args.resume_from_checkpoint = "latest";
    const TrainJobResult second_half = run_training_job(split_args, log);
    CHECK(second_half.train.status == TrainStatus::completed);
    REQUIRE(second_half.train.steps.size() == 4);

    for (size_t s = 0; s < 8; ++s) {
      CAPTURE(s);
      const StepRecord& resumed =
          s < 4 ? first_half.train.steps[s] : second_half.train.steps[s - 4];
      CHECK(resumed.step == straight.train.steps[s].step);
      CHECK(resumed.loss == straight.train.steps[s].loss);  // bit for bit
      CHECK(resumed.grad_norm == straight.train.steps[s].grad_norm);
      CHECK(resumed.lr == straight.train.steps[s].lr);
    }
    // Dropout was on: a step's loss differs from the same weights' loss without it.
    CHECK(straight.train.steps[1].loss != straight.train.steps[0].loss);
    // Weights, master weights and moments, byte for byte.
    for (const std::string file : {"model.safetensors", "checkpoint-8/model.safetensors",
                                   "checkpoint-8/optimizer.safetensors"}) {
      CAPTURE(file);
      const std::string a = read_file_bytes(folder.file("straight/" + file));
      CHECK(!a.empty());
      CHECK(a == read_file_bytes(folder.file("split/" + file)));
    }
    // The logged losses too: the interrupted window resumes from the checkpoint's sums.
    const std::vector<JsonValue> a = read_jsonl(folder.file("straight/metrics.jsonl"));
    const std::vector<JsonValue> b = read_jsonl(folder.file("split/metrics.jsonl"));
    REQUIRE(a.size() == 3);  // steps 3, 6 and the last
    REQUIRE(b.size() == a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      CHECK(b[i].get_int("step") == a[i].get_int("step"));
      CHECK(b[i].get_double("loss") == a[i].get_double("loss"));
    }
  }
}

TEST_CASE("a non-finite loss stops the run, naming step, loss and norm; the checkpoint stays") {
  TempFolder folder("trainer_nan");
  testing::write_rows_dataset(folder.file("data"), 256);
  TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("out"));
  args.lr = 1e30;  // step 1 throws the weights to ~1e30: step 2's forward overflows
  args.warmup_steps = 0;
  args.weight_decay = 0;
  args.save_strategy = IntervalStrategy::steps;
  args.save_steps = 1;
  std::ostringstream log;
  std::string message;
  try {
    run_training_job(args, log);
    FAIL("expected NonFiniteError");
  } catch (const NonFiniteError& e) {
    message = e.what();
  }
  MESSAGE(message);
  CHECK(message.find("step 2: loss ") == 0);
  CHECK(message.find("gradient norm") != std::string::npos);
  CHECK(message.find("not finite") != std::string::npos);
  CHECK(message.find("the last good checkpoint is " + folder.file("out/checkpoint-1")) !=
        std::string::npos);
  CHECK(fs::is_directory(folder.file("out/checkpoint-1")));
  CHECK(!fs::exists(folder.file("out/checkpoint-2")));
  CHECK(read_trainer_state(folder.file("out/checkpoint-1")).global_step == 1);
  const JsonValue summary = JsonValue::parse_file(folder.file("out/run_summary.json"));
  CHECK(summary.get_string("status") == "non_finite");
  CHECK(summary.get_string("message") == message);
  CHECK(summary.get_string("last_checkpoint") == folder.file("out/checkpoint-1"));
}

TEST_CASE("evaluations, the best checkpoint, rotation, metrics.jsonl and TensorBoard agree") {
  TempFolder folder("trainer_eval");
  testing::write_rows_dataset(folder.file("data"), 256);
  TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("out"));
  args.max_steps = 0;
  args.epochs = 4;  // 6 steps each
  args.lr = 5e-3;
  args.logging_steps = 4;
  args.eval_strategy = IntervalStrategy::epoch;
  args.save_strategy = IntervalStrategy::epoch;
  args.save_total_limit = 2;
  args.load_best_model_at_end = true;
  args.per_device_eval_batch_size = 4;
  args.max_eval_samples = 5;
  args.generation_max_length = 8;
  args.generation_num_beams = 2;
  std::ostringstream log;
  const TrainJobResult job = run_training_job(args, log);
  REQUIRE(job.train.global_step == 24);

  // metrics.jsonl: the train records carry exactly the contract's fields, their loss is the
  // mean of the steps since the previous record; the eval records carry the eval fields.
  const std::vector<JsonValue> lines = read_jsonl(folder.file("out/metrics.jsonl"));
  const std::vector<std::string> train_keys = {"step",      "epoch",        "loss",         "lr",
                                               "grad_norm", "tokens_per_s", "samples_per_s"};
  const std::vector<std::string> eval_keys = {
      "step",        "epoch",          "eval_loss",    "eval_rouge1",  "eval_rouge2",
      "eval_rougeL", "eval_rougeLsum", "eval_gen_len", "eval_samples", "eval_runtime"};
  std::vector<JsonValue> train_lines, eval_lines;
  for (const JsonValue& line : lines) {
    (line.contains("loss") ? train_lines : eval_lines).push_back(line);
  }
  REQUIRE(train_lines.size() == 6);  // steps 4, 8, ..., 24
  REQUIRE(eval_lines.size() == 4);   // each epoch
  for (size_t i = 0; i < train_lines.size(); ++i) {
    const JsonValue& line = train_lines[i];
    CHECK(keys_of(line) == train_keys);
    const int64_t step = line.get_int("step");
    CHECK(step == 4 * static_cast<int64_t>(i + 1));
    double sum = 0;
    for (int64_t s = step - 4; s < step; ++s) sum += job.train.steps[static_cast<size_t>(s)].loss;
    CHECK(line.get_double("loss") == doctest::Approx(sum / 4).epsilon(1e-12));
    CHECK(line.get_double("lr") == job.train.steps[static_cast<size_t>(step - 1)].lr);
    CHECK(line.get_double("epoch") == doctest::Approx(static_cast<double>(step) / 6.0));
    CHECK(line.get_double("tokens_per_s") > 0);
    CHECK(line.get_double("samples_per_s") > 0);
  }
  std::map<int64_t, double> eval_loss;
  for (size_t i = 0; i < eval_lines.size(); ++i) {
    const JsonValue& line = eval_lines[i];
    CHECK(keys_of(line) == eval_keys);
    CHECK(line.get_int("step") == 6 * static_cast<int64_t>(i + 1));
    CHECK(line.get_int("eval_samples") == 5);
    for (const char* key : {"eval_rouge1", "eval_rouge2", "eval_rougeL", "eval_rougeLsum"}) {
      CHECK(line.get_double(key) >= 0);
      CHECK(line.get_double(key) <= 100);
    }
    CHECK(line.get_double("eval_gen_len") > 0);
    CHECK(line.get_double("eval_gen_len") <= 7);  // max_length 8 counts the start token
    eval_loss[line.get_int("step")] = line.get_double("eval_loss");
  }

  // The best checkpoint is the lowest eval loss; rotation kept it and the newest.
  int64_t best_step = 0;
  for (const auto& [step, loss] : eval_loss) {
    if (best_step == 0 || loss < eval_loss[best_step]) best_step = step;
  }
  CHECK(job.train.best_model_checkpoint == folder.file("out/" + checkpoint_folder_name(best_step)));
  std::set<std::string> kept;
  for (const auto& [step, path] : list_checkpoints(folder.file("out"))) {
    kept.insert(checkpoint_folder_name(step));
  }
  std::set<std::string> expected_kept = {checkpoint_folder_name(best_step), "checkpoint-24"};
  if (best_step == 24) expected_kept.insert("checkpoint-18");
  CHECK(kept == expected_kept);
  // A checkpoint holds the weights that were evaluated: reloading it gives the logged loss.
  {
    models::ParameterStore store;
    models::T5ForConditionalGeneration model(
        parse_t5_config(folder.file("out/checkpoint-24/config.json")), store);
    models::load_t5_weights(folder.file("out/checkpoint-24"), model);
    const TokenDataset data = TokenDataset::open(folder.file("data"));
    EvalOptions options;
    options.batch_size = 4;
    options.max_samples = 5;
    options.generate = false;
    CHECK(evaluate(model, data.split("eval"), options, nullptr).loss == eval_loss[24]);
  }
  // load_best_model_at_end: the saved model is the best checkpoint's.
  CHECK(read_file_bytes(folder.file("out/model.safetensors")) ==
        read_file_bytes(job.train.best_model_checkpoint + "/model.safetensors"));
  const JsonValue summary = JsonValue::parse_file(folder.file("out/run_summary.json"));
  CHECK(summary.get_string("status") == "completed");
  CHECK(summary.get_int("global_step") == 24);
  CHECK(summary.get_double("best_metric") == eval_loss[best_step]);
  CHECK(summary.at("final_eval").get_double("eval_loss") == eval_loss[24]);
  CHECK(summary.at("resolved_config").get_int("train_batch_size") == 4);
  CHECK(summary.at("peak_memory_bytes").get_int("parameters") > 0);

  // TensorBoard: one event file whose scalars are the metrics.jsonl values, as float.
  std::vector<std::string> event_files;
  for (const auto& entry : fs::directory_iterator(folder.file("out/logs"))) {
    event_files.push_back(entry.path().string());
  }
  REQUIRE(event_files.size() == 1);
  CHECK(fs::path(event_files[0]).filename().string().rfind("events.out.tfevents.", 0) == 0);
  const std::vector<TensorBoardEvent> events = read_tensorboard_events(event_files[0]);
  REQUIRE(!events.empty());
  CHECK(events[0].file_version == "brain.Event:2");
  std::map<std::pair<std::string, int64_t>, float> scalars;
  for (size_t i = 1; i < events.size(); ++i) {
    REQUIRE(events[i].values.size() == 1);
    scalars[{events[i].values[0].tag, events[i].step}] = events[i].values[0].simple_value;
    CHECK(events[i].wall_time > 1.6e9);
  }
  for (const JsonValue& line : train_lines) {
    const int64_t step = line.get_int("step");
    CHECK(scalars.at({"train/loss", step}) == static_cast<float>(line.get_double("loss")));
    CHECK(scalars.at({"train/learning_rate", step}) == static_cast<float>(line.get_double("lr")));
    CHECK(scalars.count({"train/grad_norm", step}) == 1);
  }
  for (const JsonValue& line : eval_lines) {
    const int64_t step = line.get_int("step");
    CHECK(scalars.at({"eval/loss", step}) == static_cast<float>(line.get_double("eval_loss")));
    CHECK(scalars.at({"eval/rougeLsum", step}) ==
          static_cast<float>(line.get_double("eval_rougeLsum")));
    CHECK(scalars.at({"eval/gen_len", step}) ==
          static_cast<float>(line.get_double("eval_gen_len")));
  }
  CHECK(scalars.size() == 6 * train_lines.size() + 6 * eval_lines.size());
}
