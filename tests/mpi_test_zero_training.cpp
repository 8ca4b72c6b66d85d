// ZeRO training under mpirun (ctest runs it with 2 and 3 ranks): the ranks train together with
// partitioned parameters, gradients and optimizer state, then rank 0 trains the same global
// batches alone (gradient accumulation over the same rows) and compares. The distributed run
// must give the same losses, gradient norms and final weights (fp32 tolerance: only the order
// of the gradient sums differs), resume exactly, and really partition: each rank's optimizer
// state is its share, and nothing but the persistent parameters stays gathered.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "dist/zero_parameter_store.h"
#include "io/json.h"
#include "models/architectures.h"
#include "models/t5_model.h"
#include "temp_folder.h"
#include "train/train_job.h"
#include "train_test_data.h"
#include "zero_test_support.h"

using namespace t5zero;
using namespace t5zero::testing;

TEST_CASE("ZeRO stages 0 to 3 over W ranks train as one process accumulating W micro-batches") {
  const int world = g_comm->size();
  struct Case {
    int stage;
    bool bf16;
    bool offload;  // optimizer and parameters "offloaded" to the host (where they are already)
  };
  for (const Case c : {Case{3, false, false}, Case{3, true, false}, Case{2, false, false},
                       Case{1, true, false}, Case{0, false, false}, Case{3, true, true}}) {
    CAPTURE(c.stage);
    CAPTURE(c.bf16);
    CAPTURE(c.offload);
    const bool bf16 = c.bf16;
    const std::string folder =
        shared_folder("zero_stage" + std::to_string(c.stage) + (bf16 ? "_bf16" : "_fp32") +
                      (c.offload ? "_offload" : ""));
    if (g_comm->rank() == 0) {
      testing::write_rows_dataset(folder + "/data", 256);
      write_zero_config(folder + "/ds.json", c.stage, c.offload);
    }
    g_comm->barrier();

    TrainingArgs args = run_args(folder, 2, bf16);
    args.deepspeed = folder + "/ds.json";
    // Whole steps of the first epoch only: its last step differs by design (the distributed
    // sampler pads the epoch by repetition, one process takes what is left).
    const int64_t steps = std::min<int64_t>(4, kTrainRows / (2 * world));
    args.max_steps = steps;
    args.output_dir = folder + "/zero";
    std::ostringstream log;
    const TrainJobResult zero = run_training_job(args, log, {}, g_comm);
    REQUIRE(zero.train.steps.size() == static_cast<size_t>(steps));
    if (g_comm->rank() == 0) {
      // Stage 0 (plain data parallelism) runs as stage 1: the same numbers.
      CHECK(log.str().find("ZeRO stage " + std::to_string(std::max(1, c.stage)) + " over " +
                           std::to_string(world) + " ranks") != std::string::npos);
      TrainingArgs single_args = args;
      single_args.output_dir = folder + "/single";
      single_args.gradient_accumulation_steps = world;
      std::ostringstream single_log;
      const TrainJobResult single = run_training_job(single_args, single_log);
      REQUIRE(single.train.steps.size() == static_cast<size_t>(steps));
      for (size_t s = 0; s < static_cast<size_t>(steps); ++s) {
        CAPTURE(s);
        const StepRecord& z = zero.train.steps[s];
        const StepRecord& o = single.train.steps[s];
        CHECK(z.samples == o.samples);
        CHECK(z.tokens == o.tokens);
        CHECK(z.lr == o.lr);
        // Losses are per-micro-batch means averaged alike; the gradient sums differ in order.
        CHECK(relative_difference(z.loss, o.loss) < (bf16 ? 1e-2 : 1e-5));
        CHECK(relative_difference(z.grad_norm, o.grad_norm) < (bf16 ? 2e-2 : 1e-4));
      }
      const double worst = largest_weight_difference(folder + "/zero/model.safetensors",
                                                     folder + "/single/model.safetensors");
      MESSAGE("largest weight difference ", worst);
      CHECK(worst < (bf16 ? 2e-2 : 1e-5));
      std::filesystem::remove_all(folder);
    }
    g_comm->barrier();
  }
}

TEST_CASE("ZeRO-3 resume is exact across ranks: N steps equal N/2, save, resume, N/2") {
  const std::string folder = shared_folder("zero_resume");
  if (g_comm->rank() == 0) testing::write_rows_dataset(folder + "/data", 256);
  g_comm->barrier();
  TrainingArgs args = run_args(folder, 2, /*bf16=*/true);
  args.max_steps = 6;
  args.save_strategy = IntervalStrategy::steps;
  args.save_steps = 3;
  args.save_total_limit = 0;

  std::ostringstream log;
  TrainingArgs straight_args = args;
  straight_args.output_dir = folder + "/straight";
  const TrainJobResult straight = run_training_job(straight_args, log, {}, g_comm);

  TrainingArgs first_args = args;
  first_args.output_dir = folder + "/resumed";
  const auto stop_at_3 = [](const StepRecord& r) {
    if (r.step == 3) std::raise(SIGINT);
  };
  const TrainJobResult first = run_training_job(first_args, log, stop_at_3, g_comm);
  CHECK(first.train.status == TrainStatus::interrupted);
  CHECK(first.train.global_step == 3);
  if (g_comm->rank() == 0) {
    const std::string shard = folder + "/resumed/checkpoint-3/zero/optimizer-rank-1-of-" +
                              std::to_string(g_comm->size()) + ".safetensors";
    CHECK(std::filesystem::is_regular_file(shard));
    CHECK(!std::filesystem::exists(folder + "/resumed/checkpoint-3/optimizer.safetensors"));
  }

  TrainingArgs resume_args = first_args;
  resume_args.resume_from_checkpoint = "latest";
  const TrainJobResult resumed = run_training_job(resume_args, log, {}, g_comm);
  REQUIRE(resumed.train.steps.size() == 3);
  for (size_t s = 0; s < 3; ++s) {
    CAPTURE(s);
    CHECK(resumed.train.steps[s].loss == straight.train.steps[s + 3].loss);
    CHECK(resumed.train.steps[s].grad_norm == straight.train.steps[s + 3].grad_norm);
  }
  if (g_comm->rank() == 0) {
    CHECK(largest_weight_difference(folder + "/resumed/model.safetensors",
                                    folder + "/straight/model.safetensors") == 0.0);
    std::filesystem::remove_all(folder);
  }
  g_comm->barrier();
}

