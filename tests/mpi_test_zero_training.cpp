// ZeRO training under mpirun (ctest runs it with 2 and 3 ranks): the ranks train together with
// partitioned parameters, gradients and optimizer state, then rank 0 trains the same global
// batches alone (gradient accumulation over the same rows) and compares. The distributed run
// must give the same losses, gradient norms and final weights (fp32 tolerance: only the order
// of the gradient sums differs), resume exactly, and really partition: each rank's optimizer
// state is its share, and nothing but the persistent parameters stays gathered.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <sstream>

#include "dist/communicator.h"
#include "dist/mpi_runtime.h"
#include "io/safetensors_reader.h"
#include "temp_folder.h"
#include "train/train_job.h"
#include "train_test_data.h"

using namespace t5zero;

namespace {

dist::Communicator* g_comm = nullptr;
constexpr int64_t kTrainRows = 22;  // tests/fixtures/train/rows.json

double relative_difference(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-12);
}

// A folder every rank agrees on (rank 0's name, broadcast).
std::string shared_folder(const std::string& name) {
  std::string path;
  if (g_comm->rank() == 0) {
    path = (std::filesystem::temp_directory_path() /
            ("t5zero_mpi_" + name + "_" + std::to_string(::getpid())))
               .string();
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  g_comm->broadcast(path, 0);
  return path;
}

// The run every rank makes: world W, micro-batch `micro`, no accumulation; the single-process
// twin accumulates W micro-batches of `micro` rows instead, so each optimizer step sees the same
// rows grouped the same way.
TrainingArgs run_args(const std::string& folder, int64_t micro, bool bf16) {
  TrainingArgs args;
  args.model_id = "t5-micro";  // random init from the seed: the same on every rank
  args.dataset_path = folder + "/data";
  args.bf16 = bf16;
  args.per_device_train_batch_size = micro;
  args.gradient_accumulation_steps = 1;
  args.max_steps = 4;
  args.lr = 1e-3;
  args.warmup_steps = 1;
  args.weight_decay = 0.01;
  args.max_grad_norm = 1.0;
  args.shuffle = true;
  args.seed = 11;
  args.gradient_checkpointing = bf16;
  args.logging_steps = 1;
  args.eval_strategy = IntervalStrategy::no;
  args.save_strategy = IntervalStrategy::no;
  args.load_best_model_at_end = false;
  return args;
}

void compare_weights(const std::string& a_path, const std::string& b_path, double tolerance) {
  const SafetensorsReader a = SafetensorsReader::open(a_path);
  const SafetensorsReader b = SafetensorsReader::open(b_path);
  REQUIRE(a.tensors().size() == b.tensors().size());
  double worst = 0;
  for (const SafetensorsTensorInfo& info : b.tensors()) {
    const std::vector<float> x = a.load(info.name).to(DType::f32).to_vector<float>();
    const std::vector<float> y = b.load(info.name).to(DType::f32).to_vector<float>();
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(x[i] - y[i])));
    }
  }
  MESSAGE("largest weight difference ", worst);
  CHECK(worst <= tolerance);
}

}  // namespace

TEST_CASE("ZeRO-3 over W ranks trains as one process accumulating W micro-batches") {
  const int world = g_comm->size();
  for (const bool bf16 : {false, true}) {
    CAPTURE(bf16);
    const std::string folder = shared_folder(bf16 ? "zero_bf16" : "zero_fp32");
    if (g_comm->rank() == 0) testing::write_rows_dataset(folder + "/data", 256);
    g_comm->barrier();

    TrainingArgs args = run_args(folder, 2, bf16);
    // Whole steps of the first epoch only: its last step differs by design (the distributed
    // sampler pads the epoch by repetition, one process takes what is left).
    const int64_t steps = std::min<int64_t>(4, kTrainRows / (2 * world));
    args.max_steps = steps;
    args.output_dir = folder + "/zero";
    std::ostringstream log;
    const TrainJobResult zero = run_training_job(args, log, {}, g_comm);
    REQUIRE(zero.train.steps.size() == static_cast<size_t>(steps));
    if (g_comm->rank() == 0) {
      CHECK(log.str().find("ZeRO stage 3 over " + std::to_string(world) + " ranks") !=
            std::string::npos);
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
      compare_weights(folder + "/zero/model.safetensors", folder + "/single/model.safetensors",
                      bf16 ? 2e-2 : 1e-5);
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
    compare_weights(folder + "/resumed/model.safetensors", folder + "/straight/model.safetensors",
                    0.0);
    std::filesystem::remove_all(folder);
  }
  g_comm->barrier();
}

int main(int argc, char** argv) {
  dist::MpiRuntime mpi;
  std::unique_ptr<dist::Communicator> comm = dist::make_world_communicator();
  g_comm = comm.get();
  doctest::Context context(argc, argv);
  // Only rank 0 reports; every rank runs every test (the collectives need them all).
  if (comm->rank() != 0) context.setOption("out", "/dev/null");
  const int failed = context.run();
  // One rank's failure fails the job.
  double failures[] = {static_cast<double>(failed != 0)};
  comm->all_reduce_sum(failures);
  return failures[0] > 0 ? 1 : 0;
}
