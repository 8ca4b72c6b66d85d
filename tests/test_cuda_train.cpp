// Training on the GPU against the CPU: 10 optimizer steps of the fixture run (transformers'
// losses are in tests/fixtures/train/expected.json) with --device cuda and --device cpu, fp32 and
// bf16, with and without activation checkpointing: losses, gradient norms and the final weights
// agree within the stated tolerances, and the GPU run also matches transformers' losses. Runs only
// with a CUDA device (cuda_test_main.cpp skips otherwise).
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "io/json.h"
#include "io/safetensors_reader.h"
#include "temp_folder.h"
#include "train/train_job.h"
#include "train_test_data.h"

using namespace t5zero;
using t5zero::testing::TempFolder;

namespace {

double relative_difference(double a, double b) {
  return std::abs(a - b) / std::max(std::abs(b), 1e-12);
}

double largest_difference(const std::string& a_path, const std::string& b_path) {
  const SafetensorsReader a = SafetensorsReader::open(a_path);
  const SafetensorsReader b = SafetensorsReader::open(b_path);
  double worst = 0;
  for (const SafetensorsTensorInfo& info : b.tensors()) {
    const std::vector<float> x = a.load(info.name).to(DType::f32).to_vector<float>();
    const std::vector<float> y = b.load(info.name).to(DType::f32).to_vector<float>();
    REQUIRE(x.size() == y.size());
    for (size_t i = 0; i < x.size(); ++i) {
      worst = std::max(worst, static_cast<double>(std::abs(x[i] - y[i])));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("10 training steps on the GPU equal the CPU run and transformers") {
  const JsonValue expected = JsonValue::parse_file(testing::kTrainFixtures + "/expected.json");
  const std::vector<JsonValue> reference_losses = expected.at("losses").as_array();
  for (const bool bf16 : {false, true}) {
    for (const bool checkpointing : {false, true}) {
      CAPTURE(bf16);
      CAPTURE(checkpointing);
      TempFolder folder("cuda_train");
      testing::write_rows_dataset(folder.file("data"), 256);
      TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("gpu"));
      args.bf16 = bf16;
      args.gradient_checkpointing = checkpointing;
      args.device = "cuda";
      std::ostringstream log;
      const TrainJobResult gpu = run_training_job(args, log);
      CHECK(log.str().find("on cuda:") != std::string::npos);
      args.device = "cpu";
      args.output_dir = folder.file("cpu");
      const TrainJobResult cpu = run_training_job(args, log);
      REQUIRE(gpu.train.steps.size() == 10);
      REQUIRE(cpu.train.steps.size() == 10);
      double worst_loss = 0, worst_norm = 0, worst_reference = 0;
      for (size_t s = 0; s < 10; ++s) {
        worst_loss = std::max(
            worst_loss, relative_difference(gpu.train.steps[s].loss, cpu.train.steps[s].loss));
        worst_norm = std::max(worst_norm, relative_difference(gpu.train.steps[s].grad_norm,
                                                              cpu.train.steps[s].grad_norm));
        worst_reference =
            std::max(worst_reference,
                     relative_difference(gpu.train.steps[s].loss, reference_losses[s].as_double()));
      }
      const double weights = largest_difference(folder.file("gpu/model.safetensors"),
                                                folder.file("cpu/model.safetensors"));
      MESSAGE("GPU vs CPU: loss ", worst_loss, ", norm ", worst_norm, ", weights ", weights,
              "; GPU vs transformers loss ", worst_reference);
      // fp32: the same numbers up to summation order, which AdamW's normalisation amplifies in
      // near-zero gradients (on the CPU alone, reordering the sums moves weights by 5e-6 in 4
      // steps); bf16: one bf16 rounding apart at most.
      CHECK(worst_loss < (bf16 ? 1e-2 : 2e-5));
      CHECK(worst_norm < (bf16 ? 5e-2 : 1e-3));
      CHECK(weights < (bf16 ? 2e-2 : 1e-4));
      if (!bf16) CHECK(worst_reference < 1e-4);
    }
  }
}

TEST_CASE("offload_optimizer: AdamW on the host for weights on the GPU equals the GPU-only run") {
  TempFolder folder("cuda_train_offload");
  testing::write_rows_dataset(folder.file("data"), 256);
  TrainingArgs args = testing::fixture_training_args(folder.file("data"), folder.file("offload"));
  args.bf16 = true;
  args.device = "cuda";
  args.deepspeed = std::string(T5ZERO_SOURCE_DIR) + "/configs/ds_flan_t5_z3_offload_bf16.json";
  std::ostringstream log;
  const TrainJobResult offload = run_training_job(args, log);
  CHECK(log.str().find("optimizer state and AdamW on the host") != std::string::npos);
  args.deepspeed = std::string(T5ZERO_SOURCE_DIR) + "/configs/ds_flan_t5_z3_config_bf16.json";
  args.output_dir = folder.file("on_gpu");
  const TrainJobResult on_gpu = run_training_job(args, log);
  REQUIRE(offload.train.steps.size() == 10);
  REQUIRE(on_gpu.train.steps.size() == 10);
  double worst_loss = 0;
  for (size_t s = 0; s < 10; ++s) {
    worst_loss = std::max(
        worst_loss, relative_difference(offload.train.steps[s].loss, on_gpu.train.steps[s].loss));
  }
  const double weights = largest_difference(folder.file("offload/model.safetensors"),
                                            folder.file("on_gpu/model.safetensors"));
  MESSAGE("offloaded vs GPU AdamW: loss ", worst_loss, ", weights ", weights);
  // The same AdamW in f32 on either side (the GPU's true FMAs may differ by an ulp).
  CHECK(worst_loss < 1e-3);
  CHECK(weights < 1e-2);
}