int main(int argc, char** argv) {
  return run_mpi_doctest(argc, argv);
}

TEST_CASE("ZeRO-3 sends what the theory says: 2 gathers and 1 reduce-scatter per parameter") {
  // Per optimizer step of one micro-batch without activation checkpointing, each rank sends
  // (W−1)·s·element bytes (s = its shard) for: two all-gathers of every partitioned parameter
  // (forward, and backward's re-gather; the shared embedding's two forward uses take the place
  // of the backward one, which needs no weights), one all-gather of every persistent parameter
  // (refreshed after the optimizer step), and one reduce-scatter of every parameter's gradient.
  // The final save gathers every partitioned parameter once more.
  const int world = g_comm->size();
  const std::string folder = shared_folder("zero_bytes");
  if (g_comm->rank() == 0) testing::write_rows_dataset(folder + "/data", 256);
  g_comm->barrier();
  for (const bool bf16 : {false, true}) {
    CAPTURE(bf16);
    TrainingArgs args = run_args(folder, 2, bf16);
    args.gradient_checkpointing = false;
    args.max_steps = 3;
    args.output_dir = folder + (bf16 ? "/bf16" : "/fp32");
    std::ostringstream log;
    run_training_job(args, log, {}, g_comm);

    // The layout the run used: t5-micro on a ZeRO store with HF's threshold of 10·d_model.
    const T5Config config = models::builtin_architecture("t5-micro");
    dist::ZeroParameterStore store(bf16 ? DType::bf16 : DType::f32, Device::cpu(), *g_comm,
                                   dist::ZeroOptions{3, 10 * config.d_model});
    const models::T5ForConditionalGeneration model(config, store);
    int64_t partitioned = 0, persistent = 0, all = 0;
    for (models::ParamId id : store.ids()) {
      (store.persistent(id) ? persistent : partitioned) += store.shard_size(id);
      all += store.shard_size(id);
    }
    const int64_t element = bf16 ? 2 : 4;
    const int64_t steps = args.max_steps;
    const int64_t expected_gather =
        (world - 1) * element * (steps * (2 * partitioned + persistent) + partitioned);
    const int64_t expected_reduce_scatter = (world - 1) * element * steps * all;

    if (g_comm->rank() == 0) {
      const JsonValue zero =
          JsonValue::parse_file(args.output_dir + "/run_summary.json").at("zero");
      const JsonValue comm = zero.at("communication");
      MESSAGE("all-gather bytes ", comm.get_int("all_gather_bytes"), " (theory ", expected_gather,
              "), reduce-scatter bytes ", comm.get_int("reduce_scatter_bytes"), " (theory ",
              expected_reduce_scatter, ")");
      CHECK(comm.get_int("all_gather_bytes") == expected_gather);
      CHECK(comm.get_int("reduce_scatter_bytes") == expected_reduce_scatter);
      CHECK(zero.get_int("shard_bytes") == all * element);
      CHECK(persistent > 0);  // the layer norms and relative-bias tables stay whole
    }
    g_comm->barrier();
  }
  if (g_comm->rank() == 0) std::filesystem::remove_all(folder);
}

TEST_CASE("evaluation over ZeRO ranks (a block of rows each) equals one process's") {
  const int world = g_comm->size();
  const std::string folder = shared_folder("zero_eval");
  if (g_comm->rank() == 0) testing::write_rows_dataset(folder + "/data", 256);
  g_comm->barrier();
  TrainingArgs args = run_args(folder, 2, /*bf16=*/false);
  args.max_steps = 2;
  args.eval_strategy = IntervalStrategy::epoch;  // and at the last step
  args.per_device_eval_batch_size = 2;
  args.generation_max_length = 12;
  args.generation_num_beams = 2;
  args.output_dir = folder + "/zero";
  std::ostringstream log;
  const TrainJobResult zero = run_training_job(args, log, {}, g_comm);
  REQUIRE(zero.train.last_eval.has_value());
  const EvalResult& z = *zero.train.last_eval;
  CHECK(z.samples == 6);  // tests/fixtures/train/rows.json's eval split
  CHECK(z.predictions.size() == 6);
  if (g_comm->rank() == 0) {
    TrainingArgs single_args = args;
    single_args.output_dir = folder + "/single";
    single_args.gradient_accumulation_steps = world;
    std::ostringstream single_log;
    const TrainJobResult single = run_training_job(single_args, single_log);
    REQUIRE(single.train.last_eval.has_value());
    const EvalResult& o = *single.train.last_eval;
    CHECK(relative_difference(z.loss, o.loss) < 1e-5);
    CHECK(z.references == o.references);
    CHECK(z.predictions == o.predictions);
    CHECK(z.gen_len == o.gen_len);
    CHECK(z.rouge.rouge1 == doctest::Approx(o.rouge.rouge1));
    CHECK(z.rouge.rougeLsum == doctest::Approx(o.rouge.rougeLsum));
    std::filesystem::remove_all(folder);
  }
  g_comm->barrier();
}
